//! Cases of failures: retries with backoff up to `max_attempts`, status
//! counts and dead letters.

use super::enrichments::{
    claim, enqueue, failure, final_failure, get, seed_jobs, skills_key, success,
};
use super::ok;
use crate::fixtures::{at, version};
use chrono::{DateTime, Utc};
use jobenrich_domain::{EnrichmentKey, EnrichmentStatus, EnrichmentType, Store, RETRYABLE_KEY};
use std::sync::Arc;

const SKILLS: EnrichmentType = EnrichmentType::SkillsExtraction;

async fn claim_and_fail(
    store: &dyn Store,
    k: &EnrichmentKey,
    now: DateTime<Utc>,
    retry_at: Option<DateTime<Utc>>,
) {
    let claimed = claim(store, "w", now, 1).await;
    promise_eq!(store, claimed.len(), 1, "requeued work is claimable again");
    ok(
        store,
        store
            .complete_enrichments(&[failure(k, "w", "boom", retry_at)], now)
            .await,
        "complete_enrichments writes a failure",
    );
}

pub async fn failed_enrichments_are_requeued_until_max_attempts(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["job-a"]).await;
    enqueue(s, &["job-a"], SKILLS, &version(), at(0)).await;
    let k = skills_key("job-a");
    claim_and_fail(s, &k, at(10), Some(at(300))).await;
    let early = ok(
        s,
        store.requeue_failed(SKILLS, 3, at(200)).await,
        "requeue_failed",
    );
    promise_eq!(
        s,
        early,
        0,
        "a failure is not requeued before its next_attempt_at"
    );
    let other_type = ok(
        s,
        store
            .requeue_failed(EnrichmentType::Embeddings, 3, at(300))
            .await,
        "requeue_failed",
    );
    promise_eq!(
        s,
        other_type,
        0,
        "requeue_failed touches only its enrichment type"
    );
    let due = ok(
        s,
        store.requeue_failed(SKILLS, 3, at(300)).await,
        "requeue_failed",
    );
    promise_eq!(s, due, 1, "a due failure with attempts left is requeued");
    promise_eq!(
        s,
        get(s, &k).await.status,
        EnrichmentStatus::Pending,
        "requeue moves failed -> pending"
    );

    claim_and_fail(s, &k, at(301), None).await;
    promise_eq!(
        s,
        ok(s, store.requeue_failed(SKILLS, 3, at(302)).await, "requeue"),
        1,
        "a failure without retry time is due at once"
    );
    claim_and_fail(s, &k, at(303), None).await;
    promise_eq!(
        s,
        get(s, &k).await.attempts,
        3,
        "each claim counts an attempt"
    );
    let exhausted = ok(
        s,
        store.requeue_failed(SKILLS, 3, at(304)).await,
        "requeue_failed",
    );
    promise_eq!(
        s,
        exhausted,
        0,
        "a failure with max_attempts attempts stays failed"
    );
    let dead = ok(s, store.dead_letters(3, 10).await, "dead_letters");
    promise_eq!(
        s,
        dead.iter().map(|e| e.key()).collect::<Vec<_>>(),
        vec![k.clone()],
        "dead letters list failures at max attempts"
    );
    promise_eq!(
        s,
        dead[0].status,
        EnrichmentStatus::Failed,
        "dead letters stay failed"
    );
    let none = ok(s, store.dead_letters(4, 10).await, "dead_letters");
    promise!(
        s,
        none.is_empty(),
        "a failure below max_attempts is no dead letter"
    );
}

pub async fn a_final_failure_is_a_dead_letter_at_once_and_never_requeued(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["job-a", "job-b"]).await;
    enqueue(s, &["job-a", "job-b"], SKILLS, &version(), at(0)).await;
    let claimed = claim(s, "w", at(10), 2).await;
    promise_eq!(s, claimed.len(), 2, "both are claimed");
    let (a, b) = (skills_key("job-a"), skills_key("job-b"));
    ok(
        s,
        store
            .complete_enrichments(
                &[
                    final_failure(&a, "w", "input refused"),
                    failure(&b, "w", "boom", None),
                ],
                at(11),
            )
            .await,
        "complete_enrichments writes both failures",
    );
    let row = get(s, &a).await;
    promise_eq!(
        s,
        (row.status, row.attempts, row.next_attempt_at),
        (EnrichmentStatus::Failed, 1, None),
        "a final failure is failed after one attempt"
    );
    promise_eq!(
        s,
        row.metadata.get(RETRYABLE_KEY).cloned(),
        Some(serde_json::Value::Bool(false)),
        "the marker reads back from metadata"
    );
    let requeued = ok(
        s,
        store.requeue_failed(SKILLS, 3, at(500)).await,
        "requeue_failed",
    );
    promise_eq!(
        s,
        requeued,
        1,
        "only the retryable failure is requeued, the final one never"
    );
    promise_eq!(
        s,
        (get(s, &a).await.status, get(s, &b).await.status),
        (EnrichmentStatus::Failed, EnrichmentStatus::Pending),
        "the final failure stays failed"
    );
    let dead = ok(s, store.dead_letters(3, 10).await, "dead_letters");
    promise_eq!(
        s,
        dead.iter().map(|e| e.key()).collect::<Vec<_>>(),
        vec![a.clone()],
        "a final failure is a dead letter with attempts left"
    );
    promise!(
        s,
        dead.iter().all(|e| e.is_dead_letter(3)),
        "the store's dead letters agree with the domain rule"
    );
}

pub async fn status_counts_and_dead_letters(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["job-a", "job-b", "job-c"]).await;
    enqueue(s, &["job-a", "job-b"], SKILLS, &version(), at(0)).await;
    enqueue(s, &["job-c"], SKILLS, &version(), at(5)).await;
    enqueue(s, &["job-a"], EnrichmentType::Embeddings, &version(), at(7)).await;
    let first = claim(s, "w", at(10), 1).await;
    ok(
        s,
        store
            .complete_enrichments(&[success(&first[0].key(), "w", vec![], vec![])], at(11))
            .await,
        "complete",
    );
    let second = claim(s, "w", at(12), 1).await;
    ok(
        s,
        store
            .complete_enrichments(&[failure(&second[0].key(), "w", "boom", None)], at(13))
            .await,
        "complete",
    );

    let mut counts: Vec<_> = ok(
        s,
        store.enrichment_status_counts().await,
        "enrichment_status_counts",
    )
    .into_iter()
    .map(|c| {
        (
            c.enrichment_type.to_string(),
            c.enrichment_version.to_string(),
            c.status.to_string(),
            c.count,
            c.oldest_created_at,
        )
    })
    .collect();
    counts.sort();
    let v = version().to_string();
    promise_eq!(
        s,
        counts,
        vec![
            (
                "embeddings".to_string(),
                v.clone(),
                "pending".to_string(),
                1,
                Some(at(7))
            ),
            (
                "skills_extraction".to_string(),
                v.clone(),
                "failed".to_string(),
                1,
                Some(at(0))
            ),
            (
                "skills_extraction".to_string(),
                v.clone(),
                "pending".to_string(),
                1,
                Some(at(5))
            ),
            (
                "skills_extraction".to_string(),
                v.clone(),
                "success".to_string(),
                1,
                Some(at(0))
            ),
        ],
        "status counts group by type x version x status with the oldest creation time"
    );
    let dead = ok(s, store.dead_letters(1, 10).await, "dead_letters");
    promise_eq!(
        s,
        dead.len(),
        1,
        "dead letters list only failed enrichments"
    );
    let limited = ok(s, store.dead_letters(1, 0).await, "dead_letters");
    promise!(s, limited.is_empty(), "dead_letters honours its limit");
}
