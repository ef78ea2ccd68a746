//! `jobenrich bigquery plan`: the DDL and migrations `jobenrich migrate` would
//! run on the configured BigQuery dataset, printed and not run.

use crate::session::Session;
use anyhow::Context;
use clap::{Args, Subcommand};
use jobenrich_storage_bigquery::{BigQuerySettings, BigQueryStore};

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
    let section = session.settings()?.storage.bigquery.clone();
    if section.is_empty() {
        anyhow::bail!("setting storage.bigquery is empty: set project, dataset and credentials (see docs/bigquery.md)");
    }
    let settings: BigQuerySettings = serde_json::from_value(serde_json::Value::Object(section))
        .context("setting storage.bigquery")?;
    let text = if args.from_scratch {
        jobenrich_storage_bigquery::migration_plan(&settings)
    } else {
        let store = BigQueryStore::connect(settings)
            .await
            .context("connecting to BigQuery")?;
        store
            .pending_migration_plan()
            .await
            .context("reading the applied schema version")?
    };
    println!("{}", text.trim_end());
    Ok(())
}
