//! `jobenrich migrate`: apply pending schema migrations, then register the
//! shipped model configs (`models.seed_dir`) and activate one per enrichment
//! type that has none active. Idempotent.

use crate::output::{emit, Table};
use crate::session::Session;
use anyhow::Context;
use clap::Args;
use jobenrich_domain::MigrationReport;
use jobenrich_services::model_registry::{seed_model_directory, SeedReport};
use jobenrich_services::reenrichment::{queue_never_queued, ReenrichReport};
use serde::Serialize;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Only migrate the schema; do not register the shipped model configs.
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
}

pub async fn run(session: &Session, args: MigrateArgs) -> anyhow::Result<()> {
    let context = session.connect().await?;
    let store = context.store.as_ref();
    let migrations = store.migrate().await.context("migrating the schema")?;
    let models = if args.no_seed {
        SeedReport::default()
    } else {
        let dir = &context.settings.models.seed_dir;
        seed_model_directory(store, dir, &session.actor(), chrono::Utc::now())
            .await
            .with_context(|| format!("registering the model configs of {}", dir.display()))?
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
        ])
    })
}
