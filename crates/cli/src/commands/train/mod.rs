//! `jobenrich train`: fits a model version from labeled postings (the JSONL
//! `dataset import skillspan` writes), writes its artifact and model config
//! YAML, and registers the version inactive.

mod sections;
mod skills;

use crate::error::UsageError;
use anyhow::Context;
use clap::Subcommand;
use jobenrich_domain::SkillAlias;
use jobenrich_enrichment_engine::tagger::{LabeledPosting, LabeledSpan};
use jobenrich_enrichment_engine::{load_alias_csv, Lexicon, SpanLabel, SHIPPED_ALIASES_FILE};
use jobenrich_evaluation::dataset::content_version;
use jobenrich_evaluation::LabeledDataset;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Train the skills tagger (BILO tags over tokens, SKILL and KNOWLEDGE) as a new
    /// `skills_extractor` version; registered inactive.
    Skills(skills::SkillsArgs),
    /// Train the section classifier (`ml_model`: logistic regression over
    /// section features; a section is skills-relevant when it holds gold
    /// spans) as a new `section_classifier` version; registered inactive.
    Sections(sections::SectionsArgs),
}

pub async fn run(session: &crate::session::Session, command: TrainCommand) -> anyhow::Result<()> {
    match command {
        TrainCommand::Skills(args) => skills::skills(session, args).await,
        TrainCommand::Sections(args) => sections::sections(session, args).await,
    }
}

/// Registers the written model config as an inactive version, unless
/// `--no-register`; says whether it did.
pub(super) async fn register_inactive(
    session: &crate::session::Session,
    no_register: bool,
    yaml_path: &Path,
) -> anyhow::Result<bool> {
    if no_register {
        return Ok(false);
    }
    let ctx = session.connect_migrated().await?;
    let config =
        jobenrich_services::model_registry::load_model_file(yaml_path, chrono::Utc::now())?;
    ctx.store
        .register_model(&config)
        .await
        .with_context(|| format!("registering {}", yaml_path.display()))?;
    Ok(true)
}

/// A training file: its labeled postings and what identifies its content.
pub(super) struct TrainingSet {
    pub postings: Vec<LabeledPosting>,
    /// The file name.
    pub name: String,
    /// `sha256:` + 16 hex digits (the seed's `training_data_version` form).
    pub data_version: String,
    /// Full SHA-256 of the bytes (recorded in the artifact).
    pub sha256: String,
}

impl TrainingSet {
    pub fn read(path: &Path) -> anyhow::Result<TrainingSet> {
        let bytes = std::fs::read(path)
            .map_err(|e| UsageError(format!("reading {}: {e}", path.display())))?;
        let text = String::from_utf8(bytes)
            .map_err(|e| UsageError(format!("{}: not UTF-8: {e}", path.display())))?;
        let dataset = LabeledDataset::parse(&text, &path.display().to_string(), None)
            .map_err(|e| UsageError(e.to_string()))?;
        let postings = labeled_postings(&dataset)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let sha256 = {
            use sha2::Digest;
            sha2::Sha256::digest(text.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        Ok(TrainingSet {
            postings,
            name,
            data_version: content_version(text.as_bytes()),
            sha256,
        })
    }

    /// Labeled postings of a dev file (scored only).
    pub fn dev(path: Option<&Path>) -> anyhow::Result<Option<Vec<LabeledPosting>>> {
        path.map(|p| {
            let d = LabeledDataset::load(p, None).map_err(|e| UsageError(e.to_string()))?;
            labeled_postings(&d)
        })
        .transpose()
    }
}

fn labeled_postings(dataset: &LabeledDataset) -> anyhow::Result<Vec<LabeledPosting>> {
    let mut out = Vec::new();
    for r in &dataset.records {
        let Some(spans) = &r.gold_spans else {
            continue;
        };
        let mut labeled = Vec::with_capacity(spans.len());
        for (i, s) in spans.iter().enumerate() {
            let label = SpanLabel::parse(&s.label).ok_or_else(|| {
                UsageError(format!(
                    "record {:?}: gold_spans[{i}].label {:?} is neither SKILL nor KNOWLEDGE",
                    r.id, s.label
                ))
            })?;
            labeled.push(LabeledSpan {
                start: s.start,
                end: s.end,
                label,
            });
        }
        out.push(LabeledPosting {
            text: r.text.clone(),
            spans: labeled,
        });
    }
    anyhow::ensure!(
        !out.is_empty(),
        UsageError(format!(
            "{}: no record has gold_spans to train on",
            dataset.dataset_path.as_deref().unwrap_or("dataset")
        ))
    );
    Ok(out)
}

/// The shipped lexicon and aliases: the rule signals the tagger learns
/// from (the same every run).
pub(super) fn shipped_rules(dir: &Path) -> anyhow::Result<(Arc<Lexicon>, Vec<SkillAlias>)> {
    let lexicon = Arc::new(
        Lexicon::load_dir(dir)
            .with_context(|| format!("loading the lexicon of {}", dir.display()))?,
    );
    let aliases_path = dir.join(SHIPPED_ALIASES_FILE);
    let aliases = load_alias_csv(&aliases_path, chrono::Utc::now())
        .with_context(|| format!("loading {}", aliases_path.display()))?;
    Ok((lexicon, aliases))
}
