//! The contract's queue cases with `bigquery.queue: direct`: every claim,
//! completion and release is the store's own DML, with no leader. It is the
//! opt-out from the coordinated default (docs/bigquery.md), so its queue
//! promises are checked here too; the rest of the suite does not depend on
//! the queue mode and runs once, in `contract.rs`.

mod common;

use jobenrich_domain::SchemaMigrator;
use jobenrich_storage_bigquery::{BigQuerySettings, BigQueryStore, QueueMode};
use jobenrich_storage_contract::{storage_contract_suite, FreshStore};

async fn fresh_direct_store() -> FreshStore {
    let url = common::emulator_url();
    let dataset = common::fresh_dataset("direct");
    let settings = BigQuerySettings {
        queue: QueueMode::Direct,
        ..BigQuerySettings::emulator(&url, common::PROJECT, &dataset)
    };
    let store = BigQueryStore::connect(settings)
        .await
        .expect("building the BigQuery client");
    store
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("migrating a fresh dataset on the emulator at {url}: {e}"));
    FreshStore::with_guard(store, common::DatasetGuard::new(&url, &dataset))
}

storage_contract_suite!(@cases fresh_direct_store;
    concurrent_claimers_never_receive_the_same_enrichment,
    expired_leases_are_reclaimable_and_live_ones_are_not,
    claims_respect_type_version_due_time_and_limit,
    lost_leases_are_reported_and_nothing_of_them_is_written,
    release_returns_leases_without_counting_the_attempt,
    an_expired_lease_at_the_attempts_cap_is_dead_lettered,
    completing_twice_or_after_reclaim_never_duplicates_results,
    completion_replaces_earlier_results_of_the_same_version,
    failed_enrichments_are_requeued_until_max_attempts,
    a_final_failure_is_a_dead_letter_at_once_and_never_requeued,
    two_concurrent_completions_of_one_batch_write_it_once,
);
