//! `jobenrich bench extract`: single-thread throughput of sectioning,
//! extraction and both, with the full shipped lexicon and aliases; with
//! `--threads N`, both again on N threads at once.

use crate::error::UsageError;
use crate::output::{emit, Table};
use crate::session::missing_sqlite_file;
use crate::session::Session;
use anyhow::Context;
use clap::{Args, Subcommand};
use jobenrich_domain::{EnrichmentType, SkillAlias};
use jobenrich_enrichment_engine::bench::{
    run_extraction_benchmark, run_parallel_both, synthesize_postings,
};
use jobenrich_enrichment_engine::{load_alias_csv, Lexicon, SHIPPED_ALIASES_FILE};
use jobenrich_services::engine_enricher::build_engine;
use jobenrich_services::enrichment_pipeline::ActiveModels;
use jobenrich_services::model_artifacts::ArtifactStore;
use jobenrich_services::model_registry::{
    load_model_file, newest_of_each_type, read_model_directory,
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
    /// Number of postings in the corpus (at least 1).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub postings: u64,
    /// Approximate size of each posting in bytes (at least 1).
    #[arg(long, default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..))]
    pub bytes: u64,
    /// Passes over the corpus per phase (at least 1).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    pub rounds: u64,
    /// Measure this skills or section model config (e.g.
    /// `models/skills_extractor/v2.0/model.yaml`) instead of the one `run`
    /// would use; repeat for one of each. Trained artifacts are read under
    /// `models.artifacts_dir`.
    #[arg(long, value_name = "FILE.yaml")]
    pub model_config: Vec<PathBuf>,
    /// Also run sectioning + extraction on one thread and then on this many
    /// threads at once (one engine, as `run`'s engine threads share it), and
    /// report both and their ratio. 1 (the default) skips it.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub threads: u64,
}

pub async fn run(session: &Session, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Extract(args) => extract(session, args).await,
    }
}

/// What `run` would enrich with: the store's active models and active aliases
/// when the store exists; else what `run` seeds a new store with (the shipped
/// model configs and aliases).
async fn engine_inputs(
    session: &Session,
) -> anyhow::Result<(ActiveModels, Vec<SkillAlias>, String)> {
    let settings = session.settings()?;
    if missing_sqlite_file(settings).is_none() {
        let context = session.connect_migrated().await?;
        let store = context.store.as_ref();
        let skills = store
            .active_model_for_type(EnrichmentType::SkillsExtraction)
            .await?;
        if let Some(skills) = skills {
            let sections = store
                .active_model_for_type(EnrichmentType::SectionClassification)
                .await?;
            let aliases = store.list_aliases(true).await?;
            let origin = format!(
                "{}@{} and {} active aliases of the {} store",
                skills.model_id,
                skills.version,
                aliases.len(),
                store.backend_name()
            );
            return Ok((
                ActiveModels {
                    skills,
                    sections,
                    embeddings: None,
                },
                aliases,
                origin,
            ));
        }
    }
    let now = chrono::Utc::now();
    let seed_dir = &settings.models.seed_dir;
    let files = read_model_directory(seed_dir, now)
        .with_context(|| format!("reading the model configs of {}", seed_dir.display()))?;
    let mut newest = newest_of_each_type(files);
    let skills = newest
        .remove(&EnrichmentType::SkillsExtraction)
        .ok_or_else(|| {
            UsageError(format!(
                "no skills_extraction model config in {}",
                settings.models.seed_dir.display()
            ))
        })?;
    let sections = newest.remove(&EnrichmentType::SectionClassification);
    let path = settings.engine.lexicon_dir()?.join(SHIPPED_ALIASES_FILE);
    let aliases = load_alias_csv(&path, now).context("loading the shipped aliases")?;
    let origin = format!(
        "{}@{} and the {} shipped aliases (no store yet: what `run` would seed)",
        skills.model_id,
        skills.version,
        aliases.len()
    );
    Ok((
        ActiveModels {
            skills,
            sections,
            embeddings: None,
        },
        aliases,
        origin,
    ))
}

async fn extract(session: &Session, args: ExtractArgs) -> anyhow::Result<()> {
    // A missing or unreadable input is the caller's data error (exit 2).
    let text = std::fs::read_to_string(&args.input)
        .map_err(|e| UsageError(format!("reading {}: {e}", args.input.display())))?;
    let mut sources = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            UsageError(format!(
                "{}:{}: not a JSON object: {e}",
                args.input.display(),
                n + 1
            ))
        })?;
        let body = value["description"]
            .as_str()
            .or_else(|| value["text"].as_str());
        let body = body.ok_or_else(|| {
            UsageError(format!(
                "{}:{}: field description (or text) is missing",
                args.input.display(),
                n + 1
            ))
        })?;
        sources.push(body.to_string());
    }
    if sources.is_empty() {
        return Err(UsageError(format!("{}: no postings", args.input.display())).into());
    }
    let corpus = synthesize_postings(&sources, args.postings as usize, args.bytes as usize);
    let (mut models, aliases, mut origin) = engine_inputs(session).await?;
    for path in &args.model_config {
        let model = load_model_file(path, chrono::Utc::now())
            .map_err(|e| UsageError(format!("--model-config {}: {e}", path.display())))?;
        origin = format!(
            "{}@{} from {}; {origin}",
            model.model_id,
            model.version,
            path.display()
        );
        match model.model_type {
            EnrichmentType::SkillsExtraction => models.skills = model,
            EnrichmentType::SectionClassification => models.sections = Some(model),
            other => {
                return Err(UsageError(format!(
                    "--model-config {}: model_type is {other}, not skills_extraction or section_classification",
                    path.display(),
                ))
                .into())
            }
        }
    }
    let settings = session.settings()?;
    let started = Instant::now();
    let dir = settings.engine.lexicon_dir()?;
    let lexicon = Arc::new(
        Lexicon::load_dir(&dir)
            .with_context(|| format!("loading the lexicon of {}", dir.display()))?,
    );
    // A version with `use_semantic` (the shipped default) links as `run` does.
    let artifacts = ArtifactStore::new(settings.models.artifacts_dir())
        .with_linker_source(Some(settings.embeddings.linker_source()));
    let engine = build_engine(lexicon, &models, &aliases, &artifacts)
        .map_err(|e| anyhow::anyhow!("building the engine: {e}"))?;
    let setup = started.elapsed();
    crate::errln!("engine: {origin}");
    let mut report = run_extraction_benchmark(&engine, &corpus, args.rounds as usize);
    if args.threads > 1 {
        let threads = usize::try_from(args.threads).unwrap_or(1);
        // One thread through the same code right before, so the ratio
        // compares like with like on a host whose speed drifts.
        let one = run_parallel_both(&engine, &corpus, args.rounds as usize, 1);
        let parallel = run_parallel_both(&engine, &corpus, args.rounds as usize, threads);
        crate::errln!(
            "both on {threads} threads: {:.2}x one thread ({:.0} vs {:.0} postings/s)",
            parallel.postings_per_sec / one.postings_per_sec.max(1e-9),
            parallel.postings_per_sec,
            one.postings_per_sec
        );
        // Both go in the report: the ratio is read from this pair.
        report.phases.push(one);
        report.phases.push(parallel);
    }
    emit(session.format, &report, |r| {
        let mut t = Table::new(["PHASE", "THREADS", "POSTINGS/S", "MB/S"]);
        for p in &r.phases {
            t.row([
                p.phase.to_string(),
                p.threads.to_string(),
                format!("{:.0}", p.postings_per_sec),
                format!("{:.2}", p.mb_per_sec),
            ]);
        }
        crate::errln!(
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
