//! Errors of the enrichment engine. Each names the input it refers to (file,
//! line, field, config key) so the user can fix it without reading code.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A malformed line in a lexicon, mapping or user lexicon file.
    #[error("{file}:{line}: field `{field}`: {message}")]
    Format {
        file: PathBuf,
        line: usize,
        field: String,
        message: String,
    },
    /// A `config_overrides` key or value the engine does not accept.
    #[error("config_overrides key `{key}`: {message}")]
    Config { key: String, message: String },
    /// A model artifact that cannot be used (wrong format, checksum, values).
    #[error("model artifact {path}: {message}")]
    Artifact { path: PathBuf, message: String },
    /// An input the engine refuses (e.g. larger than `max_input_bytes`).
    #[error("input refused: {0}")]
    InputRefused(String),
    /// The text encoder of the `semantic` strategy failed.
    #[error(transparent)]
    Encoder(#[from] jobenrich_domain::EncoderError),
}

impl EngineError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        EngineError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn format(
        file: &std::path::Path,
        line: usize,
        field: &str,
        message: impl Into<String>,
    ) -> Self {
        EngineError::Format {
            file: file.to_path_buf(),
            line,
            field: field.to_string(),
            message: message.into(),
        }
    }
}
