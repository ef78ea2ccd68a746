//! `ClusterRepository` over `job_clusters`: versioned per-job assignments, at
//! most one active per job (also enforced by a partial unique index). Writes
//! and the hot reads go to migration 14's tables (`job_clusters_data`,
//! `cluster_runs`, `cluster_run_clusters`); whole assignments are read through
//! the `job_clusters` view, which shows the seed's columns.

use crate::codec::{
    collect_rows, corrupt, from_ts, get, json_list, parse_uuid, parse_uuid_opt, to_json, ts,
};
use crate::error::map_sqlite;
use crate::postings::parse_id;
use crate::SqliteStore;
use async_trait::async_trait;
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::{
    ClusterAssignment, ClusterChange, ClusterKeyword, ClusterRepository, ClusteringRun,
    ClusteringRunRecorded, ClusteringRunSummary, JobId, ModelId, ModelVersion, StoreError,
};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::collections::HashMap;

const COLUMNS: &str = "job_posting_id, cluster_id, cluster_name, cluster_keywords, cluster_size, \
     cluster_run_id, cluster_model_id, cluster_model_version, cluster_version, is_active, \
     created_at, cluster_assignment_id, enrichment_id";

const E: &str = "ClusterAssignment";

/// The newest `created_at` of any assignment, as `t`.
pub(crate) const NEWEST: &str = "SELECT MAX(t) AS t FROM (
        SELECT MAX(created_at) AS t FROM job_clusters_data WHERE created_at IS NOT NULL
        UNION ALL
        SELECT t FROM (
            SELECT r.created_at AS t FROM cluster_runs r
            WHERE EXISTS (SELECT 1 FROM job_clusters_data d
                          WHERE d.run_key = r.run_key AND d.created_at IS NULL)
            ORDER BY r.created_at DESC LIMIT 1))";

/// The summaries of the runs `filter` (a `WHERE` on `cluster_runs r`, or
/// empty) keeps, newest first, over the tables in key order: through the
/// view, SQLite walked the (job, version) index and looked every row up
/// (75 s against 4 s for 9.6 M assignments).
pub(crate) fn run_summaries(filter: &str) -> String {
    format!(
        "SELECT r.cluster_run_id,
            MIN(COALESCE(d.cluster_model_id, r.cluster_model_id)),
            MIN(COALESCE(d.cluster_model_version, r.cluster_model_version)),
            MIN(COALESCE(d.created_at, r.created_at)) AS at, COUNT(*),
            COUNT(DISTINCT d.cluster_id)
        FROM cluster_runs r JOIN job_clusters_data d ON d.run_key = r.run_key
        {filter}
        GROUP BY r.run_key ORDER BY at DESC, r.cluster_run_id DESC"
    )
}

fn summary_from_row(row: &Row<'_>) -> StoreResult<ClusteringRunSummary> {
    let run: String = get(row, 0)?;
    Ok(ClusteringRunSummary {
        cluster_model_id: ModelId::parse(get::<String>(row, 1)?).map_err(corrupt(E, &run))?,
        cluster_model_version: ModelVersion::parse(get::<String>(row, 2)?)
            .map_err(corrupt(E, &run))?,
        assigned_at: from_ts(E, get(row, 3)?)?,
        job_count: get::<i64>(row, 4)? as u64,
        cluster_count: get::<i64>(row, 5)? as u64,
        cluster_run_id: run,
    })
}

fn assignment_from_row(row: &Row<'_>) -> StoreResult<ClusterAssignment> {
    let job_posting_id: String = get(row, 0)?;
    let run: String = get(row, 5)?;
    let key = format!("{job_posting_id}/{run}");
    Ok(ClusterAssignment {
        job_posting_id: parse_id(&job_posting_id)?,
        cluster_id: get(row, 1)?,
        cluster_name: get(row, 2)?,
        cluster_keywords: ClusterKeyword::parse_list(&get::<String>(row, 3)?)
            .map_err(corrupt(E, &key))?,
        cluster_size: get(row, 4)?,
        cluster_model_id: ModelId::parse(get::<String>(row, 6)?).map_err(corrupt(E, &key))?,
        cluster_model_version: ModelVersion::parse(get::<String>(row, 7)?)
            .map_err(corrupt(E, &key))?,
        cluster_version: get(row, 8)?,
        is_active: get(row, 9)?,
        created_at: from_ts(E, get(row, 10)?)?,
        cluster_assignment_id: parse_uuid(E, &key, &get::<String>(row, 11)?)?,
        enrichment_id: parse_uuid_opt(E, &key, get(row, 12)?)?,
        cluster_run_id: run,
    })
}

/// `value` where it differs from the one its run or cluster shares (NULL reads
/// as the shared value; see migration 14).
fn own<'a, T: PartialEq + ?Sized>(value: &'a T, shared: &T) -> Option<&'a T> {
    (value != shared).then_some(value)
}

fn record_in_tx(
    conn: &Connection,
    run_id: &str,
    assignments: &[ClusterAssignment],
) -> StoreResult<ClusteringRunRecorded> {
    let exists = conn
        .query_row(
            "SELECT 1 FROM cluster_runs WHERE cluster_run_id = ?1",
            params![run_id],
            |_| Ok(()),
        )
        .optional()
        .map_err(map_sqlite)?
        .is_some();
    if exists {
        return Err(StoreError::AlreadyExists {
            entity: "ClusteringRun",
            key: run_id.to_string(),
        });
    }
    let Some(first) = assignments.first() else {
        return Ok(ClusteringRunRecorded::default());
    };
    // The run's values once, from its first assignment (`run.expand()` gives
    // every assignment the same; a row that differs keeps its own).
    conn.prepare_cached(
        "INSERT INTO cluster_runs (cluster_run_id, cluster_model_id, cluster_model_version,
             created_at) VALUES (?1, ?2, ?3, ?4)",
    )
    .map_err(map_sqlite)?
    .execute(params![
        first.cluster_run_id,
        first.cluster_model_id.as_str(),
        first.cluster_model_version.as_str(),
        ts(first.created_at),
    ])
    .map_err(map_sqlite)?;
    let run_key = conn.last_insert_rowid();

    // Each cluster's name, keywords and size once, from its first assignment.
    let mut clusters: HashMap<u32, &ClusterAssignment> = HashMap::new();
    let mut insert_cluster = conn
        .prepare_cached(
            "INSERT INTO cluster_run_clusters (run_key, cluster_id, cluster_name,
                 cluster_keywords, cluster_size) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(map_sqlite)?;
    for a in assignments {
        if let std::collections::hash_map::Entry::Vacant(slot) = clusters.entry(a.cluster_id) {
            let keywords = to_json(&a.cluster_keywords)?;
            insert_cluster
                .execute(params![
                    run_key,
                    a.cluster_id,
                    a.cluster_name,
                    keywords,
                    a.cluster_size
                ])
                .map_err(map_sqlite)?;
            slot.insert(a);
        }
    }

    // Set-based: every earlier active assignment of the run's jobs off in
    // one statement, then one INSERT per job that takes its version from the
    // (job, version) key (not three statements per job).
    let ids = json_list(assignments.iter().map(|a| a.job_posting_id.as_str()))?;
    let deactivated = conn
        .prepare_cached(
            "UPDATE job_clusters_data SET is_active = 0
             WHERE is_active = 1 AND job_posting_id IN (SELECT value FROM json_each(?1))",
        )
        .map_err(map_sqlite)?
        .execute(params![ids])
        .map_err(map_sqlite)?;
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO job_clusters_data (run_key, job_posting_id, cluster_version, cluster_id,
                 is_active, cluster_assignment_id, enrichment_id, cluster_name, cluster_keywords,
                 cluster_size, cluster_model_id, cluster_model_version, created_at)
             VALUES (?2, ?1, (SELECT COALESCE(MAX(cluster_version), 0) + 1 FROM job_clusters_data
                              WHERE job_posting_id = ?1),
                     ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .map_err(map_sqlite)?;
    let mut recorded = ClusteringRunRecorded {
        deactivated: deactivated as u64,
        ..ClusteringRunRecorded::default()
    };
    for a in assignments {
        let shared = clusters[&a.cluster_id];
        let keywords = if a.cluster_keywords == shared.cluster_keywords {
            None
        } else {
            Some(to_json(&a.cluster_keywords)?)
        };
        insert
            .execute(params![
                a.job_posting_id.as_str(),
                run_key,
                a.cluster_id,
                a.cluster_assignment_id.as_bytes().as_slice(),
                a.enrichment_id.as_ref().map(|id| id.as_bytes().as_slice()),
                own(a.cluster_name.as_str(), &shared.cluster_name),
                keywords,
                own(&a.cluster_size, &shared.cluster_size),
                own(a.cluster_model_id.as_str(), first.cluster_model_id.as_str()),
                own(
                    a.cluster_model_version.as_str(),
                    first.cluster_model_version.as_str()
                ),
                own(&ts(a.created_at), &ts(first.created_at)),
            ])
            .map_err(map_sqlite)?;
        recorded.assignments += 1;
    }
    Ok(recorded)
}

impl SqliteStore {
    async fn query_assignments(
        &self,
        sql_tail: &'static str,
        key: String,
    ) -> StoreResult<Vec<ClusterAssignment>> {
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!("SELECT {COLUMNS} FROM job_clusters {sql_tail}"))
                .map_err(map_sqlite)?;
            let rows = stmt.query(params![key]).map_err(map_sqlite)?;
            collect_rows(rows, assignment_from_row)
        })
        .await
    }
}

#[async_trait]
impl ClusterRepository for SqliteStore {
    async fn record_clustering_run(
        &self,
        run: &ClusteringRun,
    ) -> StoreResult<ClusteringRunRecorded> {
        let assignments = run.expand()?;
        let run_id = run.cluster_run_id.clone();
        self.with_write_tx(move |tx| {
            let recorded = record_in_tx(tx, &run_id, &assignments)?;
            Ok(recorded)
        })
        .await
    }

    async fn list_clustering_runs(&self) -> StoreResult<Vec<ClusteringRunSummary>> {
        self.with_conn(|conn| {
            let mut stmt = conn
                .prepare_cached(&run_summaries(""))
                .map_err(map_sqlite)?;
            let rows = stmt.query([]).map_err(map_sqlite)?;
            collect_rows(rows, summary_from_row)
        })
        .await
    }

    /// The run of the newest assignment (ties: the greatest run id), found
    /// by seeks instead of summarising every run: the newest time is the
    /// newest run's (`cluster_runs` by time, among runs some row shares it
    /// with) or a row's own (the partial index). It is
    /// `list_clustering_runs`' first whenever a run's assignments share one
    /// `created_at`, as every run `record_clustering_run` writes does.
    async fn latest_clustering_run(&self) -> StoreResult<Option<ClusteringRunSummary>> {
        self.with_conn(|conn| {
            let mut stmt = conn
                .prepare_cached(&run_summaries(&format!(
                    "WHERE r.cluster_run_id = (
                         SELECT MAX(r.cluster_run_id) FROM cluster_runs r, ({NEWEST}) n
                         WHERE (r.created_at = n.t AND EXISTS (
                                    SELECT 1 FROM job_clusters_data d
                                    WHERE d.run_key = r.run_key AND d.created_at IS NULL))
                            OR EXISTS (SELECT 1 FROM job_clusters_data d
                                       WHERE d.created_at = n.t AND d.run_key = r.run_key))"
                )))
                .map_err(map_sqlite)?;
            let rows = stmt.query([]).map_err(map_sqlite)?;
            Ok(collect_rows(rows, summary_from_row)?.pop())
        })
        .await
    }

    async fn cluster_ids_for_run(&self, cluster_run_id: &str) -> StoreResult<Vec<(JobId, u32)>> {
        let run = cluster_run_id.to_string();
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT d.job_posting_id, d.cluster_id
                     FROM cluster_runs r JOIN job_clusters_data d ON d.run_key = r.run_key
                     WHERE r.cluster_run_id = ?1 ORDER BY d.job_posting_id",
                )
                .map_err(map_sqlite)?;
            let rows = stmt.query(params![run]).map_err(map_sqlite)?;
            collect_rows(rows, |row| {
                Ok((parse_id(&get::<String>(row, 0)?)?, get(row, 1)?))
            })
        })
        .await
    }

    async fn assignments_for_run(
        &self,
        cluster_run_id: &str,
    ) -> StoreResult<Vec<ClusterAssignment>> {
        self.query_assignments(
            "WHERE cluster_run_id = ?1 ORDER BY job_posting_id",
            cluster_run_id.to_string(),
        )
        .await
    }

    async fn active_assignment(
        &self,
        job_posting_id: &JobId,
    ) -> StoreResult<Option<ClusterAssignment>> {
        Ok(self
            .query_assignments(
                "WHERE job_posting_id = ?1 AND is_active = 1 ORDER BY cluster_version DESC LIMIT 1",
                job_posting_id.as_str().to_string(),
            )
            .await?
            .pop())
    }

    async fn assignment_history(
        &self,
        job_posting_id: &JobId,
    ) -> StoreResult<Vec<ClusterAssignment>> {
        self.query_assignments(
            "WHERE job_posting_id = ?1 ORDER BY cluster_version",
            job_posting_id.as_str().to_string(),
        )
        .await
    }

    async fn cluster_changes(&self, run_a: &str, run_b: &str) -> StoreResult<Vec<ClusterChange>> {
        let (run_a, run_b) = (run_a.to_string(), run_b.to_string());
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT a.job_posting_id, a.cluster_id, a.cluster_name, b.cluster_id, b.cluster_name
                     FROM job_clusters a
                     JOIN job_clusters b ON b.job_posting_id = a.job_posting_id AND b.cluster_run_id = ?2
                     WHERE a.cluster_run_id = ?1 AND a.cluster_id <> b.cluster_id
                     ORDER BY a.job_posting_id",
                )
                .map_err(map_sqlite)?;
            let rows = stmt.query(params![run_a, run_b]).map_err(map_sqlite)?;
            collect_rows(rows, |row| {
                Ok(ClusterChange {
                    job_posting_id: parse_id(&get::<String>(row, 0)?)?,
                    old_cluster_id: get(row, 1)?,
                    old_cluster_name: get(row, 2)?,
                    new_cluster_id: get(row, 3)?,
                    new_cluster_name: get(row, 4)?,
                })
            })
        })
        .await
    }

    async fn jobs_with_multiple_active_assignments(&self) -> StoreResult<Vec<JobId>> {
        self.with_conn(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT job_posting_id FROM job_clusters_data WHERE is_active = 1
                     GROUP BY job_posting_id HAVING COUNT(*) > 1 ORDER BY job_posting_id",
                )
                .map_err(map_sqlite)?;
            let rows = stmt.query([]).map_err(map_sqlite)?;
            collect_rows(rows, |row| parse_id(&get::<String>(row, 0)?))
        })
        .await
    }
}
