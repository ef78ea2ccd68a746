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
    /// Opens the configured store. The schema is not touched (`jobenrich migrate`
    /// does that), but a schema newer than this build is refused: an older
    /// binary must not write rows into tables it does not know.
    pub async fn connect(settings: &Settings) -> Result<Self, BootstrapError> {
        let store = open_store(&settings.storage).await?;
        check_schema_not_newer(
            store.as_ref(),
            supported_schema_version(settings.storage.backend),
        )
        .await?;
        Ok(Self {
            settings: settings.clone(),
            store,
        })
    }
}

/// The newest schema version the selected adapter of this build knows.
pub fn supported_schema_version(backend: StorageBackend) -> u32 {
    match backend {
        StorageBackend::Sqlite => jobenrich_storage_sqlite::migrations::latest_version(),
        StorageBackend::Bigquery => jobenrich_storage_bigquery::schema::latest_version(),
    }
}

/// Refuses a store whose applied schema (read through the migrator port) is
/// newer than `supported`, naming both versions.
pub async fn check_schema_not_newer(
    store: &dyn Store,
    supported: u32,
) -> Result<(), BootstrapError> {
    let found = store
        .schema_version()
        .await
        .map_err(|source| BootstrapError::Store {
            backend: store.backend_name().to_string(),
            source,
        })?;
    if found > supported {
        return Err(BootstrapError::SchemaNewer {
            backend: store.backend_name().to_string(),
            found,
            supported,
        });
    }
    Ok(())
}

/// The BigQuery section of the settings, typed by the adapter. A type error
/// names the key but never the value (credentials live in this section).
fn bigquery_settings(storage: &StorageSettings) -> Result<BigQuerySettings, BootstrapError> {
    if storage.bigquery.is_empty() {
        return Err(BootstrapError::invalid(
            "storage.bigquery",
            "is empty: set project, dataset and credentials (see docs/bigquery.md)",
        ));
    }
    serde_json::from_value(serde_json::Value::Object(storage.bigquery.clone())).map_err(|e| {
        BootstrapError::invalid(
            "storage.bigquery",
            crate::layers::redact_quoted(&e.to_string()),
        )
    })
}

/// `jobenrich bigquery plan`: the DDL and migrations `migrate` would run on
/// the configured dataset; from an empty dataset without contacting BigQuery
/// when `from_scratch`, else skipping what the dataset has applied.
pub async fn bigquery_migration_plan(
    storage: &StorageSettings,
    from_scratch: bool,
) -> Result<String, BootstrapError> {
    let settings = bigquery_settings(storage)?;
    if from_scratch {
        return Ok(jobenrich_storage_bigquery::migration_plan(&settings));
    }
    let backend = format!("bigquery ({}.{})", settings.project, settings.dataset);
    let store = BigQueryStore::connect(settings)
        .await
        .map_err(|source| BootstrapError::Store {
            backend: backend.clone(),
            source,
        })?;
    store
        .pending_migration_plan()
        .await
        .map_err(|source| BootstrapError::Store { backend, source })
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
            let settings = bigquery_settings(storage)?;
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
        let err = match open_store(&settings.storage).await {
            Err(e) => e.to_string(),
            Ok(_) => panic!("an empty bigquery section opened a store"),
        };
        assert!(err.starts_with("setting storage.bigquery"), "{err}");

        let section = serde_json::json!({
            "project": "test-proj",
            "dataset": "jobenrich_test",
            "credentials": {"kind": "emulator", "base_url": "http://127.0.0.1:9"}
        });
        settings.storage.bigquery = section.as_object().unwrap().clone();
        // Building the client sends no request, so no emulator is needed here.
        let store = open_store(&settings.storage).await.unwrap();
        assert_eq!(store.backend_name(), "bigquery");
    }

    #[tokio::test]
    async fn a_store_with_a_newer_schema_is_refused_naming_both_versions() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::default();
        settings.storage.sqlite.path = dir.path().join("newer.db");
        let context = AppContext::connect(&settings).await.unwrap();
        context.store.migrate().await.unwrap();
        let supported = supported_schema_version(StorageBackend::Sqlite);
        drop(context);
        // A newer build recorded a migration this one does not know.
        let conn = rusqlite::Connection::open(dir.path().join("newer.db")).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, 'from_the_future', 0)",
            [supported + 1],
        )
        .unwrap();
        drop(conn);
        let err = AppContext::connect(&settings)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("schema version {}", supported + 1))
                && err.contains(&format!("this build's {supported}")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_credentials_string_in_the_bigquery_section_is_not_echoed() {
        let mut settings = Settings::default();
        settings.storage.backend = StorageBackend::Bigquery;
        let section = serde_json::json!({
            "project": "p",
            "dataset": "d",
            "credentials": "S3CRET-token-value"
        });
        settings.storage.bigquery = section.as_object().unwrap().clone();
        let err = AppContext::connect(&settings)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("storage.bigquery"), "{err}");
        assert!(!err.contains("S3CRET"), "{err}");
        assert!(!format!("{settings:?}").contains("S3CRET"));
    }
}
