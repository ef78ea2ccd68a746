//! `jobenrich status`: the enrichment queue by type × version × status with
//! the oldest pending enrichment, and the dead letters (failures with no
//! attempts left, `worker.max_attempts`).

use crate::output::{cell, emit, OutputFormat, Table};
use crate::session::Session;
use clap::Args;
use jobenrich_services::engine_enricher::active_engine_config;
use jobenrich_services::enrichment_status::status_report;

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
    emit(session.format, &report, |r| {
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
    lines.push(format!(
        "dead letters (failed {} times or more): {}",
        r.max_attempts,
        r.dead_letters.len()
    ));
    for d in &r.dead_letters {
        lines.push(format!(
            "  {} {} {} attempts {}: {}",
            d.job_id,
            d.enrichment_type,
            d.enrichment_version,
            d.attempts,
            d.error_message.as_deref().unwrap_or("-")
        ));
    }
    println!("{}", lines.join("\n"));
    Ok(())
}
