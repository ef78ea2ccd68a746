//! Errors of loading settings and wiring the store. Each says which file,
//! setting or backend is at fault; causes are chained as `source`s so the
//! binaries print them on one line.

use jobenrich_domain::StoreError;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum BootstrapError {
    #[error("configuration file {} not found ({what})", path.display())]
    MissingFile { what: String, path: PathBuf },
    #[error("loading configuration")]
    Config(#[source] config::ConfigError),
    #[error("setting {key} {rule}")]
    InvalidSetting { key: String, rule: String },
    #[error("opening the {backend} store")]
    Store {
        backend: String,
        #[source]
        source: StoreError,
    },
    #[error("storage.backend = {backend}: {reason}")]
    UnsupportedBackend { backend: String, reason: String },
}

impl BootstrapError {
    pub fn invalid(key: impl Into<String>, rule: impl Into<String>) -> Self {
        BootstrapError::InvalidSetting {
            key: key.into(),
            rule: rule.into(),
        }
    }
}

impl From<config::ConfigError> for BootstrapError {
    fn from(e: config::ConfigError) -> Self {
        BootstrapError::Config(e)
    }
}
