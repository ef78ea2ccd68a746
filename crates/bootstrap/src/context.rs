//! Storage backend choice: the settings pick the adapter, the apps get an
//! `Arc<dyn Store>` and never name a backend type.

use crate::error::BootstrapError;
use crate::settings::{Settings, StorageBackend, StorageSettings};
use jobenrich_domain::Store;
use jobenrich_storage_bigquery::{BigQuerySettings, BigQueryStore};
use jobenrich_storage_sqlite::SqliteStore;
use std::sync::Arc;

/// What every command and the worker run against.
#[derive(Clone)]
pub struct AppContext {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
}

impl std::fmt::Debug for AppContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppContext")
            .field("settings", &self.settings)
            .field("backend", &self.store.backend_name())
            .finish()
    }
}

impl AppContext {
    /// Opens the configured store. The schema is not touched (`jobenrich migrate` does that).
    pub async fn connect(settings: &Settings) -> Result<Self, BootstrapError> {
        let store = open_store(&settings.storage).await?;
        Ok(Self {
            settings: settings.clone(),
            store,
        })
    }
}

/// Opens the store the settings select.
pub async fn open_store(storage: &StorageSettings) -> Result<Arc<dyn Store>, BootstrapError> {
    match storage.backend {
        StorageBackend::Sqlite => {
            let store = SqliteStore::open(&storage.sqlite.path).map_err(|source| {
                BootstrapError::Store {
                    backend: format!("sqlite ({})", storage.sqlite.path.display()),
                    source,
                }
            })?;
            Ok(Arc::new(store))
        }
        StorageBackend::Bigquery => {
            // The adapter owns the section's schema; bootstrap only hands it over.
            let settings: BigQuerySettings =
                serde_json::from_value(serde_json::Value::Object(storage.bigquery.clone()))
                    .map_err(|e| BootstrapError::invalid("storage.bigquery", e.to_string()))?;
            let backend = format!("bigquery ({}.{})", settings.project, settings.dataset);
            let store = BigQueryStore::connect(settings)
                .await
                .map_err(|source| BootstrapError::Store { backend, source })?;
            Ok(Arc::new(store))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_backend_opens_a_file_under_the_configured_path() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::default();
        settings.storage.sqlite.path = dir.path().join("nested/store.db");
        let context = AppContext::connect(&settings).await.unwrap();
        assert_eq!(context.store.backend_name(), "sqlite");
        assert!(dir.path().join("nested/store.db").exists());
    }

    #[tokio::test]
    async fn bigquery_backend_reads_its_section_and_names_it_when_incomplete() {
        let mut settings = Settings::default();
        settings.storage.backend = StorageBackend::Bigquery;
        let err = AppContext::connect(&settings)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("setting storage.bigquery"), "{err}");

        let section = serde_json::json!({
            "project": "test-proj",
            "dataset": "jobenrich_test",
            "credentials": {"kind": "emulator", "base_url": "http://127.0.0.1:9"}
        });
        settings.storage.bigquery = section.as_object().unwrap().clone();
        // Building the client sends no request, so no emulator is needed here.
        let context = AppContext::connect(&settings).await.unwrap();
        assert_eq!(context.store.backend_name(), "bigquery");
    }
}
