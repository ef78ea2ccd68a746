//! `jobenrich train sections`: fits the `ml_model` section classifier
//! (logistic regression over section features; a section is skills-relevant
//! when it holds gold spans) on a labeled JSONL file, writes its artifact
//! under `models.artifacts_dir` (or `--out`) and its model config YAML, and
//! registers the version inactive.

use super::TrainingSet;
use crate::error::UsageError;
use crate::output::OutputFormat;
use crate::session::Session;
use anyhow::Context;
use clap::Args;
use jobenrich_domain::ModelVersion;
use jobenrich_enrichment_engine::section_model::{
    relevance_counts, train_section_model, RelevanceCounts, SectionTrainConfig,
};
use jobenrich_enrichment_engine::{EngineConfig, SectionClassifier};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct SectionsArgs {
    /// Labeled JSONL with `gold_spans`, e.g. from `dataset import skillspan`.
    #[arg(long)]
    pub dataset: PathBuf,
    /// Labeled JSONL scored after training (reported only; never used to train or tune).
    #[arg(long)]
    pub dev: Option<PathBuf>,
    /// The version to create, e.g. v2.0.
    #[arg(long)]
    pub version: String,
    /// Seed of the training order (same seed and data give the same artifact bytes).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Passes over the training sections.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub epochs: u32,
    /// Directory of the artifact; default `<models.artifacts_dir>/section_classifier/<version>`.
    /// The model config YAML is written next to it as `model.yaml`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the artifact and YAML only (no store).
    #[arg(long)]
    pub no_register: bool,
}

/// The model config of a trained section classifier (see `skills::model_yaml`
/// for the training fields).
fn model_yaml(
    version: &str,
    artifact: &str,
    dataset: &str,
    data_version: &str,
    trained_at: chrono::DateTime<chrono::Utc>,
) -> String {
    format!(
        "# Trained by `jobenrich train sections` (see docs/quality.md). The model\n\
         # artifact is found under the `models.artifacts_dir` setting.\n\
         model_id: section_classifier\n\
         model_type: section_classification\n\
         version: {version}\n\
         description: \"Trained section classifier (ml_model: logistic regression over header words, bullet density, cue words, position, length and the rule score); trained on {dataset} ({data_version})\"\n\
         config_overrides:\n\
         \x20 section_model_artifact: {artifact}\n\
         training_data_version: \"{dataset}@{data_version}\"\n\
         training_date: {}\n",
        trained_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

fn counts_json(c: &RelevanceCounts) -> serde_json::Value {
    serde_json::json!({
        "sections": c.total(),
        "accuracy": c.accuracy(),
        "precision": c.precision(),
        "recall": c.recall(),
        "f1": c.f1(),
        "counts": c,
    })
}

pub(super) async fn sections(session: &Session, args: SectionsArgs) -> anyhow::Result<()> {
    let settings = session.settings()?;
    let version = ModelVersion::parse(args.version.clone())
        .map_err(|e| UsageError(format!("--version: {e}")))?;
    let set = TrainingSet::read(&args.dataset)?;
    let dev = TrainingSet::dev(args.dev.as_deref())?;
    let artifact_rel = format!("section_classifier/{version}");
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| settings.models.artifacts_dir().join(&artifact_rel));
    let config = SectionTrainConfig {
        seed: args.seed,
        epochs: args.epochs,
        ..SectionTrainConfig::default()
    };
    let started = std::time::Instant::now();
    let rules = SectionClassifier::new(&EngineConfig::default());
    let (model, report) =
        train_section_model(&rules, &set.postings, &config, &set.name, &set.sha256)?;
    let train_secs = started.elapsed().as_secs_f64();
    model
        .save(&out_dir)
        .with_context(|| format!("writing the artifact to {}", out_dir.display()))?;
    let yaml_path = out_dir.join("model.yaml");
    std::fs::write(
        &yaml_path,
        model_yaml(
            version.as_str(),
            &artifact_rel,
            &set.name,
            &set.data_version,
            chrono::Utc::now(),
        ),
    )
    .with_context(|| format!("writing {}", yaml_path.display()))?;
    let dev_scores = dev.map(|dev| {
        let trained = rules.clone().with_model(Arc::new(model.clone()));
        serde_json::json!({
            "rule_based": counts_json(&relevance_counts(&rules, &dev)),
            "ml_model": counts_json(&relevance_counts(&trained, &dev)),
        })
    });
    let registered = super::register_inactive(session, args.no_register, &yaml_path).await?;
    let summary = serde_json::json!({
        "model_id": "section_classifier",
        "version": version.as_str(),
        "artifact": out_dir.display().to_string(),
        "model_config": yaml_path.display().to_string(),
        "registered_inactive": registered,
        "checksum_sha256": model.checksum(),
        "training_data_version": format!("{}@{}", set.name, set.data_version),
        "seed": args.seed,
        "epochs": args.epochs,
        "postings": report.postings,
        "sections": report.sections,
        "relevant_sections": report.relevant_sections,
        "final_training_loss": report.loss_per_epoch.last(),
        "training_seconds": train_secs,
        "dev": dev_scores,
    });
    match session.format {
        OutputFormat::Json => crate::outln!("{}", serde_json::to_string_pretty(&summary)?),
        _ => print_summary(&summary)?,
    }
    Ok(())
}

fn print_summary(v: &serde_json::Value) -> anyhow::Result<()> {
    let s = |k: &str| v[k].to_string().trim_matches('"').to_string();
    crate::outln!(
        "trained section_classifier {} on {} ({} postings, {} sections, {} holding gold spans) in {:.1} s",
        s("version"),
        s("training_data_version"),
        s("postings"),
        s("sections"),
        s("relevant_sections"),
        v["training_seconds"].as_f64().unwrap_or(0.0)
    );
    crate::outln!(
        "artifact      {} (sha256 {})",
        s("artifact"),
        s("checksum_sha256")
    );
    crate::outln!("model config  {}", s("model_config"));
    if v["registered_inactive"] == true {
        crate::outln!(
            "registered inactive: evaluate it, then `jobenrich models activate section_classifier {}`",
            s("version")
        );
    }
    if let Some(dev) = v.get("dev").filter(|d| !d.is_null()) {
        for (name, key) in [("rule_based", "rule_based"), ("ml_model", "ml_model")] {
            let d = &dev[key];
            crate::outln!(
                "dev {name:<10} skills relevance over {} sections: accuracy {:.3} | P {:.3} R {:.3} F1 {:.3}",
                d["sections"],
                d["accuracy"].as_f64().unwrap_or(0.0),
                d["precision"].as_f64().unwrap_or(0.0),
                d["recall"].as_f64().unwrap_or(0.0),
                d["f1"].as_f64().unwrap_or(0.0),
            );
        }
    }
    Ok(())
}
