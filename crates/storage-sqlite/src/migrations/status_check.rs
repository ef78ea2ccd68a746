//! Migration 17, `status_check_without_list`: `job_enrichments` is rebuilt
//! with the same columns, rows and rowids, and two changes that cut what each
//! status change costs the writer (three per posting: ingest, claim,
//! completion).
//!
//! - The status CHECK is four equalities instead of `status IN (…)`. SQLite
//!   evaluates a constant IN list of more than two values by building a
//!   temporary b-tree of the values, once per statement execution: 2.1 % of
//!   every instruction a rules `run` retired went to it.
//! - The lease index is partial, on (`enrichment_type`, `lease_expires_at`)
//!   of `processing` rows only, the rows both lease queries read. Pending
//!   and finished rows (all but the in-flight ones) no longer have an entry
//!   to keep up; the type in the key keeps the planner on this index, which
//!   visits expired leases only, however many are in flight.

pub const MIGRATION_17_STATUS_CHECK_WITHOUT_LIST: &str = r#"
CREATE TABLE job_enrichments_rebuilt (
    job_posting_id     TEXT NOT NULL REFERENCES job_postings(job_posting_id),
    enrichment_type    TEXT NOT NULL,
    enrichment_version TEXT NOT NULL DEFAULT 'legacy',
    status             TEXT NOT NULL
        CHECK (status = 'pending' OR status = 'processing' OR status = 'success'
               OR status = 'failed'),
    model_id           TEXT,
    model_version      TEXT,
    attempts           INTEGER NOT NULL DEFAULT 0,
    error_message      TEXT,
    lease_owner        TEXT,
    lease_expires_at   INTEGER,
    next_attempt_at    INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    completed_at       INTEGER,
    enrichment_id      TEXT NOT NULL DEFAULT '',
    metadata           TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (job_posting_id, enrichment_type, enrichment_version)
);

INSERT INTO job_enrichments_rebuilt (rowid, job_posting_id, enrichment_type, enrichment_version,
    status, model_id, model_version, attempts, error_message, lease_owner, lease_expires_at,
    next_attempt_at, created_at, updated_at, completed_at, enrichment_id, metadata)
SELECT rowid, job_posting_id, enrichment_type, enrichment_version, status, model_id,
    model_version, attempts, error_message, lease_owner, lease_expires_at, next_attempt_at,
    created_at, updated_at, completed_at, enrichment_id, metadata
FROM job_enrichments;

DROP TABLE job_enrichments;
ALTER TABLE job_enrichments_rebuilt RENAME TO job_enrichments;

CREATE INDEX idx_job_enrichments_type_status
    ON job_enrichments (enrichment_type, status, created_at, job_posting_id, enrichment_version);
CREATE INDEX idx_job_enrichments_lease
    ON job_enrichments (enrichment_type, lease_expires_at) WHERE status = 'processing';
CREATE INDEX idx_job_enrichments_version
    ON job_enrichments (enrichment_version, enrichment_type, status);
CREATE UNIQUE INDEX idx_job_enrichments_id ON job_enrichments (enrichment_id);
"#;

#[cfg(test)]
mod tests {
    use crate::migrations::tests::{query_plan, strings};
    use crate::SqliteStore;
    use jobenrich_domain::SchemaMigrator;
    use rusqlite::Connection;

    /// Every column of every enrichment row, with its rowid, as text.
    const ROWS: &str = "SELECT rowid || '|' || job_posting_id || '|' || enrichment_type || '|' ||
            enrichment_version || '|' || status || '|' || COALESCE(model_id, '-') || '|' ||
            COALESCE(model_version, '-') || '|' || attempts || '|' ||
            COALESCE(error_message, '-') || '|' || COALESCE(lease_owner, '-') || '|' ||
            COALESCE(lease_expires_at, '-') || '|' || COALESCE(next_attempt_at, '-') || '|' ||
            created_at || '|' || updated_at || '|' || COALESCE(completed_at, '-') || '|' ||
            enrichment_id || '|' || metadata
        FROM job_enrichments ORDER BY rowid";

    #[tokio::test]
    async fn migration_17_keeps_every_row_and_still_refuses_an_unknown_status() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v16.db");
        let store = SqliteStore::open(&path).unwrap();
        store.migrate_to(16).await.unwrap();
        let conn = Connection::open(&path).unwrap();
        // One row per status, rowids with a gap, a legacy version.
        conn.execute_batch(
            "INSERT INTO job_postings (job_posting_id, title, description, ingested_at)
             VALUES ('p1', 'Dev', 'Rust', 1), ('p2', 'Ops', 'Bash', 1);
             INSERT INTO job_enrichments (rowid, job_posting_id, enrichment_type,
                 enrichment_version, status, model_id, model_version, attempts, error_message,
                 lease_owner, lease_expires_at, next_attempt_at, created_at, updated_at,
                 completed_at, enrichment_id, metadata)
             VALUES (3, 'p1', 'skills_extraction', 's@v1', 'success', 's', 'v1', 1, NULL, NULL,
                     NULL, NULL, 10, 20, 20, 'e1', '{\"skills\":2}'),
                    (7, 'p2', 'skills_extraction', 's@v1', 'processing', NULL, NULL, 2, NULL,
                     'w1', 99, NULL, 11, 21, NULL, 'e2', '{}'),
                    (8, 'p1', 'embeddings', 'legacy', 'pending', NULL, NULL, 0, NULL, NULL,
                     NULL, 50, 12, 22, NULL, 'e3', '{}'),
                    (9, 'p2', 'embeddings', 'legacy', 'failed', NULL, NULL, 3, 'boom', NULL,
                     NULL, NULL, 13, 23, 23, 'e4', '{}');",
        )
        .unwrap();
        let before = strings(&conn, ROWS);
        assert_eq!(before.len(), 4);

        store.migrate().await.unwrap();
        let conn = Connection::open(&path).unwrap();
        assert_eq!(
            strings(&conn, ROWS),
            before,
            "every row and rowid as before"
        );
        let check: String = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'job_enrichments'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            !check.contains(" IN ("),
            "no IN list left in the table's checks: {check}"
        );
        let refused = conn
            .execute(
                "UPDATE job_enrichments SET status = 'done' WHERE rowid = 3",
                [],
            )
            .unwrap_err()
            .to_string();
        assert!(refused.contains("CHECK"), "{refused}");
        // The indexes are back, the lease index over leased rows only.
        let indexes = strings(
            &conn,
            "SELECT name || ':' || partial FROM pragma_index_list('job_enrichments')
             WHERE origin = 'c' ORDER BY name",
        );
        assert_eq!(
            indexes,
            [
                "idx_job_enrichments_id:0",
                "idx_job_enrichments_lease:1",
                "idx_job_enrichments_type_status:0",
                "idx_job_enrichments_version:0",
            ]
        );
        let leased = strings(
            &conn,
            "SELECT rowid || '' FROM job_enrichments INDEXED BY idx_job_enrichments_lease
             WHERE status = 'processing' AND lease_expires_at <= 100",
        );
        assert_eq!(leased, ["7"]);
    }

    #[tokio::test]
    async fn a_status_change_evaluates_its_check_without_a_temporary_b_tree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("check.db");
        let store = SqliteStore::open(&path).unwrap();
        store.migrate().await.unwrap();
        let conn = Connection::open(&path).unwrap();
        let program = |sql: &str| -> Vec<String> {
            conn.prepare(&format!("EXPLAIN {sql}"))
                .unwrap()
                .query_map([], |r| r.get(1))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        for sql in [
            "UPDATE job_enrichments SET status = 'success' WHERE job_posting_id = 'p'
             AND enrichment_type = 't' AND enrichment_version = 'v'",
            "INSERT INTO job_enrichments (job_posting_id, enrichment_type, status, created_at,
             updated_at) VALUES ('p', 't', 'pending', 1, 1)",
        ] {
            let ops = program(sql);
            assert!(
                !ops.iter().any(|op| op == "OpenEphemeral"),
                "{sql}: {ops:?}"
            );
        }
        // Expired leases are found by the lease index (the claim's query),
        // not by reading every in-flight row of the type.
        let expired = query_plan(
            &conn,
            "SELECT rowid, created_at, job_posting_id, enrichment_version FROM job_enrichments
             WHERE enrichment_type = 'x' AND status = 'processing'
               AND (NULL IS NULL OR enrichment_version = NULL) AND lease_expires_at <= 4
             ORDER BY created_at, job_posting_id, enrichment_version LIMIT 256",
        );
        assert!(
            expired
                .contains("idx_job_enrichments_lease (enrichment_type=? AND lease_expires_at<?)"),
            "{expired}"
        );
    }
}
