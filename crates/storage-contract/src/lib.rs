//! The storage contract: one suite of behaviour tests that every jobenrich
//! storage adapter runs against a fresh store of its own (quickwit's
//! `metastore_test_suite!` pattern).
//!
//! Each promise of the ports in `jobenrich_domain::ports` is one generic
//! `pub async fn` in [`cases`], taking the store as `Arc<dyn Store>`. The
//! [`storage_contract_suite!`] macro expands to one `#[test]` per case; each
//! builds a multi-thread tokio runtime, asks the factory for a fresh, isolated,
//! already migrated store, and runs the case. A failing assertion names the
//! backend and the promise it broke:
//! `[sqlite] promise broken: two claimers never receive the same enrichment …`.
//!
//! # Using it from an adapter crate
//!
//! In `tests/contract.rs` of the adapter (with this crate as a dev-dependency):
//!
//! ```text
//! use jobenrich_storage_contract::{storage_contract_suite, FreshStore};
//!
//! /// A new database per test; the guard (here a temp dir) lives as long as the test.
//! async fn fresh_store() -> FreshStore {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = MyStore::open(dir.path().join("test.db")).unwrap();
//!     store.migrate().await.unwrap();
//!     FreshStore::with_guard(store, dir)
//! }
//!
//! storage_contract_suite!(fresh_store);
//! ```
//!
//! The factory is any expression callable with no arguments that returns a
//! future of [`FreshStore`] (an `async fn` path or `|| async { … }`). The
//! caller needs no tokio dependency: the runtime comes from this crate.
//! Row counts stay modest (an emulator-backed store is slow), except the
//! explicit 10,000-skill batch case and the 25,000-row read (more than one
//! BigQuery result page).
//!
//! To run a subset (e.g. while an adapter is being built), list cases by name:
//! `storage_contract_suite!(@cases fresh_store; migrate_is_idempotent, ...);`
//! or call [`run_case`] with any function of [`cases`].
//!
//! [`fixtures`] has builders of valid entities that other crates' tests may reuse.
//!
//! # Conventions the cases pin down beyond the port docs
//!
//! - Timestamps are compared exactly at microsecond precision (the fixtures
//!   use microsecond instants); floats and JSON maps exactly.
//! - A claim takes the oldest work first: by `created_at`, then job id, then
//!   version; rows come back in that order.
//! - `processing → pending` (a release, by `release_enrichments` or
//!   `transition_enrichment`) does not count the interrupted attempt; leaving
//!   `processing` through `transition_enrichment` needs the holder's owner
//!   (`Conflict` otherwise); entering it needs an owner (`StoreError::Domain`).
//!   `failed → pending` keeps a given `next_attempt_at`.
//! - `complete_enrichments` reports lost leases in input order; the skills of
//!   a success must carry the enrichment's job and version (`Domain` error
//!   otherwise, and nothing of the batch is written).
//! - Aliases are unique by `SkillAlias::normalized_key` (Unicode lower case,
//!   trimmed) and listed in that order.
//! - Model versions are listed in `ModelVersion::sort_key` order.
//! - Validation failures surface as `StoreError::Domain(DomainError::Validation)`
//!   naming the entity and field, before anything is written.

/// Asserts a promise of the ports, naming the backend and the promise.
macro_rules! promise {
    ($store:expr, $cond:expr, $($arg:tt)+) => {
        assert!(
            $cond,
            "[{}] promise broken: {}",
            $store.backend_name(),
            format_args!($($arg)+)
        )
    };
}

/// Asserts equality as a promise of the ports, naming the backend and the promise.
macro_rules! promise_eq {
    ($store:expr, $left:expr, $right:expr, $($arg:tt)+) => {
        assert_eq!(
            $left,
            $right,
            "[{}] promise broken: {}",
            $store.backend_name(),
            format_args!($($arg)+)
        )
    };
}

pub mod cases;
pub mod fixtures;

use jobenrich_domain::Store;
use std::any::Any;
use std::future::Future;
use std::sync::Arc;

/// A fresh, isolated, migrated store for one test, with whatever must live as
/// long as it (a temp dir, an emulator dataset handle).
pub struct FreshStore {
    store: Arc<dyn Store>,
    sql: Option<Arc<dyn SeedSql>>,
    _guard: Box<dyn Any + Send>,
}

/// A value bound to a named `@parameter` of a seed query.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    Text(String),
    Int(i64),
}

/// Runs SQL text on the store's own tables, for the cases that hold the
/// seed's queries as written. Each adapter provides one over the same
/// database or dataset as its store.
#[async_trait::async_trait]
pub trait SeedSql: Send + Sync {
    /// Runs one SELECT with named `@parameters`; each cell as text (NULL as
    /// `None`, numbers in their decimal form).
    async fn select(
        &self,
        sql: &str,
        params: &[(&str, SqlParam)],
    ) -> Result<Vec<Vec<Option<String>>>, String>;

    /// Runs one DML statement (a case that simulates rows written by an
    /// older schema). The default runs it through `select`, which both
    /// adapters' runners accept for statements that return no rows.
    async fn execute(&self, sql: &str, params: &[(&str, SqlParam)]) -> Result<(), String> {
        self.select(sql, params).await.map(|_| ())
    }
}

impl FreshStore {
    pub fn new<S: Store + 'static>(store: S) -> Self {
        Self::with_guard(store, ())
    }

    /// `guard` is dropped after the test, when the store is no longer used.
    pub fn with_guard<S: Store + 'static, G: Send + 'static>(store: S, guard: G) -> Self {
        Self {
            store: Arc::new(store),
            sql: None,
            _guard: Box::new(guard),
        }
    }

    /// Adds the SQL runner the seed-query cases use.
    pub fn with_sql(mut self, sql: impl SeedSql + 'static) -> Self {
        self.sql = Some(Arc::new(sql));
        self
    }

    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }
}

/// Runs one case against a fresh store on a new multi-thread runtime (used by
/// [`storage_contract_suite!`]; public for adapters that want a custom list).
pub fn run_case<F, Fut, C, CFut>(factory: F, case: C)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = FreshStore>,
    C: FnOnce(Arc<dyn Store>) -> CFut,
    CFut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("building the contract test runtime");
    runtime.block_on(async move {
        let fresh = factory().await;
        case(fresh.store()).await;
        drop(fresh);
    });
}

/// Expands to one `#[test]` per contract case, each against a fresh store
/// from `$factory` (see the crate docs).
/// Runs a case that also needs the adapter's SQL runner; a factory without
/// one fails the case (it is never skipped silently).
pub fn run_sql_case<F, Fut, C, CFut>(factory: F, case: C)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = FreshStore>,
    C: FnOnce(Arc<dyn Store>, Arc<dyn SeedSql>) -> CFut,
    CFut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("building the contract test runtime");
    runtime.block_on(async move {
        let fresh = factory().await;
        let sql = fresh.sql.clone().unwrap_or_else(|| {
            panic!(
                "[{}] the factory gives no SQL runner (FreshStore::with_sql): the seed's \
                 queries cannot run",
                fresh.store.backend_name()
            )
        });
        case(fresh.store(), sql).await;
        drop(fresh);
    });
}

#[macro_export]
macro_rules! storage_contract_suite {
    ($factory:expr) => {
        $crate::storage_contract_suite!(@cases $factory;
            migrate_is_idempotent,
            postings_round_trip_with_and_without_optional_fields,
            insert_postings_is_idempotent,
            postings_are_paged_and_looked_up_by_id,
            enqueue_creates_one_pending_enrichment_per_key,
            enrichment_round_trip_with_and_without_optional_fields,
            every_enrichment_transition_is_checked,
            transition_reports_missing_rows_and_foreign_leases,
            concurrent_claimers_never_receive_the_same_enrichment,
            expired_leases_are_reclaimable_and_live_ones_are_not,
            claims_respect_type_version_due_time_and_limit,
            re_enrichment_anti_join_returns_exactly_the_missing_jobs,
            completing_twice_or_after_reclaim_never_duplicates_results,
            completion_replaces_earlier_results_of_the_same_version,
            lost_leases_are_reported_and_nothing_of_them_is_written,
            failed_enrichments_are_requeued_until_max_attempts,
            release_returns_leases_without_counting_the_attempt,
            an_expired_lease_at_the_attempts_cap_is_dead_lettered,
            a_final_failure_is_a_dead_letter_at_once_and_never_requeued,
            status_counts_and_dead_letters,
            pending_enrichments_at_given_versions_are_deleted,
            many_enrichments_are_read_by_key_at_once,
            skills_round_trip_with_and_without_optional_fields,
            skill_queries_order_count_and_delete,
            ten_thousand_skills_in_one_batch,
            sections_round_trip_and_upsert_by_key,
            embeddings_are_read_by_job_paged_counted_and_deleted,
            clustering_runs_version_per_job_and_keep_one_active,
            cluster_changes_lists_jobs_whose_cluster_moved,
            failed_clustering_run_leaves_the_previous_run_intact,
            aliases_are_unique_case_insensitively,
            aliases_are_deactivated_without_deletion_and_upserted,
            model_registry_keeps_one_active_version_per_model,
            model_performance_metrics_are_merged,
            evaluations_round_trip_and_latest_is_newest,
            hostile_strings_are_stored_verbatim,
            invalid_entities_are_rejected_and_nothing_of_the_batch_is_stored,
            a_read_of_25000_rows_returns_every_row_once,
            two_concurrent_completions_of_one_batch_write_it_once,
            a_planned_completion_stores_what_a_plain_one_does,
        );
        $crate::storage_contract_suite!(@sql_cases $factory;
            the_seeds_three_queries_run_as_written,
            mention_spans_round_trip_and_legacy_rows_read_empty,
            a_completed_embedding_is_stored_replaced_and_a_corrupt_row_is_named,
        );
    };
    (@sql_cases $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::run_sql_case($factory, $crate::cases::$case);
            }
        )+
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::run_case($factory, $crate::cases::$case);
            }
        )+
    };
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    /// Every `pub async fn NAME(store: …)` under `src/cases`, however the
    /// files are split.
    fn case_functions(dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).expect("cases directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                case_functions(&path, out);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("case file");
            // Signatures may wrap: the first parameter can be on the next line.
            for rest in text.split("pub async fn ").skip(1) {
                let (name, params) = rest.split_once('(').unwrap_or((rest, ""));
                if params.trim_start().starts_with("store:") {
                    out.insert(name.trim().to_string());
                }
            }
        }
    }

    /// A case written but not listed in `storage_contract_suite!` would never
    /// run against any adapter, and the suite would still pass.
    #[test]
    fn the_suite_macro_lists_every_contract_case() {
        // Tests run in the package directory.
        let src = Path::new("src");
        let mut written = BTreeSet::new();
        case_functions(&src.join("cases"), &mut written);
        assert!(!written.is_empty(), "no cases found under src/cases");

        let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
        // Both lists: plain cases and those that also take the SQL runner.
        let mut listed = BTreeSet::new();
        for head in [
            "storage_contract_suite!(@cases $factory;",
            "storage_contract_suite!(@sql_cases $factory;",
        ] {
            let list = &lib[lib.find(head).expect("the macro's case list")..];
            let list =
                &list[list.find(';').expect("list start") + 1..list.find(");").expect("list end")];
            listed.extend(
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            );
        }

        let missing: Vec<_> = written.difference(&listed).collect();
        let unknown: Vec<_> = listed.difference(&written).collect();
        assert!(
            missing.is_empty() && unknown.is_empty(),
            "cases not in storage_contract_suite!: {missing:?}; listed but not written: {unknown:?}"
        );
    }
}
