//! `jobenrich run [INPUT…]`: the main job in one command. Migrates the store
//! if needed, ingests the inputs (default: the shipped sample in
//! `data/sample/`), queues every posting that lacks a result at the active
//! model versions, enriches everything to completion with a progress bar (on
//! a terminal), and prints a summary: postings, skills found, top skills and
//! categories, failures, throughput.
//!
//! Ctrl-C (SIGINT, SIGTERM, SIGHUP) stops it cleanly: batches being enriched
//! are finished and written, batches claimed but not started are released
//! (nothing stays `processing` until its lease expires), and it exits 130.
//! A second Ctrl-C, or `worker.shutdown_grace_seconds`, stops at once and
//! releases what is still held.

use crate::commands::ingest::TerminalObserver;
use crate::error::{ExitWith, UsageError};
use crate::output::{emit, OutputFormat, Table};
use crate::session::Session;
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use jobenrich_domain::{EnrichmentType, Store};
use jobenrich_services::engine_enricher::{
    max_description_bytes, preload_active_artifacts, EngineEnricherFactory,
};
use jobenrich_services::enrichment_pipeline::{
    process_owner_name, BatchReport, EnrichmentPipeline, PipelinePorts,
};
use jobenrich_services::enrichment_run::{
    prepare_run, run_to_completion, EnrichmentRunOptions, RunSummary,
};
use jobenrich_services::enrichment_runner::BatchObserver;
use jobenrich_services::ingest::{
    ingest_reader, IngestFormat, IngestOptions, IngestPorts, IngestReport,
};
use jobenrich_services::model_artifacts::ArtifactStore;
use jobenrich_services::reenrichment::queue_never_queued;
use serde::Serialize;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The shipped sample postings (relative to the working directory).
const SAMPLE_POSTINGS: &str = "data/sample/postings.jsonl";

#[derive(Debug, Args)]
pub struct RunArgs {
    /// JSONL or CSV files (or directories of them) of job postings (default: the shipped sample, data/sample/postings.jsonl).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Engine threads, batches enriched at once (default: worker.engine_threads
    /// of the config; 0 = one per CPU core).
    #[arg(long, visible_alias = "concurrency")]
    pub threads: Option<usize>,
    /// Enrichments per batch (default: worker.batch_size of the config).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Skills listed in the summary.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Never draw a progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Serialize)]
struct RunView {
    backend: &'static str,
    inputs: Vec<String>,
    ingest: IngestReport,
    /// Postings stored earlier but never queued (an interrupted ingest), queued now.
    repaired_never_queued: u64,
    #[serde(flatten)]
    enrichment: RunSummary,
    /// Wall time of the whole command (ingest + enrichment).
    total_seconds: f64,
    /// Postings read or enriched, whichever is more, per second of the whole
    /// command (`end_to_end_rate`).
    end_to_end_postings_per_second: f64,
}

/// A run that re-enriches the store after a version change reads few
/// postings or none: counting only those read would report its hours of work
/// as a few postings per second.
fn end_to_end_rate(read: u64, enriched: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        read.max(enriched) as f64 / seconds
    } else {
        0.0
    }
}

/// The inputs given, or the shipped sample files.
fn resolve_inputs(inputs: &[PathBuf]) -> anyhow::Result<Vec<(PathBuf, IngestFormat)>> {
    let paths = if inputs.is_empty() {
        let sample = Path::new(SAMPLE_POSTINGS);
        if !sample.is_file() {
            return Err(UsageError(format!(
                "{}: the shipped sample is missing (run from the repository root, or name the input files)",
                sample.display()
            ))
            .into());
        }
        vec![sample.to_path_buf()]
    } else {
        crate::commands::ingest::expand_directories(inputs)?
    };
    paths
        .into_iter()
        .map(|path| {
            if !path.is_file() {
                return Err(UsageError(format!("{}: no such file", path.display())).into());
            }
            let format = IngestFormat::from_path(&path).ok_or_else(|| {
                UsageError(format!(
                    "{}: unknown file type (use .jsonl or .csv)",
                    path.display()
                ))
            })?;
            Ok((path, format))
        })
        .collect()
}

async fn ingest_inputs(
    store: &dyn Store,
    inputs: &[(PathBuf, IngestFormat)],
    batch_size: usize,
    show_progress: bool,
) -> anyhow::Result<IngestReport> {
    let ports = IngestPorts {
        postings: store,
        enrichments: store,
    };
    // Queueing happens after ingest, by the re-enrichment anti-join, in one pass.
    let options = IngestOptions {
        batch_size,
        default_source: None,
        enqueue: Vec::new(),
        max_description_bytes: max_description_bytes(store).await?,
        now: chrono::Utc::now(),
    };
    let mut total = IngestReport::default();
    for (path, format) in inputs {
        let label = path.display().to_string();
        let file = std::fs::File::open(path).with_context(|| format!("opening {label}"))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        // The ingest phase has its own bar (bytes read, rows), then the enrichment's.
        let mut observer = TerminalObserver::new(&label, size, show_progress);
        let report = ingest_reader(&ports, file, *format, &label, &options, &mut observer).await;
        observer.finish();
        total.add(&report?);
    }
    Ok(total)
}

fn progress_bar(due: u64) -> ProgressBar {
    let bar = ProgressBar::new(due);
    bar.set_style(
        ProgressStyle::with_template(
            "enriching [{bar:30}] {pos}/{len} postings ({rate}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        // indicatif's {per_sec} prints `6,111.9871/s`: whole postings per second read better.
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_fmt(format_args!("{:.0}/s", state.per_sec()));
            },
        )
        .progress_chars("=> "),
    );
    bar
}

pub async fn run(session: &Session, args: RunArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let inputs = resolve_inputs(&args.inputs)?;
    let settings = session.settings()?;
    let mut worker = settings.worker.clone();
    if let Some(n) = args.batch_size {
        worker.batch_size = n;
    }
    if let Some(n) = args.threads {
        worker.engine_threads = n;
    }
    worker.validate()?;
    let shutdown = jobenrich_bootstrap::signals::listen_for_shutdown(worker.shutdown_grace())
        .context("installing the signal handlers")?;

    // Found before the store is opened: a missing lexicon leaves nothing behind.
    let lexicon_dir = settings.engine.lexicon_dir()?;
    let context = session.connect().await?;
    let store = context.store.clone();
    // The lexicon loads (seconds of CPU) on its own thread while the store is
    // migrated and the inputs are ingested.
    let models_dir = settings.models.artifacts_dir();
    // The encoder and the ESCO index load only once a version needs them.
    let encoder_source = settings.embeddings.encoder_source();
    let artifacts = Arc::new(
        ArtifactStore::new(models_dir)
            .with_linker_source(Some(settings.embeddings.linker_source())),
    );
    let factory_artifacts = artifacts.clone();
    let engine_loading = tokio::task::spawn_blocking(move || {
        EngineEnricherFactory::load(&lexicon_dir).map(|f| {
            f.with_artifacts(factory_artifacts)
                .with_encoder_source(encoder_source)
        })
    });
    store.migrate().await.context("migrating the schema")?;
    crate::commands::migrate::seed_shipped(store.as_ref(), session, &settings.models.seed_dir)
        .await?;
    // The active versions' tagger and ESCO index load during ingest too.
    let preloading = if worker.types.contains(&EnrichmentType::SkillsExtraction) {
        Some(preload_active_artifacts(store.as_ref(), artifacts).await?)
    } else {
        None
    };

    // Before this run's ingest (whose postings the anti-join of `prepare_run`
    // queues), so the summary counts only what an earlier, interrupted
    // ingest stranded.
    let repaired_never_queued = queue_never_queued(
        store.as_ref(),
        store.as_ref(),
        &worker.types,
        chrono::Utc::now(),
    )
    .await
    .context("queueing postings stored but never queued")?
    .iter()
    .map(|r| r.newly_queued)
    .sum();

    let show_progress = !args.no_progress && std::io::stderr().is_terminal();
    // Stored batches stay stored; the next `run` queues them.
    let ingest = tokio::select! {
        ingest = ingest_inputs(
            store.as_ref(),
            &inputs,
            settings.ingest.batch_size,
            show_progress,
        ) => ingest?,
        _ = shutdown.requested() => return Err(interrupted("during ingest; the postings stored so far are kept and queued by the next run")),
    };

    if let Some(preloading) = preloading {
        // Waited for so the engine's build finds the cache filled.
        preloading
            .await
            .context("loading the active models' artifacts")?;
    }
    let engine = engine_loading
        .await
        .context("loading the enrichment engine")?
        .map_err(anyhow::Error::msg)?;
    let pipeline = Arc::new(EnrichmentPipeline::new(
        PipelinePorts::from_store(store.clone()),
        Arc::new(engine),
        worker.pipeline_config(process_owner_name("run")),
    ));
    let options = EnrichmentRunOptions {
        types: worker.types.clone(),
        engine_threads: worker.engine_threads(),
        top_skills: args.top,
        activated_by: session.actor(),
    };
    let (queued, due) = prepare_run(&store, &pipeline, &options).await?;
    let bar = show_progress.then(|| progress_bar(due));
    let observer: Option<BatchObserver> = bar.clone().map(|bar| {
        Arc::new(move |batch: &BatchReport| bar.inc(batch.claimed as u64)) as BatchObserver
    });
    let summary = run_to_completion(&store, pipeline, &options, queued, observer, &shutdown).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let summary = summary?;
    let total_seconds = started.elapsed().as_secs_f64();
    let view = RunView {
        backend: store.backend_name(),
        inputs: inputs
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect(),
        end_to_end_postings_per_second: end_to_end_rate(
            ingest.read,
            summary.postings_processed,
            total_seconds,
        ),
        ingest,
        repaired_never_queued,
        enrichment: summary,
        total_seconds,
    };
    print_view(session.format, &view)?;
    if view.enrichment.interrupted {
        return Err(interrupted(&format!(
            "{} enrichments released unprocessed; run again to finish",
            view.enrichment.released
        )));
    }
    let e = &view.enrichment;
    if e.processed > 0 && e.succeeded == 0 {
        // Nothing came out: say why now rather than after the retries.
        let reasons = first_failure_reasons(store.as_ref(), 3).await;
        return Err(ExitWith {
            code: crate::error::EXIT_FAILURE,
            message: format!(
                "every enrichment of this run failed ({}); first reasons: {}",
                e.failed,
                if reasons.is_empty() {
                    "see `jobenrich status`".to_string()
                } else {
                    reasons.join("; ")
                }
            ),
        }
        .into());
    }
    Ok(())
}

/// The error messages of the most recent failures (any attempt count).
async fn first_failure_reasons(store: &dyn Store, limit: usize) -> Vec<String> {
    let mut failed = store.dead_letters(1, 10_000).await.unwrap_or_default();
    failed.sort_by_key(|f| std::cmp::Reverse(f.updated_at));
    let mut reasons: Vec<String> = Vec::new();
    for f in failed {
        if let Some(message) = f.error_message {
            if !reasons.contains(&message) {
                reasons.push(message);
            }
        }
        if reasons.len() == limit {
            break;
        }
    }
    reasons
}

/// Exit 130, the shell's code for a command ended by Ctrl-C.
fn interrupted(what: &str) -> anyhow::Error {
    ExitWith {
        code: 130,
        message: format!("interrupted: {what}"),
    }
    .into()
}

fn print_view(format: OutputFormat, view: &RunView) -> anyhow::Result<()> {
    if format == OutputFormat::Json {
        return emit(format, view, |_| Table::default());
    }
    let e = &view.enrichment;
    emit(format, view, |v| {
        Table::fields([
            ("inputs", v.inputs.join(", ")),
            (
                "postings read / stored / already present / rejected",
                format!(
                    "{} / {} / {} / {}",
                    v.ingest.read, v.ingest.stored, v.ingest.already_present, v.ingest.rejected
                ),
            ),
            (
                "this run: stored earlier but never queued (queued now)",
                v.repaired_never_queued.to_string(),
            ),
            // A posting that two enrichment types enrich counts once here
            // and twice in the enrichments line below.
            (
                "this run: postings enriched",
                e.postings_processed.to_string(),
            ),
            (
                "this run: enrichments (succeeded / failed)",
                format!("{} ({} / {})", e.processed, e.succeeded, e.failed),
            ),
            (
                "this run: skills / sections / posting vectors written",
                format!(
                    "{} / {} / {}",
                    e.skills_written, e.sections_written, e.embeddings_written
                ),
            ),
            ("store: postings", e.postings_in_store.to_string()),
            (
                "store: failed at the current version",
                e.failed_in_store.to_string(),
            ),
            (
                "store: skills found",
                format!(
                    "{} mentions of {} distinct skills at {}",
                    e.skills.skill_mentions, e.skills.distinct_skills, e.skills.enrichment_version
                ),
            ),
            (
                "still leased by other processes",
                e.leased_by_others.to_string(),
            ),
            (
                "enrichment throughput",
                format!(
                    "{:.0} postings/s ({:.2} s)",
                    e.postings_per_second, e.elapsed_seconds
                ),
            ),
            (
                "end to end",
                format!(
                    "{:.0} postings/s ({:.2} s, {} store)",
                    v.end_to_end_postings_per_second, v.total_seconds, v.backend
                ),
            ),
        ])
    })?;
    crate::outln!();
    emit(format, view, |v| {
        let mut table = Table::new(["TOP SKILL", "CATEGORY", "JOBS", "MEAN CONFIDENCE"]);
        for s in &v.enrichment.skills.top_skills {
            table.row([
                s.skill_name.clone(),
                s.skill_category.to_string(),
                s.job_count.to_string(),
                format!("{:.2}", s.mean_confidence),
            ]);
        }
        table
    })?;
    crate::outln!();
    emit(format, view, |v| {
        let mut table = Table::new(["CATEGORY", "DISTINCT SKILLS", "JOB MENTIONS"]);
        for c in &v.enrichment.skills.categories {
            table.row([
                c.category.to_string(),
                c.distinct_skills.to_string(),
                c.job_mentions.to_string(),
            ]);
        }
        table
    })
}

#[cfg(test)]
mod tests {
    use super::end_to_end_rate;

    #[test]
    fn end_to_end_counts_what_was_read_or_enriched_whichever_is_more() {
        // A first run: everything read is enriched.
        assert_eq!(end_to_end_rate(1_000, 1_000, 2.0), 500.0);
        // Re-enrichment of a stored corpus after a version change: nothing read.
        assert_eq!(end_to_end_rate(0, 1_000, 2.0), 500.0);
        // Inputs already stored and enriched: read, nothing to enrich.
        assert_eq!(end_to_end_rate(80, 0, 2.0), 40.0);
        assert_eq!(end_to_end_rate(80, 1_000, 0.0), 0.0);
    }
}
