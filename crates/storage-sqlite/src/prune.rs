//! Deleting every result row of some versions (`jobenrich prune`), a range of
//! postings per transaction. In one transaction, a prune rewrote nearly every
//! page of the results table into the WAL before it could be checkpointed
//! (2.9 M skill rows of 100,000 postings: a 659 MB WAL) and held the write
//! lock throughout. A range per commit, with the WAL folded into the file
//! after each, bounds both; an interrupted prune leaves some old rows, and
//! running it again deletes the rest. Pending work that is never claimed goes
//! the same way, a chunk of rows per commit.

use crate::error::map_sqlite;
use crate::SqliteStore;
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::EnrichmentType;
use rusqlite::{params, OptionalExtension};

/// Postings whose rows one prune transaction deletes (~30 skill rows each).
pub(crate) const PRUNE_POSTINGS_PER_TX: usize = 2_000;

/// Pending rows one prune transaction deletes. Each row dirties pages of
/// the queue's five b-trees (of the random `enrichment_id` index, about a
/// page per row). 100,000 rows in one transaction: a 39 MB WAL; by 2,000:
/// 10 MB but 1.5x the time (a commit and checkpoint each); by 10,000:
/// 12.7 MB, however many rows, in about the time of one transaction.
pub(crate) const PRUNE_PENDING_PER_TX: usize = 10_000;

/// A results table whose primary key seeks a range of `job_posting_id`s at
/// a version.
#[derive(Clone, Copy)]
pub(crate) enum VersionedTable {
    Skills,
    SkillStamps,
    Sections,
    /// Keyed by (`enrichment_version`, `job_posting_id`): one seek per version.
    Embeddings,
}

impl VersionedTable {
    fn name(self) -> &'static str {
        match self {
            Self::Skills => "job_skills_data",
            Self::SkillStamps => "skill_stamps",
            Self::Sections => "section_classifications_data",
            Self::Embeddings => "job_embeddings",
        }
    }

    /// Rows at the versions of the JSON list `?1`.
    fn at_versions(self) -> &'static str {
        match self {
            Self::Embeddings => "enrichment_version IN (SELECT value FROM json_each(?1))",
            _ => {
                "version_term IN (
                 SELECT term_id FROM skill_terms WHERE term IN (SELECT value FROM json_each(?1)))"
            }
        }
    }
}

impl SqliteStore {
    /// Deletes the rows of `tables` at the versions named in `versions` (a
    /// JSON list), `per_tx` postings per transaction, walking the
    /// postings in key order. Returns the rows deleted from the first table.
    /// The ranges (-inf, b1], (b1, b2], …, (bk, +inf) cover every key, so a
    /// row whose posting is missing is deleted too.
    pub(crate) async fn delete_version_rows(
        &self,
        tables: &'static [VersionedTable],
        versions: String,
        per_tx: usize,
    ) -> StoreResult<u64> {
        let offset = per_tx.max(1) as i64 - 1;
        let mut after: Option<String> = None;
        let mut deleted = 0u64;
        loop {
            let (versions, from) = (versions.clone(), after.clone());
            let (n, upto) = self
                .with_write_tx(move |tx| {
                    let upto: Option<String> = tx
                        .query_row(
                            "SELECT job_posting_id FROM job_postings
                             WHERE job_posting_id > COALESCE(?1, '')
                             ORDER BY job_posting_id LIMIT 1 OFFSET ?2",
                            params![from, offset],
                            |r| r.get(0),
                        )
                        .optional()
                        .map_err(map_sqlite)?;
                    let mut first = None;
                    for &table in tables {
                        let sql = delete_sql(table, from.is_some(), upto.is_some());
                        let mut stmt = tx.prepare_cached(&sql).map_err(map_sqlite)?;
                        stmt.raw_bind_parameter(1, versions.as_str())
                            .map_err(map_sqlite)?;
                        for (i, bound) in [(2, &from), (3, &upto)] {
                            if let Some(id) = bound {
                                stmt.raw_bind_parameter(i, id.as_str())
                                    .map_err(map_sqlite)?;
                            }
                        }
                        let n = stmt.raw_execute().map_err(map_sqlite)?;
                        first.get_or_insert(n as u64);
                    }
                    Ok((first.unwrap_or(0), upto))
                })
                .await?;
            deleted += n;
            self.with_writer(fold_wal).await?;
            match upto {
                Some(id) => after = Some(id),
                None => return Ok(deleted),
            }
        }
    }

    /// Deletes the pending enrichments of one type at the versions of the
    /// JSON list `versions`, at most `per_tx` rows per transaction, the WAL
    /// folded into the file after each (a million pending rows in one
    /// transaction would pass every page of the queue's five b-trees through
    /// the WAL). Returns the rows deleted.
    pub(crate) async fn delete_pending_rows(
        &self,
        enrichment_type: EnrichmentType,
        versions: String,
        per_tx: usize,
    ) -> StoreResult<u64> {
        let per_tx = per_tx.max(1) as i64;
        let mut deleted = 0u64;
        loop {
            let versions = versions.clone();
            let n = self
                .with_write_tx(move |tx| {
                    let mut stmt = tx
                        .prepare_cached(DELETE_PENDING_CHUNK)
                        .map_err(map_sqlite)?;
                    let n = stmt
                        .execute(params![enrichment_type.as_str(), versions, per_tx])
                        .map_err(map_sqlite)?;
                    Ok(n as u64)
                })
                .await?;
            deleted += n;
            if n > 0 {
                self.with_writer(fold_wal).await?;
            }
            // A short chunk was the last: no empty transaction to find that out.
            if n < per_tx as u64 {
                return Ok(deleted);
            }
        }
    }
}

/// One transaction's share of the pending rows `prune` removes: `?1` the
/// type, `?2` the JSON list of versions, `?3` the rows per transaction. The
/// version index finds them directly, however few among many postings, and
/// a deleted row is gone from it, so each chunk seeks to the next rows.
const DELETE_PENDING_CHUNK: &str = "DELETE FROM job_enrichments WHERE rowid IN (
     SELECT rowid FROM job_enrichments
     WHERE enrichment_version IN (SELECT value FROM json_each(?2))
       AND enrichment_type = ?1 AND status = 'pending'
     LIMIT ?3)";

/// The DELETE of one range: `?1` the JSON list of version terms, `?2` the
/// exclusive lower and `?3` the inclusive upper posting id, where the range
/// has them (as key comparisons the primary key's index seeks on).
fn delete_sql(table: VersionedTable, lower: bool, upper: bool) -> String {
    let mut sql = format!("DELETE FROM {} WHERE {}", table.name(), table.at_versions());
    if lower {
        sql.push_str(" AND job_posting_id > ?2");
    }
    if upper {
        sql.push_str(" AND job_posting_id <= ?3");
    }
    sql
}

/// Copies the WAL into the database file, waiting a little for the background
/// checkpoint or a reader to let go. Once every frame is copied, the next
/// transaction writes the WAL from its start again: without this the next
/// range began before the background thread caught up, and the WAL grew to
/// 150–330 MB in a 100,000-posting prune.
fn fold_wal(conn: &mut rusqlite::Connection) -> StoreResult<()> {
    for _ in 0..50 {
        let (busy, frames, copied): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(map_sqlite)?;
        if busy == 0 && frames == copied {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::json_list;
    use crate::migrations::tests::query_plan;
    use jobenrich_domain::{
        EnrichmentRepository, JobPostingRepository, SchemaMigrator, SectionRepository,
        SkillRepository,
    };
    use jobenrich_storage_contract::fixtures;

    const TABLES: [VersionedTable; 4] = [
        VersionedTable::Skills,
        VersionedTable::SkillStamps,
        VersionedTable::Sections,
        VersionedTable::Embeddings,
    ];

    /// Rows left per table at the pruned and the kept versions.
    async fn left(store: &SqliteStore) -> Vec<(String, i64, i64)> {
        store
            .with_writer(|conn| {
                let mut out = Vec::new();
                for (table, old, new) in [
                    (VersionedTable::Skills, "s@v1.0", "s@v2.0"),
                    (VersionedTable::SkillStamps, "s@v1.0", "s@v2.0"),
                    (VersionedTable::Sections, "c@v1", "c@v2"),
                    (VersionedTable::Embeddings, "e@v1.0", "e@v2.0"),
                ] {
                    let count = |version: &str| -> StoreResult<i64> {
                        conn.query_row(
                            &format!(
                                "SELECT COUNT(*) FROM {} WHERE {}",
                                table.name(),
                                table.at_versions()
                            ),
                            [json_list([version])?],
                            |r| r.get(0),
                        )
                        .map_err(map_sqlite)
                    };
                    out.push((table.name().to_string(), count(old)?, count(new)?));
                }
                Ok(out)
            })
            .await
            .unwrap()
    }

    /// A migrated store in a temporary directory (kept alive by the guard).
    async fn migrated() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("p.db")).unwrap();
        store.migrate().await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn each_range_seeks_the_primary_key() {
        let (_dir, store) = migrated().await;
        let plans = store
            .with_writer(|conn| {
                let mut plans = Vec::new();
                for table in TABLES {
                    for (lower, upper) in [(false, true), (true, true), (true, false)] {
                        let sql = delete_sql(table, lower, upper);
                        plans.push((table, lower, upper, query_plan(conn, &sql)));
                    }
                }
                Ok(plans)
            })
            .await
            .unwrap();
        for (table, lower, upper, plan) in plans {
            let key = match table {
                VersionedTable::Embeddings => "enrichment_version=? AND job_posting_id",
                _ => "job_posting_id",
            };
            let name = table.name();
            assert!(
                plan.contains(&format!("SEARCH {name} USING PRIMARY KEY ({key}")),
                "{name}: {plan}"
            );
            // Both bounds in the seek, not only the first one.
            for (bounded, op) in [(lower, "job_posting_id>?"), (upper, "job_posting_id<?")] {
                assert_eq!(
                    plan.contains(op),
                    bounded,
                    "{name} ({lower}, {upper}): {plan}"
                );
            }
        }
    }

    #[tokio::test]
    async fn pending_chunks_seek_the_version_index() {
        let (_dir, store) = migrated().await;
        let plan = store
            .with_writer(|conn| Ok(query_plan(conn, DELETE_PENDING_CHUNK)))
            .await
            .unwrap();
        assert!(
            plan.contains("USING COVERING INDEX idx_job_enrichments_version (enrichment_version=? AND enrichment_type=? AND status=?)"),
            "{plan}"
        );
        assert!(!plan.contains("SCAN job_enrichments"), "{plan}");
    }

    #[tokio::test]
    async fn every_chunk_size_deletes_exactly_the_pending_rows_of_the_type_and_versions() {
        let (skills, vectors) = (EnrichmentType::SkillsExtraction, EnrichmentType::Embeddings);
        for per_tx in [1, 3, 8, 100] {
            let (_dir, store) = migrated().await;
            let jobs: Vec<String> = (0..10).map(|i| format!("job-{i:02}")).collect();
            let postings: Vec<_> = jobs.iter().map(|j| fixtures::posting(j)).collect();
            store.insert_postings(&postings).await.unwrap();
            let ids: Vec<_> = postings.iter().map(|p| p.job_posting_id.clone()).collect();
            let (old, new) = (
                fixtures::enrichment_version("s@v1.0"),
                fixtures::enrichment_version("s@v2.0"),
            );
            let now = chrono::Utc::now();
            for (t, v) in [(skills, &old), (skills, &new), (vectors, &old)] {
                store.enqueue_enrichments(&ids, t, v, now).await.unwrap();
            }
            // Two of the old version's rows are no longer pending.
            store
                .with_writer(|conn| {
                    conn.execute(
                        "UPDATE job_enrichments SET status = 'success'
                         WHERE job_posting_id IN ('job-03', 'job-07')
                           AND enrichment_type = 'skills_extraction'
                           AND enrichment_version = 's@v1.0'",
                        [],
                    )
                    .map_err(map_sqlite)
                })
                .await
                .unwrap();

            let versions = json_list(["s@v1.0"]).unwrap();
            let n = store.delete_pending_rows(skills, versions, per_tx).await;
            assert_eq!(n.unwrap(), 8, "{per_tx} rows per transaction");

            let left: Vec<String> = store
                .enrichment_status_counts()
                .await
                .unwrap()
                .iter()
                .map(|c| {
                    let (t, v) = (c.enrichment_type.as_str(), c.enrichment_version.as_str());
                    format!("{t} {v} {} {}", c.status.as_str(), c.count)
                })
                .collect();
            assert_eq!(
                left,
                vec![
                    "embeddings s@v1.0 pending 10",
                    "skills_extraction s@v1.0 success 2",
                    "skills_extraction s@v2.0 pending 10",
                ],
                "{per_tx} rows per transaction"
            );
        }
    }

    #[tokio::test]
    async fn every_range_size_deletes_exactly_the_pruned_versions_rows() {
        // 10 postings: range sizes that divide it, do not, are 1, and exceed it.
        for per_tx in [1, 3, 5, 7, 10, 100] {
            let (_dir, store) = migrated().await;
            let jobs: Vec<String> = (0..10).map(|i| format!("job-{i:02}")).collect();
            let postings: Vec<_> = jobs.iter().map(|j| fixtures::posting(j)).collect();
            store.insert_postings(&postings).await.unwrap();
            let (mut skills, mut sections, mut embeddings) = (Vec::new(), Vec::new(), Vec::new());
            for job in &jobs {
                for (version, names) in [("s@v1.0", 3), ("s@v2.0", 2)] {
                    for n in 0..names {
                        let mut s = fixtures::skill(job, &format!("skill {n}"));
                        s.enrichment_version = fixtures::enrichment_version(version);
                        skills.push(s);
                    }
                }
                sections.push(fixtures::section(job, 0, "c@v1"));
                sections.push(fixtures::section(job, 1, "c@v1"));
                sections.push(fixtures::section(job, 0, "c@v2"));
                for version in ["e@v1.0", "e@v2.0"] {
                    let v = fixtures::enrichment_version(version);
                    embeddings.push(fixtures::embedding(job, &v, vec![1.0, 0.0]));
                }
            }
            store.upsert_skills(&skills).await.unwrap();
            store.upsert_sections(&sections).await.unwrap();
            store
                .with_write_tx(move |tx| {
                    for e in &embeddings {
                        let job = &e.job_posting_id;
                        crate::embeddings::replace_in_tx(tx, job, &e.enrichment_version, Some(e))?;
                    }
                    Ok(())
                })
                .await
                .unwrap();
            let before = left(&store).await;
            assert_eq!(before[0], ("job_skills_data".into(), 30, 20), "{before:?}");

            let versions = json_list(["s@v1.0"]).unwrap();
            let tables = &[VersionedTable::Skills, VersionedTable::SkillStamps];
            let n = store.delete_version_rows(tables, versions, per_tx).await;
            assert_eq!(n.unwrap(), 30, "{per_tx} postings per transaction");
            let versions = json_list(["c@v1"]).unwrap();
            let n = store
                .delete_version_rows(&[VersionedTable::Sections], versions, per_tx)
                .await;
            assert_eq!(n.unwrap(), 20, "{per_tx} postings per transaction");
            let versions = json_list(["e@v1.0"]).unwrap();
            let n = store
                .delete_version_rows(&[VersionedTable::Embeddings], versions, per_tx)
                .await;
            assert_eq!(n.unwrap(), 10, "{per_tx} postings per transaction");

            let after = left(&store).await;
            assert_eq!(
                after,
                vec![
                    ("job_skills_data".into(), 0, 20),
                    ("skill_stamps".into(), 0, 10),
                    ("section_classifications_data".into(), 0, 10),
                    ("job_embeddings".into(), 0, 10),
                ],
                "{per_tx} postings per transaction"
            );
        }
    }
}
