//! BigQuery adapter of every jobenrich repository port, on `gcp-bigquery-client`
//! (rustls, no gzip). It passes the same contract suite as the SQLite adapter,
//! run against a local emulator (`scripts/bigquery-emulator.sh`).
//!
//! How the guarantees of the ports are kept on BigQuery (details per method in
//! docs/bigquery.md):
//! - batch writes stream their rows into `_staging` with insertAll (a request
//!   per 9 MB / `insert_batch_rows`, an insertId per row) and then apply them with one
//!   MERGE/DML script, inside `BEGIN TRANSACTION … COMMIT` where several tables
//!   change: the batch is atomic and a retried request stores nothing twice;
//! - the queue's claims, completions and releases are applied by one store at
//!   a time for every store (`coordinator`, `queue: coordinated`): planned in
//!   Rust with the domain's rules (`plan`) and written per cycle by one
//!   compare-and-set transaction, so its DML does not grow with workers or
//!   batches; `queue: direct` runs one conditional UPDATE per claim and one
//!   transaction per completion instead;
//! - state changes are compare-and-set UPDATEs that `RAISE` (rolling the script
//!   back) when a row changed underneath;
//! - every value travels as a named query parameter; transient errors are
//!   retried with capped exponential backoff and jitter.

mod client;
mod codec;
mod coordinator;
mod embeddings;
mod plan;
mod queue;
mod registry;
mod results;
pub mod schema;
mod settings;

pub use client::{backoff_delay, ts_text};
pub use settings::{BigQueryCredentials, BigQuerySettings, QueueMode};

use async_trait::async_trait;
use chrono::Utc;
use client::{BigQueryClient, Params, QueryOutcome};
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::validation::Validate;
use jobenrich_domain::{
    InsertCounts, JobId, JobPosting, JobPostingRepository, MigrationReport, SchemaMigrator,
    SpaceReport, Store, StoreError,
};
use schema::{names, select_list, Cols, POSTING_COLS};
use serde_json::Value;
use std::collections::BTreeSet;

/// Every port over one BigQuery dataset. Clones share the client, its
/// request counter and the queue coordination.
#[derive(Clone)]
pub struct BigQueryStore {
    client: BigQueryClient,
    /// `Some` with `queue: coordinated` (docs/bigquery.md).
    coordinator: Option<std::sync::Arc<coordinator::Coordinator>>,
}

impl std::fmt::Debug for BigQueryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BigQueryStore")
            .field("project", &self.client.project)
            .field("dataset", &self.client.dataset)
            .finish_non_exhaustive()
    }
}

/// The DDL and migrations `migrate` would run on an empty dataset, as text
/// (`jobenrich bigquery plan`). Needs no connection.
pub fn migration_plan(settings: &BigQuerySettings) -> String {
    schema::migration_plan(
        &settings.project,
        &settings.dataset,
        &settings.location,
        0,
        &schema::DatasetShape::new(),
    )
}

impl BigQueryStore {
    /// Builds the client from the settings (no request is sent yet).
    pub async fn connect(settings: BigQuerySettings) -> Result<Self, StoreError> {
        if settings.project.trim().is_empty() || settings.dataset.trim().is_empty() {
            return Err(StoreError::Backend(
                "bigquery.project and bigquery.dataset must be set".into(),
            ));
        }
        if !settings
            .dataset
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(StoreError::Backend(format!(
                "bigquery.dataset {:?}: only letters, digits and underscores are allowed",
                settings.dataset
            )));
        }
        let coordinator = match settings.queue {
            QueueMode::Coordinated => Some(std::sync::Arc::new(coordinator::Coordinator::new(
                settings.leader_patience_ms,
            ))),
            QueueMode::Direct => None,
        };
        Ok(Self {
            client: BigQueryClient::connect(&settings).await?,
            coordinator,
        })
    }

    /// Creates the store's dataset if it does not exist (no tables).
    pub async fn create_dataset_if_absent(&self) -> StoreResult<()> {
        self.client.ensure_dataset().await
    }

    /// Deletes the store's dataset with every table (throw-away test datasets).
    pub async fn delete_dataset(&self) -> StoreResult<()> {
        self.client.delete_dataset().await
    }

    /// HTTP requests sent to BigQuery by this store so far, retries included.
    pub fn request_count(&self) -> u64 {
        self.client.request_count()
    }

    /// The plan for this store's dataset, skipping what is already applied
    /// and what the dataset already has (an adopted dataset's tables).
    pub async fn pending_migration_plan(&self) -> StoreResult<String> {
        let applied = self.schema_version().await?;
        let shape = self.dataset_shape().await?;
        Ok(schema::migration_plan(
            &self.client.project,
            &self.client.dataset,
            &self.client.location,
            applied,
            &shape,
        ))
    }

    /// Every table of the dataset with its columns (empty if the dataset
    /// does not exist yet).
    pub async fn dataset_shape(&self) -> StoreResult<schema::DatasetShape> {
        if !self.client.dataset_exists().await? {
            return Ok(schema::DatasetShape::new());
        }
        let out = self
            .query(
                "reading the dataset's columns",
                "SELECT table_name, column_name FROM INFORMATION_SCHEMA.COLUMNS",
                Params::new(),
            )
            .await?;
        let mut shape = schema::DatasetShape::new();
        for row in &out.rows {
            shape.entry(row.str(0)?).or_default().insert(row.str(1)?);
        }
        Ok(shape)
    }

    /// Runs one SELECT on the dataset with named text and integer
    /// parameters; cells as text. For the contract cases that hold the
    /// seed's queries as written (never used with user input).
    pub async fn select_text(
        &self,
        sql: &str,
        text_params: &[(&str, &str)],
        int_params: &[(&str, i64)],
    ) -> StoreResult<Vec<Vec<Option<String>>>> {
        let mut params = Params::new();
        for (name, value) in text_params {
            params = params.str(name, value);
        }
        for (name, value) in int_params {
            params = params.i64(name, *value);
        }
        let out = self.query("running a SELECT", sql, params).await?;
        Ok(out.rows.iter().map(|r| r.texts()).collect())
    }

    pub(crate) async fn query(
        &self,
        what: &str,
        sql: &str,
        params: Params,
    ) -> StoreResult<QueryOutcome> {
        self.client.query(what, sql, params).await
    }

    /// Hands a batch of JSON rows, each tagged with its kind, to the statement
    /// that applies it. A small batch travels inline as a JSON-array parameter
    /// of that statement (one request); a large one is streamed into
    /// `_staging` with insertAll (a request per 9 MB or `insert_batch_rows`, an insertId
    /// per row) and read back by batch id.
    pub(crate) async fn stage(&self, rows: Vec<(&'static str, Value)>) -> StoreResult<Batch> {
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|(kind, mut row)| {
                if let Value::Object(fields) = &mut row {
                    fields.insert("_kind".to_string(), Value::String(kind.to_string()));
                }
                row
            })
            .collect();
        if rows.len() <= INLINE_MAX_ROWS {
            let text = serde_json::to_string(&rows)
                .map_err(|e| StoreError::Backend(format!("encoding a batch: {e}")))?;
            if text.len() <= INLINE_MAX_BYTES {
                return Ok(Batch {
                    inline: true,
                    param: text,
                });
            }
        }
        self.stage_streamed(rows).await
    }

    async fn stage_streamed(&self, rows: Vec<Value>) -> StoreResult<Batch> {
        let batch = uuid::Uuid::new_v4().to_string();
        let staged_at = ts_text(Utc::now());
        let rows = rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                (
                    uuid::Uuid::new_v4().to_string(),
                    serde_json::json!({
                        "batch_id": batch, "row_index": i, "payload": row.to_string(),
                        "staged_at": staged_at,
                    }),
                )
            })
            .collect();
        self.client.insert_all("_staging", rows).await?;
        Ok(Batch {
            inline: false,
            param: batch,
        })
    }
}

/// Batches up to this many rows (and bytes of JSON) travel inline.
const INLINE_MAX_ROWS: usize = 200;
const INLINE_MAX_BYTES: usize = 1_000_000;

/// A batch handed to a statement, always as parameter `@batch`.
pub(crate) struct Batch {
    inline: bool,
    param: String,
}

impl Batch {
    /// The subquery yielding the batch's rows of `kind` as typed columns.
    pub(crate) fn source(&self, cols: Cols, kind: &str) -> String {
        if self.inline {
            schema::inline_rows(cols, "batch", kind)
        } else {
            schema::staged(cols, "batch", kind)
        }
    }

    /// The value of `@batch`: the rows themselves, or the staging batch id.
    pub(crate) fn param(&self) -> &str {
        &self.param
    }
}

pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl SchemaMigrator for BigQueryStore {
    async fn migrate(&self) -> StoreResult<MigrationReport> {
        self.client.ensure_dataset().await?;
        let out = self
            .query(
                "reading the schema version",
                &format!(
                    "{};\nSELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                    schema::CREATE_SCHEMA_TABLE
                ),
                Params::new(),
            )
            .await?;
        let current = out.rows.first().map(|r| r.i64(0)).transpose()?.unwrap_or(0);
        let mut applied = Vec::new();
        for m in schema::MIGRATIONS
            .iter()
            .filter(|m| i64::from(m.version) > current)
        {
            // Renames first, each only where the old name is still there.
            if !m.renames.is_empty() {
                let shape = self.dataset_shape().await?;
                for (table, from, to) in m.renames {
                    if shape.contains_key(*table) && schema::rename_applies(&shape, table, from, to)
                    {
                        self.query(
                            &format!("migration {}", m.name),
                            &schema::rename_sql(table, from, to),
                            Params::new(),
                        )
                        .await
                        .map_err(|e| {
                            StoreError::Backend(format!("migration {} failed: {e}", m.name))
                        })?;
                    }
                }
            }
            // One script per migration: its idempotent statements, then the record.
            let script = format!(
                "{};\n{};",
                m.statements.join(";\n"),
                schema::RECORD_MIGRATION
            );
            self.query(
                &format!("migration {}", m.name),
                &script,
                Params::new()
                    .i64("version", i64::from(m.version))
                    .str("name", m.name)
                    .ts("now", Utc::now()),
            )
            .await
            .map_err(|e| StoreError::Backend(format!("migration {} failed: {e}", m.name)))?;
            tracing::info!(migration = m.name, "applied BigQuery schema migration");
            applied.push(m.name.to_string());
        }
        Ok(MigrationReport {
            applied,
            schema_version: self.schema_version().await?,
        })
    }

    /// BigQuery manages its own storage: nothing to give back.
    async fn reclaim_space(&self) -> StoreResult<Option<SpaceReport>> {
        Ok(None)
    }

    async fn schema_version(&self) -> StoreResult<u32> {
        if !self.client.table_exists("schema_migrations").await? {
            return Ok(0);
        }
        let out = self
            .query(
                "reading the schema version",
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                Params::new(),
            )
            .await?;
        let v = out.rows.first().map(|r| r.i64(0)).transpose()?.unwrap_or(0);
        Ok(u32::try_from(v).unwrap_or(0))
    }
}

#[async_trait]
impl JobPostingRepository for BigQueryStore {
    async fn insert_postings(&self, postings: &[JobPosting]) -> StoreResult<InsertCounts> {
        for p in postings {
            p.validate()?;
        }
        let mut seen = BTreeSet::new();
        let unique: Vec<&JobPosting> = postings
            .iter()
            .filter(|p| seen.insert(&p.job_posting_id))
            .collect();
        if unique.is_empty() {
            return Ok(InsertCounts::default());
        }
        let batch = self
            .stage(
                unique
                    .iter()
                    .map(|p| ("posting", codec::posting_json(p)))
                    .collect(),
            )
            .await?;
        let cols = names(POSTING_COLS);
        // Insert-if-absent by id: re-running the same batch (a retry, a re-ingest) adds nothing.
        let sql = format!(
            "MERGE job_postings t USING {} s ON t.job_posting_id = s.job_posting_id
             WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({})",
            batch.source(POSTING_COLS, "posting"),
            POSTING_COLS
                .iter()
                .map(|(n, _)| format!("s.{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let out = self
            .query(
                "inserting postings",
                &sql,
                Params::new().str("batch", batch.param()),
            )
            .await?;
        let inserted = out.dml_affected.unwrap_or(0);
        Ok(InsertCounts {
            inserted,
            // A repeated id within the batch counts as already present, like a re-ingest.
            already_present: postings.len() as u64 - inserted.min(postings.len() as u64),
        })
    }

    async fn get_posting(&self, id: &JobId) -> StoreResult<Option<JobPosting>> {
        let sql = format!(
            "SELECT {} FROM job_postings WHERE job_posting_id = @id",
            select_list(POSTING_COLS, "")
        );
        let out = self
            .query(
                "reading a posting",
                &sql,
                Params::new().str("id", id.as_str()),
            )
            .await?;
        out.rows.first().map(codec::posting_from_row).transpose()
    }

    async fn get_postings(&self, ids: &[JobId]) -> StoreResult<Vec<JobPosting>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {} FROM job_postings WHERE job_posting_id IN UNNEST(@ids) \
             ORDER BY job_posting_id",
            select_list(POSTING_COLS, "")
        );
        let out = self
            .query(
                "reading postings",
                &sql,
                Params::new().str_array("ids", ids.iter().map(|i| i.to_string())),
            )
            .await?;
        out.rows.iter().map(codec::posting_from_row).collect()
    }

    async fn count_postings(&self) -> StoreResult<u64> {
        let out = self
            .query(
                "counting postings",
                "SELECT COUNT(*) FROM job_postings",
                Params::new(),
            )
            .await?;
        Ok(out.rows.first().map(|r| r.i64(0)).transpose()?.unwrap_or(0) as u64)
    }

    async fn list_postings_page(
        &self,
        after: Option<JobId>,
        limit_rows: usize,
    ) -> StoreResult<Vec<JobPosting>> {
        if limit_rows == 0 {
            return Ok(Vec::new());
        }
        let cols = select_list(POSTING_COLS, "");
        let (sql, params) = match after {
            Some(after) => (
                format!(
                    "SELECT {cols} FROM job_postings WHERE job_posting_id > @after \
                     ORDER BY job_posting_id LIMIT @limit"
                ),
                Params::new().str("after", after.as_str()),
            ),
            None => (
                format!("SELECT {cols} FROM job_postings ORDER BY job_posting_id LIMIT @limit"),
                Params::new(),
            ),
        };
        let out = self
            .query(
                "paging postings",
                &sql,
                params.i64("limit", limit(limit_rows)),
            )
            .await?;
        out.rows.iter().map(codec::posting_from_row).collect()
    }
}

impl Store for BigQueryStore {
    fn backend_name(&self) -> &'static str {
        "bigquery"
    }
}
