//! What every command gets: the global options, the settings loaded once, and
//! the store opened through the shared wiring of `jobenrich-bootstrap`.

use crate::error::UsageError;
use crate::output::OutputFormat;
use jobenrich_bootstrap::{AppContext, ConfigLayers, Settings, StorageBackend};
use std::path::PathBuf;
use std::sync::OnceLock;

pub struct Session {
    /// `--config FILE`.
    pub config_file: Option<PathBuf>,
    /// `--format`.
    pub format: OutputFormat,
    settings: OnceLock<Settings>,
}

impl Session {
    pub fn new(config_file: Option<PathBuf>, format: OutputFormat) -> Self {
        Self {
            config_file,
            format,
            settings: OnceLock::new(),
        }
    }

    /// The configuration layers of this process (for `config show`).
    pub fn layers(&self) -> anyhow::Result<ConfigLayers> {
        Ok(ConfigLayers::discover(self.config_file.as_deref())?)
    }

    /// The merged, validated settings (loaded once).
    pub fn settings(&self) -> anyhow::Result<&Settings> {
        if let Some(settings) = self.settings.get() {
            return Ok(settings);
        }
        let loaded = Settings::load(self.config_file.as_deref())?;
        Ok(self.settings.get_or_init(|| loaded))
    }

    /// Opens the configured store without touching its schema.
    pub async fn connect(&self) -> anyhow::Result<AppContext> {
        Ok(AppContext::connect(self.settings()?).await?)
    }

    /// Opens the configured store and checks it has been migrated. A SQLite
    /// file that does not exist is not created: only `migrate` and `run` create
    /// a store.
    pub async fn connect_migrated(&self) -> anyhow::Result<AppContext> {
        if let Some(path) = missing_sqlite_file(self.settings()?) {
            return Err(UsageError(format!(
                "no store at {}: run `jobenrich migrate` (or `jobenrich run`) first",
                path.display()
            ))
            .into());
        }
        let context = self.connect().await?;
        if context.store.schema_version().await? == 0 {
            return Err(UsageError(format!(
                "the {} store has no schema yet: run `jobenrich migrate` first",
                context.store.backend_name()
            ))
            .into());
        }
        Ok(context)
    }

    /// Who the registry records as having made a change: the login name
    /// (`$USER`, `$USERNAME`, `$LOGNAME`), else the numeric user id.
    pub fn actor(&self) -> String {
        let user = ["USER", "USERNAME", "LOGNAME"]
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .find(|v| !v.trim().is_empty())
            .or_else(numeric_uid)
            .unwrap_or_else(|| "unknown".to_string());
        format!("jobenrich-cli:{user}")
    }
}

/// `uid:N` of this process (Linux: from /proc, no libc call needed).
fn numeric_uid() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    let uid = line.split_whitespace().nth(1)?;
    Some(format!("uid:{uid}"))
}

/// The SQLite database file the settings name, when it does not exist.
pub fn missing_sqlite_file(settings: &Settings) -> Option<&std::path::Path> {
    let path = settings.storage.sqlite.path.as_path();
    (settings.storage.backend == StorageBackend::Sqlite && !path.exists()).then_some(path)
}
