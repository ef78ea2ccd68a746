//! `jobenrich`: the command line of jobenrich.
//!
//! Adding a command: write `src/commands/<name>.rs` with a clap `Args` (or
//! `Subcommand`) type and `pub async fn run(session: &Session, args) ->
//! anyhow::Result<()>`, declare it in `src/commands/mod.rs`, add one variant
//! to [`Command`] and one arm to [`dispatch`]. Print results with
//! `output::emit` (table or `--format json`); return errors with context and
//! `main` prints them as one `error: …` line with the right exit code
//! (`error.rs`).

mod commands;
mod error;
mod output;
mod session;

use clap::{Parser, Subcommand};
use jobenrich_bootstrap::{ConfigLayers, LogFormat, LoggingSettings};
use output::OutputFormat;
use session::Session;
use std::path::PathBuf;
use std::process::ExitCode;

// glibc malloc cost ~15% of engine time in profiles; mimalloc is much cheaper for its many small allocations.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// jobenrich: enriches scraped job postings with skills, sections and clusters.
///
/// Configuration layers (later wins): config/default.yaml, config/{JOBENRICH_ENV}.yaml,
/// --config FILE, JOBENRICH__SECTION__KEY environment variables.
#[derive(Debug, Parser)]
#[command(name = "jobenrich", version)]
struct Cli {
    /// Extra YAML config file layered over config/default.yaml and config/{JOBENRICH_ENV}.yaml.
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "JOBENRICH_CONFIG",
        value_name = "FILE"
    )]
    config: Option<PathBuf>,
    /// Output of tabular results.
    #[arg(long, global = true, value_enum, default_value = "table")]
    format: OutputFormat,
    /// Log line format on stderr (default: logging.format of the config).
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(f: LogFormatArg) -> Self {
        match f {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect the effective configuration.
    #[command(subcommand)]
    Config(commands::config::ConfigCommand),
    /// Create or upgrade the store's schema and register the shipped model configs.
    Migrate(commands::migrate::MigrateArgs),
    /// Store job postings from JSONL or CSV files and queue them for enrichment.
    Ingest(commands::ingest::IngestArgs),
    /// Model registry: register, list, activate and show model configs.
    #[command(subcommand)]
    Models(commands::models::ModelsCommand),
    /// Skill aliases (K8s → Kubernetes): add, list, deactivate, import, export.
    #[command(subcommand)]
    Aliases(commands::aliases::AliasesCommand),
    /// The main job: migrate, ingest (default: the shipped sample), enrich everything, summarize.
    Run(commands::run::RunArgs),
    /// Enrichment queue: counts by type × version × status, oldest pending, dead letters.
    Status(commands::status::StatusArgs),
    /// One job's extracted skills (confidence, strategies, section, snippet).
    Skills(commands::job_results::JobResultsArgs),
    /// One job's classified sections (type, relevance, offsets).
    Sections(commands::job_results::JobResultsArgs),
    /// The jobs most similar to a job by posting vector (the embeddings enrichment).
    Similar(commands::similar::SimilarArgs),
    /// Queue the jobs lacking a successful result at the active model version.
    Reenrich(commands::reenrich::ReenrichArgs),
    /// Delete stored results of all but the newest N versions of each model.
    Prune(commands::prune::PruneArgs),
    /// Job clustering: run, diff two runs (churn, ARI, NMI, splits/merges), list, show a job.
    #[command(subcommand)]
    Cluster(commands::cluster::ClusterCommand),
    /// Score a model version on a labeled dataset, store the result and gate on thresholds (exit 0 pass, 1 fail, 2 error).
    Evaluate(commands::evaluate::EvaluateArgs),
    /// Labeled datasets: import SkillSpan / ESCO-linked data, summarize a file.
    #[command(subcommand)]
    Dataset(commands::dataset::DatasetCommand),
    /// Skills lexicon: build it from the ESCO and O*NET taxonomies.
    #[command(subcommand)]
    Lexicon(commands::lexicon::LexiconCommand),
    /// Benchmarks: engine throughput (postings/s, MB/s) on one thread.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
    /// BigQuery storage: print the migration plan without running it.
    #[command(subcommand)]
    Bigquery(commands::bigquery::BigqueryCommand),
    /// Train a model version from labeled data (artifact + model config, registered inactive).
    #[command(subcommand)]
    Train(commands::train::TrainCommand),
}

async fn dispatch(session: &Session, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Config(cmd) => commands::config::run(session, cmd).await,
        Command::Migrate(args) => commands::migrate::run(session, args).await,
        Command::Ingest(args) => commands::ingest::run(session, args).await,
        Command::Models(cmd) => commands::models::run(session, cmd).await,
        Command::Aliases(cmd) => commands::aliases::run(session, cmd).await,
        Command::Run(args) => commands::run::run(session, args).await,
        Command::Status(args) => commands::status::run(session, args).await,
        Command::Skills(args) => commands::job_results::skills(session, args).await,
        Command::Sections(args) => commands::job_results::sections(session, args).await,
        Command::Similar(args) => commands::similar::similar(session, args).await,
        Command::Reenrich(args) => commands::reenrich::run(session, args).await,
        Command::Prune(args) => commands::prune::run(session, args).await,
        Command::Cluster(cmd) => commands::cluster::run(session, cmd).await,
        Command::Evaluate(args) => commands::evaluate::run(session, args).await,
        Command::Dataset(cmd) => commands::dataset::run(session, cmd).await,
        Command::Lexicon(cmd) => commands::lexicon::run(session, cmd).await,
        Command::Bench(cmd) => commands::bench::run(session, cmd).await,
        Command::Train(cmd) => commands::train::run(session, cmd).await,
        Command::Bigquery(cmd) => commands::bigquery::run(session, cmd).await,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logging follows the config when it loads; a broken config is reported
    // by the command that needs it, with the default logging in place.
    let logging = ConfigLayers::discover(cli.config.as_deref())
        .and_then(|layers| layers.settings())
        .map(|s| s.logging)
        .unwrap_or_else(|_| LoggingSettings::default());
    jobenrich_bootstrap::logging::init_logging(&logging, cli.log_format.map(Into::into));

    let session = Session::new(cli.config, cli.format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return error::report(&anyhow::Error::new(e).context("starting the async runtime"))
        }
    };
    match runtime.block_on(dispatch(&session, cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`jobenrich … | head`): stop quietly, as Unix tools do.
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => error::report(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap's own consistency checks (unique names, valid defaults) over every command.
    #[test]
    fn command_line_definition_is_consistent() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }

    /// Every argument, positional ones included, says what it is in `--help`.
    #[test]
    fn every_argument_has_help_text() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(
            &<Cli as clap::CommandFactory>::command(),
            "jobenrich",
            &mut missing,
        );
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }
}
