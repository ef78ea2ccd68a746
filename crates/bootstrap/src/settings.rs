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
    pub engine: EngineSettings,
    pub embeddings: crate::embeddings::EmbeddingsSettings,
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
        in_range(
            "ingest.batch_size",
            self.ingest.batch_size as u64,
            1,
            MAX_INGEST_BATCH_SIZE,
        )?;
        check_log_level(&self.logging.level)?;
        if self.engine.lexicon_dir.as_os_str().is_empty() {
            return Err(BootstrapError::invalid(
                "engine.lexicon_dir",
                "must not be empty",
            ));
        }
        self.worker.validate()?;
        self.embeddings.validate()?;
        Ok(())
    }
}

/// Largest `ingest.batch_size` (postings held in memory per store call).
pub const MAX_INGEST_BATCH_SIZE: u64 = 100_000;

/// `min <= value <= max`, or an error naming the key and the range. The value
/// is not echoed: a number too large for its type arrives saturated.
pub(crate) fn in_range(key: &str, value: u64, min: u64, max: u64) -> Result<(), BootstrapError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(BootstrapError::invalid(
            key,
            format!("must be between {min} and {max}"),
        ))
    }
}

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// `logging.level` is `LEVEL` or comma-separated `TARGET=LEVEL` directives;
/// a bare word that is not a level (`verbose`) would silently become a
/// target filter, so it is refused.
fn check_log_level(level: &str) -> Result<(), BootstrapError> {
    for directive in level.split(',').map(str::trim) {
        let level_part = directive.rsplit_once('=').map_or(directive, |(_, l)| l);
        if !LEVELS.contains(&level_part.to_ascii_lowercase().as_str()) {
            return Err(BootstrapError::invalid(
                "logging.level",
                format!(
                    "has {directive:?}: use one of {} or TARGET=LEVEL, comma-separated",
                    LEVELS.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Where the engine's data files are (the skills lexicon and its aliases).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineSettings {
    /// Directory of `lexicon.tsv` (and `aliases.csv`, `category_mapping.csv`).
    /// A relative path is looked up in the working directory, then beside the
    /// executable and in its parent directories (see [`resolve_data_dir`]).
    pub lexicon_dir: PathBuf,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            lexicon_dir: PathBuf::from("data/lexicon"),
        }
    }
}

impl EngineSettings {
    /// The lexicon directory found on this machine.
    pub fn lexicon_dir(&self) -> Result<PathBuf, BootstrapError> {
        resolve_data_dir("engine.lexicon_dir", &self.lexicon_dir)
    }
}

/// Parent directories of the executable searched for a relative data path:
/// `bin/jobenrich` finds `data/` beside `bin/`, `target/release/jobenrich`
/// finds it in the checkout.
const EXECUTABLE_ANCESTORS_SEARCHED: usize = 3;

/// A data directory named by a setting: absolute as given; relative, first
/// under the working directory, then beside the executable and its parents.
/// Nothing depends on where the binary was built.
pub fn resolve_data_dir(key: &str, path: &std::path::Path) -> Result<PathBuf, BootstrapError> {
    if path.is_absolute() || path.is_dir() {
        if path.is_dir() {
            return Ok(path.to_path_buf());
        }
        return Err(BootstrapError::invalid(
            key,
            format!("names {}, which is not a directory", path.display()),
        ));
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(std::path::Path::to_path_buf));
    if let Some(exe_dir) = &exe_dir {
        for dir in exe_dir.ancestors().take(EXECUTABLE_ANCESTORS_SEARCHED) {
            let candidate = dir.join(path);
            if candidate.is_dir() {
                return Ok(candidate);
            }
        }
    }
    Err(BootstrapError::invalid(
        key,
        format!(
            "names {}, found neither in the working directory nor beside the executable{}: set {key} (or JOBENRICH__{}) to the directory",
            path.display(),
            exe_dir
                .map(|d| format!(" ({})", d.display()))
                .unwrap_or_default(),
            key.replace('.', "__").to_uppercase()
        ),
    ))
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

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageSettings {
    pub backend: StorageBackend,
    pub sqlite: SqliteSettings,
    /// Settings of the BigQuery adapter, read by that adapter (project,
    /// dataset, credentials, emulator endpoint). Kept as a free-form map here
    /// so the adapter owns its own schema.
    pub bigquery: serde_json::Map<String, serde_json::Value>,
}

/// The BigQuery section is free-form (credentials among it): printed masked.
impl fmt::Debug for StorageSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageSettings")
            .field("backend", &self.backend)
            .field("sqlite", &self.sqlite)
            .field(
                "bigquery",
                &crate::layers::mask(
                    "storage.bigquery",
                    &serde_json::Value::Object(self.bigquery.clone()),
                )
                .to_string(),
            )
            .finish()
    }
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
    /// Directory of trained model artifacts (a model version's
    /// `tagger_artifact` and `section_model_artifact` are relative to it);
    /// relative to the working directory.
    pub artifacts_dir: PathBuf,
}

impl ModelRegistrySettings {
    /// The artifacts directory found on this machine, like the lexicon's
    /// (working directory, then beside the executable), so an installed
    /// binary finds `models/` next to `bin/`. Found nowhere, the path as
    /// configured: only a version with a trained artifact needs it, and that
    /// load error names the path.
    pub fn artifacts_dir(&self) -> PathBuf {
        resolve_data_dir("models.artifacts_dir", &self.artifacts_dir)
            .unwrap_or_else(|_| self.artifacts_dir.clone())
    }
}

impl Default for ModelRegistrySettings {
    fn default() -> Self {
        Self {
            seed_dir: PathBuf::from("config/models"),
            artifacts_dir: PathBuf::from("models"),
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

    #[test]
    fn a_saturated_batch_size_is_out_of_range_not_used() {
        let mut settings = Settings::default();
        settings.ingest.batch_size = usize::MAX;
        let err = settings.validate().unwrap_err().to_string();
        assert!(
            err.contains("ingest.batch_size") && err.contains("between 1 and 100000"),
            "{err}"
        );
    }

    #[test]
    fn a_log_level_that_is_not_a_level_is_refused() {
        for good in ["warn", "INFO", "jobenrich_services=debug,warn"] {
            let mut settings = Settings::default();
            settings.logging.level = good.into();
            assert!(settings.validate().is_ok(), "{good}");
        }
        for bad in ["verbose", "info,lots", "x=loud"] {
            let mut settings = Settings::default();
            settings.logging.level = bad.into();
            let err = settings.validate().unwrap_err().to_string();
            assert!(err.contains("logging.level"), "{err}");
        }
    }

    #[test]
    fn a_relative_data_dir_missing_everywhere_names_the_setting() {
        let err = resolve_data_dir(
            "engine.lexicon_dir",
            std::path::Path::new("no/such/dir-xyz"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("engine.lexicon_dir") && err.contains("JOBENRICH__ENGINE__LEXICON_DIR"),
            "{err}"
        );
    }
}
