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
//! 10. `compact_job_skills`: skill rows live in `job_skills_data` (WITHOUT
//!     ROWID, keyed by job, version and name). The strings every row repeats
//!     (version, skill name, category, strategies, section, taxonomy reference)
//!     are stored once in `skill_terms` and referenced by integer; UUIDs are
//!     16-byte BLOBs; the snippet is stored as its window's character offsets
//!     where the view rebuilds it exactly from the description. `job_skills`
//!     becomes a view with every seed column and `INSTEAD OF` triggers, so
//!     SQL written against the table keeps working. About 6 KB less per
//!     posting (docs/performance.md).
//! 11. `cluster_runs_by_time`: an index to find the newest clustering run.
//! 12. `compact_taxonomy_links`: a skill's ranked ESCO candidates keep their
//!     labels as `skill_terms` ids (`job_skills_data.taxonomy_link_terms`);
//!     the view rebuilds the seed's JSON (`migrations/compact_links.rs`).
//! 13. `shared_skill_values`: a compact link list is a `skill_terms` term
//!     (`links_term`), and a row's `enrichment_id` and `created_at` live once
//!     per (posting, version) in `skill_stamps` when they are that stamp's
//!     (`migrations/shared_skill_values.rs`). About 4.5 KB less per linked
//!     posting.
//! 14. `shared_cluster_values`: a clustering run's values (run id, model,
//!     time) live once in `cluster_runs` and each cluster's (name, keywords,
//!     size) once in `cluster_run_clusters`; `job_clusters_data` keeps one
//!     narrow row per assignment and `job_clusters` becomes a view
//!     (`migrations/shared_cluster_values.rs`).
//! 15. `terms_without_replace`: `job_skills`' insert trigger adds missing
//!     terms by `NOT EXISTS`, so `INSERT OR REPLACE INTO job_skills` no longer
//!     re-keys a shared term (`migrations/terms_without_replace.rs`).
//! 16. `compact_sections`: a section row's classifier version, type and
//!     method are `skill_terms` ids and its id a 16-byte BLOB; the
//!     `section_classifications` view gains `INSTEAD OF` triggers
//!     (`migrations/compact_sections.rs`).
//! 17. `status_check_without_list`: `job_enrichments` rebuilt with its
//!     status CHECK as equalities (an IN list built a temporary b-tree on
//!     every status change) and a lease index of `processing` rows only
//!     (`migrations/status_check.rs`).
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
    Migration {
        version: 10,
        name: "0010_compact_job_skills",
        sql: MIGRATION_10_COMPACT_JOB_SKILLS,
    },
    Migration {
        version: 11,
        name: "0011_cluster_runs_by_time",
        sql: MIGRATION_11_CLUSTER_RUNS_BY_TIME,
    },
    Migration {
        version: 12,
        name: "0012_compact_taxonomy_links",
        sql: MIGRATION_12_COMPACT_TAXONOMY_LINKS,
    },
    Migration {
        version: 13,
        name: "0013_shared_skill_values",
        sql: MIGRATION_13_SHARED_SKILL_VALUES,
    },
    Migration {
        version: 14,
        name: "0014_shared_cluster_values",
        sql: MIGRATION_14_SHARED_CLUSTER_VALUES,
    },
    Migration {
        version: 15,
        name: "0015_terms_without_replace",
        sql: MIGRATION_15_TERMS_WITHOUT_REPLACE,
    },
    Migration {
        version: 16,
        name: "0016_compact_sections",
        sql: MIGRATION_16_COMPACT_SECTIONS,
    },
    Migration {
        version: 17,
        name: "0017_status_check_without_list",
        sql: MIGRATION_17_STATUS_CHECK_WITHOUT_LIST,
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

/// A 16-byte BLOB UUID as its text form (other values as they are).
macro_rules! uuid_text_sql {
    ($x:literal) => {
        concat!(
            "CASE WHEN typeof(",
            $x,
            ") = 'blob' THEN lower(substr(hex(",
            $x,
            "), 1, 8) || '-' || substr(hex(",
            $x,
            "), 9, 4) || '-' || substr(hex(",
            $x,
            "), 13, 4) || '-' || substr(hex(",
            $x,
            "), 17, 4) || '-' || substr(hex(",
            $x,
            "), 21)) ELSE ",
            $x,
            " END"
        )
    };
}

/// A UUID's text as its 16-byte BLOB (other values as they are).
macro_rules! uuid_blob_sql {
    ($x:literal) => {
        concat!(
            "CASE WHEN length(",
            $x,
            ") = 36 AND unhex(replace(",
            $x,
            ", '-', '')) IS NOT NULL ",
            "THEN unhex(replace(",
            $x,
            ", '-', '')) ELSE ",
            $x,
            " END"
        )
    };
}

/// The snippet the view rebuilds from the description's characters
/// `[snippet_start, snippet_end)`: ASCII control whitespace as spaces, runs of
/// up to 32 spaces as one, no spaces at the ends. `slices::rebuilt_snippet`
/// is the same function in Rust; a row stores offsets only when they agree.
macro_rules! rebuilt_snippet_sql {
    ($text:literal, $start:literal, $end:literal) => {
        concat!(
            "trim(replace(replace(replace(replace(replace(",
            "replace(replace(replace(replace(replace(substr(", $text, ", ", $start, " + 1, ",
            $end, " - ", $start, "), char(9), ' '), char(10), ' '), char(11), ' '), ",
            "char(12), ' '), char(13), ' '), '  ', ' '), '  ', ' '), '  ', ' '), '  ', ' '), '  ', ' '))"
        )
    };
}

#[cfg(test)]
pub(crate) use rebuilt_snippet_sql;

// After the macros above, which they use; 13 uses 12's.
#[macro_use]
mod compact_links;
mod compact_sections;
mod shared_cluster_values;
mod shared_skill_values;
mod status_check;
mod terms_without_replace;
pub use compact_links::MIGRATION_12_COMPACT_TAXONOMY_LINKS;
pub use compact_sections::MIGRATION_16_COMPACT_SECTIONS;
pub use shared_cluster_values::MIGRATION_14_SHARED_CLUSTER_VALUES;
pub use shared_skill_values::MIGRATION_13_SHARED_SKILL_VALUES;
pub use status_check::MIGRATION_17_STATUS_CHECK_WITHOUT_LIST;
pub use terms_without_replace::MIGRATION_15_TERMS_WITHOUT_REPLACE;

pub const MIGRATION_10_COMPACT_JOB_SKILLS: &str = concat!(
    r#"
-- Strings repeated on every skill row, stored once. A term's id never changes
-- and terms are never deleted, so a row's integer always means one string.
CREATE TABLE skill_terms (
    term_id INTEGER PRIMARY KEY,
    term    TEXT NOT NULL UNIQUE
);
INSERT OR IGNORE INTO skill_terms (term)
SELECT enrichment_version FROM job_skills
UNION SELECT skill_name FROM job_skills
UNION SELECT skill_category FROM job_skills
UNION SELECT source_strategies FROM job_skills
UNION SELECT extracted_from_section FROM job_skills WHERE extracted_from_section IS NOT NULL
UNION SELECT taxonomy_ref FROM job_skills WHERE taxonomy_ref IS NOT NULL;

CREATE TABLE job_skills_data (
    job_posting_id          TEXT NOT NULL REFERENCES job_postings(job_posting_id),
    version_term            INTEGER NOT NULL REFERENCES skill_terms(term_id),
    name_term               INTEGER NOT NULL REFERENCES skill_terms(term_id),
    category_term           INTEGER NOT NULL REFERENCES skill_terms(term_id),
    confidence_score        REAL NOT NULL,
    -- The JSON list of strategies, as a term.
    strategies_term         INTEGER NOT NULL REFERENCES skill_terms(term_id),
    section_relevance_score REAL,
    section_term            INTEGER REFERENCES skill_terms(term_id),
    -- NULL: rebuilt from the description's characters [snippet_start,
    -- snippet_end), or no snippet when those are NULL too.
    context_snippet         TEXT,
    snippet_start           INTEGER,
    snippet_end             INTEGER,
    position_in_text        INTEGER,
    mention_count           INTEGER NOT NULL DEFAULT 1,
    taxonomy_ref_term       INTEGER REFERENCES skill_terms(term_id),
    created_at              INTEGER NOT NULL,
    -- 16-byte BLOBs (text only for a legacy id that is not a UUID).
    skill_id                BLOB NOT NULL,
    enrichment_id           BLOB,
    mention_spans           TEXT,
    taxonomy_links          TEXT,
    PRIMARY KEY (job_posting_id, version_term, name_term)
) WITHOUT ROWID;

INSERT INTO job_skills_data (job_posting_id, version_term, name_term, category_term,
    confidence_score, strategies_term, section_relevance_score, section_term, context_snippet,
    snippet_start, snippet_end, position_in_text, mention_count, taxonomy_ref_term, created_at,
    skill_id, enrichment_id, mention_spans, taxonomy_links)
SELECT w.job_posting_id, w.version_term, w.name_term, w.category_term, w.confidence_score,
    w.strategies_term, w.section_relevance_score, w.section_term,
    CASE WHEN w.rebuilds THEN NULL ELSE w.context_snippet END,
    CASE WHEN w.rebuilds THEN w.a END,
    CASE WHEN w.rebuilds THEN w.b END,
    w.position_in_text, w.mention_count, w.taxonomy_ref_term, w.created_at,
    CASE WHEN length(w.skill_id) = 36 AND unhex(replace(w.skill_id, '-', '')) IS NOT NULL
         THEN unhex(replace(w.skill_id, '-', '')) ELSE w.skill_id END,
    CASE WHEN length(w.enrichment_id) = 36 AND unhex(replace(w.enrichment_id, '-', '')) IS NOT NULL
         THEN unhex(replace(w.enrichment_id, '-', '')) ELSE w.enrichment_id END,
    w.mention_spans, w.taxonomy_links
FROM (
    SELECT o.job_posting_id, o.version_term, o.name_term, o.category_term,
        o.confidence_score, o.strategies_term, o.section_relevance_score, o.section_term,
        o.context_snippet, o.a, o.b, o.position_in_text, o.mention_count,
        o.taxonomy_ref_term, o.created_at, o.skill_id, o.enrichment_id, o.mention_spans,
        o.taxonomy_links, "#,
    rebuilt_snippet_sql!("o.description", "o.a", "o.b"),
    r#" IS o.context_snippet AS rebuilds
    FROM (
        -- The engine's window: 60 characters either side of the first mention.
        SELECT k.*, v.term_id AS version_term, n.term_id AS name_term,
            c.term_id AS category_term, st.term_id AS strategies_term,
            sec.term_id AS section_term, tr.term_id AS taxonomy_ref_term, p.description,
            max(json_extract(k.mention_spans, '$[0][0]') - 60, 0) AS a,
            min(json_extract(k.mention_spans, '$[0][1]') + 60, length(p.description)) AS b
        FROM job_skills k
        JOIN skill_terms v ON v.term = k.enrichment_version
        JOIN skill_terms n ON n.term = k.skill_name
        JOIN skill_terms c ON c.term = k.skill_category
        JOIN skill_terms st ON st.term = k.source_strategies
        LEFT JOIN skill_terms sec ON sec.term = k.extracted_from_section
        LEFT JOIN skill_terms tr ON tr.term = k.taxonomy_ref
        LEFT JOIN job_postings p ON p.job_posting_id = k.job_posting_id
    ) o
    -- OFFSET keeps SQLite from flattening this into the outer query, which
    -- would rebuild each snippet three times (once per CASE).
    LIMIT -1 OFFSET 0
) w;
DROP TABLE job_skills;

CREATE VIEW job_skills AS
SELECT k.job_posting_id, n.term AS skill_name, c.term AS skill_category, k.confidence_score,
    st.term AS source_strategies, k.section_relevance_score,
    sec.term AS extracted_from_section,
    COALESCE(k.context_snippet, CASE WHEN k.snippet_start IS NOT NULL THEN "#,
    rebuilt_snippet_sql!("p.description", "k.snippet_start", "k.snippet_end"),
    r#" END) AS context_snippet,
    k.position_in_text, k.mention_count, tr.term AS taxonomy_ref,
    v.term AS enrichment_version, k.created_at, "#,
    uuid_text_sql!("k.skill_id"),
    r#" AS skill_id, "#,
    uuid_text_sql!("k.enrichment_id"),
    r#" AS enrichment_id, k.mention_spans, k.taxonomy_links
FROM job_skills_data k
JOIN skill_terms v ON v.term_id = k.version_term
JOIN skill_terms n ON n.term_id = k.name_term
JOIN skill_terms c ON c.term_id = k.category_term
JOIN skill_terms st ON st.term_id = k.strategies_term
LEFT JOIN skill_terms sec ON sec.term_id = k.section_term
LEFT JOIN skill_terms tr ON tr.term_id = k.taxonomy_ref_term
LEFT JOIN job_postings p ON p.job_posting_id = k.job_posting_id;

-- SQL written against the table keeps working: writes through the view land
-- in job_skills_data (snippets and ids stored as given).
CREATE TRIGGER job_skills_insert INSTEAD OF INSERT ON job_skills
BEGIN
    INSERT OR IGNORE INTO skill_terms (term)
    SELECT t FROM (SELECT COALESCE(NEW.enrichment_version, 'legacy') AS t
        UNION ALL SELECT NEW.skill_name UNION ALL SELECT NEW.skill_category
        UNION ALL SELECT NEW.source_strategies UNION ALL SELECT NEW.extracted_from_section
        UNION ALL SELECT NEW.taxonomy_ref)
    WHERE t IS NOT NULL;
    INSERT INTO job_skills_data (job_posting_id, version_term, name_term, category_term,
        confidence_score, strategies_term, section_relevance_score, section_term,
        context_snippet, position_in_text, mention_count, taxonomy_ref_term, created_at,
        skill_id, enrichment_id, mention_spans, taxonomy_links)
    VALUES (NEW.job_posting_id,
        (SELECT term_id FROM skill_terms WHERE term = COALESCE(NEW.enrichment_version, 'legacy')),
        (SELECT term_id FROM skill_terms WHERE term = NEW.skill_name),
        (SELECT term_id FROM skill_terms WHERE term = NEW.skill_category),
        NEW.confidence_score,
        (SELECT term_id FROM skill_terms WHERE term = NEW.source_strategies),
        NEW.section_relevance_score,
        (SELECT term_id FROM skill_terms WHERE term = NEW.extracted_from_section),
        NEW.context_snippet, NEW.position_in_text, COALESCE(NEW.mention_count, 1),
        (SELECT term_id FROM skill_terms WHERE term = NEW.taxonomy_ref),
        NEW.created_at, COALESCE(NEW.skill_id, ''), NEW.enrichment_id, NEW.mention_spans,
        NEW.taxonomy_links);
END;
CREATE TRIGGER job_skills_delete INSTEAD OF DELETE ON job_skills
BEGIN
    DELETE FROM job_skills_data
    WHERE job_posting_id = OLD.job_posting_id
      AND version_term = (SELECT term_id FROM skill_terms WHERE term = OLD.enrichment_version)
      AND name_term = (SELECT term_id FROM skill_terms WHERE term = OLD.skill_name);
END;
CREATE TRIGGER job_skills_update INSTEAD OF UPDATE ON job_skills
BEGIN
    DELETE FROM job_skills
    WHERE job_posting_id = OLD.job_posting_id AND enrichment_version = OLD.enrichment_version
      AND skill_name = OLD.skill_name;
    INSERT INTO job_skills (job_posting_id, skill_name, skill_category, confidence_score,
        source_strategies, section_relevance_score, extracted_from_section, context_snippet,
        position_in_text, mention_count, taxonomy_ref, enrichment_version, created_at, skill_id,
        enrichment_id, mention_spans, taxonomy_links)
    VALUES (NEW.job_posting_id, NEW.skill_name, NEW.skill_category, NEW.confidence_score,
        NEW.source_strategies, NEW.section_relevance_score, NEW.extracted_from_section,
        NEW.context_snippet, NEW.position_in_text, NEW.mention_count, NEW.taxonomy_ref,
        NEW.enrichment_version, NEW.created_at, NEW.skill_id, NEW.enrichment_id,
        NEW.mention_spans, NEW.taxonomy_links);
END;
"#
);

/// The newest run by an index seek: without it, finding the previous run
/// summarised every stored assignment (1.5 M rows after 15 runs of 100k
/// jobs: 0.9 s, growing with every run). ~15 B per assignment.
pub const MIGRATION_11_CLUSTER_RUNS_BY_TIME: &str = r#"
CREATE INDEX idx_job_clusters_created ON job_clusters (created_at);
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
pub(crate) mod tests {
    use super::*;
    use crate::SqliteStore;
    use jobenrich_domain::{
        ClusterRepository, EnrichmentKey, EnrichmentRepository, EnrichmentStatus, EnrichmentType,
        EnrichmentVersion, JobId, JobPostingRepository, SchemaMigrator, SkillRepository,
    };

    /// The query plan of `sql`, one line per step. Parameters stay unbound:
    /// the plan is the one any values get.
    pub(crate) fn query_plan(conn: &Connection, sql: &str) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let mut rows = stmt.raw_query();
        let mut steps = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            steps.push(row.get::<_, String>(3).unwrap());
        }
        steps.join("\n")
    }

    /// The first column of every row of `sql`.
    pub(crate) fn strings(conn: &Connection, sql: &str) -> Vec<String> {
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
                "0009_lean_result_tables",
                "0010_compact_job_skills",
                "0011_cluster_runs_by_time",
                "0012_compact_taxonomy_links",
                "0013_shared_skill_values",
                "0014_shared_cluster_values",
                "0015_terms_without_replace",
                "0016_compact_sections",
                "0017_status_check_without_list"
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
                "0009_lean_result_tables",
                "0010_compact_job_skills",
                "0011_cluster_runs_by_time",
                "0012_compact_taxonomy_links",
                "0013_shared_skill_values",
                "0014_shared_cluster_values",
                "0015_terms_without_replace",
                "0016_compact_sections",
                "0017_status_check_without_list"
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
        let plan = |sql: &str| query_plan(&conn, sql);
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
        // The previous run is found by a seek, not by summarising every run.
        let newest = plan(crate::clusters::NEWEST);
        assert!(
            newest.contains("idx_job_clusters_own_created")
                && newest.contains("idx_cluster_runs_created")
                && !newest.contains("SCAN d"),
            "the newest run's time is found by the created_at indexes: {newest}"
        );
        let runs = plan(&crate::clusters::run_summaries(""));
        assert!(
            runs.contains("SEARCH d USING PRIMARY KEY (run_key=?)")
                && !runs.contains("idx_job_clusters_version"),
            "runs are summarised over each run's range of the key: {runs}"
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
        let store = crate::store_with_posting(&path, "Zürich – Rust and SQL").await;
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

    /// Every seed column of `job_skills`, as text, in key order.
    pub(crate) const SKILL_ROWS: &str = "SELECT job_posting_id || '|' || skill_name || '|' || skill_category || '|' ||
            confidence_score || '|' || source_strategies || '|' ||
            COALESCE(section_relevance_score, '-') || '|' || COALESCE(extracted_from_section, '-') || '|' ||
            COALESCE(context_snippet, '-') || '|' || COALESCE(position_in_text, '-') || '|' ||
            mention_count || '|' || COALESCE(taxonomy_ref, '-') || '|' || enrichment_version || '|' ||
            created_at || '|' || skill_id || '|' || COALESCE(enrichment_id, '-') || '|' ||
            COALESCE(mention_spans, '-') || '|' || COALESCE(taxonomy_links, '-')
        FROM job_skills ORDER BY job_posting_id, enrichment_version, skill_name";

    #[tokio::test]
    async fn migration_10_keeps_every_skill_column_and_stores_rebuildable_snippets_as_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v9.db");
        let store = SqliteStore::open(&path).unwrap();
        store.migrate_to(9).await.unwrap();
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                r#"
            INSERT INTO job_postings (job_posting_id, title, description, ingested_at)
            VALUES ('p1', 'Dev', 'Zürich –
  Rust   and SQL', 1);
            INSERT INTO job_skills (job_posting_id, skill_name, skill_category, confidence_score,
                source_strategies, section_relevance_score, extracted_from_section,
                context_snippet, position_in_text, mention_count, taxonomy_ref,
                enrichment_version, created_at, skill_id, enrichment_id, mention_spans,
                taxonomy_links)
            VALUES ('p1', 'Rust', 'programming_languages', 0.9, '["lexicon"]', 0.7, 'skills',
                    'Zürich – Rust and SQL', 11, 1, 'http://esco/rust', 's@v1', 2,
                    '00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-0000000000e1',
                    '[[11,15]]', '[{"uri":"http://esco/rust","score":1.0}]'),
                   ('p1', 'SQL', 'databases', 0.8, '["lexicon","pattern"]', NULL, NULL,
                    'edited by hand', 22, 2, NULL, 's@v1', 3,
                    '00000000-0000-4000-8000-00000000000b', NULL, '[[22,25]]', NULL),
                   ('p1', 'SQL', 'databases', 0.5, '["lexicon"]', NULL, NULL,
                    'no spans', NULL, 1, NULL, 'legacy', 4, '', NULL, NULL, NULL),
                   ('p1', 'Go', 'programming_languages', 0.4, '[]', NULL, 'other', NULL, NULL, 1,
                    NULL, 'legacy', 5, 'not-a-uuid', 'also-not-a-uuid', '[]', NULL);
            "#,
            )
            .unwrap();
        let before = strings(&Connection::open(&path).unwrap(), SKILL_ROWS);
        assert_eq!(before.len(), 4);
        store.migrate().await.unwrap();
        let conn = Connection::open(&path).unwrap();
        assert_eq!(
            strings(&conn, SKILL_ROWS),
            before,
            "every column reads as before"
        );
        let stored = strings(
            &conn,
            "SELECT COALESCE(context_snippet, '<window ' || snippet_start || '-' || snippet_end || '>',
                             '<none>') || ' ' || typeof(skill_id)
             FROM job_skills_data k JOIN skill_terms n ON n.term_id = k.name_term
             ORDER BY k.position_in_text IS NULL, k.position_in_text, n.term DESC",
        );
        assert_eq!(
            stored,
            [
                "<window 0-25> blob",
                "edited by hand blob",
                "no spans text",
                "<none> text"
            ]
        );
        let terms: i64 = conn
            .query_row("SELECT COUNT(*) FROM skill_terms", [], |r| r.get(0))
            .unwrap();
        // 2 versions, 3 names, 2 categories, 3 strategy lists, 2 sections, 1 reference.
        assert_eq!(terms, 13);
    }

    #[tokio::test]
    async fn migration_12_keeps_link_labels_once_and_every_links_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v11.db");
        let store = SqliteStore::open(&path).unwrap();
        store.migrate_to(11).await.unwrap();
        let seed_links = r#"[{"label":"use \"SQL\" databases","score":1.0,"exact":true},{"label":"Größe schätzen","score":0.8537770509719849,"exact":false},{"label":"x","score":-0.125,"exact":false}]"#;
        let rows = [
            ("a", Some(seed_links)),
            // Other shapes stay as written: extra keys, another order, spaces.
            ("b", Some(r#"[{"uri":"http://esco/rust","score":1.0}]"#)),
            ("c", Some(r#"[{"score":0.5,"label":"y","exact":false}]"#)),
            ("d", Some(r#"[ {"label":"y","score":0.5,"exact":false} ]"#)),
            ("e", Some("not json")),
            ("f", Some("[]")),
            ("g", None),
        ];
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO job_postings (job_posting_id, title, description, ingested_at)
             VALUES ('p1', 'Dev', 'text', 1)",
            [],
        )
        .unwrap();
        for (name, links) in rows {
            conn.execute(
                "INSERT INTO job_skills (job_posting_id, skill_name, skill_category,
                     confidence_score, source_strategies, enrichment_version, created_at,
                     skill_id, taxonomy_links)
                 VALUES ('p1', ?1, 'databases', 0.5, '[]', 's@v1', 1,
                     '00000000-0000-4000-8000-00000000000a', ?2)",
                params![name, links],
            )
            .unwrap();
        }
        let before = strings(&conn, SKILL_ROWS);
        store.migrate_to(12).await.unwrap();
        let conn = Connection::open(&path).unwrap();
        assert_eq!(
            strings(&conn, SKILL_ROWS),
            before,
            "every column reads as before"
        );
        let stored = strings(
            &conn,
            "SELECT n.term || ' ' || COALESCE(k.taxonomy_link_terms, '-') || ' '
                    || COALESCE(k.taxonomy_links, '-')
             FROM job_skills_data k JOIN skill_terms n ON n.term_id = k.name_term
             ORDER BY n.term",
        );
        let id = |term: &str| -> i64 {
            conn.query_row(
                "SELECT term_id FROM skill_terms WHERE term = ?1",
                [term],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(
            stored[0],
            format!(
                "a [[{},1.0,1],[{},0.8537770509719849],[{},-0.125]] -",
                id("use \"SQL\" databases"),
                id("Größe schätzen"),
                id("x")
            )
        );
        assert_eq!(stored[1], r#"b - [{"uri":"http://esco/rust","score":1.0}]"#);
        assert!(stored[2].starts_with("c - "), "{}", stored[2]);
        assert!(stored[3].starts_with("d - "), "{}", stored[3]);
        assert_eq!(stored[4], "e - not json");
        assert_eq!(stored[5], "f [] -");
        assert_eq!(stored[6], "g - -");

        // Writes through the view are compacted the same way, and read back
        // as written.
        conn.execute(
            "INSERT INTO job_skills (job_posting_id, skill_name, skill_category,
                 confidence_score, source_strategies, enrichment_version, created_at, skill_id,
                 taxonomy_links)
             VALUES ('p1', 'h', 'databases', 0.5, '[]', 's@v1', 1,
                 '00000000-0000-4000-8000-00000000000a', ?1)",
            [seed_links],
        )
        .unwrap();
        let compact: Option<String> = conn
            .query_row(
                "SELECT taxonomy_link_terms FROM job_skills_data k
                 JOIN skill_terms n ON n.term_id = k.name_term WHERE n.term = 'h'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(compact.is_some_and(|c| c.starts_with("[[")));
        let read: String = conn
            .query_row(
                "SELECT taxonomy_links FROM job_skills WHERE skill_name = 'h'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(read, seed_links);
    }

    #[tokio::test]
    async fn skills_written_compactly_read_back_as_written_and_the_view_takes_writes() {
        use jobenrich_domain::{
            EnrichmentVersion, ExtractedSkill, ExtractionStrategy, JobId, MentionSpan,
            SkillCategory, SkillRepository,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let description = format!(
            "{}Rust\n\n and SQL, Größe{}",
            "x ".repeat(40),
            " y".repeat(40)
        );
        let store = crate::store_with_posting(&path, &description).await;
        let p1 = JobId::parse("p1").unwrap();
        let skill = |name: &str, snippet: Option<&str>, span: (u32, u32)| ExtractedSkill {
            skill_id: jobenrich_domain::Uuid::new_v4(),
            job_posting_id: p1.clone(),
            enrichment_id: Some(jobenrich_domain::Uuid::new_v4()),
            skill_name: name.into(),
            skill_category: SkillCategory::ProgrammingLanguages,
            confidence_score: 0.75,
            source_strategies: vec![ExtractionStrategy::Lexicon],
            section_relevance_score: Some(0.5),
            extracted_from_section: Some("skills".into()),
            context_snippet: snippet.map(String::from),
            position_in_text: Some(span.0),
            mention_count: 1,
            mention_spans: vec![MentionSpan::from(span)],
            taxonomy_ref: None,
            taxonomy_links: Vec::new(),
            enrichment_version: EnrichmentVersion::parse("s@v1").unwrap(),
            created_at: chrono::DateTime::from_timestamp_micros(1_700_000_000_000_001).unwrap(),
        };
        // 60 characters either side, whitespace evened out: what the engine writes.
        let rust_window: String = description.chars().skip(20).take(60 + 4 + 60).collect();
        let rust_snippet = rust_window.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut written = vec![
            skill("Rust", Some(&rust_snippet), (80, 84)),
            skill("SQL", Some("not around the mention"), (91, 94)),
            skill("Größe", None, (96, 101)),
        ];
        written[0].taxonomy_links = vec![
            jobenrich_domain::TaxonomyLink {
                label: "use \"Rust\"".into(),
                score: 1.0,
                exact: true,
            },
            jobenrich_domain::TaxonomyLink {
                label: "Größe schätzen".into(),
                score: f64::from(0.853_777_05f32),
                exact: false,
            },
        ];
        store.upsert_skills(&written).await.unwrap();
        let conn = Connection::open(&path).unwrap();
        let links = strings(
            &conn,
            "SELECT COALESCE(lt.term, '-') || ' ' || COALESCE(k.taxonomy_links, '-')
                 || ' ' || COALESCE(k.taxonomy_link_terms, '-')
             FROM job_skills_data k LEFT JOIN skill_terms lt ON lt.term_id = k.links_term
             ORDER BY position_in_text",
        );
        let term = |t: &str| -> i64 {
            conn.query_row(
                "SELECT term_id FROM skill_terms WHERE term = ?1",
                [t],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(
            links,
            [
                format!(
                    "[[{},1.0,1],[{},0.8537770509719849]] - -",
                    term("use \"Rust\""),
                    term("Größe schätzen")
                ),
                "- - -".to_string(),
                "- - -".to_string()
            ]
        );
        // Each skill has its own enrichment id here: the first one's values
        // are the posting's stamp, the others keep theirs.
        let stamps = strings(
            &conn,
            "SELECT COALESCE(stamped, '-') || ' ' || typeof(enrichment_id) || ' ' || created_at
             FROM job_skills_data ORDER BY position_in_text",
        );
        assert_eq!(
            stamps,
            [
                "1 null 0",
                "- blob 1700000000000001",
                "- blob 1700000000000001"
            ]
        );
        let stored = strings(
            &conn,
            "SELECT COALESCE(context_snippet, snippet_start || '-' || snippet_end, '<none>')
             FROM job_skills_data ORDER BY position_in_text",
        );
        assert_eq!(stored, ["20-144", "not around the mention", "<none>"]);
        let mut read = store.skills_for_job(&p1, None).await.unwrap();
        read.sort_by_key(|s| s.position_in_text);
        assert_eq!(read, written, "every field reads back as written");

        // SQL written against the seed's table still works, through the view.
        conn.execute_batch(
            "UPDATE job_skills SET confidence_score = 0.25 WHERE skill_name = 'SQL';
             DELETE FROM job_skills WHERE skill_name = 'Größe';
             INSERT INTO job_skills (job_posting_id, skill_name, skill_category, confidence_score,
                 source_strategies, enrichment_version, created_at, skill_id)
             VALUES ('p1', 'Go', 'programming_languages', 0.3, '[]', 's@v1', 7,
                     '00000000-0000-4000-8000-000000000007');",
        )
        .unwrap();
        let after = store.skills_for_job(&p1, None).await.unwrap();
        let seen: Vec<(&str, f64)> = after
            .iter()
            .map(|s| (s.skill_name.as_str(), s.confidence_score))
            .collect();
        assert_eq!(seen, [("Rust", 0.75), ("Go", 0.3), ("SQL", 0.25)]);
        let sql = after.iter().find(|s| s.skill_name == "SQL").unwrap();
        assert_eq!(
            sql.skill_id, written[1].skill_id,
            "an update keeps the other columns"
        );
        assert_eq!(sql.context_snippet, written[1].context_snippet);
        let dup = conn.execute(
            "INSERT INTO job_skills (job_posting_id, skill_name, skill_category, confidence_score,
                 source_strategies, enrichment_version, created_at, skill_id)
             VALUES ('p1', 'Go', 'programming_languages', 0.3, '[]', 's@v1', 7, 'x')",
            [],
        );
        assert!(
            dup.is_err(),
            "the natural key stays unique through the view"
        );
    }
}
