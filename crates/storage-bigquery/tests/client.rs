//! The client's job protocol against the emulator, seen through a proxy: a
//! statement still running when jobs.query answers is polled and its final
//! affected-row count used; an attempt whose answer was lost is not run twice
//! (BigQuery's 409 on the reused request id leads to that job's result); a
//! full DML queue is retried after a backoff.

mod common;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use common::proxy::{PassThrough, Policy, Proxy, Request, Verdict};
use jobenrich_domain::{
    AliasRepository, AliasSource, JobId, JobPosting, JobPostingRepository, SchemaMigrator,
    SkillAlias, SkillCategory, StoreError,
};
use jobenrich_storage_bigquery::{BigQuerySettings, BigQueryStore};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

fn postings(n: usize) -> Vec<JobPosting> {
    (0..n)
        .map(|i| JobPosting {
            job_posting_id: JobId::parse(format!("client-{i:05}")).unwrap(),
            title: format!("Engineer {i}"),
            company: None,
            location: None,
            description: format!("Rust and SQL, posting {i}"),
            posted_at: None,
            source: None,
            url: None,
            ingested_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        })
        .collect()
}

fn alias(text: &str) -> SkillAlias {
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    SkillAlias {
        alias_id: jobenrich_domain::Uuid::new_v4(),
        alias_text: text.to_string(),
        canonical_name: "Kubernetes".to_string(),
        skill_category: SkillCategory::DevopsTools,
        confidence: 0.9,
        source: AliasSource::Manual,
        is_active: true,
        created_at: at,
        created_by: "cli:test".to_string(),
        updated_at: at,
    }
}

/// A migrated store on a fresh dataset, reached through `proxy`.
async fn store_through(
    proxy: &Proxy,
    tune: impl FnOnce(&mut BigQuerySettings),
) -> (BigQueryStore, common::DatasetGuard) {
    let url = common::emulator_url();
    let dataset = common::fresh_dataset("client");
    let mut settings = BigQuerySettings::emulator(&proxy.url, common::PROJECT, &dataset);
    tune(&mut settings);
    let store = BigQueryStore::connect(settings).await.unwrap();
    store.migrate().await.unwrap();
    (store, common::DatasetGuard::new(&url, &dataset))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dml_that_finishes_after_the_first_poll_reports_its_final_row_count() {
    let proxy = Proxy::start(&common::emulator_url(), Arc::new(PassThrough)).await;
    // jobs.query answers at once, before any statement has finished.
    let (store, _guard) = store_through(&proxy, |s| s.query_timeout_ms = 0).await;
    let batch = postings(300);
    let polls_before = proxy.counts().get("getQueryResults").copied().unwrap_or(0);
    let counts = store.insert_postings(&batch).await.unwrap();
    assert_eq!(
        (counts.inserted, counts.already_present),
        (300, 0),
        "the finished MERGE's count, not the first answer's"
    );
    assert!(
        proxy.counts().get("getQueryResults").copied().unwrap_or(0) > polls_before,
        "the unfinished statement was polled: {:?}",
        proxy.counts()
    );
    let again = store.insert_postings(&batch).await.unwrap();
    assert_eq!((again.inserted, again.already_present), (0, 300));

    store.add_alias(&alias("k8s")).await.unwrap();
    match store.add_alias(&alias("K8S")).await {
        Err(StoreError::AlreadyExists { .. }) => {}
        other => panic!("a second alias of the same key is AlreadyExists, got {other:?}"),
    }
    assert_eq!(store.list_aliases(false).await.unwrap().len(), 1);
    assert_eq!(store.list_postings_page(None, 1000).await.unwrap(), batch);
}

/// Drops the answer of the first MERGE into job_postings (it still runs).
struct LoseFirstMergeAnswer(AtomicU32);

#[async_trait]
impl Policy for LoseFirstMergeAnswer {
    async fn admit(&self, request: &Request) -> Verdict {
        let merge = request
            .sql()
            .is_some_and(|sql| sql.trim_start().starts_with("MERGE job_postings"));
        if merge && self.0.fetch_add(1, Ordering::SeqCst) == 0 {
            Verdict::DropAnswer
        } else {
            Verdict::Forward
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_whose_first_attempt_committed_reads_that_jobs_result() {
    let policy = Arc::new(LoseFirstMergeAnswer(AtomicU32::new(0)));
    let proxy = Proxy::start(&common::emulator_url(), policy.clone()).await;
    let (store, _guard) = store_through(&proxy, |_| {}).await;
    let batch = postings(50);
    let counts = store.insert_postings(&batch).await.unwrap();
    assert!(
        policy.0.load(Ordering::SeqCst) >= 2,
        "the MERGE was sent again after its answer was lost"
    );
    assert_eq!(
        (counts.inserted, counts.already_present),
        (50, 0),
        "the retry reports what the committed first attempt did"
    );
    assert_eq!(store.count_postings().await.unwrap(), 50);
}

/// Fails the first two MERGEs the way BigQuery does when a table's DML queue is full.
struct FullDmlQueue(AtomicU32);

#[async_trait]
impl Policy for FullDmlQueue {
    async fn admit(&self, request: &Request) -> Verdict {
        let merge = request
            .sql()
            .is_some_and(|sql| sql.trim_start().starts_with("MERGE job_postings"));
        if merge && self.0.fetch_add(1, Ordering::SeqCst) < 2 {
            Verdict::Fail {
                status: 400,
                reason: "quotaExceeded",
                message: "Resources exceeded during query execution: Too many DML statements \
                          outstanding against table test-proj:d.job_postings, limit is 20."
                    .into(),
            }
        } else {
            Verdict::Forward
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_dml_queue_is_retried_after_a_backoff() {
    let policy = Arc::new(FullDmlQueue(AtomicU32::new(0)));
    let proxy = Proxy::start(&common::emulator_url(), policy.clone()).await;
    let (store, _guard) = store_through(&proxy, |_| {}).await;
    let counts = store.insert_postings(&postings(10)).await.unwrap();
    assert_eq!(counts.inserted, 10);
    assert_eq!(
        policy.0.load(Ordering::SeqCst),
        3,
        "two refusals, then it ran"
    );
}
