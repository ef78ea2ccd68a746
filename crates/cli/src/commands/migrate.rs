//! `jobenrich migrate`: apply pending schema migrations, then register the
//! shipped model configs (`models.seed_dir`), activate one per enrichment
//! type that has none active, and store the shipped aliases
//! (`data/lexicon/aliases.csv`) the store does not hold yet. Idempotent.

use crate::output::{emit, Table};
use crate::session::Session;
use anyhow::Context;
use clap::Args;
use jobenrich_domain::{MigrationReport, SpaceReport, Store};
use jobenrich_enrichment_engine::SHIPPED_ALIASES_FILE;
use jobenrich_services::alias_admin::{seed_shipped_aliases, AliasSeedReport};
use jobenrich_services::model_registry::{seed_model_directory, SeedReport};
use jobenrich_services::reenrichment::{queue_never_queued, ReenrichReport};
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Only migrate the schema; do not register the shipped model configs and aliases.
    #[arg(long)]
    pub no_seed: bool,
    /// Then give the space the migration freed inside the SQLite file back to
    /// the disk (VACUUM: needs about the store's size free on disk, and holds
    /// the write lock while it runs).
    #[arg(long)]
    pub vacuum: bool,
}

#[derive(Debug, Serialize)]
struct MigrateView {
    backend: &'static str,
    migrations: MigrationReport,
    models: SeedReport,
    /// Postings stored but never queued (an interrupted ingest), queued now.
    repaired: Vec<ReenrichReport>,
    aliases: AliasSeedReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    space: Option<SpaceView>,
}

/// What `--vacuum` did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpaceView {
    Reclaimed(SpaceReport),
    /// The backend manages its own storage.
    NotApplicable,
}

impl SpaceView {
    pub fn text(&self) -> String {
        match self {
            SpaceView::Reclaimed(r) => format!(
                "{:.1} MB → {:.1} MB",
                r.bytes_before as f64 / 1e6,
                r.bytes_after as f64 / 1e6
            ),
            SpaceView::NotApplicable => "not applicable (the backend manages its storage)".into(),
        }
    }
}

/// `--vacuum` of `migrate` and `prune`.
pub async fn reclaim_space(store: &dyn Store) -> anyhow::Result<SpaceView> {
    Ok(
        match store
            .reclaim_space()
            .await
            .context("giving freed space back to the disk")?
        {
            Some(report) => SpaceView::Reclaimed(report),
            None => SpaceView::NotApplicable,
        },
    )
}

/// What `migrate` and `run` seed: the shipped model configs and aliases.
pub async fn seed_shipped(
    store: &dyn Store,
    session: &Session,
    seed_dir: &Path,
) -> anyhow::Result<(SeedReport, AliasSeedReport)> {
    let now = chrono::Utc::now();
    let models = seed_model_directory(store, seed_dir, &session.actor(), now)
        .await
        .with_context(|| format!("registering the model configs of {}", seed_dir.display()))?;
    let path = session
        .settings()?
        .engine
        .lexicon_dir()?
        .join(SHIPPED_ALIASES_FILE);
    let file = std::fs::File::open(&path)
        .with_context(|| format!("opening the shipped aliases {}", path.display()))?;
    let aliases = seed_shipped_aliases(store, file, &path.display().to_string(), now)
        .await
        .with_context(|| format!("storing the shipped aliases of {}", path.display()))?;
    Ok((models, aliases))
}

pub async fn run(session: &Session, args: MigrateArgs) -> anyhow::Result<()> {
    let context = session.connect().await?;
    let store = context.store.as_ref();
    let migrations = store.migrate().await.context("migrating the schema")?;
    let (models, aliases) = if args.no_seed {
        (SeedReport::default(), AliasSeedReport::default())
    } else {
        seed_shipped(store, session, &context.settings.models.seed_dir).await?
    };
    // The types the worker produces (skills extraction also classifies sections).
    let types = &context.settings.worker.types;
    let repaired = queue_never_queued(store, store, types, chrono::Utc::now())
        .await
        .context("queueing postings stored but never queued")?;
    let space = if args.vacuum {
        Some(reclaim_space(store).await?)
    } else {
        None
    };
    tracing::info!(
        backend = store.backend_name(),
        schema_version = migrations.schema_version,
        applied = migrations.applied.len(),
        models_registered = models.registered.len(),
        "migrated"
    );
    let view = MigrateView {
        backend: store.backend_name(),
        migrations,
        models,
        repaired,
        aliases,
        space,
    };
    emit(session.format, &view, |v| {
        let list = |items: &[String]| {
            if items.is_empty() {
                "-".to_string()
            } else {
                items.join(", ")
            }
        };
        let mut table = Table::fields([
            ("backend", v.backend.to_string()),
            ("schema version", v.migrations.schema_version.to_string()),
            ("migrations applied", list(&v.migrations.applied)),
            ("models registered", list(&v.models.registered)),
            ("models activated", list(&v.models.activated)),
            (
                "postings stored but never queued, queued now",
                v.repaired
                    .iter()
                    .map(|r| r.newly_queued)
                    .sum::<u64>()
                    .to_string(),
            ),
            (
                "shipped aliases added / already present",
                format!("{} / {}", v.aliases.added, v.aliases.already_present),
            ),
        ]);
        if let Some(space) = &v.space {
            table.row(["store size (vacuum)".to_string(), space.text()]);
        }
        table
    })
}
