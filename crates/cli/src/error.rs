//! How a failed command ends: one line `error: <message>: <cause>: …` on
//! stderr (no Debug dump, no backtrace) and an exit code: 2 for usage and
//! data errors (bad arguments, configuration, input files, rule violations,
//! missing or duplicate records), 1 for everything else (storage backend,
//! I/O, bugs).

use jobenrich_bootstrap::BootstrapError;
use jobenrich_domain::{DomainError, StoreError, ValidationError};
use jobenrich_services::alias_admin::AliasAdminError;
use jobenrich_services::ingest::IngestError;
use jobenrich_services::model_registry::ModelRegistryError;
use std::process::ExitCode;

/// Exit code of data and usage errors (the same as clap's usage errors).
pub const EXIT_USAGE: u8 = 2;
/// Exit code of other failures.
pub const EXIT_FAILURE: u8 = 1;

/// A usage or data error raised by the CLI itself (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A command that ends with a given exit code and message (e.g. a failed
/// quality gate exits 1 after printing its report).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExitWith {
    pub code: u8,
    pub message: String,
}

/// The whole cause chain on one line; a cause already quoted by its parent is not repeated.
pub fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string().replace(['\r', '\n'], " ");
        let text = text.trim();
        if text.is_empty() || line.contains(text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(text);
    }
    line
}

/// The exit code the first classifiable cause implies.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if let Some(code) = classify(cause) {
            return code;
        }
    }
    EXIT_FAILURE
}

fn classify(cause: &(dyn std::error::Error + 'static)) -> Option<u8> {
    if let Some(e) = cause.downcast_ref::<ExitWith>() {
        return Some(e.code);
    }
    if cause.is::<UsageError>() || cause.is::<ValidationError>() || cause.is::<DomainError>() {
        return Some(EXIT_USAGE);
    }
    if let Some(e) = cause.downcast_ref::<StoreError>() {
        return Some(store_exit_code(e));
    }
    if let Some(e) = cause.downcast_ref::<BootstrapError>() {
        return match e {
            // The store's own error decides (a bad path is data, a locked file is not).
            BootstrapError::Store { .. } => None,
            // Not the caller's input: this binary is too old for the store.
            BootstrapError::SchemaNewer { .. } => Some(EXIT_FAILURE),
            _ => Some(EXIT_USAGE),
        };
    }
    if let Some(e) = cause.downcast_ref::<IngestError>() {
        return match e {
            IngestError::Store { .. } => None,
            IngestError::Read { .. } | IngestError::Unreadable { .. } => Some(EXIT_USAGE),
        };
    }
    if let Some(e) = cause.downcast_ref::<AliasAdminError>() {
        return match e {
            // Transparent: the store error is not a separate link of the chain.
            AliasAdminError::Store(e) => Some(store_exit_code(e)),
            AliasAdminError::Write { .. } => None,
            _ => Some(EXIT_USAGE),
        };
    }
    if let Some(e) = cause.downcast_ref::<ModelRegistryError>() {
        return match e {
            ModelRegistryError::Store(e) => Some(store_exit_code(e)),
            // Like a failed evaluation gate: the check said no (exit 1).
            ModelRegistryError::ActivationRefused { .. } => Some(EXIT_FAILURE),
            _ => Some(EXIT_USAGE),
        };
    }
    None
}

/// Missing or duplicate records and broken rules are the caller's data (2);
/// backend, transient and corruption failures are not (1).
fn store_exit_code(e: &StoreError) -> u8 {
    match e {
        StoreError::Domain(_) | StoreError::AlreadyExists { .. } | StoreError::NotFound { .. } => {
            EXIT_USAGE
        }
        _ => EXIT_FAILURE,
    }
}

/// Prints the error line and returns the exit code.
pub fn report(error: &anyhow::Error) -> ExitCode {
    crate::errln!("error: {}", one_line(error));
    ExitCode::from(exit_code(error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn causes_join_on_one_line_and_data_errors_exit_2() {
        let store = StoreError::NotFound {
            entity: "ModelConfig",
            key: "x v1.0".into(),
        };
        let error = Err::<(), _>(store)
            .context("activating x v1.0\nnow")
            .unwrap_err();
        assert_eq!(
            one_line(&error),
            "activating x v1.0 now: ModelConfig not found: x v1.0"
        );
        assert_eq!(exit_code(&error), EXIT_USAGE);
        let backend = anyhow::Error::new(StoreError::Backend("disk full".into()));
        assert_eq!(exit_code(&backend), EXIT_FAILURE);
    }
}
