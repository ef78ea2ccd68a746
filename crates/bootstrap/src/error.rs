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
    /// The configuration could not be read or typed; values quoted by the
    /// parser are hidden (a secret in the wrong place must not be echoed).
    #[error("loading configuration: {0}")]
    Config(String),
    #[error("unknown setting {key} (set by {origin}); check its spelling, `jobenrich config show` lists every setting")]
    UnknownSetting { key: String, origin: String },
    #[error("the {backend} store has schema version {found}, newer than this build's {supported}: upgrade jobenrich before using this store")]
    SchemaNewer {
        backend: String,
        found: u32,
        supported: u32,
    },
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
        BootstrapError::Config(crate::layers::redact_quoted(&e.to_string()))
    }
}
