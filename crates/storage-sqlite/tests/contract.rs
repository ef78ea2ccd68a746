//! The shared storage contract run against SQLite: each case gets a new
//! database file in its own temporary directory, migrated to the latest schema.

use jobenrich_domain::SchemaMigrator;
use jobenrich_storage_contract::{storage_contract_suite, FreshStore};
use jobenrich_storage_sqlite::SqliteStore;

async fn fresh_sqlite_store() -> FreshStore {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let store =
        SqliteStore::open(dir.path().join("contract.db")).expect("opening the test database");
    store.migrate().await.expect("migrating the test database");
    FreshStore::with_guard(store, dir)
}

storage_contract_suite!(fresh_sqlite_store);
