//! Typed errors: a validation failure names the entity, field and rule; a store
//! failure says which promise of the port broke.

use thiserror::Error;

/// One broken validation rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{entity}.{field}: {rule}")]
pub struct ValidationError {
    pub entity: &'static str,
    pub field: &'static str,
    /// The rule that failed, phrased as the rule (`must match ^[a-z_]+$, got "X"`).
    pub rule: String,
}

impl ValidationError {
    pub fn new(entity: &'static str, field: &'static str, rule: impl Into<String>) -> Self {
        Self {
            entity,
            field,
            rule: rule.into(),
        }
    }
}

/// Errors of domain rules that are not field validation.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("illegal enrichment transition {from} -> {to}")]
    IllegalTransition {
        from: crate::EnrichmentStatus,
        to: crate::EnrichmentStatus,
    },
    #[error("unknown {kind} {value:?} (expected one of: {expected})")]
    UnknownName {
        kind: &'static str,
        value: String,
        expected: String,
    },
}

/// Errors a repository port returns.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A uniqueness rule of the data model (e.g. alias text case-insensitively).
    #[error("{entity} already exists: {key}")]
    AlreadyExists { entity: &'static str, key: String },
    #[error("{entity} not found: {key}")]
    NotFound { entity: &'static str, key: String },
    /// A lease or conditional update lost its race (someone else owns the row).
    #[error("conflict on {entity} {key}: {reason}")]
    Conflict {
        entity: &'static str,
        key: String,
        reason: String,
    },
    /// A stored row that no longer satisfies the domain rules.
    #[error("corrupt {entity} row {key}: {reason}")]
    Corrupt {
        entity: &'static str,
        key: String,
        reason: String,
    },
    /// Transient failures (timeouts, 429/5xx) that a caller may retry.
    #[error("transient storage error: {0}")]
    Transient(String),
    #[error("storage backend error: {0}")]
    Backend(String),
}

impl From<ValidationError> for StoreError {
    fn from(e: ValidationError) -> Self {
        StoreError::Domain(DomainError::Validation(e))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
