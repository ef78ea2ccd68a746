//! Migration 14, `shared_cluster_values`: what every assignment of a
//! clustering run repeated, stored once. A `job_clusters` row held its run's
//! id, model id and version and time, and its cluster's name, keyword JSON
//! (~300–370 B) and size: ~553 B per job per run, ~671 B with its indexes.
//!
//! - `cluster_runs`: one row per run (`run_key`), with the values of the run's
//!   first assignment; `cluster_run_clusters`: one per (run, cluster).
//! - `job_clusters_data`: one row per assignment, WITHOUT ROWID, keyed (run,
//!   job, version) and unique on (job, version); ids as 16-byte BLOBs. Its
//!   shared columns are NULL when the value is the run's or the cluster's,
//!   and hold the row's own value otherwise (a pre-extension dataset's rows
//!   differ in `created_at`), so any values written still read back.
//!
//! The `job_clusters` view shows the seed's columns as before, with triggers
//! so SQL written against the table keeps working.

pub const MIGRATION_14_SHARED_CLUSTER_VALUES: &str = concat!(
    r#"
CREATE TABLE cluster_runs (
    run_key               INTEGER PRIMARY KEY,
    cluster_run_id        TEXT NOT NULL UNIQUE,
    cluster_model_id      TEXT NOT NULL,
    cluster_model_version TEXT NOT NULL,
    created_at            INTEGER NOT NULL
);
CREATE TABLE cluster_run_clusters (
    run_key          INTEGER NOT NULL REFERENCES cluster_runs(run_key),
    cluster_id       INTEGER NOT NULL,
    cluster_name     TEXT NOT NULL,
    cluster_keywords TEXT NOT NULL,
    cluster_size     INTEGER NOT NULL,
    PRIMARY KEY (run_key, cluster_id)
) WITHOUT ROWID;
CREATE TABLE job_clusters_data (
    run_key               INTEGER NOT NULL REFERENCES cluster_runs(run_key),
    job_posting_id        TEXT NOT NULL REFERENCES job_postings(job_posting_id),
    cluster_version       INTEGER NOT NULL CHECK (cluster_version >= 1),
    cluster_id            INTEGER NOT NULL,
    is_active             INTEGER NOT NULL,
    -- 16-byte BLOBs (text only for an id that is not a UUID).
    cluster_assignment_id BLOB NOT NULL,
    enrichment_id         BLOB,
    -- NULL: the run's or the cluster's value.
    cluster_name          TEXT,
    cluster_keywords      TEXT,
    cluster_size          INTEGER,
    cluster_model_id      TEXT,
    cluster_model_version TEXT,
    created_at            INTEGER,
    -- Run first: a run's rows are appended together and read as one range
    -- (keyed by job, each run rewrote pages all over the table).
    PRIMARY KEY (run_key, job_posting_id, cluster_version)
) WITHOUT ROWID;

-- Each run's and each cluster's values from its first row.
INSERT INTO cluster_runs (cluster_run_id, cluster_model_id, cluster_model_version, created_at)
SELECT cluster_run_id, cluster_model_id, cluster_model_version, created_at FROM (
    SELECT cluster_run_id, cluster_model_id, cluster_model_version, created_at, MIN(id)
    FROM job_clusters GROUP BY cluster_run_id);
INSERT INTO cluster_run_clusters (run_key, cluster_id, cluster_name, cluster_keywords,
    cluster_size)
SELECT r.run_key, f.cluster_id, f.cluster_name, f.cluster_keywords, f.cluster_size FROM (
    SELECT cluster_run_id, cluster_id, cluster_name, cluster_keywords, cluster_size, MIN(id)
    FROM job_clusters GROUP BY cluster_run_id, cluster_id) f
JOIN cluster_runs r ON r.cluster_run_id = f.cluster_run_id;

INSERT INTO job_clusters_data (run_key, job_posting_id, cluster_version, cluster_id, is_active,
    cluster_assignment_id, enrichment_id, cluster_name, cluster_keywords, cluster_size,
    cluster_model_id, cluster_model_version, created_at)
SELECT r.run_key, j.job_posting_id, j.cluster_version, j.cluster_id, j.is_active,
    "#,
    uuid_blob_sql!("j.cluster_assignment_id"),
    ", ",
    uuid_blob_sql!("j.enrichment_id"),
    r#",
    CASE WHEN j.cluster_name IS c.cluster_name THEN NULL ELSE j.cluster_name END,
    CASE WHEN j.cluster_keywords IS c.cluster_keywords THEN NULL ELSE j.cluster_keywords END,
    CASE WHEN j.cluster_size IS c.cluster_size THEN NULL ELSE j.cluster_size END,
    CASE WHEN j.cluster_model_id IS r.cluster_model_id THEN NULL ELSE j.cluster_model_id END,
    CASE WHEN j.cluster_model_version IS r.cluster_model_version THEN NULL
         ELSE j.cluster_model_version END,
    CASE WHEN j.created_at IS r.created_at THEN NULL ELSE j.created_at END
FROM job_clusters j
JOIN cluster_runs r ON r.cluster_run_id = j.cluster_run_id
JOIN cluster_run_clusters c ON c.run_key = r.run_key AND c.cluster_id = j.cluster_id
ORDER BY r.run_key, j.job_posting_id, j.cluster_version;
DROP TABLE job_clusters;

-- The seed table's key: a job's history and its next version.
CREATE UNIQUE INDEX idx_job_clusters_version ON job_clusters_data (job_posting_id, cluster_version);
CREATE UNIQUE INDEX idx_job_clusters_one_active
    ON job_clusters_data (job_posting_id) WHERE is_active = 1;
-- The newest run by a seek: runs by time, and the rare rows with their own time.
CREATE INDEX idx_cluster_runs_created ON cluster_runs (created_at);
CREATE INDEX idx_job_clusters_own_created ON job_clusters_data (created_at, run_key)
    WHERE created_at IS NOT NULL;

CREATE VIEW job_clusters AS
SELECT d.job_posting_id, d.cluster_id,
    COALESCE(d.cluster_name, c.cluster_name) AS cluster_name,
    COALESCE(d.cluster_keywords, c.cluster_keywords) AS cluster_keywords,
    COALESCE(d.cluster_size, c.cluster_size) AS cluster_size,
    r.cluster_run_id,
    COALESCE(d.cluster_model_id, r.cluster_model_id) AS cluster_model_id,
    COALESCE(d.cluster_model_version, r.cluster_model_version) AS cluster_model_version,
    d.cluster_version, d.is_active,
    COALESCE(d.created_at, r.created_at) AS created_at, "#,
    uuid_text_sql!("d.cluster_assignment_id"),
    r#" AS cluster_assignment_id, "#,
    uuid_text_sql!("d.enrichment_id"),
    r#" AS enrichment_id
FROM job_clusters_data d
JOIN cluster_runs r ON r.run_key = d.run_key
JOIN cluster_run_clusters c ON c.run_key = d.run_key AND c.cluster_id = d.cluster_id;

-- Writes through the view land in the tables above. The table's NOT NULL
-- rules are checked first: a NULL would otherwise read as the shared value.
CREATE TRIGGER job_clusters_insert INSTEAD OF INSERT ON job_clusters
BEGIN
    SELECT RAISE(ABORT, 'NOT NULL constraint failed: job_clusters.cluster_name')
    WHERE NEW.cluster_name IS NULL;
    SELECT RAISE(ABORT, 'NOT NULL constraint failed: job_clusters.cluster_keywords')
    WHERE NEW.cluster_keywords IS NULL;
    SELECT RAISE(ABORT, 'NOT NULL constraint failed: job_clusters.cluster_size')
    WHERE NEW.cluster_size IS NULL;
    SELECT RAISE(ABORT, 'NOT NULL constraint failed: job_clusters.cluster_run_id')
    WHERE NEW.cluster_run_id IS NULL;
    SELECT RAISE(ABORT, 'NOT NULL constraint failed: job_clusters.cluster_model_id')
    WHERE NEW.cluster_model_id IS NULL;
    SELECT RAISE(ABORT, 'NOT NULL constraint failed: job_clusters.cluster_model_version')
    WHERE NEW.cluster_model_version IS NULL;
    SELECT RAISE(ABORT, 'NOT NULL constraint failed: job_clusters.created_at')
    WHERE NEW.created_at IS NULL;
    -- NOT EXISTS, not OR IGNORE: an outer INSERT OR REPLACE would turn that
    -- into a replace, giving the run a new key and orphaning its rows.
    INSERT INTO cluster_runs (cluster_run_id, cluster_model_id, cluster_model_version, created_at)
    SELECT NEW.cluster_run_id, NEW.cluster_model_id, NEW.cluster_model_version, NEW.created_at
    WHERE NOT EXISTS (SELECT 1 FROM cluster_runs WHERE cluster_run_id = NEW.cluster_run_id);
    INSERT INTO cluster_run_clusters (run_key, cluster_id, cluster_name, cluster_keywords,
        cluster_size)
    SELECT r.run_key, NEW.cluster_id, NEW.cluster_name, NEW.cluster_keywords, NEW.cluster_size
    FROM cluster_runs r WHERE r.cluster_run_id = NEW.cluster_run_id
      AND NOT EXISTS (SELECT 1 FROM cluster_run_clusters c
                      WHERE c.run_key = r.run_key AND c.cluster_id = NEW.cluster_id);
    INSERT INTO job_clusters_data (run_key, job_posting_id, cluster_version, cluster_id,
        is_active, cluster_assignment_id, enrichment_id, cluster_name, cluster_keywords,
        cluster_size, cluster_model_id, cluster_model_version, created_at)
    SELECT r.run_key, NEW.job_posting_id, NEW.cluster_version, NEW.cluster_id,
        COALESCE(NEW.is_active, 1), "#,
    uuid_blob_sql!("COALESCE(NEW.cluster_assignment_id, '')"),
    ", ",
    uuid_blob_sql!("NEW.enrichment_id"),
    r#",
        CASE WHEN NEW.cluster_name IS c.cluster_name THEN NULL ELSE NEW.cluster_name END,
        CASE WHEN NEW.cluster_keywords IS c.cluster_keywords THEN NULL
             ELSE NEW.cluster_keywords END,
        CASE WHEN NEW.cluster_size IS c.cluster_size THEN NULL ELSE NEW.cluster_size END,
        CASE WHEN NEW.cluster_model_id IS r.cluster_model_id THEN NULL
             ELSE NEW.cluster_model_id END,
        CASE WHEN NEW.cluster_model_version IS r.cluster_model_version THEN NULL
             ELSE NEW.cluster_model_version END,
        CASE WHEN NEW.created_at IS r.created_at THEN NULL ELSE NEW.created_at END
    FROM cluster_runs r
    JOIN cluster_run_clusters c ON c.run_key = r.run_key AND c.cluster_id = NEW.cluster_id
    WHERE r.cluster_run_id = NEW.cluster_run_id;
END;
-- A run (and its clusters) goes with its last assignment.
CREATE TRIGGER job_clusters_delete INSTEAD OF DELETE ON job_clusters
BEGIN
    DELETE FROM job_clusters_data
    WHERE job_posting_id = OLD.job_posting_id AND cluster_version = OLD.cluster_version;
    DELETE FROM cluster_run_clusters
    WHERE run_key = (SELECT run_key FROM cluster_runs WHERE cluster_run_id = OLD.cluster_run_id)
      AND NOT EXISTS (SELECT 1 FROM job_clusters_data d
                      WHERE d.run_key = cluster_run_clusters.run_key);
    DELETE FROM cluster_runs
    WHERE cluster_run_id = OLD.cluster_run_id
      AND NOT EXISTS (SELECT 1 FROM job_clusters_data d WHERE d.run_key = cluster_runs.run_key);
END;
CREATE TRIGGER job_clusters_update INSTEAD OF UPDATE ON job_clusters
BEGIN
    DELETE FROM job_clusters
    WHERE job_posting_id = OLD.job_posting_id AND cluster_version = OLD.cluster_version;
    INSERT INTO job_clusters (job_posting_id, cluster_id, cluster_name, cluster_keywords,
        cluster_size, cluster_run_id, cluster_model_id, cluster_model_version, cluster_version,
        is_active, created_at, cluster_assignment_id, enrichment_id)
    VALUES (NEW.job_posting_id, NEW.cluster_id, NEW.cluster_name, NEW.cluster_keywords,
        NEW.cluster_size, NEW.cluster_run_id, NEW.cluster_model_id, NEW.cluster_model_version,
        NEW.cluster_version, NEW.is_active, NEW.created_at, NEW.cluster_assignment_id,
        NEW.enrichment_id);
END;
"#
);

#[cfg(test)]
mod tests {
    use crate::migrations::tests::strings;
    use crate::SqliteStore;
    use jobenrich_domain::{
        ClusterKeyword, ClusterRepository, ClusteringRun, JobId, ModelId, ModelVersion,
        NewClusterAssignment, SchemaMigrator,
    };
    use rusqlite::{params, Connection};

    /// Every column of `job_clusters`, one line per row.
    const CLUSTER_ROWS: &str = "SELECT job_posting_id || '|' || cluster_id || '|' || cluster_name
            || '|' || cluster_keywords || '|' || cluster_size || '|' || cluster_run_id || '|'
            || cluster_model_id || '|' || cluster_model_version || '|' || cluster_version || '|'
            || is_active || '|' || created_at || '|' || cluster_assignment_id || '|'
            || COALESCE(enrichment_id, '-') || '|' || typeof(cluster_size) || typeof(created_at)
        FROM job_clusters ORDER BY job_posting_id, cluster_version";

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[tokio::test]
    async fn migration_14_stores_run_and_cluster_values_once_and_every_column_reads_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v13.db");
        let store = SqliteStore::open(&path).unwrap();
        store.migrate_to(13).await.unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "INSERT INTO job_postings (job_posting_id, title, description, ingested_at)
             VALUES ('p1', 'Dev', 'text', 1), ('p2', 'Dev', 'text', 1), ('p3', 'Dev', 'text', 1);",
        )
        .unwrap();
        let e1 = "00000000-0000-4000-8000-0000000000e1";
        // (job, cluster, name, run, version, active, created_at, assignment id, enrichment)
        type Row<'a> = (
            &'a str,
            i64,
            &'a str,
            &'a str,
            i64,
            i64,
            i64,
            &'a str,
            Option<&'a str>,
        );
        let rows: [Row; 6] = [
            (
                "p1",
                0,
                "data",
                "r1",
                1,
                0,
                10,
                "00000000-0000-4000-8000-0000000000a1",
                Some(e1),
            ),
            (
                "p2",
                0,
                "data",
                "r1",
                1,
                0,
                10,
                "00000000-0000-4000-8000-0000000000a2",
                None,
            ),
            (
                "p3",
                1,
                "web",
                "r1",
                1,
                0,
                10,
                "00000000-0000-4000-8000-0000000000a3",
                None,
            ),
            // A pre-extension dataset's legacy run: one time per row, a
            // name apart, an id that is not a UUID.
            ("p1", 4, "systems", "legacy", 2, 1, 30, "legacy-id", None),
            (
                "p2",
                4,
                "systems!",
                "legacy",
                2,
                1,
                20,
                "00000000-0000-4000-8000-0000000000b2",
                None,
            ),
            (
                "p3",
                1,
                "web",
                "r2",
                2,
                1,
                40,
                "00000000-0000-4000-8000-0000000000b3",
                Some(e1),
            ),
        ];
        for (job, cluster, name, run, version, active, at, id, enrichment) in rows {
            conn.execute(
                "INSERT INTO job_clusters (job_posting_id, cluster_id, cluster_name,
                     cluster_keywords, cluster_size, cluster_run_id, cluster_model_id,
                     cluster_model_version, cluster_version, is_active, created_at,
                     cluster_assignment_id, enrichment_id)
                 VALUES (?1, ?2, ?3, '[{\"term\":\"sql\",\"score\":0.5}]', 2, ?4, 'job_clusterer',
                     'v1.0', ?5, ?6, ?7, ?8, ?9)",
                params![job, cluster, name, run, version, active, at, id, enrichment],
            )
            .unwrap();
        }
        let before = strings(&conn, CLUSTER_ROWS);
        store.migrate().await.unwrap();
        assert_eq!(
            strings(&conn, CLUSTER_ROWS),
            before,
            "every column reads as before"
        );
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM cluster_runs"), 3);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM cluster_run_clusters"), 4);
        assert_eq!(
            strings(
                &conn,
                "SELECT job_posting_id || ' ' || COALESCE(cluster_name, '-') || ' '
                     || COALESCE(created_at, '-') || ' ' || typeof(cluster_assignment_id)
                     || ' ' || typeof(enrichment_id) || ' ' || COALESCE(cluster_keywords, '-')
                 FROM job_clusters_data ORDER BY job_posting_id, cluster_version"
            ),
            [
                "p1 - - blob blob -",
                "p1 - - text null -",
                "p2 - - blob null -",
                "p2 systems! 20 blob null -",
                "p3 - - blob null -",
                "p3 - - blob blob -",
            ],
            "only what differs from its run or cluster is kept on the row"
        );

        // The adapter reads every column, and the newest run is the one with
        // the newest time even when only a row holds it.
        let history = store
            .assignment_history(&JobId::parse("p2").unwrap())
            .await
            .unwrap();
        assert_eq!(
            history
                .iter()
                .map(|a| a.cluster_name.as_str())
                .collect::<Vec<_>>(),
            ["data", "systems!"]
        );
        assert_eq!(history[1].created_at.timestamp_micros(), 20);
        assert_eq!(
            store
                .latest_clustering_run()
                .await
                .unwrap()
                .unwrap()
                .cluster_run_id,
            "r2"
        );
        conn.execute(
            "UPDATE job_clusters SET created_at = 50 WHERE job_posting_id = 'p1' AND cluster_version = 2",
            [],
        )
        .unwrap();
        let latest = store.latest_clustering_run().await.unwrap().unwrap();
        assert_eq!(
            (
                latest.cluster_run_id.as_str(),
                latest.job_count,
                latest.cluster_count
            ),
            ("legacy", 2, 1)
        );
        assert_eq!(
            latest.assigned_at.timestamp_micros(),
            20,
            "MIN over the run's rows"
        );

        // Writes through the view keep the table's rules.
        let missing = conn.execute(
            "INSERT INTO job_clusters (job_posting_id, cluster_id, cluster_name, cluster_keywords,
                 cluster_size, cluster_run_id, cluster_model_id, cluster_model_version,
                 cluster_version, created_at)
             VALUES ('p1', 1, NULL, '[]', 1, 'r2', 'm', 'v1.0', 3, 0)",
            [],
        );
        assert!(missing
            .unwrap_err()
            .to_string()
            .contains("NOT NULL constraint failed: job_clusters.cluster_name"));
        let second_active = conn.execute(
            "INSERT INTO job_clusters (job_posting_id, cluster_id, cluster_name, cluster_keywords,
                 cluster_size, cluster_run_id, cluster_model_id, cluster_model_version,
                 cluster_version, created_at)
             VALUES ('p3', 1, 'web', '[]', 1, 'r3', 'm', 'v1.0', 3, 0)",
            [],
        );
        assert!(crate::error::is_unique_violation(
            &second_active.unwrap_err()
        ));
        // An outer OR REPLACE reaches the trigger's inserts: the run keeps its
        // key and its other rows.
        conn.execute(
            "INSERT OR REPLACE INTO job_clusters (job_posting_id, cluster_id, cluster_name,
                 cluster_keywords, cluster_size, cluster_run_id, cluster_model_id,
                 cluster_model_version, cluster_version, is_active, created_at)
             VALUES ('p3', 0, 'data', '[]', 2, 'r1', 'job_clusterer', 'v1.0', 9, 0, 10)",
            [],
        )
        .unwrap();
        assert_eq!(
            count(
                &conn,
                "SELECT COUNT(*) FROM job_clusters WHERE cluster_run_id = 'r1'"
            ),
            4
        );
        conn.execute("DELETE FROM job_clusters WHERE cluster_version = 9", [])
            .unwrap();
        // A run and its clusters go with its last assignment.
        conn.execute("DELETE FROM job_clusters WHERE cluster_run_id = 'r2'", [])
            .unwrap();
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM cluster_runs"), 2);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM cluster_run_clusters"), 3);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM job_clusters"), 5);
    }

    #[tokio::test]
    async fn a_recorded_run_stores_its_values_once_and_reads_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.db");
        let store = SqliteStore::open(&path).unwrap();
        store.migrate().await.unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "INSERT INTO job_postings (job_posting_id, title, description, ingested_at)
             VALUES ('p1', 'Dev', 'text', 1), ('p2', 'Dev', 'text', 1), ('p3', 'Dev', 'text', 1);",
        )
        .unwrap();
        let keywords = |t: &str| {
            vec![ClusterKeyword {
                term: t.into(),
                score: 0.5,
            }]
        };
        let mut assignments: Vec<NewClusterAssignment> = ["p1", "p2", "p3"]
            .iter()
            .map(|job| NewClusterAssignment {
                job_posting_id: JobId::parse(*job).unwrap(),
                enrichment_id: None,
                cluster_id: 0,
                cluster_name: "data".into(),
                cluster_keywords: keywords("sql"),
                cluster_size: 3,
            })
            .collect();
        // A cluster whose assignments disagree: the second keeps its own.
        assignments[2].cluster_keywords = keywords("rust");
        let run = ClusteringRun {
            cluster_run_id: "run-1".into(),
            cluster_model_id: ModelId::parse("job_clusterer").unwrap(),
            cluster_model_version: ModelVersion::parse("v1.0").unwrap(),
            assigned_at: chrono::DateTime::from_timestamp_micros(7).unwrap(),
            assignments,
        };
        store.record_clustering_run(&run).await.unwrap();
        assert_eq!(
            strings(
                &conn,
                "SELECT job_posting_id || ' ' || COALESCE(cluster_keywords, '-') || ' '
                     || typeof(cluster_assignment_id) || ' ' || COALESCE(cluster_name, '-')
                     || COALESCE(created_at, '-') || COALESCE(cluster_model_id, '-')
                 FROM job_clusters_data ORDER BY job_posting_id"
            ),
            [
                "p1 - blob ---",
                "p2 - blob ---",
                r#"p3 [{"term":"rust","score":0.5}] blob ---"#
            ]
        );
        let stored = store.assignments_for_run("run-1").await.unwrap();
        assert_eq!(stored.len(), 3);
        for (a, expected) in stored.iter().zip(&run.assignments) {
            assert_eq!(a.cluster_keywords, expected.cluster_keywords);
            assert_eq!(a.cluster_name, "data");
            assert_eq!(a.created_at.timestamp_micros(), 7);
            assert_eq!(a.cluster_run_id, "run-1");
        }
        assert_eq!(
            store.cluster_ids_for_run("run-1").await.unwrap().len(),
            3,
            "read from the tables by the run's key"
        );
    }
}
