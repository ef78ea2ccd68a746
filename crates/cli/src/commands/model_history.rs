//! `jobenrich models history` and `jobenrich models diff`: the registry
//! views of issue 5 (every version with its latest metrics; two versions'
//! overrides and metrics side by side).

use crate::output::{emit, emit_text, Table};
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
    /// The model id (`jobenrich models list` shows them).
    pub model_id: String,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The model id.
    pub model_id: String,
    /// The first (older) version, e.g. v1.0.
    pub version_a: String,
    /// The second version, e.g. v1.1.
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
    emit(session.format, &rows, |rows| {
        let mut table = Table::new([
            "VERSION",
            "ACTIVE",
            "PRECISION",
            "RECALL",
            "F1",
            "EVALS",
            "EVALUATION DATE",
            "DATASET",
            "TRAINED_ON",
            "ACTIVATED",
        ]);
        for row in rows {
            let m = &row.model;
            let (p, r, f, at, dataset) = match &row.latest_evaluation {
                Some(e) => (
                    format!("{:.4}", e.overall_precision),
                    format!("{:.4}", e.overall_recall),
                    format!("{:.4}", e.overall_f1),
                    e.evaluation_date.format("%Y-%m-%d %H:%M:%S").to_string(),
                    e.dataset_version.clone(),
                ),
                None => ("-".into(), "-".into(), "-".into(), "-".into(), "-".into()),
            };
            let activated = match (&m.activated_at, &m.activated_by) {
                (Some(t), Some(by)) => format!("{} by {by}", t.format("%Y-%m-%d %H:%M")),
                (Some(t), None) => t.format("%Y-%m-%d %H:%M").to_string(),
                _ => "-".into(),
            };
            table.row([
                m.version.to_string(),
                if m.is_active { "yes" } else { "no" }.to_string(),
                p,
                r,
                f,
                row.evaluation_count.to_string(),
                at,
                dataset,
                m.training_data_version
                    .clone()
                    .unwrap_or_else(|| "-".into()),
                activated,
            ]);
        }
        table
    })
}

/// One section of the diff: a KEY / A / B table, `*` marking differing rows.
fn diff_section(title: &str, rows: &[DiffRow], a: &str, b: &str) -> String {
    if rows.is_empty() {
        return format!("\n{title}\n  (none)\n");
    }
    let mut table = Table::new(["", "KEY", a, b]);
    for r in rows {
        table.row([
            if r.differs() { "*" } else { "" }.to_string(),
            r.key.clone(),
            r.a.clone().unwrap_or_else(|| "-".into()),
            r.b.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    format!("\n{title}\n{}", table.render())
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
    emit_text(session.format, &d, |d| {
        format!(
            "{model_id}: {a} vs {b} (* = differs)\n{}{}{}",
            diff_section("config_overrides", &d.overrides, a.as_str(), b.as_str()),
            diff_section("performance_metrics", &d.metrics, a.as_str(), b.as_str()),
            diff_section("registry", &d.registry, a.as_str(), b.as_str()),
        )
    })
}
