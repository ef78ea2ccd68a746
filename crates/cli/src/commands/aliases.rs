//! `jobenrich aliases`: skill aliases that normalize surface forms to
//! canonical skills (K8s → Kubernetes). CSV columns: `alias_text,
//! canonical_name, category[, confidence, source, is_active]` (see README);
//! import is atomic and names file, line and field of a bad row.

use crate::error::UsageError;
use crate::output::{emit, Table};
use crate::session::Session;
use anyhow::Context;
use clap::{Args, Subcommand};
use jobenrich_domain::{AliasSource, SkillAlias, SkillCategory};
use jobenrich_services::alias_admin::{
    add_alias, deactivate_alias, export_aliases, import_aliases, list_aliases, NewAlias,
};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum AliasesCommand {
    /// Add one alias (unique case-insensitively).
    Add(AddArgs),
    /// List aliases (active ones unless --all).
    List(ListArgs),
    /// Deactivate an alias; it stays stored but is no longer used.
    Deactivate(DeactivateArgs),
    /// Import aliases from a CSV file, all rows or none; existing aliases are updated.
    Import(ImportArgs),
    /// Export every alias (active and inactive) as CSV.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The surface form (e.g. `K8s`), at most 50 characters.
    pub alias_text: String,
    /// The canonical skill (e.g. `Kubernetes`), at most 100 characters.
    pub canonical_name: String,
    /// Skill category (e.g. devops_tools, programming_languages).
    #[arg(long)]
    pub category: String,
    /// Confidence in [0, 1].
    #[arg(long, default_value_t = 1.0)]
    pub confidence: f64,
    /// manual, user_feedback or auto_detected.
    #[arg(long, default_value = "manual")]
    pub source: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Include deactivated aliases.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct DeactivateArgs {
    /// The alias (any case).
    pub alias_text: String,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// CSV file with a header row.
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output CSV file; `-` writes to stdout.
    pub file: PathBuf,
}

#[derive(Debug, Serialize)]
struct ExportView {
    file: String,
    exported: u64,
}

pub async fn run(session: &Session, command: AliasesCommand) -> anyhow::Result<()> {
    let context = session.connect_migrated().await?;
    let store = context.store.as_ref();
    let now = chrono::Utc::now();
    match command {
        AliasesCommand::Add(args) => {
            let alias = NewAlias {
                alias_text: args.alias_text,
                canonical_name: args.canonical_name,
                category: args.category.parse::<SkillCategory>()?,
                confidence: args.confidence,
                source: args.source.parse::<AliasSource>()?,
                // docs/data-model.md: `cli:<user>` (the login name, never a secret).
                created_by: format!(
                    "cli:{}",
                    std::env::var("USER")
                        .or_else(|_| std::env::var("USERNAME"))
                        .unwrap_or_else(|_| "unknown".into())
                ),
            };
            let added = add_alias(store, alias, now).await?;
            emit(session.format, &added, |a| {
                aliases_table(std::slice::from_ref(a))
            })
        }
        AliasesCommand::List(args) => {
            let aliases = list_aliases(store, args.all).await?;
            emit(session.format, &aliases, |a| aliases_table(a))
        }
        AliasesCommand::Deactivate(args) => {
            let alias = deactivate_alias(store, &args.alias_text, now).await?;
            emit(session.format, &alias, |a| {
                aliases_table(std::slice::from_ref(a))
            })
        }
        AliasesCommand::Import(args) => {
            let label = args.file.display().to_string();
            // A file that cannot be opened is the caller's input error (exit 2), as for ingest.
            let file = std::fs::File::open(&args.file)
                .map_err(|e| UsageError(format!("{label}: cannot open: {e}")))?;
            let report = import_aliases(store, file, &label, now).await?;
            emit(session.format, &report, |r| {
                Table::fields([
                    ("file", label.clone()),
                    ("rows", r.rows.to_string()),
                    ("inserted", r.inserted.to_string()),
                    ("updated", r.updated.to_string()),
                ])
            })
        }
        AliasesCommand::Export(args) => {
            if args.file.as_os_str() == "-" {
                export_aliases(store, std::io::stdout().lock(), "stdout").await?;
                return Ok(());
            }
            let label = args.file.display().to_string();
            let file =
                std::fs::File::create(&args.file).with_context(|| format!("creating {label}"))?;
            let exported = export_aliases(store, std::io::BufWriter::new(file), &label).await?;
            let view = ExportView {
                file: label,
                exported,
            };
            emit(session.format, &view, |v| {
                Table::fields([
                    ("file", v.file.clone()),
                    ("exported", v.exported.to_string()),
                ])
            })
        }
    }
}

fn aliases_table(aliases: &[SkillAlias]) -> Table {
    let mut table = Table::new([
        "ALIAS",
        "CANONICAL",
        "CATEGORY",
        "CONFIDENCE",
        "SOURCE",
        "ACTIVE",
    ]);
    for a in aliases {
        table.row([
            a.alias_text.clone(),
            a.canonical_name.clone(),
            a.skill_category.to_string(),
            format!("{:.2}", a.confidence),
            a.source.to_string(),
            if a.is_active { "yes" } else { "no" }.to_string(),
        ]);
    }
    table
}
