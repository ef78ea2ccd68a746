//! Connection settings of the BigQuery store, deserialized from the `bigquery:`
//! section of the config. Credentials never print: `Debug` shows only which
//! kind of credential is configured, never a path's contents or a token.

use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;

/// How the store authenticates.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BigQueryCredentials {
    /// A service-account JSON key file.
    ServiceAccountKey { path: PathBuf },
    /// Application-default credentials (`GOOGLE_APPLICATION_CREDENTIALS`,
    /// gcloud user credentials or the metadata server).
    ApplicationDefault,
    /// A local emulator: every request goes to `base_url` (e.g.
    /// `http://127.0.0.1:9050`) with no authentication.
    Emulator { base_url: String },
}

impl fmt::Debug for BigQueryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The key path is not itself a secret, but what it points at is;
            // keep it out of logs anyway so a misplaced key is never advertised.
            Self::ServiceAccountKey { .. } => f.write_str("ServiceAccountKey { path: <redacted> }"),
            Self::ApplicationDefault => f.write_str("ApplicationDefault"),
            Self::Emulator { base_url } => write!(f, "Emulator {{ base_url: {base_url:?} }}"),
        }
    }
}

/// Where the store lives and how to reach it.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BigQuerySettings {
    /// GCP project that owns the dataset and is billed for the queries.
    pub project: String,
    /// Dataset holding every table of the data model.
    pub dataset: String,
    /// Dataset location (e.g. `US`, `EU`, `europe-west1`); used when creating it.
    #[serde(default = "default_location")]
    pub location: String,
    pub credentials: BigQueryCredentials,
    /// Most rows per insertAll request (BigQuery allows 50,000; requests are
    /// also cut at 9 MB of JSON, under BigQuery's 10 MB limit).
    #[serde(default = "default_insert_batch_rows")]
    pub insert_batch_rows: usize,
    /// Attempts of one request before a transient error is returned.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// How long one jobs.query / getQueryResults call waits for the job before
    /// answering "not complete yet" (the job is then polled). 0 answers at once.
    #[serde(default = "default_query_timeout_ms")]
    pub query_timeout_ms: u32,
    /// How claims, completions and releases reach `job_enrichments`.
    #[serde(default)]
    pub queue: QueueMode,
    /// How long a store waits on a silent leader before taking over
    /// (`queue: coordinated`); longer than one applying cycle.
    #[serde(default = "default_leader_patience_ms")]
    pub leader_patience_ms: u64,
}

/// How the queue's state changes are applied (docs/bigquery.md).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum QueueMode {
    /// One store at a time (the leader) applies every store's claims,
    /// completions and releases together: the mutating DML on
    /// `job_enrichments` does not grow with workers or batches.
    #[default]
    Coordinated,
    /// Each call runs its own statements (one claim UPDATE, one completion
    /// transaction per batch): fine for one or two workers.
    Direct,
}

fn default_leader_patience_ms() -> u64 {
    15_000
}

fn default_location() -> String {
    "US".to_string()
}

fn default_insert_batch_rows() -> usize {
    50_000
}

fn default_max_attempts() -> u32 {
    8
}

fn default_query_timeout_ms() -> u32 {
    10_000
}

impl BigQuerySettings {
    /// Settings for a local emulator at `base_url` with no authentication.
    pub fn emulator(base_url: impl Into<String>, project: &str, dataset: &str) -> Self {
        Self {
            project: project.to_string(),
            dataset: dataset.to_string(),
            location: default_location(),
            credentials: BigQueryCredentials::Emulator {
                base_url: base_url.into(),
            },
            insert_batch_rows: default_insert_batch_rows(),
            max_attempts: default_max_attempts(),
            query_timeout_ms: default_query_timeout_ms(),
            queue: QueueMode::default(),
            leader_patience_ms: default_leader_patience_ms(),
        }
    }
}

impl fmt::Debug for BigQuerySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BigQuerySettings")
            .field("project", &self.project)
            .field("dataset", &self.dataset)
            .field("location", &self.location)
            .field("credentials", &self.credentials)
            .field("insert_batch_rows", &self.insert_batch_rows)
            .field("max_attempts", &self.max_attempts)
            .field("query_timeout_ms", &self.query_timeout_ms)
            .field("queue", &self.queue)
            .field("leader_patience_ms", &self.leader_patience_ms)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_deserialize_and_never_print_a_key_path() {
        let s: BigQuerySettings = serde_json::from_value(serde_json::json!({
            "project": "p", "dataset": "d",
            "credentials": {"kind": "service_account_key", "path": "/secret/key.json"}
        }))
        .unwrap();
        assert_eq!(s.location, "US");
        assert_eq!(s.insert_batch_rows, 50_000);
        let printed = format!("{s:?}");
        assert!(!printed.contains("/secret/key.json"), "{printed}");
        assert!(printed.contains("ServiceAccountKey"), "{printed}");
        let emu: BigQuerySettings = serde_json::from_value(serde_json::json!({
            "project": "p", "dataset": "d",
            "credentials": {"kind": "emulator", "base_url": "http://127.0.0.1:9050"}
        }))
        .unwrap();
        assert_eq!(
            emu,
            BigQuerySettings::emulator("http://127.0.0.1:9050", "p", "d")
        );
    }
}
