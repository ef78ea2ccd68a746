//! `jobenrich bench extract`: single-thread throughput of sectioning,
//! extraction and both, with the full shipped lexicon and aliases.

use crate::output::{emit, Table};
use crate::session::Session;
use anyhow::Context;
use clap::{Args, Subcommand};
use jobenrich_enrichment_engine::bench::{run_extraction_benchmark, synthesize_postings};
use jobenrich_enrichment_engine::{
    load_alias_csv, EngineConfig, Lexicon, SkillsEngine, SHIPPED_ALIASES_FILE,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Postings/s and MB/s of the engine on one thread.
    Extract(ExtractArgs),
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// JSONL postings whose `description` (or `text`) fields seed the corpus.
    #[arg(long, default_value = "data/sample/postings.jsonl")]
    pub input: PathBuf,
    /// Number of postings in the corpus.
    #[arg(long, default_value_t = 1000)]
    pub postings: usize,
    /// Approximate size of each posting in bytes.
    #[arg(long, default_value_t = 3000)]
    pub bytes: usize,
    /// Passes over the corpus per phase.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

pub async fn run(session: &Session, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Extract(args) => extract(session, args),
    }
}

fn extract(session: &Session, args: ExtractArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.input)
        .with_context(|| format!("reading {}", args.input.display()))?;
    let mut sources = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let value: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a JSON object", args.input.display(), n + 1))?;
        let body = value["description"]
            .as_str()
            .or_else(|| value["text"].as_str());
        let body = body.with_context(|| {
            format!(
                "{}:{}: field description (or text) is missing",
                args.input.display(),
                n + 1
            )
        })?;
        sources.push(body.to_string());
    }
    anyhow::ensure!(!sources.is_empty(), "{}: no postings", args.input.display());
    let corpus = synthesize_postings(&sources, args.postings, args.bytes);
    let started = Instant::now();
    let dir = session.settings()?.engine.lexicon_dir()?;
    let lexicon = Arc::new(
        Lexicon::load_dir(&dir)
            .with_context(|| format!("loading the lexicon of {}", dir.display()))?,
    );
    let aliases = load_alias_csv(&dir.join(SHIPPED_ALIASES_FILE), chrono::Utc::now())
        .with_context(|| format!("loading the aliases of {}", dir.display()))?;
    let engine = SkillsEngine::new(lexicon, &aliases, EngineConfig::default())
        .context("building the engine")?;
    let setup = started.elapsed();
    let report = run_extraction_benchmark(&engine, &corpus, args.rounds.max(1));
    emit(session.format, &report, |r| {
        let mut t = Table::new(["phase", "postings/s", "MB/s"]);
        for p in &r.phases {
            t.row([
                p.phase.to_string(),
                format!("{:.0}", p.postings_per_sec),
                format!("{:.2}", p.mb_per_sec),
            ]);
        }
        eprintln!(
            "{} postings, {:.2} MB, {} rounds, lexicon {} skills / {} surface forms, setup {:.2?}",
            r.postings,
            r.total_bytes as f64 / 1e6,
            r.rounds,
            r.lexicon_entries,
            r.lexicon_surfaces,
            setup
        );
        t
    })
}
