//! The shared storage contract run against the BigQuery emulator: each case
//! gets a fresh dataset, migrated to the latest schema (see `common` for how
//! the emulator is found).

mod common;

use jobenrich_storage_contract::{storage_contract_suite, FreshStore};

async fn fresh_bigquery_store() -> FreshStore {
    let (store, guard) = common::fresh_store().await;
    FreshStore::with_guard(store, guard)
}

storage_contract_suite!(fresh_bigquery_store);
