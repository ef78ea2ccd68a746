//! `jobenrich evaluate`: score a model version on a labeled dataset, store the
//! result, update the model's performance metrics, optionally write the HTML
//! report, and exit by the gate: 0 every threshold passed (or none set),
//! 1 a threshold failed, 2 a usage or data error. `--format json` (global)
//! prints the stored result, gate checks and baseline as one JSON document.
//! `--from-store` scores the results already stored for the dataset's
//! postings instead of running the engine, and records nothing.

use crate::error::{one_line, ExitWith, EXIT_USAGE};
use crate::output::OutputFormat;
use crate::session::Session;
use clap::Args;
use jobenrich_domain::{ModelId, ModelVersion};
use jobenrich_evaluation::gate::CheckStatus;
use jobenrich_evaluation::report::{render_html, ReportInput};
use jobenrich_evaluation::{GatePolicy, LabeledDataset, ZeroDivision};
use jobenrich_services::evaluation_engine::EnginePredictorFactory;
use jobenrich_services::evaluation_flow::{
    evaluate_model, evaluate_stored, EvaluateRequest, EvaluationPorts, EvaluationRun,
    StoredResultPorts,
};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Model id in the registry (`skills_extractor`, `section_classifier`).
    #[arg(long)]
    pub model: String,
    /// Version to evaluate; default: the active version.
    #[arg(long)]
    pub version: Option<String>,
    /// Labeled JSONL file (docs/evaluation.md).
    #[arg(long)]
    pub dataset: PathBuf,
    /// Dataset version to record; default: the file's content hash.
    #[arg(long)]
    pub dataset_version: Option<String>,
    /// Fail when the macro F1 is below this.
    #[arg(long)]
    pub min_f1: Option<f64>,
    /// Fail when the macro F1 drops more than this below the baseline (absolute, e.g. 0.02).
    #[arg(long)]
    pub max_regression: Option<f64>,
    /// Fail when the macro F1 drops more than this fraction of the baseline (e.g. 0.05).
    #[arg(long)]
    pub max_relative_regression: Option<f64>,
    /// Score the skills stored for the dataset's postings (ingested with the
    /// records' ids and enriched at this version) instead of running the
    /// engine; an audit: nothing is recorded.
    #[arg(long, conflicts_with = "ci")]
    pub from_store: bool,
    /// Record the run as a CI run.
    #[arg(long)]
    pub ci: bool,
    /// CI build id to record (requires --ci).
    #[arg(long, requires = "ci")]
    pub build_id: Option<String>,
    /// Write the self-contained HTML report here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Value of 0/0 in precision, recall and F1 (scikit-learn's zero_division).
    #[arg(long, value_enum, default_value = "0")]
    pub zero_division: ZeroDivisionArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ZeroDivisionArg {
    #[value(name = "0")]
    Zero,
    #[value(name = "1")]
    One,
}

/// Exit code of a failed threshold.
pub const EXIT_GATE_FAILED: u8 = 1;

/// Runs the command. Every error exits 2 (usage, data, store), so exit code
/// 1 always means a failed threshold.
pub async fn run(session: &Session, args: EvaluateArgs) -> anyhow::Result<()> {
    let run = evaluate(session, &args).await.map_err(|e| ExitWith {
        code: EXIT_USAGE,
        message: one_line(&e),
    })?;
    if run.gate.passed() == Some(false) {
        let failed: Vec<String> = run
            .gate
            .failures()
            .map(|c| format!("{}: {}", c.name, c.message))
            .collect();
        return Err(ExitWith {
            code: EXIT_GATE_FAILED,
            message: format!("quality gate failed: {}", failed.join("; ")),
        }
        .into());
    }
    Ok(())
}

async fn evaluate(session: &Session, args: &EvaluateArgs) -> anyhow::Result<EvaluationRun> {
    let model_id = ModelId::parse(&args.model)?;
    let version = args
        .version
        .as_deref()
        .map(ModelVersion::parse)
        .transpose()?;
    let thresholds = GatePolicy {
        min_f1: args.min_f1,
        max_regression: args.max_regression,
        max_relative_regression: args.max_relative_regression,
        ..Default::default()
    };
    thresholds
        .check()
        .map_err(|e| anyhow::anyhow!("--{}", e.replace('_', "-")))?;
    let dataset = LabeledDataset::load(&args.dataset, args.dataset_version.clone())?;
    let request = EvaluateRequest {
        model_id,
        version,
        dataset,
        thresholds,
        is_ci_run: args.ci,
        ci_build_id: args.build_id.clone(),
        zero_division: match args.zero_division {
            ZeroDivisionArg::Zero => ZeroDivision::Zero,
            ZeroDivisionArg::One => ZeroDivision::One,
        },
    };
    let ctx = session.connect_migrated().await?;
    let ports = EvaluationPorts::from_store(ctx.store.clone());
    let settings = session.settings()?;
    let lexicon_dir = settings.engine.lexicon_dir()?;
    // The encoder loads only if the evaluated version asks for `use_semantic`.
    let factory = EnginePredictorFactory::load(&lexicon_dir)
        .map_err(anyhow::Error::msg)?
        .with_models_dir(settings.models.artifacts_dir())
        .with_linker_source(settings.embeddings.linker_source());
    let now = chrono::Utc::now();
    let run = if args.from_store {
        let stored = StoredResultPorts::from_store(ctx.store.clone());
        evaluate_stored(&ports, &stored, Arc::new(factory), request, now).await?
    } else {
        evaluate_model(&ports, Arc::new(factory), request, now).await?
    };

    if let Some(path) = &args.report {
        let evaluated_at = run
            .result
            .evaluation_date
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let html = render_html(&ReportInput {
            evaluation_id: &run.result.evaluation_id,
            model_id: run.result.model_id.as_str(),
            model_version: run.result.model_version.as_str(),
            dataset_version: &run.result.dataset_version,
            dataset_path: run.result.dataset_path.as_deref(),
            evaluated_at: &evaluated_at,
            execution_time_seconds: run.result.execution_time_seconds,
            metrics: &run.metrics,
            gate: &run.gate,
            baseline: run.baseline.as_ref(),
        });
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
        }
        std::fs::write(path, html)
            .map_err(|e| anyhow::anyhow!("writing the report {}: {e}", path.display()))?;
    }
    match session.format {
        OutputFormat::Json => print_json(&run, args)?,
        OutputFormat::Table => print_text(&run, args)?,
    }
    Ok(run)
}

fn print_json(run: &EvaluationRun, args: &EvaluateArgs) -> anyhow::Result<()> {
    let out = serde_json::json!({
        "evaluation": run.result,
        "source": if args.from_store { "store" } else { "engine" },
        "recorded": run.recorded,
        "micro": run.metrics.micro_avg,
        "category_counts": run.metrics.category_counts,
        "ignored_predictions": run.metrics.ignored_predictions,
        "notes": run.metrics.notes,
        "top_false_positives": run.metrics.top_false_positives,
        "top_false_negatives": run.metrics.top_false_negatives,
        "thresholds": run.policy,
        "gate": {
            "passed": run.gate.passed(),
            "checks": run.gate.checks,
        },
        "baseline": run.baseline,
        "performance_metrics": run.model.performance_metrics,
        "report": args.report.as_ref().map(|p| p.display().to_string()),
    });
    crate::outln!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

fn print_text(run: &EvaluationRun, args: &EvaluateArgs) -> anyhow::Result<()> {
    let r = &run.result;
    let m = &run.metrics;
    crate::outln!(
        "{}@{}{} on {} (dataset_version {}): {} samples in {:.2} s",
        r.model_id,
        r.model_version,
        if args.from_store {
            " (stored results)"
        } else {
            ""
        },
        r.dataset_path.as_deref().unwrap_or("-"),
        r.dataset_version,
        r.sample_count,
        r.execution_time_seconds
    );
    for note in &m.notes {
        crate::outln!("  note: {note}");
    }
    crate::outln!(
        "\n{:<24} {:>9} {:>9} {:>9} {:>8} {:>6} {:>6} {:>6}",
        "CATEGORY",
        "PRECISION",
        "RECALL",
        "F1",
        "SUPPORT",
        "TP",
        "FP",
        "FN"
    );
    for (category, p) in &m.category_metrics {
        let c = m.category_counts.get(category).copied().unwrap_or_default();
        crate::outln!(
            "{:<24} {:>9.4} {:>9.4} {:>9.4} {:>8} {:>6} {:>6} {:>6}",
            category,
            p.precision,
            p.recall,
            p.f1,
            p.support,
            c.tp,
            c.fp,
            c.fn_
        );
    }
    for (name, p) in [("macro avg", m.macro_avg), ("micro avg", m.micro_avg)] {
        crate::outln!(
            "{:<24} {:>9.4} {:>9.4} {:>9.4} {:>8}",
            name,
            p.precision,
            p.recall,
            p.f1,
            p.support
        );
    }
    let skip = ["micro_precision", "micro_recall", "micro_f1"];
    let extra: Vec<String> = m
        .additional_metrics
        .iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v:.4}"))
        .collect();
    if !extra.is_empty() {
        crate::outln!("\n{}", extra.join("  "));
    }
    if m.ignored_predictions > 0 {
        crate::outln!(
            "{} predictions inside LABEL NOT PRESENT / UNDERSPECIFIED spans were not counted",
            m.ignored_predictions
        );
    }
    match &run.baseline {
        Some(b) => crate::outln!(
            "\nbaseline: {}@{} (evaluation {}, {}): macro F1 {:.4} -> {:.4} ({})",
            r.model_id,
            b.model_version,
            b.evaluation_id,
            b.evaluated_at,
            b.f1,
            r.overall_f1,
            jobenrich_evaluation::signed_delta(r.overall_f1 - b.f1)
        ),
        None => crate::outln!(
            "\nbaseline: none (the active version has no evaluation on this dataset version)"
        ),
    }
    match run.gate.passed() {
        None => crate::outln!("gate: no thresholds configured"),
        Some(passed) => {
            crate::outln!("gate: {}", if passed { "PASSED" } else { "FAILED" });
            for c in &run.gate.checks {
                let word = match c.status {
                    CheckStatus::Passed => "pass",
                    CheckStatus::Failed => "FAIL",
                    CheckStatus::Skipped => "skip",
                };
                crate::outln!("  {word} {}: {}", c.name, c.message);
            }
        }
    }
    if run.recorded {
        crate::outln!(
            "stored evaluation {}; updated performance_metrics of {}@{}",
            r.evaluation_id,
            r.model_id,
            r.model_version
        );
    } else {
        crate::outln!(
            "scored the results stored at {}@{}; nothing recorded (--from-store)",
            r.model_id,
            r.model_version
        );
    }
    if let Some(path) = &args.report {
        crate::outln!("report: {}", path.display());
    }
    Ok(())
}
