//! Typed settings of jobenrich, deserialized from the merged configuration
//! layers (see [`crate::layers`]).
//!
//! Adding a section: define a struct deriving `Debug, Clone, Serialize,
//! Deserialize` with `#[serde(default)]` and a `Default` impl holding the
//! defaults, add one field to [`Settings`], its defaults to
//! `config/default.yaml`, and its checks to [`Settings::validate`]. `Serialize`
//! is what `jobenrich config show` prints, so wrap secrets in [`SecretString`].

use crate::error::BootstrapError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// Every setting of jobenrich, one field per section of the YAML files.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub storage: StorageSettings,
    pub logging: LoggingSettings,
    pub ingest: IngestSettings,
    pub models: ModelRegistrySettings,
    pub worker: crate::worker_settings::WorkerSettings,
}

impl Settings {
    /// Loads the layered configuration (default file → `config/{JOBENRICH_ENV}.yaml`
    /// → `config_file` → `JOBENRICH__…` environment variables) and checks it.
    pub fn load(config_file: Option<&std::path::Path>) -> Result<Self, BootstrapError> {
        crate::layers::ConfigLayers::discover(config_file)?.settings()
    }

    /// Checks rules serde cannot express; errors name the setting's key.
    pub fn validate(&self) -> Result<(), BootstrapError> {
        if self.storage.backend == StorageBackend::Sqlite
            && self.storage.sqlite.path.as_os_str().is_empty()
        {
            return Err(BootstrapError::invalid(
                "storage.sqlite.path",
                "must not be empty",
            ));
        }
        if self.ingest.batch_size == 0 {
            return Err(BootstrapError::invalid(
                "ingest.batch_size",
                "must be at least 1",
            ));
        }
        self.worker.validate()?;
        Ok(())
    }
}

/// Which adapter implements the repository ports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageBackend {
    #[default]
    Sqlite,
    Bigquery,
}

impl fmt::Display for StorageBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StorageBackend::Sqlite => "sqlite",
            StorageBackend::Bigquery => "bigquery",
        })
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageSettings {
    pub backend: StorageBackend,
    pub sqlite: SqliteSettings,
    /// Settings of the BigQuery adapter, read by that adapter (project,
    /// dataset, credentials, emulator endpoint). Kept as a free-form map here
    /// so the adapter owns its own schema.
    pub bigquery: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SqliteSettings {
    /// Database file; relative paths are resolved against the working directory.
    pub path: PathBuf,
}

impl Default for SqliteSettings {
    fn default() -> Self {
        Self {
            path: PathBuf::from("var/jobenrich.db"),
        }
    }
}

/// Format of log lines on stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LoggingSettings {
    /// An `EnvFilter` directive (`warn`, `info`, `jobenrich_services=debug`).
    pub level: String,
    pub format: LogFormat,
}

impl Default for LoggingSettings {
    fn default() -> Self {
        Self {
            level: "warn".to_string(),
            format: LogFormat::Text,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct IngestSettings {
    /// Postings per store call.
    pub batch_size: usize,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self { batch_size: 1_000 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelRegistrySettings {
    /// Directory of shipped model config files (`*.yaml`) that `migrate`
    /// registers; relative to the working directory. A missing directory is
    /// not an error (the built-in defaults apply).
    pub seed_dir: PathBuf,
}

impl Default for ModelRegistrySettings {
    fn default() -> Self {
        Self {
            seed_dir: PathBuf::from("config/models"),
        }
    }
}

/// A secret setting (password, key, token): never printed by `Debug` or
/// `config show`; read it with [`SecretString::expose`].
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::layers::MASK)
    }
}

impl Serialize for SecretString {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(crate::layers::MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = SecretString::new("hunter2");
        assert_eq!(format!("{secret:?}"), "********");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"********\"");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn validation_names_the_setting() {
        let mut settings = Settings::default();
        assert!(settings.validate().is_ok());
        settings.ingest.batch_size = 0;
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("ingest.batch_size"), "{err}");
    }
}
