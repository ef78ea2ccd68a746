//! The SQLite adapter: `SqliteStore` implements every repository port of
//! `jobenrich_domain::ports` over one database file.
//!
//! - Versioned migrations (see [`migrations`]) model the schema's history; call
//!   `migrate()` once after `open`.
//! - Connections run in WAL mode with a busy timeout and foreign keys on. Every
//!   call runs on tokio's blocking pool (`spawn_blocking`), never on executor
//!   threads, using a connection from a small pool, so reads proceed in parallel.
//! - Every write is one `BEGIN IMMEDIATE` transaction: it takes the file's write
//!   lock up front, so two worker processes sharing a file serialize their
//!   claims instead of failing on a lock upgrade. Batches use cached prepared
//!   statements inside that one transaction.
//! - All SQL is parameterized; lists of ids are bound as one JSON array and
//!   expanded with `json_each`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), jobenrich_domain::StoreError> {
//! use jobenrich_domain::SchemaMigrator;
//! let store = jobenrich_storage_sqlite::SqliteStore::open("data/jobenrich.db")?;
//! store.migrate().await?;
//! # Ok(()) }
//! ```

mod aliases;
mod clusters;
mod codec;
mod enrichments;
mod error;
mod evaluations;
pub mod migrations;
mod models;
mod postings;
mod sections;
mod skills;

use async_trait::async_trait;
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::{MigrationReport, SchemaMigrator, Store, StoreError};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use error::map_sqlite;

/// How long a connection waits for another connection's or process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept open for reuse.
const MAX_IDLE_CONNECTIONS: usize = 4;
const STATEMENT_CACHE_CAPACITY: usize = 64;

/// A store over one SQLite database file. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct SqliteStore {
    pool: Arc<ConnectionPool>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.pool.path)
            .finish()
    }
}

struct ConnectionPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ConnectionPool {
    fn checkout(&self) -> StoreResult<Connection> {
        let reused = self
            .idle
            .lock()
            .map_err(|_| StoreError::Backend("sqlite connection pool poisoned".into()))?
            .pop();
        match reused {
            Some(conn) => Ok(conn),
            None => open_connection(&self.path),
        }
    }

    fn checkin(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE_CONNECTIONS {
                idle.push(conn);
            }
        }
    }
}

fn open_connection(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path).map_err(|e| {
        StoreError::Backend(format!("opening sqlite database {}: {e}", path.display()))
    })?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(map_sqlite)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(map_sqlite)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "sqlite database {} refused WAL mode (got {mode})",
            path.display()
        )));
    }
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
        .map_err(map_sqlite)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and its parent directories.
    /// The schema is not touched: call `migrate()`. This constructor does
    /// blocking file I/O once; every later call runs on the blocking pool.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        let path = path.as_ref().to_path_buf();
        if path.as_os_str() == ":memory:" {
            // Every pooled connection would see its own empty database.
            return Err(StoreError::Backend(
                "sqlite path \":memory:\" is not supported: use a file (e.g. in a temp dir)"
                    .to_string(),
            ));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Backend(format!("creating directory {}: {e}", parent.display()))
            })?;
        }
        // Opening one connection now reports a bad path at once, not on first use.
        let first = open_connection(&path)?;
        Ok(Self {
            pool: Arc::new(ConnectionPool {
                path,
                idle: Mutex::new(vec![first]),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.pool.path
    }

    /// Applies migrations up to `version` only (tests of the schema history).
    pub async fn migrate_to(&self, version: u32) -> StoreResult<MigrationReport> {
        self.with_conn(move |conn| migrations::migrate_to(conn, version))
            .await
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub(crate) async fn with_conn<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = Arc::clone(&self.pool);
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.checkout()?;
            let out = f(&mut conn);
            pool.checkin(conn);
            out
        })
        .await
        .map_err(|e| StoreError::Backend(format!("sqlite task failed: {e}")))?
    }
}

#[async_trait]
impl SchemaMigrator for SqliteStore {
    async fn migrate(&self) -> StoreResult<MigrationReport> {
        self.migrate_to(migrations::latest_version()).await
    }

    async fn schema_version(&self) -> StoreResult<u32> {
        self.with_conn(|conn| migrations::schema_version(conn))
            .await
    }
}

impl Store for SqliteStore {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_use_wal_busy_timeout_and_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dirs/store.db");
        let store = SqliteStore::open(&path).unwrap();
        assert!(
            path.exists(),
            "open creates parent directories and the file"
        );
        let (mode, fk, timeout): (String, i64, i64) = store
            .with_conn(|conn| {
                let q =
                    |sql: &str| conn.query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0));
                let text = |v| match v {
                    rusqlite::types::Value::Text(t) => t,
                    other => format!("{other:?}"),
                };
                let int = |v| match v {
                    rusqlite::types::Value::Integer(i) => i,
                    _ => -1,
                };
                Ok((
                    text(q("PRAGMA journal_mode").map_err(map_sqlite)?),
                    int(q("PRAGMA foreign_keys").map_err(map_sqlite)?),
                    int(q("PRAGMA busy_timeout").map_err(map_sqlite)?),
                ))
            })
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(fk, 1);
        assert_eq!(timeout, BUSY_TIMEOUT.as_millis() as i64);
        assert_eq!(store.backend_name(), "sqlite");
    }

    #[test]
    fn in_memory_paths_are_refused_with_a_clear_error() {
        let err = SqliteStore::open(":memory:").unwrap_err().to_string();
        assert!(err.contains(":memory:"), "{err}");
    }
}
