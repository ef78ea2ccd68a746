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
//! 5. `seed_names`: the seed's table and column names and ids. `job_id` (and
//!    `job_postings.id`) become `job_posting_id`; every row gets its seed id
//!    (`enrichment_id`, `skill_id`, `classification_id`,
//!    `cluster_assignment_id`, `alias_id`, random UUIDs for existing rows);
//!    results reference their enrichment (`enrichment_id`, matched on job and
//!    version); enrichments gain `metadata`, aliases `created_by` (`legacy`
//!    for existing rows) and `skill_category`, model configs
//!    `training_data_version` / `training_date`, evaluations the seed's
//!    `overall_*` / `evaluation_date` names. Renames keep every row, index and
//!    foreign key (SQLite rewrites them).
//! 6. `mention_spans`: `job_skills.mention_spans`, every mention of the skill
//!    as a JSON array of `[start, end]` char offsets. Existing rows keep NULL,
//!    read as no spans (they were never recorded).
//! 7. `job_embeddings`: one vector per (embeddings version, job) as a
//!    little-endian float32 BLOB of `dimension * 4` bytes. Keyed version
//!    first, WITHOUT ROWID: a page of one version is a range read of the key.
//!
//! 8. `taxonomy_links`: `job_skills.taxonomy_links`, a skill's ranked ESCO
//!    candidates as JSON (NULL: none).
//! 9. `lean_result_tables`: sections keep their text only where it is not
//!    the posting's slice at their offsets (`section_classifications_data`,
//!    WITHOUT ROWID; `section_classifications` becomes a view with every seed
//!    column), and `job_skills` is keyed WITHOUT ROWID by its natural key
//!    (no rowid, no second copy of the key in a unique index). About 7 KB
//!    less per posting (docs/performance.md).
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
    Migration {
        version: 5,
        name: "0005_seed_names",
        sql: MIGRATION_5_SEED_NAMES,
    },
    Migration {
        version: 6,
        name: "0006_mention_spans",
        sql: MIGRATION_6_MENTION_SPANS,
    },
    Migration {
        version: 7,
        name: "0007_job_embeddings",
        sql: MIGRATION_7_JOB_EMBEDDINGS,
    },
    Migration {
        version: 8,
        name: "0008_taxonomy_links",
        sql: MIGRATION_8_TAXONOMY_LINKS,
    },
    Migration {
        version: 9,
        name: "0009_lean_result_tables",
        sql: MIGRATION_9_LEAN_RESULT_TABLES,
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

/// A random (version 4) UUID in SQL, for the ids of rows that predate them.
macro_rules! uuid_sql {
    () => {
        "(lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || \
         substr(lower(hex(randomblob(2))), 2) || '-' || \
         substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || \
         '-' || lower(hex(randomblob(6))))"
    };
}

pub const MIGRATION_5_SEED_NAMES: &str = concat!(
    r#"
ALTER TABLE job_postings RENAME COLUMN id TO job_posting_id;

ALTER TABLE job_enrichments RENAME COLUMN job_id TO job_posting_id;
-- NOT NULL columns added by ALTER need a default; every writer sets the id.
ALTER TABLE job_enrichments ADD COLUMN enrichment_id TEXT NOT NULL DEFAULT '';
ALTER TABLE job_enrichments ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
UPDATE job_enrichments SET enrichment_id = "#,
    uuid_sql!(),
    r#";
CREATE UNIQUE INDEX idx_job_enrichments_id ON job_enrichments (enrichment_id);

ALTER TABLE job_skills RENAME COLUMN job_id TO job_posting_id;
ALTER TABLE job_skills ADD COLUMN skill_id TEXT NOT NULL DEFAULT '';
ALTER TABLE job_skills ADD COLUMN enrichment_id TEXT;
UPDATE job_skills SET skill_id = "#,
    uuid_sql!(),
    r#";
UPDATE job_skills SET enrichment_id = (
    SELECT e.enrichment_id FROM job_enrichments e
    WHERE e.job_posting_id = job_skills.job_posting_id
      AND e.enrichment_type = 'skills_extraction'
      AND e.enrichment_version = job_skills.enrichment_version);

ALTER TABLE section_classifications RENAME COLUMN job_id TO job_posting_id;
ALTER TABLE section_classifications ADD COLUMN classification_id TEXT NOT NULL DEFAULT '';
UPDATE section_classifications SET classification_id = "#,
    uuid_sql!(),
    r#";

ALTER TABLE job_clusters RENAME COLUMN job_id TO job_posting_id;
ALTER TABLE job_clusters RENAME COLUMN assigned_at TO created_at;
ALTER TABLE job_clusters ADD COLUMN cluster_assignment_id TEXT NOT NULL DEFAULT '';
ALTER TABLE job_clusters ADD COLUMN enrichment_id TEXT;
UPDATE job_clusters SET cluster_assignment_id = "#,
    uuid_sql!(),
    r#";

ALTER TABLE skill_aliases RENAME COLUMN category TO skill_category;
ALTER TABLE skill_aliases ADD COLUMN alias_id TEXT NOT NULL DEFAULT '';
ALTER TABLE skill_aliases ADD COLUMN created_by TEXT NOT NULL DEFAULT 'legacy';
UPDATE skill_aliases SET alias_id = "#,
    uuid_sql!(),
    r#";

ALTER TABLE model_config ADD COLUMN training_data_version TEXT;
ALTER TABLE model_config ADD COLUMN training_date INTEGER;

ALTER TABLE evaluation_results RENAME COLUMN precision TO overall_precision;
ALTER TABLE evaluation_results RENAME COLUMN recall TO overall_recall;
ALTER TABLE evaluation_results RENAME COLUMN f1_score TO overall_f1;
ALTER TABLE evaluation_results RENAME COLUMN evaluated_at TO evaluation_date;
"#
);

pub const MIGRATION_6_MENTION_SPANS: &str = r#"
-- JSON array of [start, end] char offsets; NULL (rows from before) reads as [].
ALTER TABLE job_skills ADD COLUMN mention_spans TEXT;
"#;

pub const MIGRATION_7_JOB_EMBEDDINGS: &str = r#"
CREATE TABLE job_embeddings (
    job_posting_id     TEXT NOT NULL REFERENCES job_postings(job_posting_id),
    enrichment_version TEXT NOT NULL,
    enrichment_id      TEXT,
    model_id           TEXT NOT NULL,
    model_version      TEXT NOT NULL,
    dimension          INTEGER NOT NULL,
    embedding          BLOB NOT NULL,
    source_chars       INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    PRIMARY KEY (enrichment_version, job_posting_id)
) WITHOUT ROWID;
"#;

pub const MIGRATION_8_TAXONOMY_LINKS: &str = r#"
-- JSON array of {label, score, exact}, best first; NULL: no ranked links.
ALTER TABLE job_skills ADD COLUMN taxonomy_links TEXT;
"#;

pub const MIGRATION_9_LEAN_RESULT_TABLES: &str = r#"
-- Sections are slices of their posting's description (postings are never
-- updated): the text is stored only where it is not that slice, and the
-- seed's table name is a view that shows every seed column.
CREATE TABLE section_classifications_data (
    job_posting_id        TEXT NOT NULL REFERENCES job_postings(job_posting_id),
    classifier_version    TEXT NOT NULL,
    section_index         INTEGER NOT NULL CHECK (section_index >= 0),
    section_header        TEXT,
    section_type          TEXT NOT NULL,
    -- NULL: the description's characters [start_offset, end_offset).
    section_text          TEXT,
    start_offset          INTEGER NOT NULL,
    end_offset            INTEGER NOT NULL,
    is_skills_relevant    INTEGER NOT NULL,
    relevance_probability REAL NOT NULL,
    classification_method TEXT NOT NULL,
    created_at            INTEGER NOT NULL,
    classification_id     TEXT NOT NULL,
    PRIMARY KEY (job_posting_id, classifier_version, section_index)
) WITHOUT ROWID;
INSERT INTO section_classifications_data (job_posting_id, classifier_version, section_index,
    section_header, section_type, section_text, start_offset, end_offset, is_skills_relevant,
    relevance_probability, classification_method, created_at, classification_id)
SELECT s.job_posting_id, s.classifier_version, s.section_index, s.section_header,
    s.section_type,
    CASE WHEN s.section_text IS substr(p.description, s.start_offset + 1,
                                       s.end_offset - s.start_offset)
         THEN NULL ELSE s.section_text END,
    s.start_offset, s.end_offset, s.is_skills_relevant, s.relevance_probability,
    s.classification_method, s.created_at, s.classification_id
FROM section_classifications s LEFT JOIN job_postings p ON p.job_posting_id = s.job_posting_id;
DROP TABLE section_classifications;
CREATE VIEW section_classifications AS
SELECT s.job_posting_id, s.classifier_version, s.section_index, s.section_header,
    s.section_type,
    COALESCE(s.section_text, substr(p.description, s.start_offset + 1,
                                    s.end_offset - s.start_offset)) AS section_text,
    s.start_offset, s.end_offset, s.is_skills_relevant, s.relevance_probability,
    s.classification_method, s.created_at, s.classification_id
FROM section_classifications_data s JOIN job_postings p ON p.job_posting_id = s.job_posting_id;

-- job_skills keyed by its natural key WITHOUT ROWID: the key is stored once,
-- in the table, instead of in the table and again in a unique index.
CREATE TABLE job_skills_keyed (
    job_posting_id          TEXT NOT NULL REFERENCES job_postings(job_posting_id),
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
    skill_id                TEXT NOT NULL DEFAULT '',
    enrichment_id           TEXT,
    mention_spans           TEXT,
    taxonomy_links          TEXT,
    PRIMARY KEY (job_posting_id, skill_name, enrichment_version)
) WITHOUT ROWID;
INSERT INTO job_skills_keyed (job_posting_id, skill_name, skill_category, confidence_score,
    source_strategies, section_relevance_score, extracted_from_section, context_snippet,
    position_in_text, mention_count, taxonomy_ref, enrichment_version, created_at, skill_id,
    enrichment_id, mention_spans, taxonomy_links)
SELECT job_posting_id, skill_name, skill_category, confidence_score, source_strategies,
    section_relevance_score, extracted_from_section, context_snippet, position_in_text,
    mention_count, taxonomy_ref, enrichment_version, created_at, skill_id, enrichment_id,
    mention_spans, taxonomy_links
FROM job_skills;
DROP TABLE job_skills;
ALTER TABLE job_skills_keyed RENAME TO job_skills;
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

/// The four tables of a pre-extension dataset, as the seed implies them
/// (`job_postings` keyed by `job_posting_id`, no `schema_migrations`).
const SEED_TABLES: [&str; 4] = [
    "job_clusters",
    "job_skills",
    "job_enrichments",
    "job_postings",
];

/// Copies a pre-extension dataset's rows (moved aside as `seed_<table>`) into
/// the migrated tables, with the documented defaults for the new columns:
/// `enrichment_version = 'legacy'` (older rows of the same job and type
/// `legacy:<enrichment_id>`, so none is lost to the natural key), attempts 0
/// for pending rows and 1 otherwise, a `processing` row's lease expired (so
/// it is reclaimed), skills at their enrichment's version with no strategies
/// recorded, clusters as run `legacy` with versions by creation time and the
/// newest active.
const ADOPT_COPY: &str = r#"
INSERT INTO job_postings (job_posting_id, title, company, location, description, posted_at,
    source, url, ingested_at)
SELECT job_posting_id, title, company, location, description, posted_at, source, url, ingested_at
FROM seed_job_postings;

INSERT INTO job_enrichments (enrichment_id, job_posting_id, enrichment_type, enrichment_version,
    status, attempts, metadata, error_message, lease_owner, lease_expires_at, created_at,
    updated_at)
SELECT enrichment_id, job_posting_id, enrichment_type,
    CASE WHEN ROW_NUMBER() OVER (PARTITION BY job_posting_id, enrichment_type
                                 ORDER BY updated_at DESC, enrichment_id) = 1
         THEN 'legacy' ELSE 'legacy:' || enrichment_id END,
    status, CASE WHEN status = 'pending' THEN 0 ELSE 1 END, COALESCE(metadata, '{}'),
    error_message,
    CASE WHEN status = 'processing' THEN 'legacy' END,
    CASE WHEN status = 'processing' THEN 0 END,
    created_at, updated_at
FROM seed_job_enrichments;

INSERT INTO job_skills (skill_id, job_posting_id, enrichment_id, skill_name, skill_category,
    confidence_score, source_strategies, context_snippet, mention_count, enrichment_version,
    created_at)
SELECT k.skill_id, k.job_posting_id, k.enrichment_id, k.skill_name, k.skill_category,
    k.confidence_score, '[]', k.context_snippet, 1, COALESCE(e.enrichment_version, 'legacy'),
    k.created_at
FROM seed_job_skills k LEFT JOIN job_enrichments e ON e.enrichment_id = k.enrichment_id;

INSERT INTO job_clusters (cluster_assignment_id, job_posting_id, enrichment_id, cluster_id,
    cluster_name, cluster_keywords, cluster_size, cluster_run_id, cluster_model_id,
    cluster_model_version, cluster_version, is_active, created_at)
SELECT cluster_assignment_id, job_posting_id, enrichment_id, cluster_id, cluster_name,
    COALESCE(cluster_keywords, '[]'), cluster_size, 'legacy', 'legacy', 'v0.0',
    ROW_NUMBER() OVER (PARTITION BY job_posting_id ORDER BY created_at, cluster_assignment_id),
    ROW_NUMBER() OVER (PARTITION BY job_posting_id
                       ORDER BY created_at DESC, cluster_assignment_id DESC) = 1,
    created_at
FROM seed_job_clusters;

DROP TABLE seed_job_clusters;
DROP TABLE seed_job_skills;
DROP TABLE seed_job_enrichments;
DROP TABLE seed_job_postings;
"#;

fn has_column(conn: &Connection, table: &str, column: &str) -> StoreResult<bool> {
    conn.query_row(
        "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2",
        params![table, column],
        |_| Ok(true),
    )
    .optional()
    .map_err(map_sqlite)
    .map(|found| found.unwrap_or(false))
}

/// Adopts a pre-extension dataset in one transaction: its four tables are
/// moved aside, every migration builds the schema, the rows are copied in
/// (`ADOPT_COPY`) and the originals dropped. Fails as a whole, or keeps
/// every row.
fn adopt_seed_tables(conn: &mut Connection) -> StoreResult<Vec<String>> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_sqlite)?;
    for table in SEED_TABLES {
        let exists: bool = tx
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                params![table],
                |_| Ok(true),
            )
            .optional()
            .map_err(map_sqlite)?
            .unwrap_or(false);
        if !exists {
            return Err(jobenrich_domain::StoreError::Backend(format!(
                "adopting a pre-extension dataset: table {table} is missing (the seed's \
                 job_postings, job_enrichments, job_skills and job_clusters are expected)"
            )));
        }
        tx.execute_batch(&format!("ALTER TABLE {table} RENAME TO seed_{table}"))
            .map_err(map_sqlite)?;
    }
    let mut applied = vec!["adopt_pre_extension_tables".to_string()];
    for migration in MIGRATIONS {
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
        applied.push(migration.name.to_string());
    }
    tx.execute_batch(ADOPT_COPY).map_err(|e| {
        jobenrich_domain::StoreError::Backend(format!(
            "adopting the pre-extension tables failed (nothing was changed): {e}"
        ))
    })?;
    tx.commit().map_err(map_sqlite)?;
    tracing::info!("adopted a pre-extension dataset");
    Ok(applied)
}

/// Applies the migrations of `MIGRATIONS` above the current version, up to `target`.
pub fn migrate_to(conn: &mut Connection, target: u32) -> StoreResult<MigrationReport> {
    // A pre-extension dataset (the seed's tables, no history) is adopted;
    // any other database with tables and no history is refused.
    if schema_version(conn)? == 0 && has_column(conn, "job_postings", "job_posting_id")? {
        conn.execute_batch(CREATE_SCHEMA_TABLE)
            .map_err(map_sqlite)?;
        let applied = adopt_seed_tables(conn)?;
        return Ok(MigrationReport {
            applied,
            schema_version: schema_version(conn)?,
        });
    }
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
                "0004_lean_job_skills_indexes",
                "0005_seed_names",
                "0006_mention_spans",
                "0007_job_embeddings",
                "0008_taxonomy_links",
                "0009_lean_result_tables"
            ]
        );
        assert_eq!(report.schema_version, latest_version());
        assert_eq!(store.schema_version().await.unwrap(), latest_version());

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
            job_posting_id: JobId::parse(job).unwrap(),
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
        assert_eq!(
            skills[0].enrichment_id,
            Some(done.enrichment_id),
            "a legacy skill references the extraction of its job and version"
        );

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
                enrichment_id: None,
                job_posting_id: JobId::parse("legacy-1").unwrap(),
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

    /// Rows in every table as the previous release (schema version 4) wrote them.
    const V4_ROWS: &str = r#"
        INSERT INTO job_postings (id, title, company, location, description, posted_at, source, url, ingested_at)
        VALUES ('p1', 'Rust Engineer', 'Acme', 'Berlin', 'Rust and SQL', 1700000000000001, 'csv', 'https://x/1', 1700000000123456),
               ('p2', 'Analyst', NULL, NULL, 'Excel', NULL, NULL, NULL, 1700000000000000);
        INSERT INTO job_enrichments (job_id, enrichment_type, enrichment_version, status, model_id, model_version,
            attempts, error_message, lease_owner, lease_expires_at, next_attempt_at, created_at, updated_at, completed_at)
        VALUES ('p1', 'skills_extraction', 'skills_extractor@v1.0', 'success', 'skills_extractor', 'v1.0', 1, NULL, NULL, NULL, NULL, 10, 20, 20),
               ('p2', 'skills_extraction', 'skills_extractor@v1.0', 'failed', NULL, NULL, 3, 'boom', NULL, NULL, 99, 10, 30, 30);
        INSERT INTO job_skills (job_id, skill_name, skill_category, confidence_score, source_strategies, section_relevance_score,
            extracted_from_section, context_snippet, position_in_text, mention_count, taxonomy_ref, enrichment_version, created_at)
        VALUES ('p1', 'Rust', 'programming_languages', 0.9, '["lexicon","pattern"]', 0.5, 'requirements', 'Rust and', 0, 2, 'esco:1', 'skills_extractor@v1.0', 20);
        INSERT INTO section_classifications (job_id, classifier_version, section_index, section_header, section_type, section_text,
            start_offset, end_offset, is_skills_relevant, relevance_probability, classification_method, created_at)
        VALUES ('p1', 'section_classifier@v1.0', 0, NULL, 'requirements', 'Rust and SQL', 0, 12, 1, 0.75, 'rule_based', 20);
        INSERT INTO job_clusters (job_id, cluster_id, cluster_name, cluster_keywords, cluster_size, cluster_run_id,
            cluster_model_id, cluster_model_version, cluster_version, is_active, assigned_at)
        VALUES ('p1', 3, 'systems', '[{"term":"rust","score":0.5}]', 7, 'run-a', 'job_clusterer', 'v1.0', 1, 1, 40);
        INSERT INTO skill_aliases (alias_key, alias_text, canonical_name, category, confidence, source, is_active, created_at, updated_at)
        VALUES ('k8s', 'K8s', 'Kubernetes', 'devops_tools', 0.95, 'manual', 1, 50, 51);
        INSERT INTO model_config (model_id, version, model_type, description, is_active, config_overrides, performance_metrics,
            created_at, updated_at, activated_at, activated_by)
        VALUES ('skills_extractor', 'v1.0', 'skills_extraction', 'rules', 1, '{"min_confidence":0.3}', '{"f1_score":0.5}', 60, 61, 61, 'ops');
        INSERT INTO evaluation_results (evaluation_id, model_id, model_version, dataset_version, dataset_path, precision, recall,
            f1_score, category_metrics, additional_metrics, sample_count, execution_time_seconds, is_ci_run, ci_build_id,
            threshold_passed, evaluated_at)
        VALUES ('ev1', 'skills_extractor', 'v1.0', 'd1', 'x.jsonl', 0.75, 0.5, 0.6,
            '{"databases":{"precision":1.0,"recall":0.0,"f1":0.0,"support":3}}', '{"micro_f1":0.25}', 58, 1.5, 1, 'b7', 0, 70);
    "#;

    #[tokio::test]
    async fn a_store_of_the_previous_release_keeps_every_row_under_the_seed_names() {
        use jobenrich_domain::{
            AliasRepository, EvaluationRepository, ModelConfigRepository, ModelId, ModelVersion,
            SectionRepository,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v4.db");
        let store = SqliteStore::open(&path).unwrap();
        store.migrate_to(4).await.unwrap();
        Connection::open(&path)
            .unwrap()
            .execute_batch(V4_ROWS)
            .unwrap();
        let report = store.migrate().await.unwrap();
        assert_eq!(
            report.applied,
            vec![
                "0005_seed_names",
                "0006_mention_spans",
                "0007_job_embeddings",
                "0008_taxonomy_links",
                "0009_lean_result_tables"
            ]
        );

        let p1 = JobId::parse("p1").unwrap();
        let posting = store.get_posting(&p1).await.unwrap().unwrap();
        assert_eq!(
            (posting.job_posting_id.as_str(), posting.url.as_deref()),
            ("p1", Some("https://x/1"))
        );
        assert_eq!(store.count_postings().await.unwrap(), 2);
        let v = EnrichmentVersion::parse("skills_extractor@v1.0").unwrap();
        let e1 = store
            .get_enrichment(&EnrichmentKey {
                job_posting_id: p1.clone(),
                enrichment_type: EnrichmentType::SkillsExtraction,
                enrichment_version: v.clone(),
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!((e1.status, e1.attempts), (EnrichmentStatus::Success, 1));
        assert!(e1.metadata.is_empty());
        let failed = store.dead_letters(3, 10).await.unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].error_message.as_deref(), Some("boom"));
        assert_ne!(failed[0].enrichment_id, e1.enrichment_id, "ids are unique");

        let skills = store.skills_for_job(&p1, Some(v)).await.unwrap();
        assert_eq!(skills.len(), 1);
        assert_eq!(
            (skills[0].mention_count, skills[0].taxonomy_ref.as_deref()),
            (2, Some("esco:1"))
        );
        assert!(
            skills[0].mention_spans.is_empty(),
            "a row from before mention_spans reads with none"
        );
        assert_eq!(skills[0].enrichment_id, Some(e1.enrichment_id));
        let sections = store.sections_for_job(&p1, None).await.unwrap();
        assert_eq!(sections.len(), 1);
        assert_eq!(sections[0].section_text, "Rust and SQL");
        let cluster = store.active_assignment(&p1).await.unwrap().unwrap();
        assert_eq!(
            (
                cluster.cluster_id,
                cluster.cluster_run_id.as_str(),
                cluster.created_at.timestamp_micros()
            ),
            (3, "run-a", 40)
        );
        assert_eq!(cluster.cluster_keywords[0].term, "rust");
        let alias = store.get_alias("K8S").await.unwrap().unwrap();
        assert_eq!(
            (alias.skill_category.as_str(), alias.created_by.as_str()),
            ("devops_tools", "legacy")
        );
        let model = store
            .get_model(
                &ModelId::parse("skills_extractor").unwrap(),
                &ModelVersion::parse("v1.0").unwrap(),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                model.activated_by.as_deref(),
                model.training_data_version,
                model.training_date
            ),
            (Some("ops"), None, None)
        );
        let eval = store
            .latest_evaluation(&ModelId::parse("skills_extractor").unwrap(), None, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (eval.overall_precision, eval.overall_recall, eval.overall_f1),
            (0.75, 0.5, 0.6)
        );
        assert_eq!(eval.evaluation_date.timestamp_micros(), 70);
        assert_eq!(eval.category_metrics["databases"].support, 3);

        let conn = Connection::open(&path).unwrap();
        for (table, id) in [
            ("job_enrichments", "enrichment_id"),
            ("job_skills", "skill_id"),
            ("section_classifications", "classification_id"),
            ("job_clusters", "cluster_assignment_id"),
            ("skill_aliases", "alias_id"),
        ] {
            let ids = strings(&conn, &format!("SELECT {id} FROM {table}"));
            assert!(
                !ids.is_empty()
                    && ids.iter().all(|i| jobenrich_domain::Uuid::parse_str(i)
                        .is_ok_and(|u| u.get_version_num() == 4)),
                "{table}.{id} holds v4 UUIDs: {ids:?}"
            );
        }
    }

    /// The seed's pre-extension tables, as a deployment before the extension has them.
    const SEED_PRE_EXTENSION: &str = r#"
        CREATE TABLE job_postings (job_posting_id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL, company TEXT,
            location TEXT, description TEXT NOT NULL, posted_at INTEGER, source TEXT, url TEXT, ingested_at INTEGER NOT NULL);
        CREATE TABLE job_enrichments (enrichment_id TEXT PRIMARY KEY NOT NULL, job_posting_id TEXT NOT NULL,
            enrichment_type TEXT NOT NULL, status TEXT NOT NULL, metadata TEXT, error_message TEXT,
            created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
        CREATE TABLE job_skills (skill_id TEXT PRIMARY KEY NOT NULL, job_posting_id TEXT NOT NULL, enrichment_id TEXT,
            skill_name TEXT NOT NULL, skill_category TEXT NOT NULL, confidence_score REAL NOT NULL,
            context_snippet TEXT, created_at INTEGER NOT NULL);
        CREATE TABLE job_clusters (cluster_assignment_id TEXT PRIMARY KEY NOT NULL, job_posting_id TEXT NOT NULL,
            enrichment_id TEXT, cluster_id INTEGER NOT NULL, cluster_name TEXT NOT NULL, cluster_keywords TEXT,
            cluster_size INTEGER NOT NULL, created_at INTEGER NOT NULL);
        INSERT INTO job_postings VALUES ('b1', 'Rust Engineer', 'Acme', NULL, 'Rust and SQL', NULL, 'brightdata', NULL, 1),
                                        ('b2', 'Analyst', NULL, NULL, 'Excel and SQL', NULL, NULL, NULL, 2);
        INSERT INTO job_enrichments VALUES
            ('6f1c1a52-0000-4000-8000-000000000001', 'b1', 'skills_extraction', 'success', '{"source":"v0"}', NULL, 10, 20),
            ('6f1c1a52-0000-4000-8000-000000000002', 'b2', 'skills_extraction', 'pending', NULL, NULL, 10, 10),
            ('6f1c1a52-0000-4000-8000-000000000003', 'b1', 'skills_extraction', 'failed', NULL, 'old run', 1, 5);
        INSERT INTO job_skills VALUES
            ('6f1c1a52-0000-4000-8000-0000000000a1', 'b1', '6f1c1a52-0000-4000-8000-000000000001', 'Rust',
             'programming_languages', 0.9, 'Rust and', 20);
        INSERT INTO job_clusters VALUES
            ('6f1c1a52-0000-4000-8000-0000000000c1', 'b1', '6f1c1a52-0000-4000-8000-000000000001', 4, 'systems',
             '["rust","sql"]', 12, 30),
            ('6f1c1a52-0000-4000-8000-0000000000c2', 'b2', NULL, 1, 'analysts', '["excel"]', 3, 30);
    "#;

    #[tokio::test]
    async fn a_pre_extension_dataset_is_adopted_keeping_every_row_and_the_project_works_on_top() {
        use jobenrich_domain::{
            ClaimRequest, ClusteringRun, ModelId, ModelVersion, NewClusterAssignment,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("brightdata_jobs.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch(SEED_PRE_EXTENSION)
            .unwrap();
        let store = SqliteStore::open(&path).unwrap();
        let report = store.migrate().await.unwrap();
        assert_eq!(report.schema_version, latest_version());
        assert_eq!(report.applied[0], "adopt_pre_extension_tables");
        assert!(store.migrate().await.unwrap().applied.is_empty());

        let conn = Connection::open(&path).unwrap();
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(count("SELECT COUNT(*) FROM job_postings"), 2);
        assert_eq!(
            count("SELECT COUNT(*) FROM job_enrichments"),
            3,
            "no row lost to the natural key"
        );
        assert_eq!(count("SELECT COUNT(*) FROM job_skills"), 1);
        assert_eq!(count("SELECT COUNT(*) FROM job_clusters"), 2);
        assert_eq!(
            count("SELECT COUNT(*) FROM job_enrichments WHERE enrichment_version IS NULL"),
            0
        );
        assert_eq!(
            strings(
                &conn,
                "SELECT enrichment_version FROM job_enrichments ORDER BY enrichment_id"
            ),
            [
                "legacy",
                "legacy",
                "legacy:6f1c1a52-0000-4000-8000-000000000003"
            ]
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'seed_%'"),
            0
        );

        let b1 = JobId::parse("b1").unwrap();
        let done = store
            .get_enrichment(&EnrichmentKey {
                job_posting_id: b1.clone(),
                enrichment_type: EnrichmentType::SkillsExtraction,
                enrichment_version: legacy(),
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            done.enrichment_id.to_string(),
            "6f1c1a52-0000-4000-8000-000000000001",
            "adopted ids are kept"
        );
        assert_eq!((done.status, done.attempts), (EnrichmentStatus::Success, 1));
        assert_eq!(done.metadata["source"], "v0");
        let skills = store.skills_for_job(&b1, Some(legacy())).await.unwrap();
        assert_eq!(skills.len(), 1);
        assert_eq!(skills[0].enrichment_id, Some(done.enrichment_id));
        let cluster = store.active_assignment(&b1).await.unwrap().unwrap();
        assert_eq!(
            (
                cluster.cluster_id,
                cluster.cluster_version,
                cluster.cluster_keywords[1].term.as_str()
            ),
            (4, 1, "sql")
        );

        // The legacy pending row is claimed like any other.
        let claimed = store
            .claim_enrichments(&ClaimRequest {
                enrichment_type: EnrichmentType::SkillsExtraction,
                enrichment_version: None,
                owner: "w1".into(),
                lease: chrono::Duration::seconds(60),
                limit: 10,
                max_attempts: 3,
                now: chrono::Utc::now(),
            })
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].job_posting_id.as_str(), "b2");
        // Legacy rows are re-enriched at a model version.
        let v1 = EnrichmentVersion::parse("skills_extractor@v1.0").unwrap();
        assert_eq!(
            store
                .find_jobs_needing_enrichment(EnrichmentType::SkillsExtraction, &v1, 10)
                .await
                .unwrap()
                .len(),
            2
        );
        // A new clustering run continues the legacy versions.
        let run = ClusteringRun {
            cluster_run_id: "run-1".into(),
            cluster_model_id: ModelId::parse("job_clusterer").unwrap(),
            cluster_model_version: ModelVersion::parse("v1.0").unwrap(),
            assigned_at: chrono::Utc::now(),
            assignments: vec![NewClusterAssignment {
                enrichment_id: None,
                job_posting_id: b1.clone(),
                cluster_id: 2,
                cluster_name: "c".into(),
                cluster_keywords: vec![],
                cluster_size: 1,
            }],
        };
        assert_eq!(
            store.record_clustering_run(&run).await.unwrap().deactivated,
            1
        );
        let history = store.assignment_history(&b1).await.unwrap();
        assert_eq!(
            history
                .iter()
                .map(|a| (a.cluster_version, a.is_active))
                .collect::<Vec<_>>(),
            [(1, false), (2, true)]
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
            "INSERT INTO job_postings (job_posting_id, title, description, ingested_at) VALUES ('j', 't', 'd', 0);
             INSERT INTO job_clusters (job_posting_id, cluster_id, cluster_name, cluster_keywords, cluster_size,
                 cluster_run_id, cluster_model_id, cluster_model_version, cluster_version, is_active, created_at)
             VALUES ('j', 1, 'c', '[]', 1, 'r1', 'm', 'v1.0', 1, 1, 0);",
        )
        .unwrap();
        let second_active = conn.execute(
            "INSERT INTO job_clusters (job_posting_id, cluster_id, cluster_name, cluster_keywords, cluster_size,
                 cluster_run_id, cluster_model_id, cluster_model_version, cluster_version, is_active, created_at)
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
            "INSERT INTO job_skills (job_posting_id, skill_name, skill_category, confidence_score,
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
            "SELECT p.job_posting_id FROM job_postings p WHERE NOT EXISTS (SELECT 1 FROM job_enrichments e
             WHERE e.job_posting_id = p.job_posting_id AND e.enrichment_type = 'x'
             AND e.enrichment_version = 'v' AND e.status = 'success')
             ORDER BY p.job_posting_id LIMIT 10",
        );
        assert!(
            anti_join.contains("SEARCH e USING INDEX"),
            "the anti-join probes an index: {anti_join}"
        );
        let skills = plan(
            "SELECT * FROM job_skills WHERE job_posting_id = 'j' AND enrichment_version = 'v'",
        );
        assert!(
            skills.contains("SEARCH"),
            "skills of a job are found by index: {skills}"
        );
        let skill_indexes = strings(
            &conn,
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'job_skills'",
        );
        assert!(
            skill_indexes.is_empty(),
            "job_skills is its key (WITHOUT ROWID) with no other index: each index costs an insert per skill row: {skill_indexes:?}"
        );
        let section_indexes = strings(
            &conn,
            "SELECT name FROM sqlite_master WHERE type = 'index'
             AND tbl_name IN ('section_classifications_data', 'section_classifications')",
        );
        assert!(
            section_indexes.is_empty(),
            "sections are their key with no other index: {section_indexes:?}"
        );
    }

    #[tokio::test]
    async fn migration_9_keeps_section_text_by_offsets_and_every_skill_row() {
        use jobenrich_domain::{JobId, SectionRepository, SkillRepository};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v8.db");
        let store = SqliteStore::open(&path).unwrap();
        store.migrate_to(8).await.unwrap();
        // Offsets are in characters: the slice after "Zürich" is not at the
        // same byte position.
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                r#"
            INSERT INTO job_postings (job_posting_id, title, description, ingested_at)
            VALUES ('p1', 'Dev', 'Zürich – Rust and SQL', 1);
            INSERT INTO section_classifications (job_posting_id, classifier_version, section_index,
                section_header, section_type, section_text, start_offset, end_offset,
                is_skills_relevant, relevance_probability, classification_method, created_at,
                classification_id)
            VALUES ('p1', 'c@v1', 0, NULL, 'intro', 'Zürich', 0, 6, 0, 0.1, 'rule_based', 2,
                    '00000000-0000-4000-8000-000000000001'),
                   ('p1', 'c@v1', 1, NULL, 'skills', 'Rust and SQL', 9, 21, 1, 0.9, 'rule_based', 2,
                    '00000000-0000-4000-8000-000000000002'),
                   ('p1', 'c@v1', 2, NULL, 'skills', 'edited by hand', 9, 21, 1, 0.9, 'rule_based', 2,
                    '00000000-0000-4000-8000-000000000003');
            INSERT INTO job_skills (job_posting_id, skill_name, skill_category, confidence_score,
                source_strategies, context_snippet, enrichment_version, created_at, skill_id,
                mention_spans)
            VALUES ('p1', 'Rust', 'programming_languages', 0.9, '["lexicon"]', 'Rust and', 's@v1', 2,
                    '00000000-0000-4000-8000-000000000001', '[[9,13]]'),
                   ('p1', 'SQL', 'databases', 0.8, '["lexicon"]', 'and SQL', 's@v1', 2,
                    '00000000-0000-4000-8000-000000000002', '[[18,21]]');
            "#,
            )
            .unwrap();
        store.migrate().await.unwrap();

        let conn = Connection::open(&path).unwrap();
        let stored = strings(
            &conn,
            "SELECT COALESCE(section_text, '<slice>') FROM section_classifications_data ORDER BY section_index",
        );
        assert_eq!(stored, ["<slice>", "<slice>", "edited by hand"]);
        let p1 = JobId::parse("p1").unwrap();
        let texts: Vec<String> = store
            .sections_for_job(&p1, None)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.section_text)
            .collect();
        assert_eq!(texts, ["Zürich", "Rust and SQL", "edited by hand"]);
        let viewed = strings(
            &conn,
            "SELECT section_text FROM section_classifications ORDER BY section_index",
        );
        assert_eq!(viewed, texts, "the seed's table name still shows the text");

        let skills = store.skills_for_job(&p1, None).await.unwrap();
        let names: Vec<&str> = skills.iter().map(|s| s.skill_name.as_str()).collect();
        assert_eq!(names.len(), 2);
        assert!(names.contains(&"Rust") && names.contains(&"SQL"));
        assert_eq!(skills[0].mention_spans.len(), 1);
    }

    #[tokio::test]
    async fn a_section_stores_its_text_only_when_it_is_not_the_postings_slice() {
        use jobenrich_domain::{JobId, SectionRepository};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = SqliteStore::open(&path).unwrap();
        store.migrate().await.unwrap();
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "INSERT INTO job_postings (job_posting_id, title, description, ingested_at)
                 VALUES ('p1', 'Dev', 'Zürich – Rust and SQL', 1);",
            )
            .unwrap();
        let p1 = JobId::parse("p1").unwrap();
        let section = |index: u32, text: &str, start: u32, end: u32| {
            jobenrich_domain::SectionClassification {
                classification_id: jobenrich_domain::Uuid::new_v4(),
                job_posting_id: p1.clone(),
                classifier_version: "c@v1".into(),
                section_index: index,
                section_header: None,
                section_type: "skills".into(),
                section_text: text.into(),
                start_offset: start,
                end_offset: end,
                is_skills_relevant: true,
                relevance_probability: 0.9,
                classification_method: jobenrich_domain::ClassificationMethod::RuleBased,
                created_at: chrono::DateTime::from_timestamp_micros(1_700_000_000_000_001).unwrap(),
            }
        };
        let written = vec![
            section(0, "Rust and SQL", 9, 21),
            // One character off: not the slice, so stored as given.
            section(1, "Rust and SQ", 9, 21),
        ];
        store.upsert_sections(&written).await.unwrap();
        let conn = Connection::open(&path).unwrap();
        let stored = strings(
            &conn,
            "SELECT COALESCE(section_text, '<slice>') FROM section_classifications_data ORDER BY section_index",
        );
        assert_eq!(stored, ["<slice>", "Rust and SQ"]);
        let read = store.sections_for_job(&p1, None).await.unwrap();
        assert_eq!(read, written);
    }
}
