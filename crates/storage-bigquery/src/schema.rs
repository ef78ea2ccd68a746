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

/// A column's BigQuery type, which also decides how it is staged and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Str,
    Int,
    Float,
    Bool,
    Ts,
    StrArray,
    Json,
}

pub type Cols = &'static [(&'static str, Ty)];

use Ty::*;

pub const POSTING_COLS: Cols = &[
    ("id", Str),
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
    ("job_id", Str),
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
];

pub const SKILL_COLS: Cols = &[
    ("job_id", Str),
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
];

pub const SECTION_COLS: Cols = &[
    ("job_id", Str),
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
];

pub const CLUSTER_COLS: Cols = &[
    ("job_id", Str),
    ("cluster_id", Int),
    ("cluster_name", Str),
    ("cluster_keywords", Json),
    ("cluster_size", Int),
    ("cluster_run_id", Str),
    ("cluster_model_id", Str),
    ("cluster_model_version", Str),
    ("cluster_version", Int),
    ("is_active", Bool),
    ("assigned_at", Ts),
];

pub const ALIAS_COLS: Cols = &[
    ("alias_key", Str),
    ("alias_text", Str),
    ("canonical_name", Str),
    ("category", Str),
    ("confidence", Float),
    ("source", Str),
    ("is_active", Bool),
    ("created_at", Ts),
    ("updated_at", Ts),
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
];

pub const EVALUATION_COLS: Cols = &[
    ("evaluation_id", Str),
    ("model_id", Str),
    ("model_version", Str),
    ("dataset_version", Str),
    ("dataset_path", Str),
    ("precision", Float),
    ("recall", Float),
    ("f1_score", Float),
    ("category_metrics", Json),
    ("additional_metrics", Json),
    ("sample_count", Int),
    ("execution_time_seconds", Float),
    ("is_ci_run", Bool),
    ("ci_build_id", Str),
    ("threshold_passed", Bool),
    ("evaluated_at", Ts),
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
            StrArray | Json => format!("TO_JSON_STRING({prefix}{name}) AS {name}"),
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
    /// Idempotent statements, run in order.
    pub statements: &'static [&'static str],
}

/// The schema history, in order. Never edit an applied migration: add one.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_initial_tables",
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

/// Everything `migrate` would run on an empty dataset, as SQL text (for
/// `jobenrich bigquery plan`); applied versions are listed as skipped.
pub fn migration_plan(
    project: &str,
    dataset: &str,
    location: &str,
    applied_version: u32,
) -> String {
    let mut out = format!(
        "-- BigQuery schema plan for `{project}.{dataset}` (location {location})\n\
         -- Statements run with default dataset `{project}.{dataset}`.\n\
         -- Dataset: created through the datasets API if absent.\n\n\
         {CREATE_SCHEMA_TABLE};\n\n"
    );
    for m in MIGRATIONS {
        if m.version <= applied_version {
            out.push_str(&format!(
                "-- {} (version {}): already applied\n\n",
                m.name, m.version
            ));
            continue;
        }
        out.push_str(&format!("-- {} (version {})\n", m.name, m.version));
        for s in m.statements {
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
        let full = migration_plan("p", "d", "US", 0);
        for m in MIGRATIONS {
            assert!(full.contains(m.name), "{}", m.name);
        }
        assert!(full.contains("ADD COLUMN IF NOT EXISTS enrichment_version"));
        assert!(full.contains("CLUSTER BY enrichment_type, status, job_id"));
        let partial = migration_plan("p", "d", "US", 2);
        assert!(partial.contains("0001_initial_tables (version 1): already applied"));
        assert!(partial.contains("CREATE TABLE IF NOT EXISTS _staging"));
        assert!(!partial.contains("CREATE TABLE IF NOT EXISTS job_postings"));
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
        assert_eq!(latest_version(), 3);
    }
}
