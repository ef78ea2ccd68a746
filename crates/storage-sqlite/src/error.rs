//! Mapping of rusqlite errors onto the port's `StoreError`.

use jobenrich_domain::StoreError;
use rusqlite::ErrorCode;

/// Busy/locked databases are transient (another process holds the write
/// lock longer than the busy timeout); everything else is a backend error.
/// Uniqueness violations that a port promises to report as `AlreadyExists`
/// are mapped by the calling method, which knows the entity and key.
pub fn map_sqlite(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) =>
        {
            StoreError::Transient(format!("sqlite: {e}"))
        }
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
        {
            StoreError::NotFound {
                entity: "JobPosting",
                key: "a job_posting_id referenced by this call (foreign key)".to_string(),
            }
        }
        _ => StoreError::Backend(format!("sqlite: {e}")),
    }
}

/// True for PRIMARY KEY / UNIQUE violations.
pub fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}
