//! The one place where jobenrich's binaries (`jobenrich`, `jobenrich-worker`)
//! are wired: layered configuration → typed [`Settings`] → storage backend
//! choice → an [`AppContext`] holding `Arc<dyn Store>`. Apps stay thin: they
//! parse their arguments, call [`Settings::load`] and [`AppContext::connect`],
//! and hand the store to the services.

mod context;
pub mod embeddings;
mod error;
pub mod layers;
pub mod logging;
pub mod settings;
pub mod signals;
mod worker_settings;

pub use context::{
    bigquery_migration_plan, check_schema_not_newer, open_store, supported_schema_version,
    AppContext,
};
pub use error::BootstrapError;
pub use layers::{ConfigLayers, EffectiveSetting, LayerOrigin};
pub use settings::{
    resolve_data_dir, EngineSettings, IngestSettings, LogFormat, LoggingSettings,
    ModelRegistrySettings, SecretString, Settings, SqliteSettings, StorageBackend, StorageSettings,
};
pub use worker_settings::{ReenrichMode, WorkerSettings};
