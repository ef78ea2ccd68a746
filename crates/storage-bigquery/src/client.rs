//! The one place that talks to BigQuery: named-parameter queries with
//! pagination, batched insertAll, retries with capped exponential backoff and
//! full jitter on transient failures, error mapping to `StoreError` (keeping
//! BigQuery's message), and a request counter for the cost figures.

use crate::settings::{BigQueryCredentials, BigQuerySettings};
use chrono::{DateTime, SecondsFormat, Utc};
use gcp_bigquery_client::auth::Authenticator;
use gcp_bigquery_client::error::BQError;
use gcp_bigquery_client::model::dataset::Dataset;
use gcp_bigquery_client::model::dataset_reference::DatasetReference;
use gcp_bigquery_client::model::get_query_results_parameters::GetQueryResultsParameters;
use gcp_bigquery_client::model::query_parameter::QueryParameter;
use gcp_bigquery_client::model::query_parameter_type::QueryParameterType;
use gcp_bigquery_client::model::query_parameter_value::QueryParameterValue;
use gcp_bigquery_client::model::query_request::QueryRequest;
use gcp_bigquery_client::model::table_data_insert_all_request::TableDataInsertAllRequest;
use gcp_bigquery_client::model::table_data_insert_all_request_rows::TableDataInsertAllRequestRows;
use gcp_bigquery_client::model::table_row::TableRow;
use gcp_bigquery_client::Client;
use jobenrich_domain::StoreError;
use rand::Rng;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Rows per result page asked of jobs.query / getQueryResults.
const PAGE_ROWS: i32 = 10_000;
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(4);
/// Longest pause between two polls of an unfinished job.
const POLL_PAUSE_CAP_MS: u64 = 500;

/// The emulator accepts any bearer token; real BigQuery is never sent this.
#[derive(Clone)]
struct NoAuth;

#[async_trait::async_trait]
impl Authenticator for NoAuth {
    async fn access_token(&self) -> Result<String, BQError> {
        Ok("emulator-no-auth".to_string())
    }
}

/// Named query parameters (`@name` in the SQL).
#[derive(Default, Clone)]
pub struct Params(Vec<QueryParameter>);

fn scalar(name: &str, ty: &str, value: Option<String>) -> QueryParameter {
    QueryParameter {
        name: Some(name.to_string()),
        parameter_type: Some(QueryParameterType {
            array_type: None,
            struct_types: None,
            r#type: ty.to_string(),
        }),
        parameter_value: Some(QueryParameterValue {
            array_values: None,
            struct_values: None,
            value,
        }),
    }
}

/// RFC 3339 with microseconds: the exact text both BigQuery and the emulator parse.
pub fn ts_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl Params {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn str(mut self, name: &str, v: impl AsRef<str>) -> Self {
        self.0
            .push(scalar(name, "STRING", Some(v.as_ref().to_string())));
        self
    }
    pub fn i64(mut self, name: &str, v: i64) -> Self {
        self.0.push(scalar(name, "INT64", Some(v.to_string())));
        self
    }
    pub fn bool(mut self, name: &str, v: bool) -> Self {
        self.0.push(scalar(name, "BOOL", Some(v.to_string())));
        self
    }
    pub fn ts(mut self, name: &str, v: DateTime<Utc>) -> Self {
        self.0.push(scalar(name, "TIMESTAMP", Some(ts_text(v))));
        self
    }
    pub fn str_array(mut self, name: &str, values: impl IntoIterator<Item = String>) -> Self {
        let element = QueryParameterType {
            array_type: None,
            struct_types: None,
            r#type: "STRING".to_string(),
        };
        self.0.push(QueryParameter {
            name: Some(name.to_string()),
            parameter_type: Some(QueryParameterType {
                array_type: Some(Box::new(element)),
                struct_types: None,
                r#type: "ARRAY".to_string(),
            }),
            parameter_value: Some(QueryParameterValue {
                // `[]`, never null: BigQuery rejects a null array parameter.
                array_values: Some(
                    values
                        .into_iter()
                        .map(|v| QueryParameterValue {
                            array_values: None,
                            struct_values: None,
                            value: Some(v),
                        })
                        .collect(),
                ),
                struct_values: None,
                value: None,
            }),
        });
        self
    }
}

/// One result row: the cell values in SELECT order.
pub struct Row {
    cells: Vec<Value>,
}

impl Row {
    /// Every cell as text (scalars arrive as JSON strings; NULL as `None`).
    pub fn texts(&self) -> Vec<Option<String>> {
        self.cells
            .iter()
            .map(|c| match c {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            })
            .collect()
    }
    fn cell(&self, i: usize) -> &Value {
        self.cells.get(i).unwrap_or(&Value::Null)
    }
    pub fn opt_str(&self, i: usize) -> StoreResult<Option<String>> {
        match self.cell(i) {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(StoreError::Backend(format!(
                "column {i}: expected a string cell, got {other}"
            ))),
        }
    }
    pub fn str(&self, i: usize) -> StoreResult<String> {
        self.opt_str(i)?
            .ok_or_else(|| StoreError::Backend(format!("column {i}: unexpected NULL")))
    }
    pub fn opt_i64(&self, i: usize) -> StoreResult<Option<i64>> {
        self.opt_str(i)?
            .map(|s| {
                s.parse::<i64>().map_err(|e| {
                    StoreError::Backend(format!("column {i}: {s:?} is not an INT64: {e}"))
                })
            })
            .transpose()
    }
    pub fn i64(&self, i: usize) -> StoreResult<i64> {
        self.opt_i64(i)?
            .ok_or_else(|| StoreError::Backend(format!("column {i}: unexpected NULL")))
    }
    pub fn opt_f64(&self, i: usize) -> StoreResult<Option<f64>> {
        self.opt_str(i)?
            .map(|s| {
                s.parse::<f64>().map_err(|e| {
                    StoreError::Backend(format!("column {i}: {s:?} is not a FLOAT64: {e}"))
                })
            })
            .transpose()
    }
    pub fn f64(&self, i: usize) -> StoreResult<f64> {
        self.opt_f64(i)?
            .ok_or_else(|| StoreError::Backend(format!("column {i}: unexpected NULL")))
    }
    pub fn opt_bool(&self, i: usize) -> StoreResult<Option<bool>> {
        match self.opt_str(i)?.as_deref() {
            None => Ok(None),
            Some("true") | Some("TRUE") => Ok(Some(true)),
            Some("false") | Some("FALSE") => Ok(Some(false)),
            Some(other) => Err(StoreError::Backend(format!(
                "column {i}: {other:?} is not a BOOL"
            ))),
        }
    }
    pub fn bool(&self, i: usize) -> StoreResult<bool> {
        self.opt_bool(i)?
            .ok_or_else(|| StoreError::Backend(format!("column {i}: unexpected NULL")))
    }
    /// A TIMESTAMP selected as `UNIX_MICROS(col)`.
    pub fn opt_micros(&self, i: usize) -> StoreResult<Option<DateTime<Utc>>> {
        self.opt_i64(i)?
            .map(|m| {
                DateTime::<Utc>::from_timestamp_micros(m).ok_or_else(|| {
                    StoreError::Backend(format!("column {i}: {m} µs is out of range"))
                })
            })
            .transpose()
    }
    pub fn micros(&self, i: usize) -> StoreResult<DateTime<Utc>> {
        self.opt_micros(i)?
            .ok_or_else(|| StoreError::Backend(format!("column {i}: unexpected NULL")))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What went wrong with one request, and whether trying again may help.
struct Failure {
    transient: bool,
    /// The statement ran and failed (BigQuery answered with the job's error):
    /// a retry must run it again under a new request id, since the old id
    /// names the failed job. Otherwise (lost response, 5xx, 429) the job may
    /// exist or even have committed, so the id is kept and, when it already
    /// exists, that job's result is fetched instead.
    job_failed: bool,
    message: String,
}

fn classify(e: &BQError) -> Failure {
    match e {
        BQError::RequestError(err) => Failure {
            // Connection refused/reset, timeouts, or a non-JSON body from a proxy.
            transient: err.is_connect()
                || err.is_timeout()
                || err.is_request()
                || err.is_body()
                || err.is_decode(),
            job_failed: false,
            message: format!("request failed: {err}"),
        },
        BQError::ResponseError { error } => {
            let e = &error.error;
            let reasons: Vec<&str> = e
                .errors
                .iter()
                .filter_map(|m| m.get("reason").map(String::as_str))
                .collect();
            let retryable_job_error = is_retryable_job_error(&e.message);
            let transient = matches!(e.code, 429 | 500 | 502 | 503 | 504)
                || reasons.iter().any(|r| {
                    matches!(
                        *r,
                        "rateLimitExceeded"
                            | "backendError"
                            | "internalError"
                            | "jobRateLimitExceeded"
                    )
                })
                || retryable_job_error;
            Failure {
                transient,
                job_failed: e.code == 400 || retryable_job_error,
                message: format!(
                    "BigQuery {} {}: {} (reason: {})",
                    e.code,
                    e.status,
                    e.message,
                    reasons.join(", ")
                ),
            }
        }
        other => Failure {
            transient: false,
            job_failed: false,
            message: other.to_string(),
        },
    }
}

/// A failed job reported inside a 200 answer (`errors` of jobs.query).
fn job_errors(errors: &[gcp_bigquery_client::model::error_proto::ErrorProto]) -> Failure {
    let message = errors
        .iter()
        .map(|e| e.message.clone().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("; ");
    Failure {
        transient: is_retryable_job_error(&message),
        job_failed: true,
        message,
    }
}

/// A job failure that succeeds when run again a little later: a concurrent
/// transaction won (BigQuery: "Could not serialize access … due to concurrent
/// update"; the emulator's DuckDB: "Transaction conflict", "Failed to commit
/// DuckLake transaction"), or the table's DML queue was full ("Too many DML
/// statements outstanding against table …, limit is 20").
fn is_retryable_job_error(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("concurrent update")
        || m.contains("could not serialize")
        || m.contains("transaction conflict")
        || m.contains("conflict on")
        || m.contains("failed to commit ducklake transaction")
        || m.contains("too many dml statements outstanding")
}

/// A 409 on jobs.query naming a job: the request id was used before (the
/// emulator makes it the job id), i.e. an earlier attempt reached BigQuery.
fn is_reused_request_id(e: &BQError) -> bool {
    matches!(e, BQError::ResponseError { error }
        if error.error.code == 409 && error.error.message.contains("Job"))
}

/// Capped exponential backoff with full jitter: uniform in [0, min(cap, base·2^n)].
pub fn backoff_delay(attempt: u32) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << attempt.min(16));
    let ceiling = exp.min(BACKOFF_CAP);
    let millis = rand::thread_rng().gen_range(0..=ceiling.as_millis() as u64);
    Duration::from_millis(millis)
}

/// A raised script error (`RAISE USING MESSAGE`) or a permanent failure.
pub struct QueryOutcome {
    pub rows: Vec<Row>,
    pub dml_affected: Option<u64>,
}

/// The BigQuery client with retries and counters.
#[derive(Clone)]
pub struct BigQueryClient {
    client: Client,
    pub project: String,
    pub dataset: String,
    pub location: String,
    insert_batch_rows: usize,
    max_attempts: u32,
    query_timeout_ms: i32,
    requests: Arc<AtomicU64>,
}

impl BigQueryClient {
    pub async fn connect(settings: &BigQuerySettings) -> StoreResult<Self> {
        let backend = |e: BQError| StoreError::Backend(format!("connecting to BigQuery: {e}"));
        let client = match &settings.credentials {
            BigQueryCredentials::Emulator { base_url } => {
                let base = format!("{}/bigquery/v2", base_url.trim_end_matches('/'));
                gcp_bigquery_client::client_builder::ClientBuilder::new()
                    .with_v2_base_url(base)
                    .build_from_authenticator(Arc::new(NoAuth))
                    .await
                    .map_err(backend)?
            }
            BigQueryCredentials::ServiceAccountKey { path } => {
                let path = path.to_str().ok_or_else(|| {
                    StoreError::Backend("the service-account key path is not UTF-8".into())
                })?;
                Client::from_service_account_key_file(path)
                    .await
                    .map_err(|e| {
                        // The key's contents never reach the message: only the kind of failure.
                        StoreError::Backend(format!(
                            "loading the service-account key named in bigquery.credentials.path: {}",
                            match e {
                                BQError::InvalidServiceAccountKey(io) => io.kind().to_string(),
                                other => other.to_string(),
                            }
                        ))
                    })?
            }
            BigQueryCredentials::ApplicationDefault => {
                Client::from_application_default_credentials()
                    .await
                    .map_err(backend)?
            }
        };
        Ok(Self {
            client,
            project: settings.project.clone(),
            dataset: settings.dataset.clone(),
            location: settings.location.clone(),
            insert_batch_rows: settings.insert_batch_rows.clamp(1, INSERT_MAX_ROWS),
            max_attempts: settings.max_attempts.max(1),
            query_timeout_ms: i32::try_from(settings.query_timeout_ms).unwrap_or(i32::MAX),
            requests: Arc::new(AtomicU64::new(0)),
        })
    }

    /// HTTP requests sent so far (retries included).
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Sends one request until it succeeds, retrying transient failures with
    /// backoff. A job's own failure is handed back without a retry when
    /// `rerun_job_failures` is false: the caller re-runs the statement.
    async fn send<T, F, Fut>(
        &self,
        what: &str,
        rerun_job_failures: bool,
        mut call: F,
    ) -> Result<T, Failure>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, BQError>>,
    {
        let mut attempt = 0;
        loop {
            self.requests.fetch_add(1, Ordering::Relaxed);
            match call().await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let failure = classify(&e);
                    attempt += 1;
                    let retry_here =
                        failure.transient && (rerun_job_failures || !failure.job_failed);
                    if !retry_here || attempt >= self.max_attempts {
                        return Err(failure);
                    }
                    let delay = backoff_delay(attempt);
                    tracing::warn!(what, attempt, ?delay, error = %failure.message, "retrying BigQuery request");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn with_retry<T, F, Fut>(&self, what: &str, call: F) -> StoreResult<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, BQError>>,
    {
        self.send(what, true, call)
            .await
            .map_err(|f| self.give_up(what, f))
    }

    fn give_up(&self, what: &str, failure: Failure) -> StoreError {
        if failure.transient {
            StoreError::Transient(format!(
                "{what}: gave up after {} attempts: {}",
                self.max_attempts, failure.message
            ))
        } else {
            StoreError::Backend(format!("{what}: {}", failure.message))
        }
    }

    /// Creates the dataset unless it exists.
    pub async fn ensure_dataset(&self) -> StoreResult<()> {
        let exists = self
            .with_retry("getting the dataset", || async {
                match self
                    .client
                    .dataset()
                    .get(&self.project, &self.dataset)
                    .await
                {
                    Ok(_) => Ok(true),
                    Err(BQError::ResponseError { error }) if error.error.code == 404 => Ok(false),
                    Err(e) => Err(e),
                }
            })
            .await?;
        if exists {
            return Ok(());
        }
        self.with_retry("creating the dataset", || async {
            let ds = Dataset {
                dataset_reference: DatasetReference {
                    dataset_id: self.dataset.clone(),
                    project_id: self.project.clone(),
                },
                ..Default::default()
            }
            .location(&self.location);
            match self.client.dataset().create(ds).await {
                Ok(_) => Ok(()),
                // Created concurrently by another process: fine.
                Err(BQError::ResponseError { error }) if error.error.code == 409 => Ok(()),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Deletes the dataset and every table in it.
    pub async fn delete_dataset(&self) -> StoreResult<()> {
        self.with_retry("deleting the dataset", || async {
            match self
                .client
                .dataset()
                .delete(&self.project, &self.dataset, true)
                .await
            {
                Ok(()) => Ok(()),
                Err(BQError::ResponseError { error }) if error.error.code == 404 => Ok(()),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Whether a table exists in the dataset.
    pub async fn dataset_exists(&self) -> StoreResult<bool> {
        self.with_retry("getting the dataset", || async {
            match self
                .client
                .dataset()
                .get(&self.project, &self.dataset)
                .await
            {
                Ok(_) => Ok(true),
                Err(BQError::ResponseError { error }) if error.error.code == 404 => Ok(false),
                Err(e) => Err(e),
            }
        })
        .await
    }

    pub async fn table_exists(&self, table: &str) -> StoreResult<bool> {
        self.with_retry("getting a table", || async {
            match self
                .client
                .table()
                .get(&self.project, &self.dataset, table, None)
                .await
            {
                Ok(_) => Ok(true),
                Err(BQError::ResponseError { error }) if error.error.code == 404 => Ok(false),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Runs one statement or script with named parameters and reads every
    /// page of its result. An unfinished job is polled with getQueryResults;
    /// the affected-row count is the finished job's. A failed job whose error
    /// is transient (a concurrent transaction won, the table's DML queue is
    /// full) runs again under a new request id after a backoff; a lost answer
    /// is retried under the same id, and when BigQuery says that job exists
    /// already its result is fetched rather than running it twice.
    pub async fn query(&self, what: &str, sql: &str, params: Params) -> StoreResult<QueryOutcome> {
        let request = QueryRequest {
            query: sql.to_string(),
            use_legacy_sql: false,
            parameter_mode: Some("NAMED".to_string()),
            query_parameters: Some(params.0),
            default_dataset: Some(DatasetReference {
                dataset_id: self.dataset.clone(),
                project_id: self.project.clone(),
            }),
            location: Some(self.location.clone()),
            max_results: Some(PAGE_ROWS),
            timeout_ms: Some(self.query_timeout_ms),
            // Timestamps are read as UNIX_MICROS, so no format option is
            // needed (getQueryResults could not send the nested one anyway).
            format_options: None,
            ..QueryRequest::new(sql)
        };
        let mut request_id = uuid::Uuid::new_v4().to_string();
        let mut attempt = 0;
        loop {
            let failure = match self.run_job(what, &request, &request_id).await {
                Ok(outcome) => return Ok(outcome),
                Err(failure) => failure,
            };
            attempt += 1;
            if !failure.transient || attempt >= self.max_attempts {
                return Err(self.give_up(what, failure));
            }
            if failure.job_failed {
                request_id = uuid::Uuid::new_v4().to_string();
            }
            let delay = backoff_delay(attempt);
            tracing::warn!(what, attempt, ?delay, error = %failure.message, "running a BigQuery statement again");
            tokio::time::sleep(delay).await;
        }
    }

    /// One run of a statement under `request_id`: submit (or find the job an
    /// earlier attempt created), poll until done, read every page.
    async fn run_job(
        &self,
        what: &str,
        request: &QueryRequest,
        request_id: &str,
    ) -> Result<QueryOutcome, Failure> {
        let mut attempt = request.clone();
        attempt.request_id = Some(request_id.to_string());
        let first = self
            .send(what, false, || async {
                match self
                    .client
                    .job()
                    .query(&self.project, attempt.clone())
                    .await
                {
                    Ok(response) => Ok(Some(response)),
                    Err(e) if is_reused_request_id(&e) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await?;
        let (mut rows, mut dml_affected, job_id, mut page_token, mut complete) = match first {
            Some(response) => {
                if let Some(errors) = response.errors.as_ref().filter(|e| !e.is_empty()) {
                    return Err(job_errors(errors));
                }
                let complete = response.job_complete.unwrap_or(true);
                (
                    if complete {
                        to_rows(response.rows.unwrap_or_default())
                    } else {
                        Vec::new()
                    },
                    response
                        .num_dml_affected_rows
                        .filter(|_| complete)
                        .and_then(|n| n.parse().ok()),
                    response.job_reference.and_then(|r| r.job_id),
                    response.page_token.filter(|_| complete),
                    complete,
                )
            }
            // An earlier attempt created the job (its answer was lost): the
            // emulator uses the request id as the job id. Read that job.
            None => (Vec::new(), None, Some(request_id.to_string()), None, false),
        };
        let mut polls = 0u32;
        while !complete || page_token.is_some() {
            let Some(job_id) = job_id.as_deref() else {
                return Err(Failure {
                    transient: false,
                    job_failed: true,
                    message: "BigQuery answered an unfinished query without a job reference".into(),
                });
            };
            // Flat query parameters only: a nested struct cannot be encoded
            // into a query string ("builder error").
            let params = GetQueryResultsParameters {
                format_options: None,
                location: Some(self.location.clone()),
                max_results: Some(PAGE_ROWS),
                page_token: page_token.clone(),
                start_index: None,
                timeout_ms: Some(self.query_timeout_ms),
            };
            let page = self
                .send(what, false, || {
                    self.client
                        .job()
                        .get_query_results(&self.project, job_id, params.clone())
                })
                .await?;
            if let Some(errors) = page.errors.as_ref().filter(|e| !e.is_empty()) {
                return Err(job_errors(errors));
            }
            if page.job_complete.unwrap_or(false) {
                if !complete {
                    // The finished job's count: the first answer had none.
                    dml_affected = page.num_dml_affected_rows.and_then(|n| n.parse().ok());
                    complete = true;
                }
                rows.extend(to_rows(page.rows.unwrap_or_default()));
                page_token = page.page_token;
            } else {
                // Still running after the server-side wait: pause briefly
                // (longer each time) so a zero wait does not spin.
                polls += 1;
                tokio::time::sleep(Duration::from_millis(
                    (25u64 << polls.min(5)).min(POLL_PAUSE_CAP_MS),
                ))
                .await;
            }
        }
        Ok(QueryOutcome { rows, dml_affected })
    }

    /// Streams rows into `table` through insertAll, as few requests as the
    /// limits allow: up to `insert_batch_rows` rows (BigQuery's cap is 50,000)
    /// and [`INSERT_MAX_BYTES`] of JSON per request. Each row carries its insert
    /// id, so a retried request is de-duplicated by BigQuery (best effort;
    /// readers de-duplicate too).
    pub async fn insert_all(&self, table: &str, rows: Vec<(String, Value)>) -> StoreResult<()> {
        for chunk in chunk_by_size(&rows, self.insert_batch_rows, INSERT_MAX_BYTES) {
            let mut request = TableDataInsertAllRequest::new();
            request
                .add_rows(
                    chunk
                        .iter()
                        .map(|(id, json)| TableDataInsertAllRequestRows {
                            insert_id: Some(id.clone()),
                            json: json.clone(),
                        })
                        .collect(),
                )
                .map_err(|e| StoreError::Backend(format!("encoding insertAll rows: {e}")))?;
            let response = self
                .with_retry("insertAll", || {
                    self.client.tabledata().insert_all(
                        &self.project,
                        &self.dataset,
                        table,
                        request.clone(),
                    )
                })
                .await?;
            if let Some(errors) = response.insert_errors.filter(|e| !e.is_empty()) {
                let first = errors
                    .iter()
                    .flat_map(|e| e.errors.iter().flatten())
                    .filter_map(|e| e.message.clone())
                    .next()
                    .unwrap_or_default();
                return Err(StoreError::Backend(format!(
                    "insertAll into {table}: {} rows rejected: {first}",
                    errors.len()
                )));
            }
        }
        Ok(())
    }
}

/// Request body bytes per insertAll: BigQuery's limit is 10 MB; the margin
/// covers the envelope and JSON escaping differences.
pub const INSERT_MAX_BYTES: usize = 9_000_000;
/// Rows per insertAll request allowed by BigQuery.
pub const INSERT_MAX_ROWS: usize = 50_000;

/// Consecutive runs of rows with at most `max_rows` rows and `max_bytes` of
/// encoded JSON each (a single larger row gets a run of its own, and
/// BigQuery's answer names it).
fn chunk_by_size(
    rows: &[(String, Value)],
    max_rows: usize,
    max_bytes: usize,
) -> Vec<&[(String, Value)]> {
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, (id, json)) in rows.iter().enumerate() {
        // The row's JSON, its insert id and the `{"insertId":…,"json":…},` envelope.
        let size = json.to_string().len() + id.len() + 32;
        if i > start && (i - start >= max_rows || bytes + size > max_bytes) {
            chunks.push(&rows[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < rows.len() {
        chunks.push(&rows[start..]);
    }
    chunks
}

fn to_rows(rows: Vec<TableRow>) -> Vec<Row> {
    rows.into_iter()
        .map(|r| Row {
            cells: r
                .columns
                .unwrap_or_default()
                .into_iter()
                .map(|c| c.value.unwrap_or(Value::Null))
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        for attempt in 0..40 {
            assert!(backoff_delay(attempt) <= BACKOFF_CAP);
        }
        let spread: std::collections::BTreeSet<u128> =
            (0..50).map(|_| backoff_delay(6).as_millis()).collect();
        assert!(spread.len() > 5, "jitter spreads the delays: {spread:?}");
    }

    #[test]
    fn insert_batches_are_cut_by_rows_and_bytes() {
        let rows: Vec<(String, Value)> = (0..10)
            .map(|i| {
                (
                    format!("id{i}"),
                    serde_json::json!({"text": "x".repeat(100)}),
                )
            })
            .collect();
        let lens =
            |chunks: Vec<&[(String, Value)]>| chunks.iter().map(|c| c.len()).collect::<Vec<_>>();
        assert_eq!(lens(chunk_by_size(&rows, 50_000, 9_000_000)), vec![10]);
        assert_eq!(lens(chunk_by_size(&rows, 4, 9_000_000)), vec![4, 4, 2]);
        // Each row is ~150 bytes with its envelope: three fit in 500 bytes.
        assert_eq!(lens(chunk_by_size(&rows, 50_000, 500)), vec![3, 3, 3, 1]);
        assert_eq!(lens(chunk_by_size(&rows[..1], 50_000, 10)), vec![1]);
        assert!(chunk_by_size(&[], 10, 10).is_empty());
    }

    #[test]
    fn concurrent_update_aborts_are_transient() {
        assert!(is_retryable_job_error(
            "Could not serialize access to table p:d.t due to concurrent update"
        ));
        assert!(is_retryable_job_error(
            "TransactionContext Error: Transaction conflict"
        ));
        assert!(is_retryable_job_error(
            "TransactionContext Error: Failed to commit DuckLake transaction: conflict"
        ));
        assert!(is_retryable_job_error(
            "Resources exceeded during query execution: Too many DML statements outstanding \
             against table p:d.job_enrichments, limit is 20."
        ));
        assert!(!is_retryable_job_error("Syntax error: Unexpected keyword"));
    }
}
