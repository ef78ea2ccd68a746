//! The one-shot enrichment of `jobenrich run`: make sure a model of each type
//! is active, queue every job that lacks a result at the current versions,
//! drain the queue, and summarize what was found.

use crate::enrichment_pipeline::{EnrichmentPipeline, PipelineError};
use crate::enrichment_runner::{drain_until, BatchObserver, RunTotals};
use crate::enrichment_status::{skills_summary, SkillsSummary};
use crate::reenrichment::{
    default_model, ensure_active_models, queue_missing_enrichments, ReenrichReport,
};
use crate::shutdown::Shutdown;
use chrono::Utc;
use jobenrich_domain::{
    EnrichmentStatus, EnrichmentType, JobPostingRepository, SkillRepository, Store,
};
use serde::Serialize;
use std::sync::Arc;

/// What `jobenrich run` prints at the end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub postings_in_store: u64,
    pub queued: Vec<ReenrichReport>,
    pub processed: u64,
    /// Postings among `processed`: the most of any one type (a posting that
    /// two types enrich counts once).
    pub postings_processed: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Failed enrichments of the current versions (retried later by the worker
    /// while attempts are left).
    pub failed_in_store: u64,
    pub skills_written: u64,
    pub sections_written: u64,
    pub embeddings_written: u64,
    /// Enrichments at the current versions still leased (`processing`) after
    /// the run: held by other processes (a worker, another `run`), or by a
    /// process that died and whose lease has not expired yet.
    pub leased_by_others: u64,
    /// Enrichments this run claimed and handed back unprocessed (interrupted).
    pub released: u64,
    /// Stopped by a signal before the queue was drained.
    pub interrupted: bool,
    pub elapsed_seconds: f64,
    /// `postings_processed` per second of the enrichment stage.
    pub postings_per_second: f64,
    pub skills: SkillsSummary,
}

/// Everything the run needs besides the store.
pub struct EnrichmentRunOptions {
    pub types: Vec<EnrichmentType>,
    /// Engine threads (batches enriched at once).
    pub engine_threads: usize,
    pub top_skills: usize,
    /// Who activates default models on a fresh store (recorded on the model).
    pub activated_by: String,
}

/// Queues what is missing at the current versions; returns how many
/// enrichments are now due (the progress bar's length).
pub async fn prepare_run(
    store: &Arc<dyn Store>,
    pipeline: &EnrichmentPipeline,
    options: &EnrichmentRunOptions,
) -> Result<(Vec<ReenrichReport>, u64), PipelineError> {
    let now = Utc::now();
    ensure_active_models(store.as_ref(), &options.types, &options.activated_by, now).await?;
    let mut queued = Vec::new();
    let mut versions = Vec::new();
    for &t in &options.types {
        let version = match pipeline.current_version(t).await {
            Ok(version) => version,
            // A type with no shipped default (embeddings) runs once a version
            // is registered and activated; until then it has nothing to do.
            Err(PipelineError::NoActiveModel(t)) if default_model(t, now).is_none() => {
                tracing::info!(enrichment_type = %t, "no active model: not enriched (register and activate one with `jobenrich models`)");
                continue;
            }
            Err(err) => return Err(err),
        };
        queued.push(queue_missing_enrichments(store.as_ref(), t, &version, now).await?);
        versions.push((t, version));
    }
    let due = store
        .enrichment_status_counts()
        .await?
        .into_iter()
        .filter(|c| {
            versions.contains(&(c.enrichment_type, c.enrichment_version.clone()))
                && matches!(
                    c.status,
                    EnrichmentStatus::Pending | EnrichmentStatus::Processing
                )
        })
        .map(|c| c.count)
        .sum();
    Ok((queued, due))
}

/// Drains the queue (or stops early on `shutdown`, releasing what was
/// claimed and not started) and builds the summary.
pub async fn run_to_completion(
    store: &Arc<dyn Store>,
    pipeline: Arc<EnrichmentPipeline>,
    options: &EnrichmentRunOptions,
    queued: Vec<ReenrichReport>,
    observer: Option<BatchObserver>,
    shutdown: &Shutdown,
) -> Result<RunSummary, PipelineError> {
    let totals: RunTotals = drain_until(
        pipeline.clone(),
        &options.types,
        options.engine_threads,
        observer,
        shutdown,
    )
    .await?;
    let skills_version = pipeline
        .current_version(EnrichmentType::SkillsExtraction)
        .await?;
    let counts = store.enrichment_status_counts().await?;
    let at_current = |status: EnrichmentStatus| -> u64 {
        counts
            .iter()
            .filter(|c| {
                c.status == status
                    && queued
                        .iter()
                        .any(|q| q.enrichment_version.as_ref() == Some(&c.enrichment_version))
            })
            .map(|c| c.count)
            .sum()
    };
    let failed_in_store = at_current(EnrichmentStatus::Failed);
    // This run's own leases are all written or released by now.
    let leased_by_others = at_current(EnrichmentStatus::Processing);
    let skills = skills_summary(
        store.as_ref() as &dyn SkillRepository,
        &skills_version,
        options.top_skills,
    )
    .await?;
    Ok(RunSummary {
        postings_in_store: (store.as_ref() as &dyn JobPostingRepository)
            .count_postings()
            .await?,
        queued,
        processed: totals.processed,
        postings_processed: totals.postings(),
        succeeded: totals.succeeded,
        failed: totals.failed,
        failed_in_store,
        skills_written: totals.skills_written,
        sections_written: totals.sections_written,
        embeddings_written: totals.embeddings_written,
        leased_by_others,
        released: totals.released,
        interrupted: totals.interrupted,
        elapsed_seconds: totals.elapsed.as_secs_f64(),
        postings_per_second: totals.postings_per_second(),
        skills,
    })
}
