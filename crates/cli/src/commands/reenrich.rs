//! `jobenrich reenrich --type TYPE`: after activating a new model version,
//! queue exactly the jobs without a successful enrichment of the type at the
//! active version (the anti-join). The worker (or `jobenrich run`) then
//! processes them; results of older versions stay stored until `prune`.

use crate::error::UsageError;
use crate::output::{cell, emit, Table};
use crate::session::Session;
use clap::Args;
use jobenrich_domain::EnrichmentType;
use jobenrich_services::enrichment_pipeline::PIPELINE_TYPES;
use jobenrich_services::reenrichment::queue_missing_enrichments;

#[derive(Debug, Args)]
pub struct ReenrichArgs {
    /// Enrichment type to re-enrich (`skills_extraction`, `section_classification`, `embeddings`).
    #[arg(long = "type", value_name = "TYPE")]
    pub enrichment_type: String,
}

pub async fn run(session: &Session, args: ReenrichArgs) -> anyhow::Result<()> {
    let enrichment_type: EnrichmentType = args
        .enrichment_type
        .parse()
        .map_err(|e| UsageError(format!("--type: {e}")))?;
    if !PIPELINE_TYPES.contains(&enrichment_type) {
        return Err(UsageError(format!(
            "--type {enrichment_type}: the enrichment pipeline produces skills_extraction, section_classification and embeddings"
        ))
        .into());
    }
    // Work of a type no process handles would wait forever (queue_rules).
    let processed = &session.settings()?.worker.types;
    if !processed.contains(&enrichment_type) {
        return Err(UsageError(format!(
            "--type {enrichment_type}: neither `jobenrich run` nor `jobenrich-worker` processes it \
             (worker.types is [{}]; skills_extraction also classifies sections): add it to worker.types \
             of the config first (`--config FILE` with `worker: {{types: [skills_extraction, {enrichment_type}]}}`)",
            processed
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    }
    let context = session.connect_migrated().await?;
    let store = context.store.as_ref();
    let model = store
        .active_model_for_type(enrichment_type)
        .await?
        .ok_or_else(|| {
            UsageError(format!(
                "no active {enrichment_type} model: activate one with `jobenrich models activate MODEL_ID VERSION`"
            ))
        })?;
    let version = model.enrichment_version();
    let report =
        queue_missing_enrichments(store, enrichment_type, &version, chrono::Utc::now()).await?;
    emit(session.format, &report, |r| {
        Table::fields([
            ("type", cell(r.enrichment_type)),
            ("active version", cell(r.enrichment_version.as_ref())),
            (
                "jobs without a successful result at it",
                r.needing.to_string(),
            ),
            ("newly queued", r.newly_queued.to_string()),
            (
                "already queued, in progress or failed",
                r.already_queued.to_string(),
            ),
        ])
    })
}
