//! `jobenrich dataset`: convert public labeled data into the evaluation JSONL
//! format (docs/evaluation.md) and summarize labeled files. No store needed.

use crate::error::UsageError;
use crate::output::OutputFormat;
use crate::session::Session;
use anyhow::Context;
use clap::{Args, Subcommand};
use jobenrich_evaluation::import::{import_esco_linked, import_skillspan, ImportStats};
use jobenrich_evaluation::{LabeledDataset, LabeledRecord};
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Convert public labeled data into the evaluation JSONL format.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Summarize a labeled JSONL file: records, gold counts, dataset version.
    Info(InfoArgs),
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// SkillSpan postings (`split, source, idx, text, spans`) → one record per posting with gold spans.
    Skillspan(SkillspanArgs),
    /// ESCO-linked CSV (`sentence,span,sub_span,label`, or sentence-level `sentence,label`) → one record per sentence with gold ESCO skills.
    EscoLinked(EscoLinkedArgs),
}

#[derive(Debug, Args)]
pub struct SkillspanArgs {
    /// The SkillSpan postings.jsonl.
    pub file: PathBuf,
    /// Where to write the converted JSONL.
    #[arg(long)]
    pub out: PathBuf,
    /// Keep only this split (`dev`, `train`).
    #[arg(long)]
    pub split: Option<String>,
}

#[derive(Debug, Args)]
pub struct EscoLinkedArgs {
    /// The annotation CSV (e.g. tech_validation_annotations.csv).
    pub file: PathBuf,
    /// Where to write the converted JSONL.
    #[arg(long)]
    pub out: PathBuf,
    /// Record ids are `<prefix>-<n>`; defaults to `esco-<file stem>`.
    #[arg(long)]
    pub id_prefix: Option<String>,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// A labeled dataset (JSONL, the format `dataset import` writes).
    pub file: PathBuf,
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("reading {}: {e}", path.display())).into())
}

/// Dataset errors are data errors (exit code 2).
fn data_error(e: jobenrich_evaluation::DatasetError) -> anyhow::Error {
    UsageError(e.to_string()).into()
}

fn write_records(out: &Path, records: &[LabeledRecord]) -> anyhow::Result<String> {
    let text = LabeledDataset::to_jsonl(records);
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
    // Re-read through the loader: what we wrote must be a valid dataset.
    let written =
        LabeledDataset::parse(&text, &out.display().to_string(), None).map_err(data_error)?;
    Ok(written.dataset_version)
}

fn print_stats(
    format: OutputFormat,
    out: &Path,
    version: &str,
    stats: &ImportStats,
) -> anyhow::Result<()> {
    if format == OutputFormat::Json {
        let view = serde_json::json!({
            "out": out.display().to_string(),
            "dataset_version": version,
            "stats": stats,
        });
        crate::outln!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(());
    }
    crate::outln!(
        "wrote {} records to {} (dataset_version {version})",
        stats.records,
        out.display()
    );
    crate::outln!(
        "rows read {}, gold skills {}, gold spans {}, LABEL NOT PRESENT {}, UNDERSPECIFIED {}, duplicate rows {}, unlocated spans {}, filtered out {}",
        stats.rows_read,
        stats.gold_skills,
        stats.gold_spans,
        stats.label_not_present,
        stats.underspecified,
        stats.duplicate_rows,
        stats.unlocated_spans,
        stats.filtered_out
    );
    Ok(())
}

/// Runs a `dataset` subcommand. Input errors exit 2.
pub async fn run(session: &Session, command: DatasetCommand) -> anyhow::Result<()> {
    match command {
        DatasetCommand::Import(ImportCommand::Skillspan(a)) => {
            let text = read(&a.file)?;
            let (records, stats) =
                import_skillspan(&text, &a.file.display().to_string(), a.split.as_deref())
                    .map_err(data_error)?;
            let version = write_records(&a.out, &records)?;
            print_stats(session.format, &a.out, &version, &stats)?;
        }
        DatasetCommand::Import(ImportCommand::EscoLinked(a)) => {
            let text = read(&a.file)?;
            let prefix = a.id_prefix.clone().unwrap_or_else(|| {
                let stem = a
                    .file
                    .file_stem()
                    .map(|s| s.to_string_lossy().replace('_', "-"))
                    .unwrap_or_else(|| "sentences".into());
                format!("esco-{stem}")
            });
            let (records, stats) =
                import_esco_linked(&text, &a.file.display().to_string(), &prefix)
                    .map_err(data_error)?;
            let version = write_records(&a.out, &records)?;
            print_stats(session.format, &a.out, &version, &stats)?;
        }
        DatasetCommand::Info(a) => {
            let d = LabeledDataset::load(&a.file, None).map_err(data_error)?;
            let count = |f: &dyn Fn(&LabeledRecord) -> Option<usize>| -> (usize, usize) {
                d.records
                    .iter()
                    .filter_map(f)
                    .fold((0, 0), |(n, items), k| (n + 1, items + k))
            };
            let skills = count(&|r| r.gold_skills.as_ref().map(Vec::len));
            let spans = count(&|r| r.gold_spans.as_ref().map(Vec::len));
            let sections = count(&|r| r.gold_sections.as_ref().map(Vec::len));
            let info = serde_json::json!({
                "path": a.file.display().to_string(),
                "dataset_version": d.dataset_version,
                "records": d.records.len(),
                "records_with_gold_skills": skills.0, "gold_skills": skills.1,
                "records_with_gold_spans": spans.0, "gold_spans": spans.1,
                "records_with_gold_sections": sections.0, "gold_sections": sections.1,
                "evaluable_models": evaluable(&d),
            });
            match session.format {
                OutputFormat::Json => crate::outln!("{}", serde_json::to_string_pretty(&info)?),
                OutputFormat::Table => {
                    crate::outln!("{} ({})", a.file.display(), d.dataset_version);
                    crate::outln!("records: {}", d.records.len());
                    crate::outln!("gold skills: {} in {} records", skills.1, skills.0);
                    crate::outln!("gold spans: {} in {} records", spans.1, spans.0);
                    crate::outln!("gold sections: {} in {} records", sections.1, sections.0);
                    crate::outln!("evaluable model types: {}", evaluable(&d).join(", "));
                }
            }
        }
    }
    Ok(())
}

fn evaluable(d: &LabeledDataset) -> Vec<&'static str> {
    let mut v = Vec::new();
    if d.has_gold_skills() || d.has_gold_spans() {
        v.push("skills_extraction");
    }
    if d.has_gold_sections() {
        v.push("section_classification");
    }
    v
}
