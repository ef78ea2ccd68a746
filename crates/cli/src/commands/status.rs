//! `jobenrich status`: the enrichment queue by type × version × status with
//! the oldest pending enrichment, and the dead letters (failures with no
//! attempts left, `worker.max_attempts`, or that no attempt can fix).

use crate::output::{cell, emit, OutputFormat, Table};
use crate::session::Session;
use clap::Args;
use jobenrich_domain::EnrichmentStatus;
use jobenrich_services::engine_enricher::active_engine_config;
use jobenrich_services::enrichment_status::{
    status_report, stuck_groups, OldestPending, StatusReport, StuckGroup,
};
use serde::Serialize;

#[derive(Debug, Serialize)]
struct StatusView {
    #[serde(flatten)]
    report: StatusReport,
    /// Queued work that will not be processed as configured, and why.
    stuck: Vec<StuckGroup>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Dead letters listed at most.
    #[arg(long, default_value_t = 50)]
    pub dead_letters: usize,
}

pub async fn run(session: &Session, args: StatusArgs) -> anyhow::Result<()> {
    let context = session.connect_migrated().await?;
    let max_attempts = context.settings.worker.max_attempts;
    let mut report = status_report(context.store.as_ref(), max_attempts, args.dead_letters).await?;
    report.engine_problem = active_engine_config(context.store.as_ref())
        .await?
        .err()
        .map(|reason| {
            format!("the active models cannot be built ({reason}); enrichment is stopped until a valid version is activated")
        });
    let stuck = stuck_groups(
        &report.counts,
        context.store.as_ref(),
        &context.settings.worker.types,
    )
    .await?;
    // "Oldest pending" is about work that will be processed; stuck work is listed apart.
    report.oldest_pending = report
        .counts
        .iter()
        .filter(|c| c.status == EnrichmentStatus::Pending)
        .filter(|c| {
            !stuck.iter().any(|g| {
                g.enrichment_type == c.enrichment_type
                    && g.enrichment_version == c.enrichment_version
            })
        })
        .filter_map(|c| {
            c.oldest_created_at.map(|at| OldestPending {
                enrichment_type: c.enrichment_type,
                enrichment_version: c.enrichment_version.clone(),
                created_at: at,
            })
        })
        .min_by_key(|p| p.created_at);
    let view = StatusView {
        report: report.clone(),
        stuck: stuck.clone(),
    };
    emit(session.format, &view, |v| {
        let r = &v.report;
        let mut table = Table::new(["TYPE", "VERSION", "STATUS", "COUNT", "OLDEST CREATED"]);
        for c in &r.counts {
            table.row([
                c.enrichment_type.to_string(),
                c.enrichment_version.to_string(),
                c.status.to_string(),
                c.count.to_string(),
                cell(c.oldest_created_at.map(|t| t.to_rfc3339())),
            ]);
        }
        table
    })?;
    if session.format == OutputFormat::Json {
        return Ok(());
    }
    // Summary lines below the table, outside its columns.
    let r = &report;
    let mut lines = vec![String::new()];
    if let Some(problem) = &r.engine_problem {
        lines.push(format!("problem: {problem}"));
    }
    lines.push(match &r.oldest_pending {
        Some(p) => format!(
            "oldest pending: {} at {} since {}",
            p.enrichment_type,
            p.enrichment_version,
            p.created_at.to_rfc3339()
        ),
        None => "oldest pending: none".to_string(),
    });
    if stuck.is_empty() {
        lines.push("stuck: none".to_string());
    } else {
        lines.push(format!(
            "stuck (queued, never processed as configured): {}",
            stuck.iter().map(|g| g.count).sum::<u64>()
        ));
        for g in &stuck {
            lines.push(format!(
                "  {} {} pending {}: {}",
                g.enrichment_type, g.enrichment_version, g.count, g.explanation
            ));
        }
    }
    lines.push(format!(
        "dead letters (failed {} times or more, or not retryable): {}",
        r.max_attempts,
        r.dead_letters.len()
    ));
    for d in &r.dead_letters {
        lines.push(format!(
            "  {} {} {} attempts {}: {}",
            d.job_posting_id,
            d.enrichment_type,
            d.enrichment_version,
            d.attempts,
            d.error_message.as_deref().unwrap_or("-")
        ));
    }
    crate::outln!("{}", lines.join("\n"));
    Ok(())
}
