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
//! - Within a process every write goes through one writer connection behind a
//!   mutex. SQLite admits one writer at a time anyway; queueing on the mutex
//!   wakes the next writer as soon as the lock is free, where two connections
//!   would poll through the busy handler's sleeps, and since no other
//!   connection of the process writes, the writer's page cache stays valid
//!   from one transaction to the next (a write by another connection would
//!   empty it). WAL checkpoints run on a thread of their own ([`checkpointer`]).
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
mod checkpointer;
mod clusters;
mod codec;
mod embeddings;
mod enrichments;
mod error;
mod evaluations;
pub mod migrations;
mod models;
mod plan;
mod postings;
mod prune;
mod sections;
mod skills;
mod slices;

use async_trait::async_trait;
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::{MigrationReport, SchemaMigrator, SpaceReport, Store, StoreError};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

pub use error::map_sqlite;

/// How long a connection waits for another connection's or process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept open for reuse.
const MAX_IDLE_CONNECTIONS: usize = 4;
const STATEMENT_CACHE_CAPACITY: usize = 64;
/// Page size of new databases. Rows of job_skills (~130 B, ~400 B before
/// migration 10) and sections
/// (~150 B, ~800 B before migration 9) fill 4 KB pages fast; 16 KB pages split
/// less often and a batch is written to the WAL in a quarter of the frames.
const PAGE_SIZE: u32 = 16 * 1024;
/// Page cache of the writer connection. The default 2 MB is smaller than what
/// one completed batch writes (~4 MB for 256 postings), so SQLite spilled dirty
/// pages mid-transaction and read them back; this is a fixed cap, whatever the
/// size of the database.
const WRITER_CACHE_KIB: i64 = 32 * 1024;
/// WAL pages after which the writer checkpoints by itself (SQLite's default is
/// 1,000): only a backstop, the checkpoint thread (`checkpointer`) normally
/// keeps the WAL well below it. 8,192 pages of 16 KB: a WAL of 128 MB at most.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 8192;

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
    /// The connection every write of this process goes through; `None` until
    /// first used, or after a write panicked (it is reopened).
    writer: Mutex<Option<Connection>>,
    /// `skill_terms` ids this process has seen committed. Terms are never
    /// deleted or renumbered, so a committed id stays right; without this
    /// every batch looked up each of its ~1,000 distinct terms again.
    terms: Arc<Mutex<skills::TermIds>>,
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
    // Takes effect only on a new, empty database (before WAL mode writes its
    // first page); an existing file keeps its page size.
    conn.execute_batch(&format!("PRAGMA page_size = {PAGE_SIZE};"))
        .map_err(map_sqlite)?;
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

/// A connection tuned for writing batches (see `WRITER_CACHE_KIB`).
fn open_writer_connection(path: &Path) -> StoreResult<Connection> {
    let conn = open_connection(path)?;
    conn.execute_batch(&format!(
        "PRAGMA cache_size = -{WRITER_CACHE_KIB}; PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES};"
    ))
    .map_err(map_sqlite)?;
    Ok(conn)
}

fn foreign_keys_enforced(conn: &Connection) -> bool {
    conn.query_row("PRAGMA foreign_keys", [], |r| r.get::<_, i64>(0))
        .is_ok_and(|on| on == 1)
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
        let pool = Arc::new(ConnectionPool {
            path,
            idle: Mutex::new(vec![first]),
            writer: Mutex::new(None),
            terms: Arc::default(),
        });
        if !checkpointer::spawn(Arc::downgrade(&pool)) {
            tracing::warn!(db = %pool.path.display(), "no checkpoint thread: the writer checkpoints the WAL itself");
        }
        Ok(Self { pool })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.pool.path
    }

    /// Applies migrations up to `version` only (tests of the schema history).
    pub async fn migrate_to(&self, version: u32) -> StoreResult<MigrationReport> {
        self.with_writer(move |conn| migrations::migrate_to(conn, version))
            .await
    }

    /// The `skill_terms` ids this process has seen committed.
    pub(crate) fn committed_terms(&self) -> Arc<Mutex<skills::TermIds>> {
        Arc::clone(&self.pool.terms)
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

    /// Runs `f` on a pooled connection over `value`, and hands `value` back
    /// whatever becomes of `f` (an error or a panic is `None`, logged).
    pub(crate) async fn with_conn_over<V, T, F>(&self, value: V, f: F) -> (V, Option<T>)
    where
        F: FnOnce(&mut Connection, &V) -> StoreResult<T> + Send + 'static,
        V: Clone + Send + Sync + 'static,
        T: Send + 'static,
    {
        let shared = Arc::new(value);
        let read = Arc::clone(&shared);
        let out = self.with_conn(move |conn| f(conn, &read)).await;
        let out = match out {
            Ok(out) => Some(out),
            Err(err) => {
                tracing::debug!(error = %err, "sqlite: no completion plan; the writer works it out");
                None
            }
        };
        // The task's clone is gone once it finished or failed; a copy only if not.
        (Arc::unwrap_or_clone(shared), out)
    }

    /// Runs `f` in one IMMEDIATE write transaction on the writer connection
    /// (`in_write_tx`): committed when `f` returns `Ok`, rolled back on `Err`.
    pub(crate) async fn with_write_tx<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.with_writer(move |conn| in_write_tx(conn, f)).await
    }

    /// `with_write_tx` with a term writer that trusts the store's committed
    /// term ids; the ids the transaction reads or makes join them once it
    /// commits (`skills::with_skill_writer`).
    pub(crate) async fn with_term_write_tx<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&rusqlite::Transaction<'_>, &mut skills::SkillWriter<'_>) -> StoreResult<T>
            + Send
            + 'static,
        T: Send + 'static,
    {
        let terms = self.committed_terms();
        self.with_writer(move |conn| {
            skills::with_skill_writer(&terms, |writer| in_write_tx(conn, |tx| f(tx, writer)))
        })
        .await
    }

    /// Runs `f` with this process's writer connection on the blocking pool,
    /// one writer at a time (see the module docs). `f` opens its own
    /// `BEGIN IMMEDIATE` transaction.
    pub(crate) async fn with_writer<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = Arc::clone(&self.pool);
        tokio::task::spawn_blocking(move || {
            // Poisoned only by a panic inside `f`, which took the connection
            // with it (dropping it rolled its transaction back): the slot is empty.
            let mut slot = pool.writer.lock().unwrap_or_else(PoisonError::into_inner);
            let mut conn = match slot.take() {
                Some(conn) => conn,
                None => open_writer_connection(&pool.path)?,
            };
            let out = f(&mut conn);
            // A write that turned foreign keys off and failed to turn them back
            // on must not leave the next writes unchecked: reopen instead.
            if foreign_keys_enforced(&conn) {
                *slot = Some(conn);
            }
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

    async fn reclaim_space(&self) -> StoreResult<Option<SpaceReport>> {
        let path = self.pool.path.clone();
        self.with_writer(move |conn| {
            // What the disk holds: the database file and its WAL.
            let on_disk = || -> u64 {
                let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                let mut wal = path.clone().into_os_string();
                wal.push("-wal");
                len(&path) + len(Path::new(&wal))
            };
            let bytes_before = on_disk();
            // VACUUM rewrites the database through the WAL (about its size
            // again on disk for a while) and holds the write lock meanwhile.
            conn.execute_batch("VACUUM").map_err(map_sqlite)?;
            // The checkpoint that folds it into the file and truncates both.
            // It fails busy while the background thread runs its own
            // checkpoint (no busy handler covers that): tried again.
            for _ in 0..200 {
                let busy: i64 = conn
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                    .map_err(map_sqlite)?;
                if busy == 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(Some(SpaceReport {
                bytes_before,
                bytes_after: on_disk(),
            }))
        })
        .await
    }
}

impl Store for SqliteStore {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }
}

/// The one way a write transaction is opened: `BEGIN IMMEDIATE` (the write
/// lock up front, so a reader never has to upgrade and hit `SQLITE_BUSY`
/// mid-transaction), `f`, then commit; an error drops the transaction, which
/// rolls it back, so nothing of a failed write is stored.
pub(crate) fn in_write_tx<T>(
    conn: &mut Connection,
    f: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T>,
) -> StoreResult<T> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(map_sqlite)?;
    let out = f(&tx)?;
    tx.commit().map_err(map_sqlite)?;
    Ok(out)
}

/// A migrated store at `path` holding one posting, `p1`, with `description`.
#[cfg(test)]
pub(crate) async fn store_with_posting(path: &Path, description: &str) -> SqliteStore {
    use jobenrich_domain::SchemaMigrator;
    let store = SqliteStore::open(path).unwrap();
    store.migrate().await.unwrap();
    Connection::open(path)
        .unwrap()
        .execute(
            "INSERT INTO job_postings (job_posting_id, title, description, ingested_at)
             VALUES ('p1', 'Dev', ?1, 1)",
            [description],
        )
        .unwrap();
    store
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reclaiming_space_shrinks_the_store_after_a_prune_and_keeps_every_row() {
        use jobenrich_domain::{JobPostingRepository, SkillRepository};
        use jobenrich_storage_contract::fixtures;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("v.db")).unwrap();
        store.migrate().await.unwrap();
        let jobs: Vec<String> = (0..400).map(|i| format!("job-{i:04}")).collect();
        let postings: Vec<_> = jobs.iter().map(|j| fixtures::posting(j)).collect();
        store.insert_postings(&postings).await.unwrap();
        let old = fixtures::enrichment_version("skills_extractor@v0.9");
        let mut skills = Vec::new();
        for job in &jobs {
            for n in 0..25 {
                let mut s = fixtures::skill(job, &format!("skill {n}"));
                s.enrichment_version = old.clone();
                skills.push(s);
            }
            skills.push(fixtures::skill(job, "Rust"));
        }
        store.upsert_skills(&skills).await.unwrap();
        store.delete_skills_at_versions(&[old]).await.unwrap();

        let report = store.reclaim_space().await.unwrap().unwrap();
        assert!(
            report.bytes_after * 2 < report.bytes_before,
            "the pruned rows' pages are given back: {report:?}"
        );
        let file = std::fs::metadata(dir.path().join("v.db")).unwrap().len();
        assert_eq!(file, report.bytes_after, "the file itself shrank");
        assert_eq!(store.count_postings().await.unwrap(), 400);
        let kept = store
            .skills_for_job(&fixtures::job_posting_id("job-0399"), None)
            .await
            .unwrap();
        assert_eq!(kept, [fixtures::skill("job-0399", "Rust")]);
        // Writes go on after it.
        store
            .upsert_skills(&[fixtures::skill("job-0001", "Go")])
            .await
            .unwrap();
    }

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

    #[tokio::test]
    async fn concurrent_writes_share_one_writer_connection_with_a_bounded_cache() {
        use jobenrich_domain::{JobId, JobPosting, JobPostingRepository, SchemaMigrator};
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("w.db")).unwrap();
        store.migrate().await.unwrap();
        let file_len = || std::fs::metadata(store.path()).unwrap().len();
        let before = file_len();
        let mut writers = tokio::task::JoinSet::new();
        for task in 0..8 {
            let store = store.clone();
            writers.spawn(async move {
                let postings: Vec<JobPosting> = (0..50)
                    .map(|i| JobPosting {
                        job_posting_id: JobId::parse(format!("job-{task}-{i}")).unwrap(),
                        title: "Engineer".into(),
                        company: None,
                        location: None,
                        description: "Rust and SQL".into(),
                        posted_at: None,
                        source: None,
                        url: None,
                        ingested_at: chrono::Utc::now(),
                    })
                    .collect();
                store.insert_postings(&postings).await.unwrap().inserted
            });
        }
        let mut inserted = 0;
        while let Some(n) = writers.join_next().await {
            inserted += n.unwrap();
        }
        assert_eq!(inserted, 400, "no write failed on a busy lock");
        assert_eq!(store.count_postings().await.unwrap(), 400);
        let (cache, checkpoint): (i64, i64) = store
            .with_writer(|conn| {
                let pragma = |name: &str| {
                    conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
                        .map_err(map_sqlite)
                };
                Ok((pragma("cache_size")?, pragma("wal_autocheckpoint")?))
            })
            .await
            .unwrap();
        assert_eq!(cache, -WRITER_CACHE_KIB);
        assert_eq!(checkpoint, WAL_AUTOCHECKPOINT_PAGES);

        // The checkpoint thread copies the WAL into the database file, long
        // before the writer's own backstop threshold.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while file_len() == before && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(
            file_len() > before,
            "the background checkpoint wrote the postings into the database file"
        );

        // Completing a batch lifts foreign-key checks for its own transaction only.
        use jobenrich_domain::EnrichmentRepository;
        store
            .complete_enrichments(&[], chrono::Utc::now())
            .await
            .unwrap();
        let orphan = store
            .with_writer(|conn| {
                // The terms exist: only the posting is missing.
                conn.execute(
                    "INSERT INTO skill_terms (term_id, term) VALUES (1, 's')",
                    [],
                )
                .map_err(map_sqlite)?;
                conn.execute(
                    "INSERT INTO job_skills_data (job_posting_id, version_term, name_term,
                         category_term, confidence_score, strategies_term, created_at, skill_id)
                     VALUES ('nobody', 1, 1, 1, 1, 1, 0, x'00')",
                    [],
                )
                .map_err(map_sqlite)
            })
            .await;
        assert!(
            orphan.is_err(),
            "foreign keys are enforced again after a completion"
        );
    }
}
