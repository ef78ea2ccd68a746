//! Background WAL checkpoints. A checkpoint copies committed pages from the
//! WAL into the database file (and syncs it); done by the writer connection,
//! as SQLite does by default, it took about a fifth of the writer's time, and
//! every write of the process waits for the writer. A thread of its own runs
//! `PRAGMA wal_checkpoint(PASSIVE)` instead, which never blocks the writer or
//! readers. The writer keeps SQLite's automatic checkpoint as a backstop at a
//! larger WAL size, should this thread fall behind or be missing.

use crate::{open_connection, ConnectionPool};
use rusqlite::Connection;
use std::sync::Weak;
use std::time::Duration;

/// How often the WAL is checkpointed while the store is open.
const INTERVAL: Duration = Duration::from_millis(100);

/// Starts the checkpoint thread of `pool`; it ends once the pool is dropped.
/// Returns false when no thread could be started (the writer's automatic
/// checkpoint then does the work alone).
pub(crate) fn spawn(pool: Weak<ConnectionPool>) -> bool {
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || run(pool))
        .is_ok()
}

fn run(pool: Weak<ConnectionPool>) {
    let mut conn: Option<Connection> = None;
    loop {
        std::thread::sleep(INTERVAL);
        let path = match pool.upgrade() {
            Some(pool) => pool.path.clone(),
            None => return,
        };
        if conn.is_none() {
            match open_connection(&path) {
                Ok(opened) => conn = Some(opened),
                Err(err) => {
                    tracing::debug!(error = %err, "opening the checkpoint connection");
                    continue;
                }
            }
        }
        if let Some(c) = &conn {
            // PASSIVE copies what no reader still needs and returns at once
            // otherwise; a busy or failed attempt is simply retried next time.
            let checkpointed =
                c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
            if let Err(err) = checkpointed {
                tracing::debug!(error = %err, db = %path.display(), "background WAL checkpoint");
            }
        }
    }
}
