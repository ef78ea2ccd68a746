//! `jobenrich prune --keep-versions N`: delete stored skills and sections of
//! all but the newest N versions of each model (active versions are always
//! kept), after a re-enrichment has made the old results obsolete.

use crate::error::UsageError;
use crate::output::{emit, Table};
use crate::session::Session;
use clap::Args;
use jobenrich_services::reenrichment::prune_old_versions;

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Versions of each model whose results are kept (at least 1).
    #[arg(long, value_name = "N")]
    pub keep_versions: usize,
}

pub async fn run(session: &Session, args: PruneArgs) -> anyhow::Result<()> {
    if args.keep_versions == 0 {
        return Err(UsageError("--keep-versions must be at least 1".to_string()).into());
    }
    let context = session.connect_migrated().await?;
    let store = context.store.as_ref();
    let report = prune_old_versions(store, store, store, args.keep_versions).await?;
    emit(session.format, &report, |r| {
        let list = |items: &[String]| {
            if items.is_empty() {
                "-".to_string()
            } else {
                items.join(", ")
            }
        };
        Table::fields([
            ("kept versions", list(&r.kept_versions)),
            ("pruned skill versions", list(&r.pruned_skill_versions)),
            ("skills deleted", r.skills_deleted.to_string()),
            ("pruned section versions", list(&r.pruned_section_versions)),
            ("sections deleted", r.sections_deleted.to_string()),
        ])
    })
}
