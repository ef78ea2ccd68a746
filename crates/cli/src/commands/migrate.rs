//! `jobenrich migrate`: apply pending schema migrations, then register the
//! shipped model configs (`models.seed_dir`), activate one per enrichment
//! type that has none active, and store the shipped aliases
//! (`data/lexicon/aliases.csv`) the store does not hold yet. Idempotent.

use crate::output::{emit, Table};
use crate::session::Session;
use anyhow::Context;
use clap::Args;
use jobenrich_domain::{MigrationReport, Store};
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
}

#[derive(Debug, Serialize)]
struct MigrateView {
    backend: &'static str,
    migrations: MigrationReport,
    models: SeedReport,
    /// Postings stored but never queued (an interrupted ingest), queued now.
    repaired: Vec<ReenrichReport>,
    aliases: AliasSeedReport,
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
    };
    emit(session.format, &view, |v| {
        let list = |items: &[String]| {
            if items.is_empty() {
                "-".to_string()
            } else {
                items.join(", ")
            }
        };
        Table::fields([
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
        ])
    })
}
