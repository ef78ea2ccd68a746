//! Storage backend choice: the settings pick the adapter, the apps get an
//! `Arc<dyn Store>` and never name a backend type.

use crate::error::BootstrapError;
use crate::settings::{Settings, StorageBackend, StorageSettings};
use jobenrich_domain::Store;
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
        StorageBackend::Bigquery => Err(BootstrapError::UnsupportedBackend {
            backend: storage.backend.to_string(),
            reason:
                "the BigQuery adapter is not linked into this build; use storage.backend = sqlite"
                    .to_string(),
        }),
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
}
