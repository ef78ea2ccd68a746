//! Drives the pipeline: `drain` (the one-shot `jobenrich run`: everything due,
//! then stop) and `run_worker` (the daemon: poll with idle backoff until told
//! to shut down). Both keep `concurrency` batches in flight, so one batch's
//! store writes overlap another's CPU work.

use crate::enrichment_pipeline::{BatchReport, EnrichmentPipeline, PipelineError};
use crate::reenrichment::queue_missing_enrichments;
use chrono::Utc;
use jobenrich_domain::EnrichmentType;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Called after every batch that claimed work (progress bars, logs).
pub type BatchObserver = Arc<dyn Fn(&BatchReport) + Send + Sync>;

/// Totals over many batches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunTotals {
    pub batches: u64,
    pub processed: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub lost_leases: u64,
    pub skills_written: u64,
    pub sections_written: u64,
    pub requeued: u64,
    pub elapsed: Duration,
}

impl RunTotals {
    fn add(&mut self, batch: &BatchReport) {
        self.batches += 1;
        self.processed += batch.claimed as u64;
        self.succeeded += batch.succeeded;
        self.failed += batch.failed;
        self.lost_leases += batch.lost_leases as u64;
        self.skills_written += batch.skills_written;
        self.sections_written += batch.sections_written;
    }

    fn merge(&mut self, other: &RunTotals) {
        self.batches += other.batches;
        self.processed += other.processed;
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.lost_leases += other.lost_leases;
        self.skills_written += other.skills_written;
        self.sections_written += other.sections_written;
        self.requeued += other.requeued;
    }

    /// Enrichments processed per second of wall time.
    pub fn per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.processed as f64 / secs
        } else {
            0.0
        }
    }
}

/// How the daemon polls.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerLoopConfig {
    /// Enrichment types to work on, in order.
    pub types: Vec<EnrichmentType>,
    /// Batches in flight at once (each on its own blocking thread).
    pub concurrency: usize,
    /// First sleep when the queue is empty; doubles while idle.
    pub poll_interval: Duration,
    pub max_idle_backoff: Duration,
    /// Queue the re-enrichment anti-join whenever idle (`reenrich: auto`).
    pub reenrich_auto: bool,
}

/// One line per batch in the logs, with counts and rate.
pub fn log_batch(batch: &BatchReport) {
    tracing::info!(
        enrichment_type = %batch.enrichment_type.map(|t| t.as_str()).unwrap_or(""),
        enrichment_version = %batch.enrichment_version.as_ref().map(|v| v.as_str()).unwrap_or(""),
        claimed = batch.claimed,
        succeeded = batch.succeeded,
        failed = batch.failed,
        lost_leases = batch.lost_leases,
        skills = batch.skills_written,
        sections = batch.sections_written,
        elapsed_ms = batch.elapsed.as_millis() as u64,
        claim_read_ms = batch.timings.claim_and_read.as_millis() as u64,
        enrich_ms = batch.timings.enrich.as_millis() as u64,
        write_ms = batch.timings.write.as_millis() as u64,
        postings_per_s = batch.postings_per_second().round() as u64,
        "batch completed"
    );
}

/// One pass over the types: a batch of each. Returns the batches that claimed work.
async fn one_round(
    pipeline: &EnrichmentPipeline,
    types: &[EnrichmentType],
) -> Result<Vec<BatchReport>, PipelineError> {
    let mut done = Vec::new();
    for &enrichment_type in types {
        let batch = pipeline.process_batch(enrichment_type).await?;
        if batch.claimed > 0 {
            done.push(batch);
        }
    }
    Ok(done)
}

/// Types that have an active model (a type without one has nothing to claim).
async fn workable_types(
    pipeline: &EnrichmentPipeline,
    types: &[EnrichmentType],
) -> Result<Vec<EnrichmentType>, PipelineError> {
    let models = pipeline.active_models().await?;
    Ok(types
        .iter()
        .copied()
        .filter(|t| models.model_for(*t).is_some())
        .collect())
}

/// Processes everything due until nothing is left, then returns the totals.
/// Failures with attempts left are retried once their backoff is due; a
/// failure whose retry lies in the future is left for the worker.
pub async fn drain(
    pipeline: Arc<EnrichmentPipeline>,
    types: &[EnrichmentType],
    concurrency: usize,
    observer: Option<BatchObserver>,
) -> Result<RunTotals, PipelineError> {
    let started = Instant::now();
    let types = workable_types(&pipeline, types).await?;
    let mut totals = RunTotals::default();
    loop {
        let mut lanes = tokio::task::JoinSet::new();
        for _ in 0..concurrency.max(1) {
            let pipeline = pipeline.clone();
            let types = types.clone();
            let observer = observer.clone();
            lanes.spawn(async move {
                let mut lane = RunTotals::default();
                loop {
                    let batches = one_round(&pipeline, &types).await?;
                    if batches.is_empty() {
                        return Ok::<_, PipelineError>(lane);
                    }
                    for batch in &batches {
                        lane.add(batch);
                        log_batch(batch);
                        if let Some(observe) = &observer {
                            observe(batch);
                        }
                    }
                }
            });
        }
        while let Some(lane) = lanes.join_next().await {
            let lane = lane.map_err(|e| PipelineError::WorkerThread(e.to_string()))??;
            totals.merge(&lane);
        }
        let mut requeued = 0;
        for &t in &types {
            requeued += pipeline.requeue_due_failures(t, Utc::now()).await?;
        }
        totals.requeued += requeued;
        if requeued == 0 {
            break;
        }
    }
    totals.elapsed = started.elapsed();
    Ok(totals)
}

/// The daemon loop: claims, processes and completes batches until `shutdown`
/// turns true, then finishes the batches in hand and returns. Store errors
/// are logged and retried after a backoff; they never end the loop.
pub async fn run_worker(
    pipeline: Arc<EnrichmentPipeline>,
    config: WorkerLoopConfig,
    shutdown: watch::Receiver<bool>,
) -> RunTotals {
    let started = Instant::now();
    let mut lanes = tokio::task::JoinSet::new();
    for lane_index in 0..config.concurrency.max(1) {
        let pipeline = pipeline.clone();
        let config = config.clone();
        let shutdown = shutdown.clone();
        // Only one lane queues re-enrichment, so lanes do not repeat the anti-join.
        let reenrich = config.reenrich_auto && lane_index == 0;
        lanes.spawn(worker_lane(pipeline, config, reenrich, shutdown));
    }
    let mut totals = RunTotals::default();
    while let Some(lane) = lanes.join_next().await {
        match lane {
            Ok(lane) => totals.merge(&lane),
            Err(e) => tracing::error!(error = %e, "a worker lane ended abnormally"),
        }
    }
    totals.elapsed = started.elapsed();
    totals
}

async fn worker_lane(
    pipeline: Arc<EnrichmentPipeline>,
    config: WorkerLoopConfig,
    reenrich: bool,
    mut shutdown: watch::Receiver<bool>,
) -> RunTotals {
    let mut totals = RunTotals::default();
    let mut idle_sleep = config.poll_interval;
    while !*shutdown.borrow() {
        let worked = match lane_step(&pipeline, &config, reenrich, &mut totals).await {
            Ok(worked) => worked,
            Err(err) => {
                tracing::error!(error = %err, "enrichment batch failed; retrying after backoff");
                false
            }
        };
        if worked {
            idle_sleep = config.poll_interval;
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(idle_sleep) => {}
            _ = shutdown.changed() => {}
        }
        idle_sleep = (idle_sleep * 2).min(config.max_idle_backoff.max(config.poll_interval));
    }
    totals
}

/// One poll: a batch of each type; when idle, due retries and (optionally)
/// the re-enrichment anti-join. Returns whether any work was found.
async fn lane_step(
    pipeline: &EnrichmentPipeline,
    config: &WorkerLoopConfig,
    reenrich: bool,
    totals: &mut RunTotals,
) -> Result<bool, PipelineError> {
    let types = workable_types(pipeline, &config.types).await?;
    let batches = one_round(pipeline, &types).await?;
    for batch in &batches {
        totals.add(batch);
        log_batch(batch);
    }
    if !batches.is_empty() {
        return Ok(true);
    }
    let mut found = 0;
    for &t in &types {
        let requeued = pipeline.requeue_due_failures(t, Utc::now()).await?;
        if requeued > 0 {
            tracing::info!(enrichment_type = %t, requeued, "failed enrichments requeued for retry");
        }
        totals.requeued += requeued;
        found += requeued;
        if reenrich {
            let version = pipeline.current_version(t).await?;
            let queued = queue_missing_enrichments(
                pipeline.ports().enrichments.as_ref(),
                t,
                &version,
                Utc::now(),
            )
            .await?;
            if queued.newly_queued > 0 {
                tracing::info!(enrichment_type = %t, %version, queued = queued.newly_queued, "re-enrichment queued");
            }
            found += queued.newly_queued;
        }
    }
    Ok(found > 0)
}
