//! `jobenrich prune --keep-versions N`: delete stored skills and sections of
//! all but the newest N versions of each model (active versions are always
//! kept), after a re-enrichment has made the old results obsolete.

use crate::commands::migrate::{reclaim_space, SpaceView};
use crate::error::UsageError;
use crate::output::{emit, Table};
use crate::session::Session;
use clap::Args;
use jobenrich_services::enrichment_status::{prune_unclaimable_pending, PendingPruneReport};
use jobenrich_services::reenrichment::{prune_old_versions, PruneReport};
use serde::Serialize;

#[derive(Debug, Serialize)]
struct PruneView {
    #[serde(flatten)]
    results: PruneReport,
    pending: PendingPruneReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    space: Option<SpaceView>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Versions of each model whose results are kept (at least 1).
    #[arg(long, value_name = "N")]
    pub keep_versions: usize,
    /// Then give the space the deleted results took back to the disk
    /// (SQLite VACUUM: needs about the store's size free on disk, and holds
    /// the write lock while it runs).
    #[arg(long)]
    pub vacuum: bool,
}

pub async fn run(session: &Session, args: PruneArgs) -> anyhow::Result<()> {
    if args.keep_versions == 0 {
        return Err(UsageError("--keep-versions must be at least 1".to_string()).into());
    }
    let context = session.connect_migrated().await?;
    let store = context.store.as_ref();
    let results = prune_old_versions(store, store, store, store, args.keep_versions).await?;
    // Pending work at inactive versions is never claimed (queue_rules): removed too.
    let pending = prune_unclaimable_pending(store, store).await?;
    let space = if args.vacuum {
        Some(reclaim_space(store).await?)
    } else {
        None
    };
    let report = PruneView {
        results,
        pending,
        space,
    };
    emit(session.format, &report, |v| {
        let r = &v.results;
        let list = |items: &[String]| {
            if items.is_empty() {
                "-".to_string()
            } else {
                items.join(", ")
            }
        };
        let mut table = Table::fields([
            ("kept versions", list(&r.kept_versions)),
            ("pruned skill versions", list(&r.pruned_skill_versions)),
            ("skills deleted", r.skills_deleted.to_string()),
            ("pruned section versions", list(&r.pruned_section_versions)),
            ("sections deleted", r.sections_deleted.to_string()),
            (
                "pruned embedding versions",
                list(&r.pruned_embedding_versions),
            ),
            ("vectors deleted", r.embeddings_deleted.to_string()),
            (
                "pending enrichments removed (inactive versions)",
                if v.pending.removed.is_empty() {
                    "0".to_string()
                } else {
                    v.pending
                        .removed
                        .iter()
                        .map(|(t, version, n)| format!("{n} {t} at {version}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ),
        ]);
        if let Some(space) = &v.space {
            table.row(["store size (vacuum)".to_string(), space.text()]);
        }
        table
    })
}
