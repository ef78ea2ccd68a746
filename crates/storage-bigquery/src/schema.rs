//! The BigQuery schema: the data model's tables with BigQuery types
//! (ARRAY<STRING> for source_strategies, JSON for maps and keyword lists,
//! TIMESTAMP for times), partitioning and CLUSTER BY in place of the data
//! model's `CREATE INDEX` statements (reasoning in docs/bigquery.md), and the
//! versioned migrations that build it.
//!
//! BigQuery has no transactional DDL, so every statement of a migration is
//! idempotent (`IF NOT EXISTS`, backfills guarded by `IS NULL`) and the applied
//! version is recorded in `schema_migrations` after its statements succeed: a
//! migration interrupted half-way, or run by two processes at once, converges.

use std::collections::{BTreeMap, BTreeSet};

/// A column's BigQuery type, which also decides how it is staged and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Str,
    Int,
    Float,
    Bool,
    Ts,
    StrArray,
    /// ARRAY<FLOAT64>: staged as a JSON array of numbers, read as JSON text.
    FloatArray,
    Json,
}

pub type Cols = &'static [(&'static str, Ty)];

use Ty::*;

pub const POSTING_COLS: Cols = &[
    ("job_posting_id", Str),
    ("title", Str),
    ("company", Str),
    ("location", Str),
    ("description", Str),
    ("posted_at", Ts),
    ("source", Str),
    ("url", Str),
    ("ingested_at", Ts),
];

pub const ENRICHMENT_COLS: Cols = &[
    ("job_posting_id", Str),
    ("enrichment_type", Str),
    ("enrichment_version", Str),
    ("status", Str),
    ("model_id", Str),
    ("model_version", Str),
    ("attempts", Int),
    ("error_message", Str),
    ("lease_owner", Str),
    ("lease_expires_at", Ts),
    ("next_attempt_at", Ts),
    ("created_at", Ts),
    ("updated_at", Ts),
    ("completed_at", Ts),
    ("metadata", Json),
    ("enrichment_id", Str),
];

pub const SKILL_COLS: Cols = &[
    ("job_posting_id", Str),
    ("skill_name", Str),
    ("skill_category", Str),
    ("confidence_score", Float),
    ("source_strategies", StrArray),
    ("section_relevance_score", Float),
    ("extracted_from_section", Str),
    ("context_snippet", Str),
    ("position_in_text", Int),
    ("mention_count", Int),
    ("taxonomy_ref", Str),
    ("enrichment_version", Str),
    ("created_at", Ts),
    ("skill_id", Str),
    ("enrichment_id", Str),
    ("mention_spans", Json),
    ("taxonomy_links", Json),
];

pub const SECTION_COLS: Cols = &[
    ("job_posting_id", Str),
    ("section_index", Int),
    ("section_header", Str),
    ("section_type", Str),
    ("section_text", Str),
    ("start_offset", Int),
    ("end_offset", Int),
    ("is_skills_relevant", Bool),
    ("relevance_probability", Float),
    ("classification_method", Str),
    ("classifier_version", Str),
    ("created_at", Ts),
    ("classification_id", Str),
];

pub const EMBEDDING_COLS: Cols = &[
    ("job_posting_id", Str),
    ("enrichment_version", Str),
    ("enrichment_id", Str),
    ("model_id", Str),
    ("model_version", Str),
    ("dimension", Int),
    ("embedding", FloatArray),
    ("source_chars", Int),
    ("created_at", Ts),
];

pub const CLUSTER_COLS: Cols = &[
    ("job_posting_id", Str),
    ("cluster_id", Int),
    ("cluster_name", Str),
    ("cluster_keywords", Json),
    ("cluster_size", Int),
    ("cluster_run_id", Str),
    ("cluster_model_id", Str),
    ("cluster_model_version", Str),
    ("cluster_version", Int),
    ("is_active", Bool),
    ("created_at", Ts),
    ("cluster_assignment_id", Str),
    ("enrichment_id", Str),
];

pub const ALIAS_COLS: Cols = &[
    ("alias_key", Str),
    ("alias_text", Str),
    ("canonical_name", Str),
    ("skill_category", Str),
    ("confidence", Float),
    ("source", Str),
    ("is_active", Bool),
    ("created_at", Ts),
    ("updated_at", Ts),
    ("alias_id", Str),
    ("created_by", Str),
];

pub const MODEL_COLS: Cols = &[
    ("model_id", Str),
    ("model_type", Str),
    ("version", Str),
    ("description", Str),
    ("is_active", Bool),
    ("config_overrides", Json),
    ("performance_metrics", Json),
    ("created_at", Ts),
    ("updated_at", Ts),
    ("activated_at", Ts),
    ("activated_by", Str),
    ("training_data_version", Str),
    ("training_date", Ts),
];

pub const EVALUATION_COLS: Cols = &[
    ("evaluation_id", Str),
    ("model_id", Str),
    ("model_version", Str),
    ("dataset_version", Str),
    ("dataset_path", Str),
    ("overall_precision", Float),
    ("overall_recall", Float),
    ("overall_f1", Float),
    ("category_metrics", Json),
    ("additional_metrics", Json),
    ("sample_count", Int),
    ("execution_time_seconds", Float),
    ("is_ci_run", Bool),
    ("ci_build_id", Str),
    ("threshold_passed", Bool),
    ("evaluation_date", Ts),
];

/// The SELECT list reading `cols` (optionally through a table alias) in a
/// form the row decoder understands: TIMESTAMP as epoch microseconds (exact
/// and identical on every BigQuery implementation), ARRAY and JSON as JSON text.
pub fn select_list(cols: Cols, alias: &str) -> String {
    let prefix = if alias.is_empty() {
        String::new()
    } else {
        format!("{alias}.")
    };
    cols.iter()
        .map(|(name, ty)| match ty {
            Ts => format!("UNIX_MICROS({prefix}{name}) AS {name}"),
            StrArray | FloatArray | Json => {
                format!("TO_JSON_STRING({prefix}{name}) AS {name}")
            }
            _ => format!("{prefix}{name}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Comma-separated column names.
pub fn names(cols: Cols) -> String {
    cols.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// A subquery over the rows of `kind` staged under `@{batch_param}`, decoded
/// from their JSON payload into typed columns; a row staged twice by a retried
/// insertAll appears once. `kind` is a constant of the adapter, never input.
pub fn staged(cols: Cols, batch_param: &str, kind: &str) -> String {
    let decoded = decode_list(cols);
    format!(
        "(SELECT {decoded} FROM (SELECT row_index, ANY_VALUE(payload) AS payload \
         FROM _staging WHERE batch_id = @{batch_param} GROUP BY row_index) \
         WHERE JSON_VALUE(payload, '$._kind') = '{kind}')"
    )
}

/// The rows of `kind` in the JSON-array parameter `@{param}`, decoded like
/// staged rows (a small batch sent inline with its statement).
pub fn inline_rows(cols: Cols, param: &str, kind: &str) -> String {
    format!(
        "(SELECT {} FROM UNNEST(JSON_QUERY_ARRAY(@{param})) AS payload \
         WHERE JSON_VALUE(payload, '$._kind') = '{kind}')",
        decode_list(cols)
    )
}

/// A one-row subquery decoding the JSON object in parameter `@{param}`
/// (single-row writes: one request, no staging).
pub fn from_json_param(cols: Cols, param: &str) -> String {
    format!(
        "(SELECT {} FROM (SELECT @{param} AS payload))",
        decode_list(cols)
    )
}

fn decode_list(cols: Cols) -> String {
    cols.iter()
        .map(|(name, ty)| {
            let path = format!("'$.{name}'");
            match ty {
                Str => format!("JSON_VALUE(payload, {path}) AS {name}"),
                Int => format!("CAST(JSON_VALUE(payload, {path}) AS INT64) AS {name}"),
                Float => format!("CAST(JSON_VALUE(payload, {path}) AS FLOAT64) AS {name}"),
                Bool => format!("CAST(JSON_VALUE(payload, {path}) AS BOOL) AS {name}"),
                Ts => format!(
                    "TIMESTAMP_MICROS(CAST(JSON_VALUE(payload, {path}) AS INT64)) AS {name}"
                ),
                StrArray => format!("JSON_VALUE_ARRAY(payload, {path}) AS {name}"),
                // Element order kept explicitly: UNNEST alone promises none.
                FloatArray => format!(
                    "ARRAY(SELECT CAST(x AS FLOAT64) FROM UNNEST(JSON_VALUE_ARRAY(payload, {path})) \
                     AS x WITH OFFSET AS o ORDER BY o) AS {name}"
                ),
                Json => format!("PARSE_JSON(JSON_QUERY(payload, {path})) AS {name}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One step of the schema history.
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    /// Column renames `(table, from, to)`, run first. Each runs only while
    /// `from` exists and `to` does not: BigQuery's `RENAME COLUMN IF EXISTS`
    /// is refused by the emulator, and an adopted dataset already has the
    /// seed's names. The migrator decides from INFORMATION_SCHEMA.COLUMNS.
    pub renames: &'static [(&'static str, &'static str, &'static str)],
    /// Idempotent statements, run in order.
    pub statements: &'static [&'static str],
}

/// The schema history, in order. Never edit an applied migration: add one.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_initial_tables",
        renames: &[],
        statements: &[
            // Lookups and keyset pages by id; monthly partitions keep "postings
            // ingested since …" scans (incremental runs, retention) cheap.
            "CREATE TABLE IF NOT EXISTS job_postings (
                id STRING NOT NULL, title STRING NOT NULL, company STRING, location STRING,
                description STRING NOT NULL, posted_at TIMESTAMP, source STRING, url STRING,
                ingested_at TIMESTAMP NOT NULL)
             PARTITION BY TIMESTAMP_TRUNC(ingested_at, MONTH)
             CLUSTER BY id",
            // idx_job_enrichments_type_status / _lease / _version: claims and
            // status counts filter on type then status; the anti-join on job_id.
            "CREATE TABLE IF NOT EXISTS job_enrichments (
                job_id STRING NOT NULL, enrichment_type STRING NOT NULL, status STRING NOT NULL,
                model_id STRING, model_version STRING, error_message STRING,
                created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL,
                completed_at TIMESTAMP)
             CLUSTER BY enrichment_type, status, job_id",
            // idx_job_skills_job_id; top_skills reads every row of a version anyway.
            "CREATE TABLE IF NOT EXISTS job_skills (
                job_id STRING NOT NULL, skill_name STRING NOT NULL,
                skill_category STRING NOT NULL, confidence_score FLOAT64 NOT NULL,
                source_strategies ARRAY<STRING>, context_snippet STRING,
                position_in_text INT64, created_at TIMESTAMP NOT NULL)
             CLUSTER BY job_id, skill_name",
            "CREATE TABLE IF NOT EXISTS job_clusters (
                job_id STRING NOT NULL, cluster_id INT64 NOT NULL, cluster_name STRING NOT NULL,
                cluster_keywords JSON, cluster_size INT64 NOT NULL,
                assigned_at TIMESTAMP NOT NULL)
             CLUSTER BY job_id",
        ],
    },
    Migration {
        version: 2,
        name: "0002_versioning_leases_and_registry",
        renames: &[],
        statements: &[
            // Columns added by ALTER are NULLABLE in BigQuery; the backfills
            // below give old rows their values and the adapter always writes them.
            "ALTER TABLE job_enrichments
                ADD COLUMN IF NOT EXISTS enrichment_version STRING,
                ADD COLUMN IF NOT EXISTS attempts INT64,
                ADD COLUMN IF NOT EXISTS lease_owner STRING,
                ADD COLUMN IF NOT EXISTS lease_expires_at TIMESTAMP,
                ADD COLUMN IF NOT EXISTS next_attempt_at TIMESTAMP,
                ADD COLUMN IF NOT EXISTS claim_token STRING",
            "UPDATE job_enrichments SET enrichment_version = 'legacy'
             WHERE enrichment_version IS NULL",
            "UPDATE job_enrichments
             SET attempts = CASE WHEN status = 'pending' THEN 0 ELSE 1 END
             WHERE attempts IS NULL",
            "ALTER TABLE job_skills
                ADD COLUMN IF NOT EXISTS section_relevance_score FLOAT64,
                ADD COLUMN IF NOT EXISTS extracted_from_section STRING,
                ADD COLUMN IF NOT EXISTS mention_count INT64,
                ADD COLUMN IF NOT EXISTS taxonomy_ref STRING,
                ADD COLUMN IF NOT EXISTS enrichment_version STRING",
            "UPDATE job_skills SET enrichment_version = 'legacy' WHERE enrichment_version IS NULL",
            "UPDATE job_skills SET mention_count = 1 WHERE mention_count IS NULL",
            "ALTER TABLE job_clusters
                ADD COLUMN IF NOT EXISTS cluster_run_id STRING,
                ADD COLUMN IF NOT EXISTS cluster_model_id STRING,
                ADD COLUMN IF NOT EXISTS cluster_model_version STRING,
                ADD COLUMN IF NOT EXISTS cluster_version INT64,
                ADD COLUMN IF NOT EXISTS is_active BOOL",
            "UPDATE job_clusters
             SET cluster_run_id = 'legacy', cluster_model_id = 'legacy',
                 cluster_model_version = 'v0.0', cluster_version = 1, is_active = TRUE
             WHERE cluster_run_id IS NULL",
            // idx_skill_aliases_key (unique, case-insensitive): alias_key is the
            // Unicode-lower-cased text; uniqueness is kept by conditional DML.
            "CREATE TABLE IF NOT EXISTS skill_aliases (
                alias_key STRING NOT NULL, alias_text STRING NOT NULL,
                canonical_name STRING NOT NULL, category STRING NOT NULL,
                confidence FLOAT64 NOT NULL, source STRING NOT NULL, is_active BOOL NOT NULL,
                created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)
             CLUSTER BY alias_key",
            "CREATE TABLE IF NOT EXISTS section_classifications (
                job_id STRING NOT NULL, classifier_version STRING NOT NULL,
                section_index INT64 NOT NULL, section_header STRING, section_type STRING NOT NULL,
                section_text STRING NOT NULL, start_offset INT64 NOT NULL,
                end_offset INT64 NOT NULL, is_skills_relevant BOOL NOT NULL,
                relevance_probability FLOAT64 NOT NULL, classification_method STRING NOT NULL,
                created_at TIMESTAMP NOT NULL)
             CLUSTER BY job_id, classifier_version",
            "CREATE TABLE IF NOT EXISTS evaluation_results (
                evaluation_id STRING NOT NULL, model_id STRING NOT NULL,
                model_version STRING NOT NULL, dataset_version STRING NOT NULL,
                dataset_path STRING, precision FLOAT64 NOT NULL, recall FLOAT64 NOT NULL,
                f1_score FLOAT64 NOT NULL, category_metrics JSON, additional_metrics JSON,
                sample_count INT64 NOT NULL, execution_time_seconds FLOAT64 NOT NULL,
                is_ci_run BOOL NOT NULL, ci_build_id STRING, threshold_passed BOOL,
                evaluated_at TIMESTAMP NOT NULL)
             CLUSTER BY model_id, evaluated_at",
            "CREATE TABLE IF NOT EXISTS model_config (
                model_id STRING NOT NULL, version STRING NOT NULL, model_type STRING NOT NULL,
                description STRING, is_active BOOL NOT NULL, config_overrides JSON,
                performance_metrics JSON, created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL, activated_at TIMESTAMP, activated_by STRING)
             CLUSTER BY model_id, model_type",
        ],
    },
    Migration {
        version: 3,
        name: "0003_write_staging",
        renames: &[],
        statements: &[
            // Batches are streamed here (insertAll with insertIds) and applied to
            // their table by one MERGE/DML script. Rows are never updated or
            // deleted (the streaming buffer forbids it); partitions expire.
            "CREATE TABLE IF NOT EXISTS _staging (
                batch_id STRING NOT NULL, row_index INT64 NOT NULL, payload STRING NOT NULL,
                staged_at TIMESTAMP NOT NULL)
             PARTITION BY DATE(staged_at)
             CLUSTER BY batch_id
             OPTIONS (partition_expiration_days = 2)",
        ],
    },
    Migration {
        version: 4,
        name: "0004_seed_names",
        // The seed's column names. On a dataset this project created, the
        // old names are renamed (rows, types and clustering kept); an adopted
        // pre-extension dataset has them already.
        renames: &[
            ("job_postings", "id", "job_posting_id"),
            ("job_enrichments", "job_id", "job_posting_id"),
            ("job_skills", "job_id", "job_posting_id"),
            ("section_classifications", "job_id", "job_posting_id"),
            ("job_clusters", "job_id", "job_posting_id"),
            ("job_clusters", "assigned_at", "created_at"),
            ("skill_aliases", "category", "skill_category"),
            ("evaluation_results", "precision", "overall_precision"),
            ("evaluation_results", "recall", "overall_recall"),
            ("evaluation_results", "f1_score", "overall_f1"),
            ("evaluation_results", "evaluated_at", "evaluation_date"),
        ],
        statements: &[
            // The seed's ids, and what an adopted pre-extension table lacks
            // of this project's columns (model, completion, provenance).
            "ALTER TABLE job_enrichments
                ADD COLUMN IF NOT EXISTS enrichment_id STRING,
                ADD COLUMN IF NOT EXISTS metadata JSON,
                ADD COLUMN IF NOT EXISTS model_id STRING,
                ADD COLUMN IF NOT EXISTS model_version STRING,
                ADD COLUMN IF NOT EXISTS completed_at TIMESTAMP",
            "UPDATE job_enrichments SET enrichment_id = GENERATE_UUID() WHERE enrichment_id IS NULL",
            "ALTER TABLE job_skills
                ADD COLUMN IF NOT EXISTS skill_id STRING,
                ADD COLUMN IF NOT EXISTS enrichment_id STRING,
                ADD COLUMN IF NOT EXISTS source_strategies ARRAY<STRING>,
                ADD COLUMN IF NOT EXISTS position_in_text INT64",
            "UPDATE job_skills SET skill_id = GENERATE_UUID() WHERE skill_id IS NULL",
            // A skill references the extraction that wrote it: same job and version.
            "UPDATE job_skills k SET enrichment_id = e.enrichment_id
             FROM job_enrichments e
             WHERE k.enrichment_id IS NULL AND e.job_posting_id = k.job_posting_id
               AND e.enrichment_type = 'skills_extraction'
               AND e.enrichment_version = k.enrichment_version",
            "ALTER TABLE section_classifications
                ADD COLUMN IF NOT EXISTS classification_id STRING",
            "UPDATE section_classifications SET classification_id = GENERATE_UUID()
             WHERE classification_id IS NULL",
            "ALTER TABLE job_clusters
                ADD COLUMN IF NOT EXISTS cluster_assignment_id STRING,
                ADD COLUMN IF NOT EXISTS enrichment_id STRING",
            "UPDATE job_clusters SET cluster_assignment_id = GENERATE_UUID()
             WHERE cluster_assignment_id IS NULL",
            "ALTER TABLE skill_aliases
                ADD COLUMN IF NOT EXISTS alias_id STRING,
                ADD COLUMN IF NOT EXISTS created_by STRING",
            "UPDATE skill_aliases SET alias_id = GENERATE_UUID(),
                 created_by = COALESCE(created_by, 'legacy')
             WHERE alias_id IS NULL",
            "ALTER TABLE model_config
                ADD COLUMN IF NOT EXISTS training_data_version STRING,
                ADD COLUMN IF NOT EXISTS training_date TIMESTAMP",
        ],
    },
    Migration {
        version: 5,
        name: "0005_mention_spans",
        renames: &[],
        statements: &[
            // Every mention as a JSON array of [start, end] char offsets, the
            // same text as SQLite's column (docs/data-model.md says why JSON).
            // Existing rows keep NULL, read as no spans.
            "ALTER TABLE job_skills ADD COLUMN IF NOT EXISTS mention_spans JSON",
        ],
    },
    Migration {
        version: 6,
        name: "0006_job_embeddings",
        renames: &[],
        statements: &[
            // One vector per (embeddings version, job). Every read filters on
            // one version (a page of it, or some jobs at it), so the version
            // clusters first, like SQLite's (enrichment_version, job_posting_id) key.
            "CREATE TABLE IF NOT EXISTS job_embeddings (
                job_posting_id STRING NOT NULL, enrichment_version STRING NOT NULL,
                enrichment_id STRING, model_id STRING NOT NULL, model_version STRING NOT NULL,
                dimension INT64 NOT NULL, embedding ARRAY<FLOAT64>, source_chars INT64 NOT NULL,
                created_at TIMESTAMP NOT NULL)
             CLUSTER BY enrichment_version, job_posting_id",
        ],
    },
    Migration {
        version: 7,
        name: "0007_taxonomy_links",
        renames: &[],
        statements: &[
            // Ranked ESCO candidates as a JSON array of {label, score, exact},
            // the same text as SQLite's column. Existing rows keep NULL, read
            // as none.
            "ALTER TABLE job_skills ADD COLUMN IF NOT EXISTS taxonomy_links JSON",
        ],
    },
    Migration {
        version: 8,
        name: "0008_queue_coordination",
        renames: &[],
        statements: &[
            // One row: which store currently applies the queue's changes
            // (docs/bigquery.md, "Coordinated queue"). Its token changes hands
            // by compare-and-set; every applying transaction updates it, so
            // two would-be leaders' transactions conflict and one aborts.
            "CREATE TABLE IF NOT EXISTS queue_coordinator (
                name STRING NOT NULL, holder STRING, token STRING, heartbeat_at TIMESTAMP)",
            "MERGE queue_coordinator t USING (SELECT 'queue' AS name) s ON t.name = s.name
             WHEN NOT MATCHED THEN INSERT (name) VALUES (s.name)",
            // Operations of stores that are not leading, streamed (insertAll,
            // never mutated), and the leader's replies, written inside the
            // transaction that applied them. Both expire.
            "CREATE TABLE IF NOT EXISTS queue_requests (
                request_id STRING NOT NULL, row_index INT64 NOT NULL, payload STRING NOT NULL,
                staged_at TIMESTAMP NOT NULL)
             PARTITION BY DATE(staged_at)
             CLUSTER BY request_id
             OPTIONS (partition_expiration_days = 2)",
            "CREATE TABLE IF NOT EXISTS queue_replies (
                request_id STRING NOT NULL, reply STRING NOT NULL, applied_at TIMESTAMP NOT NULL)
             PARTITION BY DATE(applied_at)
             CLUSTER BY request_id
             OPTIONS (partition_expiration_days = 2)",
        ],
    },
];

pub const CREATE_SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version INT64 NOT NULL, name STRING NOT NULL, applied_at TIMESTAMP NOT NULL)";

pub const RECORD_MIGRATION: &str = "MERGE schema_migrations t
USING (SELECT @version AS version) s ON t.version = s.version
WHEN NOT MATCHED THEN INSERT (version, name, applied_at) VALUES (@version, @name, @now)";

/// The latest schema version this build knows.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// What a dataset holds: each table's column names.
pub type DatasetShape = BTreeMap<String, BTreeSet<String>>;

/// Whether a rename applies to a dataset of this shape: the old column is
/// there and the new one is not. A table the shape lacks is one an earlier
/// step of the same plan creates, with the old names.
pub fn rename_applies(shape: &DatasetShape, table: &str, from: &str, to: &str) -> bool {
    shape
        .get(table)
        .is_none_or(|cols| cols.contains(from) && !cols.contains(to))
}

/// `ALTER TABLE … RENAME COLUMN …` (one rename per statement: the emulator
/// refuses several in one ALTER).
pub fn rename_sql(table: &str, from: &str, to: &str) -> String {
    format!("ALTER TABLE {table} RENAME COLUMN {from} TO {to}")
}

/// The table a `CREATE TABLE IF NOT EXISTS` statement creates.
fn created_table(statement: &str) -> Option<&str> {
    let rest = statement
        .trim_start()
        .strip_prefix("CREATE TABLE IF NOT EXISTS ")?;
    rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .next()
}

/// Everything `migrate` would run on a dataset of this shape, as SQL text
/// (for `jobenrich bigquery plan`): applied versions are listed as skipped,
/// `CREATE TABLE IF NOT EXISTS` of a table the dataset has is left out (an
/// adopted dataset's tables get only ALTERs and backfills), and renames only
/// where the old column is there.
pub fn migration_plan(
    project: &str,
    dataset: &str,
    location: &str,
    applied_version: u32,
    shape: &DatasetShape,
) -> String {
    let mut out = format!(
        "-- BigQuery schema plan for `{project}.{dataset}` (location {location})\n\
         -- Statements run with default dataset `{project}.{dataset}`.\n\
         -- Dataset: created through the datasets API if absent.\n\n"
    );
    if !shape.contains_key("schema_migrations") {
        out.push_str(&format!("{CREATE_SCHEMA_TABLE};\n\n"));
    }
    for m in MIGRATIONS {
        if m.version <= applied_version {
            out.push_str(&format!(
                "-- {} (version {}): already applied\n\n",
                m.name, m.version
            ));
            continue;
        }
        out.push_str(&format!("-- {} (version {})\n", m.name, m.version));
        for (table, from, to) in m.renames {
            if rename_applies(shape, table, from, to) {
                out.push_str(&rename_sql(table, from, to));
                out.push_str(";\n\n");
            }
        }
        for s in m.statements {
            if let Some(table) = created_table(s).filter(|t| shape.contains_key(*t)) {
                out.push_str(&format!("-- table {table} exists: kept as it is\n\n"));
                continue;
            }
            out.push_str(&unindent(s));
            out.push_str(";\n\n");
        }
        out.push_str(&format!(
            "{};\n-- with @version = {}, @name = '{}', @now = CURRENT_TIMESTAMP()\n\n",
            RECORD_MIGRATION, m.version, m.name
        ));
    }
    out
}

fn unindent(sql: &str) -> String {
    sql.lines()
        .map(|l| {
            let t = l.trim_start();
            if l.len() != t.len() && !t.is_empty() {
                format!("    {t}")
            } else {
                t.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_lists_every_pending_migration_and_skips_applied_ones() {
        let full = migration_plan("p", "d", "US", 0, &DatasetShape::new());
        for m in MIGRATIONS {
            assert!(full.contains(m.name), "{}", m.name);
        }
        assert!(full.contains("ADD COLUMN IF NOT EXISTS enrichment_version"));
        assert!(full.contains("CLUSTER BY enrichment_type, status, job_id"));
        assert!(full.contains("ALTER TABLE job_postings RENAME COLUMN id TO job_posting_id"));
        let partial = migration_plan("p", "d", "US", 2, &DatasetShape::new());
        assert!(partial.contains("0001_initial_tables (version 1): already applied"));
        assert!(partial.contains("CREATE TABLE IF NOT EXISTS _staging"));
        assert!(!partial.contains("CREATE TABLE IF NOT EXISTS job_postings"));
    }

    #[test]
    fn plan_for_an_adopted_dataset_alters_its_tables_and_renames_nothing_it_has() {
        let cols = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let shape = DatasetShape::from([
            (
                "job_postings".to_string(),
                cols(&["job_posting_id", "title"]),
            ),
            (
                "job_enrichments".to_string(),
                cols(&["enrichment_id", "job_posting_id", "status"]),
            ),
            (
                "job_skills".to_string(),
                cols(&["skill_id", "job_posting_id"]),
            ),
            (
                "job_clusters".to_string(),
                cols(&["cluster_assignment_id", "job_posting_id", "created_at"]),
            ),
        ]);
        let plan = migration_plan("p", "brightdata_jobs", "US", 0, &shape);
        for table in [
            "job_postings",
            "job_enrichments",
            "job_skills",
            "job_clusters",
        ] {
            assert!(
                !plan.contains(&format!("CREATE TABLE IF NOT EXISTS {table} ")),
                "{table} exists: {plan}"
            );
            assert!(plan.contains(&format!("-- table {table} exists: kept as it is")));
        }
        for table in [
            "job_postings",
            "job_enrichments",
            "job_skills",
            "job_clusters",
        ] {
            assert!(
                !plan.contains(&format!("ALTER TABLE {table} RENAME")),
                "{table} has the seed's names: {plan}"
            );
        }
        assert!(plan.contains(
            "ALTER TABLE job_enrichments\n    ADD COLUMN IF NOT EXISTS enrichment_version"
        ));
        assert!(plan.contains("UPDATE job_enrichments SET enrichment_version = 'legacy'"));
        // New tables of the extension are created, then renamed to the seed's names.
        assert!(plan.contains("CREATE TABLE IF NOT EXISTS skill_aliases"));
        assert!(plan.contains("ALTER TABLE skill_aliases RENAME COLUMN category TO skill_category"));
    }

    #[test]
    fn staged_rows_decode_each_type_and_collapse_retried_rows() {
        let sql = staged(SKILL_COLS, "b", "skill");
        assert!(sql.contains("JSON_VALUE_ARRAY(payload, '$.source_strategies')"));
        assert!(
            sql.contains("TIMESTAMP_MICROS(CAST(JSON_VALUE(payload, '$.created_at') AS INT64))")
        );
        assert!(sql.contains("GROUP BY row_index"));
        assert!(sql.contains("batch_id = @b"));
        assert!(sql.contains("PARSE_JSON(JSON_QUERY(payload, '$.mention_spans'))"));
        assert!(sql.contains("PARSE_JSON(JSON_QUERY(payload, '$.taxonomy_links'))"));
        assert_eq!(latest_version(), 8);
        let embeddings = staged(EMBEDDING_COLS, "b", "embedding");
        assert!(embeddings.contains("WITH OFFSET AS o ORDER BY o) AS embedding"));
    }
}
