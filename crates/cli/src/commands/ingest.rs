//! `jobenrich ingest FILE...`: stream job postings from JSONL or CSV files
//! into the store (field mapping: `jobenrich_services::ingest`, README) and
//! queue a pending skills extraction for each at the active model's version,
//! and a pending enrichment of every other type the worker works on
//! (`worker.types`, e.g. `embeddings`) that has an active model.
//! Rejected rows are printed on stderr as `FILE:LINE: reason`; a progress bar
//! shows on a terminal; the summary counts read / stored / already present /
//! rejected rows.

use crate::error::UsageError;
use crate::output::{emit_text, Table};
use crate::session::Session;
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use jobenrich_domain::{EnrichmentStatus, EnrichmentType, EnrichmentVersion, Store};
use jobenrich_services::engine_enricher::max_description_bytes;
use jobenrich_services::ingest::{
    ingest_reader, IngestFormat, IngestObserver, IngestOptions, IngestPorts, IngestReport,
    RowRejection,
};
use jobenrich_services::model_registry::seed_model_directory;
use jobenrich_services::reenrichment::ensure_active_models;
use serde::Serialize;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Rejected rows printed per file; the rest are only counted.
const MAX_REJECTIONS_SHOWN: u64 = 100;

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// JSONL (.jsonl, .ndjson, .json) or CSV (.csv) files of job postings; a
    /// directory stands for the files of those types directly in it.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Read every file as this format instead of guessing from its extension.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub input_format: Option<InputFormat>,
    /// `source` recorded for postings whose row has none.
    #[arg(long)]
    pub source: Option<String>,
    /// Postings per store call (default: ingest.batch_size of the config).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Never draw a progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum InputFormat {
    Jsonl,
    Csv,
}

#[derive(Debug, Serialize)]
struct FileSummary {
    file: String,
    format: IngestFormat,
    #[serde(flatten)]
    report: IngestReport,
}

#[derive(Debug, Serialize)]
struct IngestView {
    files: Vec<FileSummary>,
    total: IngestReport,
    /// The skills extraction's queue (the first of `queues`), kept at the
    /// top level for scripts that read it there.
    enrichment_type: EnrichmentType,
    enrichment_version: EnrichmentVersion,
    postings_in_store: u64,
    pending_enrichments: u64,
    /// Every type new postings were queued for.
    queues: Vec<QueueView>,
}

#[derive(Debug, Serialize)]
struct QueueView {
    enrichment_type: EnrichmentType,
    enrichment_version: EnrichmentVersion,
    pending_enrichments: u64,
}

/// The paths with each directory replaced by its posting files (`.jsonl`,
/// `.ndjson`, `.json`, `.csv`, not recursive, in name order). A directory
/// without any is an error naming it.
pub fn expand_directories(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path)
            .map_err(|e| UsageError(format!("{}: reading the directory: {e}", path.display())))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && IngestFormat::from_path(p).is_some())
            .collect();
        if found.is_empty() {
            return Err(UsageError(format!(
                "{}: a directory without .jsonl, .ndjson, .json or .csv files",
                path.display()
            ))
            .into());
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

pub async fn run(session: &Session, args: IngestArgs) -> anyhow::Result<()> {
    let batch_size = args
        .batch_size
        .unwrap_or(session.settings()?.ingest.batch_size);
    if batch_size == 0 {
        return Err(UsageError("--batch-size must be at least 1".to_string()).into());
    }
    // Check every file before storing anything from the first.
    let mut inputs = Vec::new();
    for path in &expand_directories(&args.files)? {
        let format = match args.input_format {
            Some(InputFormat::Jsonl) => IngestFormat::Jsonl,
            Some(InputFormat::Csv) => IngestFormat::Csv,
            None => IngestFormat::from_path(path).ok_or_else(|| {
                UsageError(format!(
                    "{}: unknown file type (use .jsonl or .csv, or --input-format)",
                    path.display()
                ))
            })?,
        };
        if !path.is_file() {
            return Err(UsageError(format!("{}: no such file", path.display())).into());
        }
        inputs.push((path.clone(), format));
    }

    let context = session.connect_migrated().await?;
    let store = context.store.as_ref();
    let enrichment_type = EnrichmentType::SkillsExtraction;
    let version = current_version(session, store, enrichment_type).await?;
    let mut enqueue = vec![(enrichment_type, version.clone())];
    // The worker's other types, where a model is active: without this a
    // worker would embed new postings only after a `reenrich`.
    for &t in &session.settings()?.worker.types {
        if t == enrichment_type {
            continue;
        }
        if let Some(model) = store.active_model_for_type(t).await? {
            enqueue.push((t, model.enrichment_version()));
        }
    }
    let ports = IngestPorts {
        postings: store,
        enrichments: store,
    };
    let options = IngestOptions {
        batch_size,
        default_source: args.source.clone(),
        enqueue: enqueue.clone(),
        max_description_bytes: max_description_bytes(store).await?,
        now: chrono::Utc::now(),
    };
    let show_progress = !args.no_progress && std::io::stderr().is_terminal();

    let mut files = Vec::new();
    let mut total = IngestReport::default();
    for (path, format) in inputs {
        let label = path.display().to_string();
        let file = std::fs::File::open(&path).with_context(|| format!("opening {label}"))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut observer = TerminalObserver::new(&label, size, show_progress);
        let report = ingest_reader(&ports, file, format, &label, &options, &mut observer).await;
        observer.finish();
        let report = report?;
        tracing::info!(
            file = %label,
            read = report.read,
            stored = report.stored,
            already_present = report.already_present,
            rejected = report.rejected,
            queued = report.enrichments_queued,
            "ingested"
        );
        total.add(&report);
        files.push(FileSummary {
            file: label,
            format,
            report,
        });
    }

    let postings_in_store = store.count_postings().await?;
    let counts = store.enrichment_status_counts().await?;
    let queues: Vec<QueueView> = enqueue
        .into_iter()
        .map(|(t, v)| QueueView {
            pending_enrichments: counts
                .iter()
                .filter(|c| {
                    c.enrichment_type == t
                        && c.enrichment_version == v
                        && c.status == EnrichmentStatus::Pending
                })
                .map(|c| c.count)
                .sum(),
            enrichment_type: t,
            enrichment_version: v,
        })
        .collect();
    let view = IngestView {
        files,
        total,
        enrichment_type,
        enrichment_version: version,
        postings_in_store,
        pending_enrichments: queues.first().map_or(0, |q| q.pending_enrichments),
        queues,
    };
    emit_text(session.format, &view, |v| {
        let mut table = Table::new([
            "FILE",
            "READ",
            "STORED",
            "ALREADY PRESENT",
            "REJECTED",
            "QUEUED",
        ]);
        let mut row = |name: &str, r: &IngestReport| {
            table.row([
                name.to_string(),
                r.read.to_string(),
                r.stored.to_string(),
                r.already_present.to_string(),
                r.rejected.to_string(),
                r.enrichments_queued.to_string(),
            ])
        };
        for f in &v.files {
            row(&f.file, &f.report);
        }
        if v.files.len() > 1 {
            row("total", &v.total);
        }
        let mut out = format!(
            "{}\npostings in store: {}\n",
            table.render(),
            v.postings_in_store
        );
        for q in &v.queues {
            out.push_str(&format!(
                "pending {} enrichments at {}: {}\n",
                q.enrichment_type, q.enrichment_version, q.pending_enrichments
            ));
        }
        out
    })
}

/// The enrichment version new postings are queued at: the active model's.
/// A store without an active model of the type gets the shipped configs
/// (`models.seed_dir`), else the built-in default model, registered and activated.
async fn current_version(
    session: &Session,
    store: &dyn Store,
    enrichment_type: EnrichmentType,
) -> anyhow::Result<EnrichmentVersion> {
    if let Some(model) = store.active_model_for_type(enrichment_type).await? {
        return Ok(model.enrichment_version());
    }
    let now = chrono::Utc::now();
    let seed_dir = &session.settings()?.models.seed_dir;
    seed_model_directory(store, seed_dir, &session.actor(), now)
        .await
        .with_context(|| format!("registering the model configs of {}", seed_dir.display()))?;
    ensure_active_models(store, &[enrichment_type], &session.actor(), now).await?;
    store
        .active_model_for_type(enrichment_type)
        .await?
        .map(|m| m.enrichment_version())
        .ok_or_else(|| {
            UsageError(format!(
                "no {enrichment_type} model is active: register one with `jobenrich models register` and activate it"
            ))
            .into()
        })
}

/// Progress bar (on a terminal) and rejected-row lines on stderr.
/// Progress bar (on a terminal) and rejected rows on stderr, for `ingest` and `run`.
pub(crate) struct TerminalObserver {
    bar: Option<ProgressBar>,
    label: String,
    rejections_seen: u64,
}

impl TerminalObserver {
    pub(crate) fn new(label: &str, size: u64, show_progress: bool) -> Self {
        let bar = show_progress.then(|| {
            let bar = ProgressBar::new(size);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_message(label.to_string());
            bar
        });
        Self {
            bar,
            label: label.to_string(),
            rejections_seen: 0,
        }
    }

    fn print(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| crate::errln!("{line}")),
            None => crate::errln!("{line}"),
        }
    }

    pub(crate) fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.rejections_seen > MAX_REJECTIONS_SHOWN {
            self.print(&format!(
                "rejected: {}: {} more rejected rows not shown",
                self.label,
                self.rejections_seen - MAX_REJECTIONS_SHOWN
            ));
        }
    }
}

impl IngestObserver for TerminalObserver {
    fn rejected(&mut self, rejection: &RowRejection) {
        self.rejections_seen += 1;
        if self.rejections_seen <= MAX_REJECTIONS_SHOWN {
            self.print(&format!("rejected: {rejection}"));
        }
    }

    fn batch_stored(&mut self, so_far: &IngestReport, bytes_read: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes_read);
            bar.set_message(format!("{} ({} rows)", self.label, so_far.read));
        }
    }
}
