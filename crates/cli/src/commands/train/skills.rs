//! `jobenrich train skills`: trains the skills tagger (`ml_tagger`) on a
//! labeled JSONL file (what `dataset import skillspan` writes), writes a
//! versioned artifact under `models.artifacts_dir` (or `--out`) and its
//! model config YAML, and registers the version inactive.

use super::{shipped_rules, TrainingSet};
use crate::error::UsageError;
use crate::output::OutputFormat;
use crate::session::Session;
use anyhow::Context;
use clap::Args;
use jobenrich_domain::ModelVersion;
use jobenrich_enrichment_engine::tagger::{
    train_tagger, CrfConfig, FeatureConfig, LabeledPosting, LabeledSpan, TrainConfig,
};
use jobenrich_enrichment_engine::{EngineConfig, SkillsEngine};
use jobenrich_services::model_registry::load_model_file;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Trainer {
    Crf,
    Perceptron,
}

#[derive(Debug, Args)]
pub struct SkillsArgs {
    /// Labeled JSONL with `gold_spans` (SKILL/KNOWLEDGE), e.g. from `dataset import skillspan`.
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
    /// The learner: `crf` (a linear-chain CRF by SGD, decoded by span
    /// probability) or `perceptron` (averaged perceptron, Viterbi).
    #[arg(long, value_enum, default_value_t = Trainer::Crf)]
    pub trainer: Trainer,
    /// Passes over the training data (default 100 for `crf`, 80 for `perceptron`).
    #[arg(long)]
    pub epochs: Option<u32>,
    /// The CRF's L2 coefficient (CRFsuite's `c2`).
    #[arg(long, default_value_t = 1.0)]
    pub c2: f64,
    /// Written to the model config as `tagger_span_threshold`: report every
    /// span at least this probable (CRF only; 0 keeps the best path's spans).
    #[arg(long, default_value_t = 0.15)]
    pub span_threshold: f64,
    /// Directory of the artifact; default `<models.artifacts_dir>/skills_extractor/<version>`.
    /// The model config YAML is written next to it as `model.yaml`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the artifact and YAML only (no store).
    #[arg(long)]
    pub no_register: bool,
}

/// Span-overlap and exact-boundary P/R/F1 of `engine` on labeled postings.
fn score(engine: &SkillsEngine, postings: &[LabeledPosting]) -> serde_json::Value {
    let (mut pred, mut pred_hit, mut gold, mut gold_hit) = (0usize, 0usize, 0usize, 0usize);
    let (mut exact_pred_hit, mut exact_gold_hit) = (0usize, 0usize);
    for p in postings {
        let spans: Vec<(u32, u32)> = engine
            .extract_text(&p.text)
            .iter()
            .flat_map(|f| f.mentions.iter().map(|m| (m.start, m.end)))
            .collect();
        let overlaps = |a: (u32, u32), g: &LabeledSpan| a.0 < g.end && g.start < a.1;
        pred += spans.len();
        gold += p.spans.len();
        pred_hit += spans
            .iter()
            .filter(|s| p.spans.iter().any(|g| overlaps(**s, g)))
            .count();
        gold_hit += p
            .spans
            .iter()
            .filter(|g| spans.iter().any(|s| overlaps(*s, g)))
            .count();
        exact_pred_hit += spans
            .iter()
            .filter(|s| p.spans.iter().any(|g| (g.start, g.end) == **s))
            .count();
        exact_gold_hit += p
            .spans
            .iter()
            .filter(|g| spans.contains(&(g.start, g.end)))
            .count();
    }
    let prf = |hit_p: usize, hit_g: usize| {
        let p = hit_p as f64 / pred.max(1) as f64;
        let r = hit_g as f64 / gold.max(1) as f64;
        let f = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        serde_json::json!({"precision": p, "recall": r, "f1": f})
    };
    serde_json::json!({
        "postings": postings.len(),
        "gold_spans": gold,
        "predicted_spans": pred,
        "overlap": prf(pred_hit, gold_hit),
        "exact": prf(exact_pred_hit, exact_gold_hit),
    })
}

/// The model config of a trained version; `training_data_version` is the
/// dataset's file name + content hash (the seed's field), `training_date` when
/// training finished (only this file carries a date: the artifact stays
/// byte-identical for the same seed and data).
fn model_yaml(
    version: &str,
    artifact: &str,
    learner: &str,
    span_threshold: f64,
    dataset: &str,
    data_version: &str,
    trained_at: chrono::DateTime<chrono::Utc>,
) -> String {
    format!(
        "# Trained by `jobenrich train skills` (see docs/quality.md). The tagger\n\
         # artifact is found under the `models.artifacts_dir` setting.\n\
         model_id: skills_extractor\n\
         model_type: skills_extraction\n\
         version: {version}\n\
         description: \"Trained BILO tagger ({learner}, SKILL/KNOWLEDGE) over the rule strategies' signals; trained on {dataset} ({data_version})\"\n\
         config_overrides:\n\
         \x20 tagger_artifact: {artifact}\n\
         \x20 tagger_weight: 1.0\n\
         \x20 tagger_evidence_bonus: 0.1\n\
         \x20 tagger_o_penalty: 0.0\n\
         \x20 tagger_span_threshold: {span_threshold}\n\
         \x20 tagger_keep_rule_mentions: false\n\
         \x20 min_confidence: 0.0\n\
         training_data_version: \"{dataset}@{data_version}\"\n\
         training_date: {}\n",
        trained_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

pub(super) async fn skills(session: &Session, args: SkillsArgs) -> anyhow::Result<()> {
    let settings = session.settings()?;
    let version = ModelVersion::parse(args.version.clone())
        .map_err(|e| UsageError(format!("--version: {e}")))?;
    let set = TrainingSet::read(&args.dataset)?;
    let dev = TrainingSet::dev(args.dev.as_deref())?;
    let postings = set.postings;
    let artifact_rel = format!("skills_extractor/{version}");
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| settings.models.artifacts_dir().join(&artifact_rel));
    let dataset_name = set.name;
    let data_version = set.data_version;
    let digest = set.sha256;
    let (crf, default_epochs) = match args.trainer {
        Trainer::Crf => (
            Some(CrfConfig {
                c2: args.c2,
                ..CrfConfig::default()
            }),
            100,
        ),
        Trainer::Perceptron => (None, 80),
    };
    if !(args.c2.is_finite() && args.c2 > 0.0) {
        return Err(UsageError(format!("--c2 {}: must be a positive number", args.c2)).into());
    }
    if !(0.0..=1.0).contains(&args.span_threshold) {
        return Err(UsageError(format!(
            "--span-threshold {}: must be from 0 to 1",
            args.span_threshold
        ))
        .into());
    }
    // A perceptron's scores are not probabilities: its spans come from the best path.
    let span_threshold = if crf.is_some() {
        args.span_threshold
    } else {
        0.0
    };
    let config = TrainConfig {
        seed: args.seed,
        epochs: args.epochs.unwrap_or(default_epochs),
        features: FeatureConfig::default(),
        temperature: 1.0,
        crf,
    };
    let (seed, epochs) = (args.seed, config.epochs);
    let started = std::time::Instant::now();
    let name = dataset_name.clone();
    let lexicon_dir = settings.engine.lexicon_dir()?;
    let (tagger, report, lexicon, aliases) = tokio::task::spawn_blocking(move || {
        let (lexicon, aliases) = shipped_rules(&lexicon_dir)?;
        let rules = SkillsEngine::new(lexicon.clone(), &aliases, EngineConfig::default())?;
        let (tagger, report) = train_tagger(&rules, &postings, &config, &name, &digest);
        anyhow::Ok((tagger, report, lexicon, aliases))
    })
    .await
    .context("training")??;
    let train_secs = started.elapsed().as_secs_f64();
    tagger
        .save(&out_dir)
        .with_context(|| format!("writing the artifact to {}", out_dir.display()))?;
    let yaml_path = out_dir.join("model.yaml");
    std::fs::write(
        &yaml_path,
        model_yaml(
            version.as_str(),
            &artifact_rel,
            match args.trainer {
                Trainer::Crf => "linear-chain CRF",
                Trainer::Perceptron => "averaged perceptron",
            },
            span_threshold,
            &dataset_name,
            &data_version,
            chrono::Utc::now(),
        ),
    )
    .with_context(|| format!("writing {}", yaml_path.display()))?;
    let dev_scores = match dev {
        Some(dev) => {
            // The new version exactly as its model config runs it, next to v1.0.
            let model = load_model_file(&yaml_path, chrono::Utc::now())?;
            let cfg = EngineConfig::from_overrides(&model.config_overrides)?;
            let rules = SkillsEngine::new(lexicon.clone(), &aliases, EngineConfig::default())?;
            let trained =
                SkillsEngine::new(lexicon, &aliases, cfg)?.with_tagger(Arc::new(tagger.clone()));
            Some(serde_json::json!({"rules": score(&rules, &dev), "tagger": score(&trained, &dev)}))
        }
        None => None,
    };
    let registered = super::register_inactive(session, args.no_register, &yaml_path).await?;
    let summary = serde_json::json!({
        "model_id": "skills_extractor",
        "version": version.as_str(),
        "artifact": out_dir.display().to_string(),
        "model_config": yaml_path.display().to_string(),
        "registered_inactive": registered,
        "checksum_sha256": tagger.checksum(),
        "weights_bytes": tagger.weights_bytes().len(),
        "training_data_version": format!("{dataset_name}@{data_version}"),
        "seed": seed,
        "epochs": epochs,
        "postings": report_postings(&tagger),
        "sequences": report.sequences,
        "tokens": report.tokens,
        "gold_spans": report.gold_spans,
        "training_seconds": train_secs,
        "dev": dev_scores,
    });
    match session.format {
        OutputFormat::Json => crate::outln!("{}", serde_json::to_string_pretty(&summary)?),
        _ => print_summary(&summary)?,
    }
    Ok(())
}

fn report_postings(tagger: &jobenrich_enrichment_engine::Tagger) -> usize {
    tagger.training().postings
}

fn print_summary(v: &serde_json::Value) -> anyhow::Result<()> {
    let s = |k: &str| v[k].to_string().trim_matches('"').to_string();
    crate::outln!(
        "trained skills_extractor {} on {} ({} postings, {} tokens, {} gold spans) in {:.1} s",
        s("version"),
        s("training_data_version"),
        s("postings"),
        s("tokens"),
        s("gold_spans"),
        v["training_seconds"].as_f64().unwrap_or(0.0)
    );
    crate::outln!(
        "artifact      {} (weights {} bytes, sha256 {})",
        s("artifact"),
        s("weights_bytes"),
        s("checksum_sha256")
    );
    crate::outln!("model config  {}", s("model_config"));
    if v["registered_inactive"] == true {
        crate::outln!("registered inactive: evaluate it, then `jobenrich models activate skills_extractor {}`", s("version"));
    }
    if let Some(dev) = v.get("dev").filter(|d| !d.is_null()) {
        for (name, key) in [("v1.0 rules", "rules"), ("tagger", "tagger")] {
            let d = &dev[key];
            crate::outln!(
                "dev {name:<10} overlap P {:.3} R {:.3} F1 {:.3} | exact F1 {:.3} | {} predicted / {} gold",
                d["overlap"]["precision"].as_f64().unwrap_or(0.0),
                d["overlap"]["recall"].as_f64().unwrap_or(0.0),
                d["overlap"]["f1"].as_f64().unwrap_or(0.0),
                d["exact"]["f1"].as_f64().unwrap_or(0.0),
                d["predicted_spans"],
                d["gold_spans"]
            );
        }
    }
    Ok(())
}
