//! What every command gets: the global options, the settings loaded once, and
//! the store opened through the shared wiring of `jobenrich-bootstrap`.

use crate::error::UsageError;
use crate::output::OutputFormat;
use jobenrich_bootstrap::{AppContext, ConfigLayers, Settings};
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

    /// Opens the configured store and checks it has been migrated.
    pub async fn connect_migrated(&self) -> anyhow::Result<AppContext> {
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

    /// Who the registry records as having made a change.
    pub fn actor(&self) -> String {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".to_string());
        format!("jobenrich-cli:{user}")
    }
}
