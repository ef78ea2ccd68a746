//! `jobenrich bigquery plan`: the DDL and migrations `jobenrich migrate` would
//! run on the configured BigQuery dataset, printed and not run.

use crate::session::Session;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum BigqueryCommand {
    /// Print the DDL and migrations `migrate` would run, without running them.
    Plan(PlanArgs),
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Print every migration from an empty dataset, without contacting BigQuery
    /// (by default the dataset's applied schema version is read first).
    #[arg(long)]
    pub from_scratch: bool,
}

pub async fn run(session: &Session, command: BigqueryCommand) -> anyhow::Result<()> {
    match command {
        BigqueryCommand::Plan(args) => plan(session, args).await,
    }
}

async fn plan(session: &Session, args: PlanArgs) -> anyhow::Result<()> {
    let text = jobenrich_bootstrap::bigquery_migration_plan(
        &session.settings()?.storage,
        args.from_scratch,
    )
    .await?;
    crate::outln!("{}", text.trim_end());
    Ok(())
}
