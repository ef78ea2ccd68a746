//! Drives the pipeline: `drain` (the one-shot `jobenrich run`: everything due,
//! then stop) and `run_worker` (the daemon: poll with idle backoff until told
//! to shut down).
//!
//! Both run the pipeline as three overlapping stages in one process:
//!
//! ```text
//! claimer (1 task) --claimed--> engine threads (N) --enriched--> writer (1 task)
//! ```
//!
//! The claimer leases batches and reads their postings, N engine threads
//! enrich whole batches side by side on the blocking pool, and one writer
//! writes each batch's results in one store call, so the next batches are
//! enriched while the previous one is written. The queues between stages hold
//! one batch each: enough to keep every stage busy, little to hand back on
//! shutdown. SQLite admits one writer at a time anyway; more cores go to the
//! engine, not to more writers.
//!
//! Shutdown ([`Shutdown`]): on a graceful request the claimer stops, batches
//! claimed but not started are released, batches being enriched are finished
//! and written. When the request turns immediate (a second signal, or the
//! grace period is over) the stages are aborted and whatever is still leased
//! is released in one store call.

use crate::enrichment_pipeline::{
    BatchReport, ClaimedBatch, EnrichedBatch, EnrichmentPipeline, PipelineError,
};
use crate::reenrichment::queue_missing_enrichments;
use crate::shutdown::Shutdown;
use chrono::Utc;
use jobenrich_domain::{EnrichmentKey, EnrichmentType};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

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
    pub embeddings_written: u64,
    pub requeued: u64,
    /// `processed` by enrichment type.
    pub processed_by_type: BTreeMap<EnrichmentType, u64>,
    /// Claimed enrichments handed back unprocessed (shutdown, or a failed write).
    pub released: u64,
    /// The run stopped on a shutdown request before the queue was drained.
    pub interrupted: bool,
    pub elapsed: Duration,
}

impl RunTotals {
    fn add(&mut self, batch: &BatchReport) {
        self.batches += 1;
        self.processed += batch.claimed as u64;
        if let Some(t) = batch.enrichment_type {
            *self.processed_by_type.entry(t).or_default() += batch.claimed as u64;
        }
        self.succeeded += batch.succeeded;
        self.failed += batch.failed;
        self.lost_leases += batch.lost_leases as u64;
        self.skills_written += batch.skills_written;
        self.sections_written += batch.sections_written;
        self.embeddings_written += batch.embeddings_written;
    }

    fn merge(&mut self, other: &RunTotals) {
        self.batches += other.batches;
        self.processed += other.processed;
        for (&t, &n) in &other.processed_by_type {
            *self.processed_by_type.entry(t).or_default() += n;
        }
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.lost_leases += other.lost_leases;
        self.skills_written += other.skills_written;
        self.sections_written += other.sections_written;
        self.embeddings_written += other.embeddings_written;
        self.requeued += other.requeued;
        self.released += other.released;
        self.interrupted |= other.interrupted;
    }

    /// Postings processed: the most of any one type, as a posting that two
    /// types enrich is one posting.
    pub fn postings(&self) -> u64 {
        self.processed_by_type.values().copied().max().unwrap_or(0)
    }

    /// `postings` per second of wall time.
    pub fn postings_per_second(&self) -> f64 {
        self.per_wall_second(self.postings())
    }

    /// Enrichments processed per second of wall time.
    pub fn per_second(&self) -> f64 {
        self.per_wall_second(self.processed)
    }

    fn per_wall_second(&self, n: u64) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            n as f64 / secs
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
    /// Engine threads: batches enriched at once.
    pub engine_threads: usize,
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
        embeddings = batch.embeddings_written,
        elapsed_ms = batch.elapsed.as_millis() as u64,
        claim_read_ms = batch.timings.claim_and_read.as_millis() as u64,
        enrich_ms = batch.timings.enrich.as_millis() as u64,
        write_ms = batch.timings.write.as_millis() as u64,
        postings_per_s = batch.postings_per_second().round() as u64,
        "batch completed"
    );
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
    engine_threads: usize,
    observer: Option<BatchObserver>,
) -> Result<RunTotals, PipelineError> {
    drain_until(pipeline, types, engine_threads, observer, &Shutdown::new()).await
}

/// `drain`, stopping early when `shutdown` is requested (`interrupted` is
/// then set, and nothing this run claimed stays leased unless the store
/// refused the release).
pub async fn drain_until(
    pipeline: Arc<EnrichmentPipeline>,
    types: &[EnrichmentType],
    engine_threads: usize,
    observer: Option<BatchObserver>,
    shutdown: &Shutdown,
) -> Result<RunTotals, PipelineError> {
    let started = Instant::now();
    let types = workable_types(&pipeline, types).await?;
    let mut totals = RunTotals::default();
    loop {
        let mode = Mode::Drain(types.clone());
        let (pass, error) = run_stages(
            pipeline.clone(),
            mode,
            engine_threads,
            shutdown,
            observer.clone(),
        )
        .await;
        totals.merge(&pass);
        if let Some(error) = error {
            return Err(error);
        }
        if shutdown.is_requested() {
            totals.interrupted = true;
            break;
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
/// is requested, then finishes the batches being enriched, releases the ones
/// not started, and returns. Store errors are logged and retried after a
/// backoff; they never end the loop.
pub async fn run_worker(
    pipeline: Arc<EnrichmentPipeline>,
    config: WorkerLoopConfig,
    shutdown: Shutdown,
) -> RunTotals {
    let started = Instant::now();
    let threads = config.engine_threads;
    let (mut totals, error) =
        run_stages(pipeline, Mode::Daemon(config), threads, &shutdown, None).await;
    if let Some(error) = error {
        tracing::error!(error = %error, "the worker's stages ended with an error");
    }
    totals.interrupted = shutdown.is_forced();
    totals.elapsed = started.elapsed();
    totals
}

/// What the claimer does when a round over the types finds nothing.
enum Mode {
    /// Stop: the queue is drained (`jobenrich run`).
    Drain(Vec<EnrichmentType>),
    /// Requeue due failures, queue re-enrichment (when configured), sleep
    /// with backoff, and poll again (`jobenrich-worker`).
    Daemon(WorkerLoopConfig),
}

/// Keys of the batches claimed and not yet written, by batch number: what
/// an immediate shutdown hands back.
#[derive(Default)]
struct InFlight {
    next: AtomicU64,
    batches: Mutex<HashMap<u64, Vec<EnrichmentKey>>>,
    released: AtomicU64,
}

impl InFlight {
    fn add(&self, batch: &ClaimedBatch) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut batches) = self.batches.lock() {
            batches.insert(id, batch.keys());
        }
        id
    }

    fn done(&self, id: u64) {
        if let Ok(mut batches) = self.batches.lock() {
            batches.remove(&id);
        }
    }

    /// Releases batch `id` (or every batch, for `None`) if still in flight.
    async fn release(&self, pipeline: &EnrichmentPipeline, id: Option<u64>) {
        let keys: Vec<EnrichmentKey> = match self.batches.lock() {
            Ok(mut batches) => match id {
                Some(id) => batches.remove(&id).unwrap_or_default(),
                None => batches.drain().flat_map(|(_, keys)| keys).collect(),
            },
            Err(_) => Vec::new(),
        };
        if keys.is_empty() {
            return;
        }
        match pipeline.release(&keys).await {
            Ok(n) => {
                self.released.fetch_add(n, Ordering::Relaxed);
            }
            Err(err) => {
                tracing::warn!(error = %err, enrichments = keys.len(), "releasing claimed enrichments; their lease will expire instead")
            }
        }
    }
}

/// Runs the three stages until the claimer stops (drained, or shutdown) and
/// the batches in hand are written or released. Returns the totals and, in
/// drain mode, the first error that stopped the run.
async fn run_stages(
    pipeline: Arc<EnrichmentPipeline>,
    mode: Mode,
    engine_threads: usize,
    shutdown: &Shutdown,
    observer: Option<BatchObserver>,
) -> (RunTotals, Option<PipelineError>) {
    let threads = engine_threads.max(1);
    let draining = matches!(mode, Mode::Drain(_));
    // Cancelled by a shutdown request, or by the run itself after an error.
    let halt = shutdown.graceful_child();
    let in_flight = Arc::new(InFlight::default());
    let (claimed_tx, claimed_rx) = mpsc::channel::<(u64, ClaimedBatch)>(1);
    let claimed_rx = Arc::new(tokio::sync::Mutex::new(claimed_rx));
    let (enriched_tx, enriched_rx) = mpsc::channel::<(u64, EnrichedBatch)>(1);
    let tracker = TaskTracker::new();
    let claimer = tracker.spawn(claim_stage(
        pipeline.clone(),
        mode,
        halt.clone(),
        claimed_tx,
        in_flight.clone(),
    ));
    let mut aborts = vec![claimer.abort_handle()];
    let mut engines = Vec::with_capacity(threads);
    for _ in 0..threads {
        let engine = tracker.spawn(engine_stage(
            pipeline.clone(),
            halt.clone(),
            claimed_rx.clone(),
            enriched_tx.clone(),
            in_flight.clone(),
        ));
        aborts.push(engine.abort_handle());
        engines.push(engine);
    }
    drop(enriched_tx);
    // Shared so that what was written before an abort still counts.
    let written = Arc::new(Mutex::new(RunTotals::default()));
    // However the write stage ends (a panic included), nothing upstream may
    // go on claiming: with no writer, every batch would be enriched and
    // released, round after round, for ever.
    let stop_when_written = halt.clone().drop_guard();
    let writer = tracker.spawn({
        let stage = write_stage(
            pipeline.clone(),
            draining,
            halt.clone(),
            enriched_rx,
            in_flight.clone(),
            written.clone(),
            observer,
        );
        async move {
            let _stop = stop_when_written;
            stage.await
        }
    });
    aborts.push(writer.abort_handle());
    tracker.close();

    let forced = tokio::select! {
        _ = tracker.wait() => false,
        _ = shutdown.forced() => true,
    };
    let mut error = None;
    if forced {
        for task in &aborts {
            task.abort();
        }
        tracker.wait().await;
        in_flight.release(&pipeline, None).await;
    }
    match writer.await {
        Ok(write_error) => error = write_error,
        Err(join) if !join.is_cancelled() => {
            error = Some(PipelineError::WorkerThread(join.to_string()));
        }
        Err(_) => {}
    }
    for engine in engines {
        if let Err(join) = engine.await {
            if !join.is_cancelled() {
                error.get_or_insert(PipelineError::WorkerThread(join.to_string()));
            }
        }
    }
    let mut totals = written.lock().map(|t| t.clone()).unwrap_or_default();
    match claimer.await {
        Ok(Ok(requeued)) => totals.requeued += requeued,
        Ok(Err(claim_error)) => {
            error.get_or_insert(claim_error);
        }
        Err(join) if !join.is_cancelled() => {
            error.get_or_insert(PipelineError::WorkerThread(join.to_string()));
        }
        Err(_) => {}
    }
    // Anything an error path left in flight goes back too.
    in_flight.release(&pipeline, None).await;
    totals.released += in_flight.released.load(Ordering::Relaxed);
    totals.interrupted = forced;
    (totals, error)
}

/// Stage 1: claims batches round-robin over the types and hands them on.
/// Returns how many failures it requeued (daemon mode).
async fn claim_stage(
    pipeline: Arc<EnrichmentPipeline>,
    mode: Mode,
    halt: CancellationToken,
    claimed: mpsc::Sender<(u64, ClaimedBatch)>,
    in_flight: Arc<InFlight>,
) -> Result<u64, PipelineError> {
    let mut requeued = 0;
    let mut idle_sleep = match &mode {
        Mode::Daemon(config) => config.poll_interval,
        Mode::Drain(_) => Duration::ZERO,
    };
    while !halt.is_cancelled() {
        let round = claim_round(&pipeline, &mode, &halt, &claimed, &in_flight).await;
        let worked = match (round, &mode) {
            (Ok(claimed_any), _) => claimed_any,
            (Err(err), Mode::Drain(_)) => return Err(err),
            (Err(err), Mode::Daemon(_)) => {
                tracing::error!(error = %err, "claiming a batch failed; retrying after backoff");
                false
            }
        };
        let Mode::Daemon(config) = &mode else {
            if worked {
                continue;
            }
            return Ok(requeued);
        };
        if worked {
            idle_sleep = config.poll_interval;
            continue;
        }
        match idle_work(&pipeline, config).await {
            Ok((found, n)) => {
                requeued += n;
                if found > 0 {
                    continue;
                }
            }
            Err(err) => tracing::error!(error = %err, "idle work failed; retrying after backoff"),
        }
        tokio::select! {
            _ = tokio::time::sleep(idle_sleep) => {}
            _ = halt.cancelled() => {}
        }
        idle_sleep = (idle_sleep * 2).min(config.max_idle_backoff.max(config.poll_interval));
    }
    Ok(requeued)
}

/// A batch of each workable type; whether any was claimed.
async fn claim_round(
    pipeline: &Arc<EnrichmentPipeline>,
    mode: &Mode,
    halt: &CancellationToken,
    claimed: &mpsc::Sender<(u64, ClaimedBatch)>,
    in_flight: &InFlight,
) -> Result<bool, PipelineError> {
    let types = match mode {
        Mode::Drain(types) => types.clone(),
        Mode::Daemon(config) => workable_types(pipeline, &config.types).await?,
    };
    let mut claimed_any = false;
    for t in types {
        if halt.is_cancelled() {
            break;
        }
        let Some(batch) = pipeline.claim_batch(t).await? else {
            continue;
        };
        claimed_any = true;
        let id = in_flight.add(&batch);
        let handed_on = tokio::select! {
            sent = claimed.send((id, batch)) => sent.is_ok(),
            _ = halt.cancelled() => false,
        };
        if !handed_on {
            // Stopping (or no engine left): claimed, never started, handed back.
            in_flight.release(pipeline, Some(id)).await;
            // No engine left to take a batch: claiming more would only
            // release it again, round after round.
            halt.cancel();
            break;
        }
    }
    Ok(claimed_any)
}

/// When a daemon round found nothing: requeue due failures and (with
/// `reenrich_auto`) queue jobs lacking a result at the active version.
/// Returns (work found, failures requeued).
async fn idle_work(
    pipeline: &EnrichmentPipeline,
    config: &WorkerLoopConfig,
) -> Result<(u64, u64), PipelineError> {
    let types = workable_types(pipeline, &config.types).await?;
    let (mut found, mut requeued_total) = (0, 0);
    for &t in &types {
        let requeued = pipeline.requeue_due_failures(t, Utc::now()).await?;
        if requeued > 0 {
            tracing::info!(enrichment_type = %t, requeued, "failed enrichments requeued for retry");
        }
        requeued_total += requeued;
        found += requeued;
        if config.reenrich_auto {
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
    Ok((found, requeued_total))
}

/// Stage 2, one per engine thread: enriches whole batches on the blocking pool.
async fn engine_stage(
    pipeline: Arc<EnrichmentPipeline>,
    halt: CancellationToken,
    claimed: Arc<tokio::sync::Mutex<mpsc::Receiver<(u64, ClaimedBatch)>>>,
    enriched: mpsc::Sender<(u64, EnrichedBatch)>,
    in_flight: Arc<InFlight>,
) {
    loop {
        let next = claimed.lock().await.recv().await;
        let Some((id, batch)) = next else {
            return;
        };
        if halt.is_cancelled() {
            // Claimed but not started: released rather than enriched.
            drop(batch);
            in_flight.release(&pipeline, Some(id)).await;
            continue;
        }
        let engine = pipeline.clone();
        match tokio::task::spawn_blocking(move || engine.enrich_batch(batch)).await {
            Ok(batch) => {
                let batch = pipeline.plan_write(batch).await;
                if enriched.send((id, batch)).await.is_err() {
                    in_flight.release(&pipeline, Some(id)).await;
                }
            }
            Err(join) => {
                // Postings' panics are caught one by one; this is anything else.
                tracing::error!(error = %join, "an engine thread failed; its batch is released");
                in_flight.release(&pipeline, Some(id)).await;
            }
        }
    }
}

/// Stage 3: writes each enriched batch in one store call, in arrival order.
/// In drain mode the first failed write stops the run (its error is
/// returned); the daemon logs it and goes on (the batch was released).
async fn write_stage(
    pipeline: Arc<EnrichmentPipeline>,
    draining: bool,
    halt: CancellationToken,
    mut enriched: mpsc::Receiver<(u64, EnrichedBatch)>,
    in_flight: Arc<InFlight>,
    totals: Arc<Mutex<RunTotals>>,
    observer: Option<BatchObserver>,
) -> Option<PipelineError> {
    let mut error = None;
    while let Some((id, batch)) = enriched.recv().await {
        if error.is_some() {
            in_flight.release(&pipeline, Some(id)).await;
            continue;
        }
        let released = batch.keys().len() as u64;
        let written = pipeline.write_batch(batch).await;
        in_flight.done(id);
        match written {
            Ok(report) => {
                if let Ok(mut totals) = totals.lock() {
                    totals.add(&report);
                }
                log_batch(&report);
                if let Some(observe) = &observer {
                    observe(&report);
                }
            }
            Err(err) => {
                // write_batch released the batch already.
                if let Ok(mut totals) = totals.lock() {
                    totals.released += released;
                }
                if draining {
                    halt.cancel();
                    error = Some(err);
                } else {
                    tracing::error!(error = %err, "writing a batch failed; it was released for a retry");
                }
            }
        }
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(t: EnrichmentType, claimed: usize) -> BatchReport {
        BatchReport {
            enrichment_type: Some(t),
            claimed,
            ..BatchReport::default()
        }
    }

    #[test]
    fn postings_count_a_posting_two_types_enrich_once() {
        let mut first = RunTotals::default();
        first.add(&batch(EnrichmentType::SkillsExtraction, 256));
        first.add(&batch(EnrichmentType::Embeddings, 256));
        first.add(&batch(EnrichmentType::SkillsExtraction, 44));
        let mut second = RunTotals::default();
        second.add(&batch(EnrichmentType::Embeddings, 44));
        first.merge(&second);
        assert_eq!(first.processed, 600);
        assert_eq!(first.postings(), 300);
        first.elapsed = Duration::from_secs(2);
        assert_eq!(
            (first.per_second(), first.postings_per_second()),
            (300.0, 150.0)
        );
        // Re-enriching one type alone: every enrichment is a posting.
        let mut one = RunTotals::default();
        one.add(&batch(EnrichmentType::SkillsExtraction, 10));
        assert_eq!(one.postings(), 10);
        assert_eq!(RunTotals::default().postings(), 0);
    }
}
