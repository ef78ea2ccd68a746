//! Test helpers: find the emulator, make a fresh migrated dataset per test.
//!
//! `JOBENRICH_BQ_EMULATOR_URL` (e.g. `http://127.0.0.1:9050`) names the running
//! emulator (`scripts/bigquery-emulator.sh start`). Unset, the tests fail with
//! instructions. Skipping is the runner's job, so a skipped test is reported
//! as skipped: `JOBENRICH_SKIP_BIGQUERY=1 bash scripts/test.sh` runs nextest's
//! `skip-bigquery` profile (`.config/nextest.toml`), which leaves these
//! binaries out.

#![allow(dead_code)]

pub mod dml_limits;
pub mod lanes;
pub mod proxy;

use jobenrich_domain::SchemaMigrator;
use jobenrich_storage_bigquery::{BigQuerySettings, BigQueryStore};

pub const URL_VAR: &str = "JOBENRICH_BQ_EMULATOR_URL";
pub const SKIP_VAR: &str = "JOBENRICH_SKIP_BIGQUERY";
pub const PROJECT: &str = "test-proj";

/// The emulator's base URL; a test that needs it and finds none fails.
pub fn emulator_url() -> String {
    if let Ok(url) = std::env::var(URL_VAR) {
        if !url.trim().is_empty() {
            return url;
        }
    }
    if std::env::var(SKIP_VAR).is_ok_and(|v| v == "1") {
        panic!(
            "{SKIP_VAR}=1 but this BigQuery test was run: skipping is done by the test runner so \
             the tests show as skipped. Use `{SKIP_VAR}=1 bash scripts/test.sh` or \
             `cargo nextest run --profile skip-bigquery`."
        );
    }
    panic!(
        "{URL_VAR} is not set: the BigQuery adapter tests need the local emulator. Start it with \
         `scripts/bigquery-emulator.sh start` and run `eval \"$(scripts/bigquery-emulator.sh env)\"`, \
         or skip these tests explicitly with `{SKIP_VAR}=1 bash scripts/test.sh`."
    )
}

/// A dataset name no other test uses.
pub fn fresh_dataset(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

pub async fn store_at(url: &str, dataset: &str) -> BigQueryStore {
    BigQueryStore::connect(BigQuerySettings::emulator(url, PROJECT, dataset))
        .await
        .expect("building the BigQuery client")
}

/// Deletes a test's dataset when dropped, so the emulator's catalog stays
/// small (it slows down with thousands of tables).
pub struct DatasetGuard {
    url: String,
    dataset: String,
}

impl DatasetGuard {
    pub fn dataset(&self) -> &str {
        &self.dataset
    }

    pub fn new(url: &str, dataset: &str) -> Self {
        Self {
            url: url.to_string(),
            dataset: dataset.to_string(),
        }
    }
}

impl Drop for DatasetGuard {
    fn drop(&mut self) {
        let (url, dataset) = (self.url.clone(), self.dataset.clone());
        // Its own thread and runtime: drop may run inside another runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("building a runtime to delete the test dataset");
            runtime.block_on(async {
                if let Err(e) = store_at(&url, &dataset).await.delete_dataset().await {
                    eprintln!("could not delete test dataset {dataset}: {e}");
                }
            });
        })
        .join();
    }
}

/// A new, migrated dataset on the emulator, deleted when the guard drops.
pub async fn fresh_store() -> (BigQueryStore, DatasetGuard) {
    let url = emulator_url();
    let dataset = fresh_dataset("contract");
    let store = store_at(&url, &dataset).await;
    store
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("migrating a fresh dataset on the emulator at {url}: {e}"));
    (store, DatasetGuard { url, dataset })
}
