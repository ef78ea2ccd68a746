//! `jobenrich-worker`: the enrichment daemon. Claims batches of pending
//! enrichments with a lease, runs the engine on them, writes the results, and
//! sleeps with backoff when idle. SIGINT, SIGTERM or SIGHUP stop claiming:
//! batches being enriched are finished and written, batches claimed but not
//! started are released, and the process exits 0. A second signal (or
//! `worker.shutdown_grace_seconds` passing) releases whatever is still held
//! and exits 130.

use anyhow::Context;
use clap::Parser;
use jobenrich_bootstrap::{AppContext, LogFormat, Settings, StorageBackend};
use jobenrich_services::enrichment_pipeline::process_owner_name;
use jobenrich_services::enrichment_runner::run_worker;
use std::path::PathBuf;
use std::sync::Arc;

/// `--log-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}
use std::process::ExitCode;

// glibc malloc cost ~15% of engine time in profiles; mimalloc is much cheaper for its many small allocations.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Enrichment worker of jobenrich: processes the enrichment queue until stopped.
#[derive(Debug, Parser)]
#[command(name = "jobenrich-worker", version)]
struct WorkerArgs {
    /// Extra YAML config file layered over config/default.yaml and config/{JOBENRICH_ENV}.yaml.
    #[arg(long, short = 'c', env = "JOBENRICH_CONFIG")]
    config: Option<PathBuf>,
    /// Log line format on stderr (default: logging.format of the config).
    #[arg(long, value_enum)]
    log_format: Option<LogFormatArg>,
}

fn main() -> ExitCode {
    let args = WorkerArgs::parse();
    let settings = match Settings::load(args.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            error_line(&error_chain(&e));
            return ExitCode::FAILURE;
        }
    };
    // The worker's batch lines are its progress report: info unless configured lower.
    let mut logging = settings.logging.clone();
    if logging.level == "warn" {
        logging.level = "info".to_string();
    }
    let log_format = args.log_format.map(|f| match f {
        LogFormatArg::Text => LogFormat::Text,
        LogFormatArg::Json => LogFormat::Json,
    });
    jobenrich_bootstrap::logging::init_logging(&logging, log_format);
    // Each failure is said once: a JSON log line when the log is JSON (so
    // every stderr line parses), else one `error: …` line like the CLI's.
    let json_log = log_format.unwrap_or(logging.format) == LogFormat::Json;
    let fail = |message: String| {
        if json_log {
            tracing::error!(error = %message, "worker failed");
        } else {
            error_line(&message);
        }
        ExitCode::FAILURE
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("starting the async runtime: {e}")),
    };
    match runtime.block_on(run(settings)) {
        Ok(Stopped::Gracefully) => ExitCode::SUCCESS,
        // The shell's code for "ended by SIGINT": the stop was forced.
        Ok(Stopped::Forced) => ExitCode::from(130),
        Err(e) => fail(format!("{e:#}")),
    }
}

/// `outer: cause: root cause` on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

/// How the worker ended.
enum Stopped {
    Gracefully,
    Forced,
}

async fn run(settings: Settings) -> anyhow::Result<Stopped> {
    // Listen first: a signal during startup (lexicon loading) still ends cleanly.
    let shutdown =
        jobenrich_bootstrap::signals::listen_for_shutdown(settings.worker.shutdown_grace())?;
    // Opening a missing SQLite file would create it: the worker never creates a store.
    let sqlite = &settings.storage.sqlite.path;
    anyhow::ensure!(
        settings.storage.backend != StorageBackend::Sqlite || sqlite.exists(),
        "no store at {}: run `jobenrich migrate` (or `jobenrich run`) first",
        sqlite.display()
    );
    let context = AppContext::connect(&settings)
        .await
        .map_err(|e| anyhow::anyhow!(error_chain(&e)))?;
    let schema = context
        .store
        .schema_version()
        .await
        .context("reading the schema version")?;
    anyhow::ensure!(
        schema > 0,
        "the store has no schema yet: run `jobenrich migrate` (or `jobenrich run`) first"
    );
    let owner = process_owner_name("worker");
    let worker = &settings.worker;
    // Loading the lexicon is CPU and file work: off the async threads.
    let (store, pipeline_config) = (context.store.clone(), worker.pipeline_config(owner.clone()));
    let lexicon_dir = settings.engine.lexicon_dir()?;
    let models_dir = settings.models.artifacts_dir();
    // Loaded only once an embeddings model is active.
    let encoder_source = settings.embeddings.encoder_source();
    let linker_source = settings.embeddings.linker_source();
    let loading = tokio::task::spawn_blocking(move || {
        jobenrich_services::engine_enricher::build_pipeline(
            store,
            pipeline_config,
            &lexicon_dir,
            &models_dir,
            encoder_source,
            linker_source,
        )
    });
    let pipeline = tokio::select! {
        loaded = loading => loaded
            .context("loading the enrichment engine")?
            .map_err(anyhow::Error::msg)?,
        _ = shutdown.requested() => {
            tracing::info!("stopped before the engine was loaded");
            return Ok(Stopped::Gracefully);
        }
    };
    let loop_config = worker.loop_config();
    tracing::info!(
        owner = %owner,
        backend = context.store.backend_name(),
        batch_size = worker.batch_size,
        engine_threads = loop_config.engine_threads,
        lease_seconds = worker.lease_seconds,
        max_attempts = worker.max_attempts,
        reenrich = ?worker.reenrich,
        "worker started"
    );
    let totals = run_worker(Arc::new(pipeline), loop_config, shutdown).await;
    tracing::info!(
        processed = totals.processed,
        succeeded = totals.succeeded,
        failed = totals.failed,
        lost_leases = totals.lost_leases,
        skills_written = totals.skills_written,
        sections_written = totals.sections_written,
        requeued = totals.requeued,
        released = totals.released,
        batches = totals.batches,
        elapsed_s = totals.elapsed.as_secs_f64(),
        postings_per_s = totals.postings_per_second().round() as u64,
        "worker stopped"
    );
    Ok(if totals.interrupted {
        Stopped::Forced
    } else {
        Stopped::Gracefully
    })
}

/// `error: …` on stderr; dropped when stderr cannot take it (a closed pipe).
fn error_line(message: &str) {
    jobenrich_bootstrap::logging::stderr_line(format_args!("error: {message}"));
}
