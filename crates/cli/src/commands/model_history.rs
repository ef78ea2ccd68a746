//! `jobenrich models history` and `jobenrich models diff`: the registry
//! views of issue 5 (every version with its latest metrics; two versions'
//! overrides and metrics side by side).

use crate::output::OutputFormat;
use crate::session::Session;
use clap::Args;
use jobenrich_bootstrap::AppContext;
use jobenrich_domain::{ModelId, ModelVersion};
use jobenrich_services::evaluation_flow::{
    model_diff, model_history, DiffRow, EvaluationFlowError, EvaluationPorts,
};

/// Store failures keep their own classification; the rest (unknown
/// version, …) are usage errors (exit code 2).
fn flow_error(e: EvaluationFlowError) -> anyhow::Error {
    match e {
        EvaluationFlowError::Store(s) => s.into(),
        other => crate::error::UsageError(other.to_string()).into(),
    }
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    pub model_id: String,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    pub model_id: String,
    pub version_a: String,
    pub version_b: String,
}

pub async fn history(session: &Session, ctx: &AppContext, args: HistoryArgs) -> anyhow::Result<()> {
    let model_id = ModelId::parse(&args.model_id)?;
    let rows = model_history(&EvaluationPorts::from_store(ctx.store.clone()), &model_id)
        .await
        .map_err(flow_error)?;
    if rows.is_empty() {
        return Err(crate::error::UsageError(format!(
            "model {model_id} has no registered version (`jobenrich models list`)"
        ))
        .into());
    }
    if session.format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:<14} {:<6} {:>9} {:>9} {:>9} {:>6} {:<20} {:<20} {:<18}",
        "version",
        "active",
        "precision",
        "recall",
        "f1",
        "evals",
        "evaluated_at",
        "dataset",
        "activated"
    );
    for row in rows {
        let m = &row.model;
        let (p, r, f, at, dataset) = match &row.latest_evaluation {
            Some(e) => (
                format!("{:.4}", e.precision),
                format!("{:.4}", e.recall),
                format!("{:.4}", e.f1_score),
                e.evaluated_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                e.dataset_version.clone(),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into(), "-".into()),
        };
        let activated = match (&m.activated_at, &m.activated_by) {
            (Some(t), Some(by)) => format!("{} by {by}", t.format("%Y-%m-%d %H:%M")),
            (Some(t), None) => t.format("%Y-%m-%d %H:%M").to_string(),
            _ => "-".into(),
        };
        println!(
            "{:<14} {:<6} {:>9} {:>9} {:>9} {:>6} {:<20} {:<20} {:<18}",
            m.version.as_str(),
            if m.is_active { "yes" } else { "" },
            p,
            r,
            f,
            row.evaluation_count,
            at,
            dataset,
            activated
        );
    }
    Ok(())
}

fn print_rows(title: &str, rows: &[DiffRow], a: &str, b: &str) {
    println!("\n{title}");
    if rows.is_empty() {
        println!("  (none)");
        return;
    }
    let width = rows.iter().map(|r| r.key.len()).max().unwrap_or(3).max(3);
    println!("  {:<width$}  {:<24} {:<24}", "key", a, b);
    for r in rows {
        println!(
            "{} {:<width$}  {:<24} {:<24}",
            if r.differs() { "*" } else { " " },
            r.key,
            r.a.as_deref().unwrap_or("-"),
            r.b.as_deref().unwrap_or("-"),
        );
    }
}

pub async fn diff(session: &Session, ctx: &AppContext, args: DiffArgs) -> anyhow::Result<()> {
    let model_id = ModelId::parse(&args.model_id)?;
    let a = ModelVersion::parse(&args.version_a)?;
    let b = ModelVersion::parse(&args.version_b)?;
    let d = model_diff(
        &EvaluationPorts::from_store(ctx.store.clone()),
        &model_id,
        &a,
        &b,
    )
    .await
    .map_err(flow_error)?;
    if session.format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(());
    }
    println!("{model_id}: {a} vs {b} (* = differs)");
    print_rows("config_overrides", &d.overrides, a.as_str(), b.as_str());
    print_rows("performance_metrics", &d.metrics, a.as_str(), b.as_str());
    print_rows("registry", &d.registry, a.as_str(), b.as_str());
    Ok(())
}
