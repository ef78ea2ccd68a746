//! Errors of reading, importing and validating labeled datasets. Each names the
//! file (or source name) and, where there is one, the line and field.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum DatasetError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A record that does not parse or breaks a rule of the format.
    #[error("{source_name}:{line}: {message}")]
    Record {
        source_name: String,
        line: usize,
        message: String,
    },
    #[error("{source_name}: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
}

impl DatasetError {
    pub(crate) fn record(source_name: &str, line: usize, message: impl Into<String>) -> Self {
        DatasetError::Record {
            source_name: source_name.to_string(),
            line,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(source_name: &str, message: impl Into<String>) -> Self {
        DatasetError::Invalid {
            source_name: source_name.to_string(),
            message: message.into(),
        }
    }
}
