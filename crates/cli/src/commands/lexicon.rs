//! `jobenrich lexicon build`: compile the public taxonomies (ESCO, O*NET) into
//! the shipped lexicon file, using the reviewed category mapping table.

use crate::error::UsageError;
use crate::output::{emit, Table};
use crate::session::Session;
use anyhow::Context;
use clap::{Args, Subcommand};
use jobenrich_enrichment_engine::{
    build_lexicon, SHIPPED_LEXICON_FILE, SHIPPED_MAPPING_FILE, TAXONOMY_FILES,
};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum LexiconCommand {
    /// Build the lexicon file from a taxonomy folder (ESCO v1.1.1 CSVs, O*NET technology skills).
    Build(BuildArgs),
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Folder holding `esco-v1.1.1/`, `esco-v1.1.1-all-skills/` and `onet/`
    /// (default: the copies the repository ships, see data/taxonomy/README.md).
    #[arg(long, default_value = "data/taxonomy")]
    pub taxonomy: PathBuf,
    /// Category mapping table (ESCO groups / O*NET commodity classes → categories).
    #[arg(long)]
    pub mapping: Option<PathBuf>,
    /// Where to write the lexicon (default: lexicon.tsv in engine.lexicon_dir).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub async fn run(session: &Session, command: LexiconCommand) -> anyhow::Result<()> {
    match command {
        LexiconCommand::Build(args) => build(session, args),
    }
}

fn build(session: &Session, args: BuildArgs) -> anyhow::Result<()> {
    // Missing inputs are the caller's (exit 2), named before anything is written.
    let missing: Vec<String> = TAXONOMY_FILES
        .iter()
        .map(|f| args.taxonomy.join(f))
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if !missing.is_empty() {
        return Err(UsageError(format!(
            "taxonomy folder {}: missing {} (the repository ships them in data/taxonomy/, \
             run from its root or pass --taxonomy; sources: data/taxonomy/README.md)",
            args.taxonomy.display(),
            missing.join(", ")
        ))
        .into());
    }
    let dir =
        || -> anyhow::Result<std::path::PathBuf> { Ok(session.settings()?.engine.lexicon_dir()?) };
    let out = match args.out {
        Some(out) => out,
        None => dir()?.join(SHIPPED_LEXICON_FILE),
    };
    let mapping = match args.mapping {
        Some(mapping) => mapping,
        None => dir()?.join(SHIPPED_MAPPING_FILE),
    };
    let report = build_lexicon(&args.taxonomy, &mapping, &out).with_context(|| {
        format!(
            "building the lexicon from {} with {}",
            args.taxonomy.display(),
            mapping.display()
        )
    })?;
    emit(session.format, &report, |r| {
        let mut t = Table::fields([
            ("written to", out.display().to_string()),
            ("entries", r.entries_written.to_string()),
            ("surface forms", r.surfaces_written.to_string()),
            ("surface forms dropped", r.surfaces_dropped.to_string()),
            (
                "curated / O*NET / ESCO",
                format!(
                    "{} / {} / {}",
                    r.curated_entries, r.onet_products, r.esco_skills
                ),
            ),
            (
                "unmapped commodity classes",
                r.unmapped_commodities.len().to_string(),
            ),
        ]);
        for (category, n) in &r.entries_per_category {
            t.row([format!("category {category}"), n.to_string()]);
        }
        t
    })
}
