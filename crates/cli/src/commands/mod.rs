//! One module per command (group). Each exposes its clap arguments and
//! `pub async fn run(session: &Session, args) -> anyhow::Result<()>`.

pub mod aliases;
pub mod bench;
pub mod bigquery;
pub mod cluster;
pub mod config;
pub mod dataset;
pub mod evaluate;
pub mod ingest;
pub mod job_results;
pub mod lexicon;
pub mod migrate;
pub mod model_history;
pub mod models;
pub mod prune;
pub mod reenrich;
pub mod run;
pub mod similar;
pub mod status;
pub mod train;
