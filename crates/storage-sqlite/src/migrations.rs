//! Versioned schema migrations, modelling the data model's history:
//!
//! 1. `initial_tables`: the four original tables (job_postings, job_enrichments,
//!    job_skills, job_clusters) as they were before versioning.
//! 2. `versioning_leases_and_registry`: enrichment versions (existing rows
//!    backfilled with `legacy`), leases and attempts, per-run cluster versions,
//!    and the new tables skill_aliases, section_classifications,
//!    evaluation_results and model_config. Tables whose key changes are rebuilt
//!    (SQLite cannot alter a primary key), copying every row.
//! 3. `recommended_indexes`: lookup indexes plus the uniqueness rules the store
//!    enforces (case-insensitive alias text, one active cluster assignment per
//!    job, one active version per model id).
//! 4. `lean_job_skills_indexes`: job_skills keeps one secondary index, the
//!    UNIQUE (job_id, skill_name, enrichment_version) key. `idx_job_skills_job_id`
//!    repeated that key's first column, and `idx_job_skills_version` took an
//!    insert at one of ~600 places (one per skill name) for every skill row: a
//!    page written per skill name per batch, about as many bytes as the rows
//!    themselves. Its readers (the summary's `top_skills`, `prune`) read every
//!    row of a version, which a scan of the table does without it.
//!
//! Applied migrations are recorded in `schema_migrations`; each runs in its own
//! `BEGIN IMMEDIATE` transaction so concurrent processes migrate once.
//!
//! Timestamps are INTEGER microseconds since the Unix epoch (UTC): exact to the
//! microsecond and they sort correctly. Lists and maps are JSON text.

use chrono::Utc;
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::MigrationReport;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::error::map_sqlite;

/// One step of the schema history.
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The schema history, in order. Never edit an applied migration: add one.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_initial_tables",
        sql: MIGRATION_1_INITIAL_TABLES,
    },
    Migration {
        version: 2,
        name: "0002_versioning_leases_and_registry",
        sql: MIGRATION_2_VERSIONING,
    },
    Migration {
        version: 3,
        name: "0003_recommended_indexes",
        sql: MIGRATION_3_INDEXES,
    },
    Migration {
        version: 4,
        name: "0004_lean_job_skills_indexes",
        sql: MIGRATION_4_LEAN_JOB_SKILLS_INDEXES,
    },
];

/// The latest schema version this build knows.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

pub const MIGRATION_1_INITIAL_TABLES: &str = r#"
CREATE TABLE job_postings (
    id          TEXT PRIMARY KEY NOT NULL,
    title       TEXT NOT NULL,
    company     TEXT,
    location    TEXT,
    description TEXT NOT NULL,
    posted_at   INTEGER,
    source      TEXT,
    url         TEXT,
    ingested_at INTEGER NOT NULL
);

CREATE TABLE job_enrichments (
    job_id          TEXT NOT NULL REFERENCES job_postings(id),
    enrichment_type TEXT NOT NULL,
    status          TEXT NOT NULL,
    model_id        TEXT,
    model_version   TEXT,
    error_message   TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    completed_at    INTEGER,
    PRIMARY KEY (job_id, enrichment_type)
);

CREATE TABLE job_skills (
    id                INTEGER PRIMARY KEY,
    job_id            TEXT NOT NULL REFERENCES job_postings(id),
    skill_name        TEXT NOT NULL,
    skill_category    TEXT NOT NULL,
    confidence_score  REAL NOT NULL,
    source_strategies TEXT NOT NULL,
    context_snippet   TEXT,
    position_in_text  INTEGER,
    created_at        INTEGER NOT NULL,
    UNIQUE (job_id, skill_name)
);

CREATE TABLE job_clusters (
    job_id           TEXT PRIMARY KEY NOT NULL REFERENCES job_postings(id),
    cluster_id       INTEGER NOT NULL,
    cluster_name     TEXT NOT NULL,
    cluster_keywords TEXT NOT NULL,
    cluster_size     INTEGER NOT NULL,
    assigned_at      INTEGER NOT NULL
);
"#;

pub const MIGRATION_2_VERSIONING: &str = r#"
-- job_enrichments: the key gains enrichment_version, rows gain lease and attempt columns.
ALTER TABLE job_enrichments RENAME TO job_enrichments_v1;
CREATE TABLE job_enrichments (
    job_id             TEXT NOT NULL REFERENCES job_postings(id),
    enrichment_type    TEXT NOT NULL,
    enrichment_version TEXT NOT NULL DEFAULT 'legacy',
    status             TEXT NOT NULL
        CHECK (status IN ('pending', 'processing', 'success', 'failed')),
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
    PRIMARY KEY (job_id, enrichment_type, enrichment_version)
);
INSERT INTO job_enrichments (job_id, enrichment_type, enrichment_version, status, model_id,
    model_version, attempts, error_message, created_at, updated_at, completed_at)
SELECT job_id, enrichment_type, 'legacy', status, model_id, model_version,
    CASE WHEN status = 'pending' THEN 0 ELSE 1 END,
    error_message, created_at, updated_at, completed_at
FROM job_enrichments_v1;
DROP TABLE job_enrichments_v1;

-- job_skills: unique per (job, skill, enrichment_version); provenance columns.
ALTER TABLE job_skills RENAME TO job_skills_v1;
CREATE TABLE job_skills (
    id                      INTEGER PRIMARY KEY,
    job_id                  TEXT NOT NULL REFERENCES job_postings(id),
    skill_name              TEXT NOT NULL,
    skill_category          TEXT NOT NULL,
    confidence_score        REAL NOT NULL,
    source_strategies       TEXT NOT NULL,
    section_relevance_score REAL,
    extracted_from_section  TEXT,
    context_snippet         TEXT,
    position_in_text        INTEGER,
    mention_count           INTEGER NOT NULL DEFAULT 1,
    taxonomy_ref            TEXT,
    enrichment_version      TEXT NOT NULL DEFAULT 'legacy',
    created_at              INTEGER NOT NULL,
    UNIQUE (job_id, skill_name, enrichment_version)
);
INSERT INTO job_skills (id, job_id, skill_name, skill_category, confidence_score,
    source_strategies, context_snippet, position_in_text, enrichment_version, created_at)
SELECT id, job_id, skill_name, skill_category, confidence_score, source_strategies,
    context_snippet, position_in_text, 'legacy', created_at
FROM job_skills_v1;
DROP TABLE job_skills_v1;

-- job_clusters: one row per job and run; earlier runs are kept inactive.
ALTER TABLE job_clusters RENAME TO job_clusters_v1;
CREATE TABLE job_clusters (
    id                    INTEGER PRIMARY KEY,
    job_id                TEXT NOT NULL REFERENCES job_postings(id),
    cluster_id            INTEGER NOT NULL,
    cluster_name          TEXT NOT NULL,
    cluster_keywords      TEXT NOT NULL,
    cluster_size          INTEGER NOT NULL,
    cluster_run_id        TEXT NOT NULL,
    cluster_model_id      TEXT NOT NULL,
    cluster_model_version TEXT NOT NULL,
    cluster_version       INTEGER NOT NULL CHECK (cluster_version >= 1),
    is_active             INTEGER NOT NULL DEFAULT 1,
    assigned_at           INTEGER NOT NULL,
    UNIQUE (job_id, cluster_version)
);
INSERT INTO job_clusters (job_id, cluster_id, cluster_name, cluster_keywords, cluster_size,
    cluster_run_id, cluster_model_id, cluster_model_version, cluster_version, is_active,
    assigned_at)
SELECT job_id, cluster_id, cluster_name, cluster_keywords, cluster_size,
    'legacy', 'legacy', 'v0.0', 1, 1, assigned_at
FROM job_clusters_v1;
DROP TABLE job_clusters_v1;

CREATE TABLE skill_aliases (
    -- Unicode-lower-cased, trimmed alias_text (SkillAlias::normalized_key):
    -- SQLite's lower() folds ASCII only, so the key is computed by the adapter.
    alias_key      TEXT NOT NULL,
    alias_text     TEXT NOT NULL,
    canonical_name TEXT NOT NULL,
    category       TEXT NOT NULL,
    confidence     REAL NOT NULL,
    source         TEXT NOT NULL,
    is_active      INTEGER NOT NULL DEFAULT 1,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE section_classifications (
    job_id                TEXT NOT NULL REFERENCES job_postings(id),
    classifier_version    TEXT NOT NULL,
    section_index         INTEGER NOT NULL CHECK (section_index >= 0),
    section_header        TEXT,
    section_type          TEXT NOT NULL,
    section_text          TEXT NOT NULL,
    start_offset          INTEGER NOT NULL,
    end_offset            INTEGER NOT NULL,
    is_skills_relevant    INTEGER NOT NULL,
    relevance_probability REAL NOT NULL,
    classification_method TEXT NOT NULL,
    created_at            INTEGER NOT NULL,
    PRIMARY KEY (job_id, classifier_version, section_index)
);

CREATE TABLE evaluation_results (
    evaluation_id          TEXT PRIMARY KEY NOT NULL,
    model_id               TEXT NOT NULL,
    model_version          TEXT NOT NULL,
    dataset_version        TEXT NOT NULL,
    dataset_path           TEXT,
    precision              REAL NOT NULL,
    recall                 REAL NOT NULL,
    f1_score               REAL NOT NULL,
    category_metrics       TEXT NOT NULL,
    additional_metrics     TEXT NOT NULL,
    sample_count           INTEGER NOT NULL CHECK (sample_count > 0),
    execution_time_seconds REAL NOT NULL,
    is_ci_run              INTEGER NOT NULL,
    ci_build_id            TEXT,
    threshold_passed       INTEGER,
    evaluated_at           INTEGER NOT NULL
);

CREATE TABLE model_config (
    model_id            TEXT NOT NULL,
    version             TEXT NOT NULL,
    model_type          TEXT NOT NULL,
    description         TEXT,
    is_active           INTEGER NOT NULL DEFAULT 0,
    config_overrides    TEXT NOT NULL,
    performance_metrics TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    activated_at        INTEGER,
    activated_by        TEXT,
    PRIMARY KEY (model_id, version)
);
"#;

pub const MIGRATION_3_INDEXES: &str = r#"
-- Claiming: the oldest work of one type and status, read in claim order
-- (no sort of the whole queue); expired leases through the lease index.
CREATE INDEX idx_job_enrichments_type_status
    ON job_enrichments (enrichment_type, status, created_at, job_id, enrichment_version);
CREATE INDEX idx_job_enrichments_lease
    ON job_enrichments (status, lease_expires_at);
CREATE INDEX idx_job_enrichments_version
    ON job_enrichments (enrichment_version, enrichment_type, status);

CREATE INDEX idx_job_skills_job_id ON job_skills (job_id);
CREATE INDEX idx_job_skills_version ON job_skills (enrichment_version, skill_name);

CREATE INDEX idx_job_clusters_run ON job_clusters (cluster_run_id, job_id);
-- The one-active invariant, enforced by the store itself.
CREATE UNIQUE INDEX idx_job_clusters_one_active
    ON job_clusters (job_id) WHERE is_active = 1;

CREATE UNIQUE INDEX idx_skill_aliases_key ON skill_aliases (alias_key);
CREATE INDEX idx_skill_aliases_active ON skill_aliases (is_active, alias_key);

CREATE INDEX idx_section_classifications_version
    ON section_classifications (classifier_version);

CREATE INDEX idx_evaluation_results_model
    ON evaluation_results (model_id, evaluated_at, evaluation_id);

CREATE UNIQUE INDEX idx_model_config_one_active
    ON model_config (model_id) WHERE is_active = 1;
CREATE INDEX idx_model_config_type_active ON model_config (model_type, is_active);
"#;

pub const MIGRATION_4_LEAN_JOB_SKILLS_INDEXES: &str = r#"
-- Lookups by job use the UNIQUE (job_id, skill_name, enrichment_version) index.
DROP INDEX idx_job_skills_job_id;
-- Every reader by version reads all rows of that version: a table scan.
DROP INDEX idx_job_skills_version;
"#;

const CREATE_SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    applied_at INTEGER NOT NULL
)";

/// The highest applied migration version (0 for an empty database).
pub fn schema_version(conn: &Connection) -> StoreResult<u32> {
    let has_table: bool = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |_| Ok(true),
        )
        .optional()
        .map_err(map_sqlite)?
        .unwrap_or(false);
    if !has_table {
        return Ok(0);
    }
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get::<_, u32>(0),
    )
    .map_err(map_sqlite)
}

/// A database with tables but no migration history belongs to something
/// else: migrating it would fail halfway (leaving `schema_migrations` behind)
/// or mix our tables into it. Checked before anything is written.
fn refuse_foreign_database(conn: &Connection) -> StoreResult<()> {
    let mut statement = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .map_err(map_sqlite)?;
    let tables: Vec<String> = statement
        .query_map([], |r| r.get(0))
        .map_err(map_sqlite)?
        .collect::<Result<_, _>>()
        .map_err(map_sqlite)?;
    if tables.is_empty() || tables.iter().any(|t| t == "schema_migrations") {
        return Ok(());
    }
    const SHOWN: usize = 5;
    let mut listed = tables
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if tables.len() > SHOWN {
        listed.push_str(&format!(" and {} more", tables.len() - SHOWN));
    }
    Err(jobenrich_domain::StoreError::Backend(format!(
        "not a jobenrich database: it has tables ({listed}) but no schema_migrations; point storage.sqlite.path at a new file"
    )))
}

/// Applies the migrations of `MIGRATIONS` above the current version, up to `target`.
pub fn migrate_to(conn: &mut Connection, target: u32) -> StoreResult<MigrationReport> {
    refuse_foreign_database(conn)?;
    conn.execute_batch(CREATE_SCHEMA_TABLE)
        .map_err(map_sqlite)?;
    let current = schema_version(conn)?;
    if current > latest_version() {
        // An older build must not write into a schema it does not know.
        return Err(jobenrich_domain::StoreError::Backend(format!(
            "database schema version {current} is newer than this build's {}: upgrade jobenrich",
            latest_version()
        )));
    }
    let mut applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| m.version <= target) {
        // Re-checked inside the write lock: another process may have applied it.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_sqlite)?;
        let done: bool = tx
            .query_row(
                "SELECT 1 FROM schema_migrations WHERE version = ?1",
                params![migration.version],
                |_| Ok(true),
            )
            .optional()
            .map_err(map_sqlite)?
            .unwrap_or(false);
        if done {
            continue;
        }
        tx.execute_batch(migration.sql).map_err(|e| {
            jobenrich_domain::StoreError::Backend(format!(
                "migration {} failed: {e}",
                migration.name
            ))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![
                migration.version,
                migration.name,
                Utc::now().timestamp_micros()
            ],
        )
        .map_err(map_sqlite)?;
        tx.commit().map_err(map_sqlite)?;
        tracing::info!(migration = migration.name, "applied schema migration");
        applied.push(migration.name.to_string());
    }
    Ok(MigrationReport {
        applied,
        schema_version: schema_version(conn)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;
    use jobenrich_domain::{
        ClusterRepository, EnrichmentKey, EnrichmentRepository, EnrichmentStatus, EnrichmentType,
        EnrichmentVersion, JobId, JobPostingRepository, SchemaMigrator, SkillRepository,
    };

    /// The first column of every row of `sql`.
    fn strings(conn: &Connection, sql: &str) -> Vec<String> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Rows as a v1 deployment wrote them, before versioning existed.
    const V1_ROWS: &str = r#"
        INSERT INTO job_postings (id, title, company, location, description, posted_at, source, url, ingested_at)
        VALUES ('legacy-1', 'Rust Engineer', 'Acme', NULL, 'Rust and SQL', NULL, 'csv', NULL, 1700000000123456),
               ('legacy-2', 'Analyst', NULL, NULL, 'Excel', NULL, NULL, NULL, 1700000000000000);
        INSERT INTO job_enrichments (job_id, enrichment_type, status, model_id, model_version, error_message, created_at, updated_at, completed_at)
        VALUES ('legacy-1', 'skills_extraction', 'success', 'skills_extractor', 'v0.9', NULL, 1700000001000000, 1700000002000000, 1700000002000000),
               ('legacy-2', 'skills_extraction', 'pending', NULL, NULL, NULL, 1700000001000000, 1700000001000000, NULL);
        INSERT INTO job_skills (job_id, skill_name, skill_category, confidence_score, source_strategies, context_snippet, position_in_text, created_at)
        VALUES ('legacy-1', 'Rust', 'programming_languages', 0.9, '["lexicon"]', 'Rust and', 0, 1700000002000000);
        INSERT INTO job_clusters (job_id, cluster_id, cluster_name, cluster_keywords, cluster_size, assigned_at)
        VALUES ('legacy-1', 4, 'systems', '[{"term":"rust","score":0.5}]', 12, 1700000003000000);
    "#;

    fn legacy() -> EnrichmentVersion {
        EnrichmentVersion::legacy()
    }

    #[tokio::test]
    async fn a_v1_database_with_rows_migrates_keeping_them_and_backfilling_legacy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let store = SqliteStore::open(&path).unwrap();
        let v1 = store.migrate_to(1).await.unwrap();
        assert_eq!(v1.applied, vec!["0001_initial_tables"]);
        Connection::open(&path)
            .unwrap()
            .execute_batch(V1_ROWS)
            .unwrap();

        let report = store.migrate().await.unwrap();
        assert_eq!(
            report.applied,
            vec![
                "0002_versioning_leases_and_registry",
                "0003_recommended_indexes",
                "0004_lean_job_skills_indexes"
            ]
        );
        assert_eq!(report.schema_version, latest_version());
        assert_eq!(store.schema_version().await.unwrap(), 4);

        assert_eq!(store.count_postings().await.unwrap(), 2);
        let posting = store
            .get_posting(&JobId::parse("legacy-1").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(posting.company.as_deref(), Some("Acme"));
        assert_eq!(
            posting.ingested_at.timestamp_micros(),
            1_700_000_000_123_456
        );

        let key = |job: &str| EnrichmentKey {
            job_id: JobId::parse(job).unwrap(),
            enrichment_type: EnrichmentType::SkillsExtraction,
            enrichment_version: legacy(),
        };
        let done = store
            .get_enrichment(&key("legacy-1"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.status, EnrichmentStatus::Success);
        assert_eq!(done.model_version.unwrap().as_str(), "v0.9");
        assert_eq!(done.attempts, 1, "a finished legacy row counts one attempt");
        let waiting = store
            .get_enrichment(&key("legacy-2"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (waiting.status, waiting.attempts),
            (EnrichmentStatus::Pending, 0)
        );

        let skills = store
            .skills_for_job(&JobId::parse("legacy-1").unwrap(), Some(legacy()))
            .await
            .unwrap();
        assert_eq!(skills.len(), 1);
        assert_eq!(skills[0].skill_name, "Rust");
        assert_eq!(skills[0].mention_count, 1);

        let cluster = store
            .active_assignment(&JobId::parse("legacy-1").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                cluster.cluster_id,
                cluster.cluster_version,
                cluster.cluster_run_id.as_str()
            ),
            (4, 1, "legacy")
        );

        let conn = Connection::open(&path).unwrap();
        for table in ["job_enrichments", "job_skills"] {
            let nulls: i64 = conn
                .query_row(
                    &format!("SELECT COUNT(*) FROM {table} WHERE enrichment_version IS NULL OR enrichment_version <> 'legacy'"),
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(
                nulls, 0,
                "{table}: every pre-existing row is backfilled 'legacy'"
            );
        }
        // A new run on top of the legacy assignment gets version 2.
        let run = jobenrich_domain::ClusteringRun {
            cluster_run_id: "run-1".into(),
            cluster_model_id: jobenrich_domain::ModelId::parse("kmeans").unwrap(),
            cluster_model_version: jobenrich_domain::ModelVersion::parse("v1.0").unwrap(),
            assigned_at: chrono::Utc::now(),
            assignments: vec![jobenrich_domain::NewClusterAssignment {
                job_id: JobId::parse("legacy-1").unwrap(),
                cluster_id: 1,
                cluster_name: "c".into(),
                cluster_keywords: vec![],
                cluster_size: 1,
            }],
        };
        let recorded = store.record_clustering_run(&run).await.unwrap();
        assert_eq!(recorded.deactivated, 1);
        let history = store
            .assignment_history(&JobId::parse("legacy-1").unwrap())
            .await
            .unwrap();
        assert_eq!(
            history
                .iter()
                .map(|a| a.cluster_version)
                .collect::<Vec<_>>(),
            [1, 2]
        );
    }

    #[tokio::test]
    async fn migrations_are_recorded_and_idempotent_and_indexes_enforce_the_invariants() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fresh.db");
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().await.unwrap(), 0);
        assert_eq!(
            store.migrate().await.unwrap().applied.len(),
            MIGRATIONS.len()
        );
        assert!(store.migrate().await.unwrap().applied.is_empty());

        let conn = Connection::open(&path).unwrap();
        let recorded = strings(&conn, "SELECT name FROM schema_migrations ORDER BY version");
        assert_eq!(
            recorded,
            MIGRATIONS.iter().map(|m| m.name).collect::<Vec<_>>()
        );

        conn.execute_batch(
            "INSERT INTO job_postings (id, title, description, ingested_at) VALUES ('j', 't', 'd', 0);
             INSERT INTO job_clusters (job_id, cluster_id, cluster_name, cluster_keywords, cluster_size,
                 cluster_run_id, cluster_model_id, cluster_model_version, cluster_version, is_active, assigned_at)
             VALUES ('j', 1, 'c', '[]', 1, 'r1', 'm', 'v1.0', 1, 1, 0);",
        )
        .unwrap();
        let second_active = conn.execute(
            "INSERT INTO job_clusters (job_id, cluster_id, cluster_name, cluster_keywords, cluster_size,
                 cluster_run_id, cluster_model_id, cluster_model_version, cluster_version, is_active, assigned_at)
             VALUES ('j', 2, 'c', '[]', 1, 'r2', 'm', 'v1.0', 2, 1, 0)",
            [],
        );
        assert!(
            crate::error::is_unique_violation(&second_active.unwrap_err()),
            "the partial unique index allows one active assignment per job"
        );
        conn.execute(
            "INSERT INTO model_config (model_id, version, model_type, is_active, config_overrides,
                 performance_metrics, created_at, updated_at) VALUES ('m', 'v1.0', 'clustering', 1, '{}', '{}', 0, 0)",
            [],
        )
        .unwrap();
        let second_model = conn.execute(
            "INSERT INTO model_config (model_id, version, model_type, is_active, config_overrides,
                 performance_metrics, created_at, updated_at) VALUES ('m', 'v2.0', 'clustering', 1, '{}', '{}', 0, 0)",
            [],
        );
        assert!(crate::error::is_unique_violation(
            &second_model.unwrap_err()
        ));
        let orphan = conn.execute(
            "INSERT INTO job_skills (job_id, skill_name, skill_category, confidence_score,
                 source_strategies, created_at) VALUES ('nobody', 's', 'databases', 1, '[]', 0)",
            [],
        );
        assert!(
            orphan.is_err(),
            "foreign keys are enforced on pooled connections too"
        );
    }

    #[tokio::test]
    async fn migrating_a_foreign_database_is_refused_briefly_leaving_it_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("foreign.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE job_postings (x INTEGER); CREATE TABLE invoices (id INTEGER);",
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let err = store.migrate().await.unwrap_err().to_string();
        assert!(
            err.contains("not a jobenrich database") && err.contains("invoices"),
            "{err}"
        );
        assert!(err.len() < 300, "{} bytes: {err}", err.len());
        drop(store);
        let conn = Connection::open(&path).unwrap();
        assert_eq!(
            strings(
                &conn,
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            ),
            ["invoices", "job_postings"]
        );
    }

    #[tokio::test]
    async fn a_database_from_a_newer_build_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("newer.db");
        let store = SqliteStore::open(&path).unwrap();
        store.migrate().await.unwrap();
        Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)",
                [],
            )
            .unwrap();
        let err = store.migrate().await.unwrap_err().to_string();
        assert!(err.contains("99") && err.contains("newer"), "{err}");
    }

    #[tokio::test]
    async fn the_re_enrichment_anti_join_and_claims_search_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.db");
        let store = SqliteStore::open(&path).unwrap();
        store.migrate().await.unwrap();
        let conn = Connection::open(&path).unwrap();
        let plan = |sql: &str| -> String {
            conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
                .join("\n")
        };
        let anti_join = plan(
            "SELECT p.id FROM job_postings p WHERE NOT EXISTS (SELECT 1 FROM job_enrichments e
             WHERE e.job_id = p.id AND e.enrichment_type = 'x' AND e.enrichment_version = 'v'
             AND e.status = 'success') ORDER BY p.id LIMIT 10",
        );
        assert!(
            anti_join.contains("SEARCH e USING INDEX"),
            "the anti-join probes an index: {anti_join}"
        );
        let skills =
            plan("SELECT * FROM job_skills WHERE job_id = 'j' AND enrichment_version = 'v'");
        assert!(
            skills.contains("SEARCH"),
            "skills of a job are found by index: {skills}"
        );
        let skill_indexes = strings(
            &conn,
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'job_skills'",
        );
        assert_eq!(
            skill_indexes,
            ["sqlite_autoindex_job_skills_1"],
            "job_skills keeps only its UNIQUE key: each index costs an insert per skill row"
        );
    }
}
