//! Cases of the enrichment repository: queue, state machine, leases, the
//! re-enrichment anti-join and completion reports.

use super::ok;
use crate::fixtures::{
    at, enrichment_version, job_posting_id, key, model_id, model_version, numbered_job_id,
    posting_minimal, version,
};
use chrono::{DateTime, Duration, Utc};
use jobenrich_domain::{
    ClaimRequest, DomainError, EnrichmentKey, EnrichmentOutcome, EnrichmentResult,
    EnrichmentStatus, EnrichmentSuccess, EnrichmentType, EnrichmentVersion, ExtractedSkill,
    JobEnrichment, JobPosting, SectionClassification, Store, StoreError, TransitionDetails,
};
use std::collections::BTreeSet;
use std::sync::Arc;

const SKILLS: EnrichmentType = EnrichmentType::SkillsExtraction;

pub(crate) async fn seed_jobs(store: &dyn Store, ids: &[&str]) {
    let postings: Vec<JobPosting> = ids.iter().map(|id| posting_minimal(id)).collect();
    ok(
        store,
        store.insert_postings(&postings).await,
        "insert_postings stores the test jobs",
    );
}

pub(crate) async fn enqueue(
    store: &dyn Store,
    ids: &[&str],
    enrichment_type: EnrichmentType,
    v: &EnrichmentVersion,
    now: DateTime<Utc>,
) {
    let ids: Vec<_> = ids.iter().map(|id| job_posting_id(id)).collect();
    ok(
        store,
        store
            .enqueue_enrichments(&ids, enrichment_type, v, now)
            .await,
        "enqueue_enrichments creates pending work",
    );
}

pub(crate) fn claim_request(
    owner: &str,
    now: DateTime<Utc>,
    limit: usize,
    enrichment_type: EnrichmentType,
    v: Option<EnrichmentVersion>,
) -> ClaimRequest {
    ClaimRequest {
        enrichment_type,
        enrichment_version: v,
        owner: owner.to_string(),
        lease: Duration::seconds(60),
        limit,
        now,
    }
}

pub(crate) async fn claim(
    store: &dyn Store,
    owner: &str,
    now: DateTime<Utc>,
    limit: usize,
) -> Vec<JobEnrichment> {
    ok(
        store,
        store
            .claim_enrichments(&claim_request(owner, now, limit, SKILLS, Some(version())))
            .await,
        "claim_enrichments answers",
    )
}

pub(crate) fn success(
    key: &EnrichmentKey,
    owner: &str,
    skills: Vec<ExtractedSkill>,
    sections: Vec<SectionClassification>,
) -> EnrichmentOutcome {
    EnrichmentOutcome {
        key: key.clone(),
        lease_owner: owner.to_string(),
        result: EnrichmentResult::Success(EnrichmentSuccess {
            metadata: Default::default(),
            model_id: model_id("skills_extractor"),
            model_version: model_version("v1.0"),
            skills,
            sections,
        }),
    }
}

pub(crate) fn failure(
    key: &EnrichmentKey,
    owner: &str,
    message: &str,
    retry_at: Option<DateTime<Utc>>,
) -> EnrichmentOutcome {
    EnrichmentOutcome {
        key: key.clone(),
        lease_owner: owner.to_string(),
        result: EnrichmentResult::Failure {
            error_message: message.to_string(),
            retry_at,
        },
    }
}

fn skills_key(job: &str) -> EnrichmentKey {
    key(job, SKILLS, &version())
}

async fn get(store: &dyn Store, k: &EnrichmentKey) -> JobEnrichment {
    ok(
        store,
        store.get_enrichment(k).await,
        "get_enrichment answers",
    )
    .unwrap_or_else(|| panic!("[{}] enrichment {k:?} must exist", store.backend_name()))
}

pub async fn enqueue_creates_one_pending_enrichment_per_key(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["job-a", "job-b"]).await;
    let ids = [job_posting_id("job-a"), job_posting_id("job-b")];
    let created = ok(
        s,
        store
            .enqueue_enrichments(&ids, SKILLS, &version(), at(0))
            .await,
        "enqueue",
    );
    promise_eq!(
        s,
        created,
        2,
        "enqueue creates one pending enrichment per new job"
    );
    let again = ok(
        s,
        store
            .enqueue_enrichments(&ids, SKILLS, &version(), at(5))
            .await,
        "enqueue",
    );
    promise_eq!(
        s,
        again,
        0,
        "enqueue never creates a second enrichment for the same key"
    );
    let v2 = enrichment_version("skills_extractor@v2.0");
    let other = ok(
        s,
        store
            .enqueue_enrichments(&ids[..1], SKILLS, &v2, at(6))
            .await,
        "enqueue",
    );
    promise_eq!(s, other, 1, "another version is another key");
    let emb = ok(
        s,
        store
            .enqueue_enrichments(&ids[..1], EnrichmentType::Embeddings, &version(), at(7))
            .await,
        "enqueue",
    );
    promise_eq!(s, emb, 1, "another type is another key");

    let got = get(s, &skills_key("job-a")).await;
    promise!(
        s,
        got.enrichment_id.get_version_num() == 4,
        "the store gives each new enrichment a random (v4) UUID, got {}",
        got.enrichment_id
    );
    let expected = JobEnrichment {
        enrichment_id: got.enrichment_id,
        ..JobEnrichment::pending(job_posting_id("job-a"), SKILLS, version(), at(0))
    };
    promise_eq!(
        s,
        got,
        expected,
        "a pending enrichment round-trips with its absent optional fields and first enqueue time"
    );
    let for_job = ok(
        s,
        store.enrichments_for_job(&job_posting_id("job-a")).await,
        "enrichments_for_job",
    );
    let keys: Vec<(String, String)> = for_job
        .iter()
        .map(|e| {
            (
                e.enrichment_type.to_string(),
                e.enrichment_version.to_string(),
            )
        })
        .collect();
    promise_eq!(
        s,
        keys,
        vec![
            ("embeddings".to_string(), version().to_string()),
            ("skills_extraction".to_string(), version().to_string()),
            ("skills_extraction".to_string(), v2.to_string()),
        ],
        "enrichments_for_job lists every enrichment of the job by type then version"
    );
}

pub async fn enrichment_round_trip_with_and_without_optional_fields(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["job-a", "job-b"]).await;
    enqueue(s, &["job-a", "job-b"], SKILLS, &version(), at(0)).await;

    let claimed = claim(s, "worker-1", at(10), 10).await;
    promise_eq!(
        s,
        claimed.len(),
        2,
        "claim leases every due pending enrichment up to the limit"
    );
    let mut expected_a = JobEnrichment::pending(job_posting_id("job-a"), SKILLS, version(), at(0));
    expected_a.enrichment_id = claimed[0].enrichment_id;
    expected_a.status = EnrichmentStatus::Processing;
    expected_a.attempts = 1;
    expected_a.lease_owner = Some("worker-1".to_string());
    expected_a.lease_expires_at = Some(at(70));
    expected_a.updated_at = at(10);
    promise_eq!(
        s,
        claimed[0].clone(),
        expected_a.clone(),
        "a claim returns the leased row: processing, owner, now + lease, attempts + 1"
    );
    promise_eq!(
        s,
        get(s, &skills_key("job-a")).await,
        expected_a,
        "a claimed enrichment is stored as returned"
    );

    let report = ok(
        s,
        store
            .complete_enrichments(
                &[
                    success(&skills_key("job-a"), "worker-1", vec![], vec![]),
                    failure(
                        &skills_key("job-b"),
                        "worker-1",
                        "model timed out: 'x' \"y\"",
                        Some(at(500)),
                    ),
                ],
                at(20),
            )
            .await,
        "complete_enrichments writes held outcomes",
    );
    promise_eq!(
        s,
        (report.succeeded, report.failed),
        (1, 1),
        "the report counts successes and failures"
    );
    promise!(
        s,
        report.lost_leases.is_empty(),
        "held leases are not reported lost"
    );

    let mut done = JobEnrichment::pending(job_posting_id("job-a"), SKILLS, version(), at(0));
    done.enrichment_id = expected_a.enrichment_id;
    // The completion records what it wrote in `metadata`.
    done.metadata = serde_json::json!({"skills": 0, "sections": 0})
        .as_object()
        .cloned()
        .unwrap_or_default();
    done.status = EnrichmentStatus::Success;
    done.attempts = 1;
    done.model_id = Some(model_id("skills_extractor"));
    done.model_version = Some(model_version("v1.0"));
    done.updated_at = at(20);
    done.completed_at = Some(at(20));
    promise_eq!(
        s,
        get(s, &skills_key("job-a")).await,
        done,
        "a success stores model id and version, completion time, metadata, and clears the lease"
    );

    let mut failed = JobEnrichment::pending(job_posting_id("job-b"), SKILLS, version(), at(0));
    failed.enrichment_id = claimed[1].enrichment_id;
    failed.status = EnrichmentStatus::Failed;
    failed.attempts = 1;
    failed.error_message = Some("model timed out: 'x' \"y\"".to_string());
    failed.next_attempt_at = Some(at(500));
    failed.updated_at = at(20);
    failed.completed_at = Some(at(20));
    promise_eq!(
        s,
        get(s, &skills_key("job-b")).await,
        failed,
        "a failure stores its message and retry time, and clears the lease"
    );
}

/// Drives a fresh pending enrichment of `job` to `status` through legal moves.
async fn drive_to(store: &dyn Store, job: &str, status: EnrichmentStatus) {
    let k = skills_key(job);
    let lease = TransitionDetails {
        lease_owner: Some("w".to_string()),
        lease_expires_at: Some(at(1000)),
        ..TransitionDetails::default()
    };
    let steps: &[EnrichmentStatus] = match status {
        EnrichmentStatus::Pending => &[],
        EnrichmentStatus::Processing => &[EnrichmentStatus::Processing],
        EnrichmentStatus::Success => &[EnrichmentStatus::Processing, EnrichmentStatus::Success],
        EnrichmentStatus::Failed => &[EnrichmentStatus::Processing, EnrichmentStatus::Failed],
    };
    for (i, step) in steps.iter().enumerate() {
        ok(
            store,
            store
                .transition_enrichment(&k, *step, &lease, at(1 + i as i64))
                .await,
            "a legal transition succeeds",
        );
    }
}

pub async fn every_enrichment_transition_is_checked(store: Arc<dyn Store>) {
    let s = &*store;
    let all = EnrichmentStatus::ALL;
    let jobs: Vec<String> = all
        .iter()
        .flat_map(|from| all.iter().map(move |to| format!("t-{from}-{to}")))
        .collect();
    let job_refs: Vec<&str> = jobs.iter().map(String::as_str).collect();
    seed_jobs(s, &job_refs).await;
    enqueue(s, &job_refs, SKILLS, &version(), at(0)).await;

    for from in all {
        for to in all {
            let job = format!("t-{from}-{to}");
            drive_to(s, &job, *from).await;
            let before = get(s, &skills_key(&job)).await;
            let details = TransitionDetails {
                lease_owner: Some("w".to_string()),
                lease_expires_at: Some(at(2000)),
                error_message: Some("boom".to_string()),
                next_attempt_at: None,
            };
            let result = store
                .transition_enrichment(&skills_key(&job), *to, &details, at(100))
                .await;
            let legal = from.can_transition_to(*to);
            match result {
                Ok(row) => {
                    promise!(s, legal, "the illegal transition {from} -> {to} is rejected");
                    promise_eq!(s, row.status, *to, "a legal transition {from} -> {to} stores the new status");
                    promise_eq!(
                        s,
                        get(s, &skills_key(&job)).await,
                        row,
                        "transition_enrichment returns the row as stored ({from} -> {to})"
                    );
                    match to {
                        EnrichmentStatus::Processing => {
                            promise_eq!(s, row.lease_owner.as_deref(), Some("w"), "processing records the lease owner");
                            promise_eq!(s, row.lease_expires_at, Some(at(2000)), "processing records the lease expiry");
                            promise_eq!(s, row.attempts, before.attempts + 1, "entering processing counts an attempt");
                        }
                        EnrichmentStatus::Failed => {
                            promise_eq!(s, row.error_message.as_deref(), Some("boom"), "failed records the error message");
                            promise_eq!(s, row.lease_owner, None, "leaving processing clears the lease");
                            promise_eq!(s, row.completed_at, Some(at(100)), "failed records completion time");
                        }
                        EnrichmentStatus::Success => {
                            promise_eq!(s, row.lease_owner, None, "leaving processing clears the lease");
                            promise_eq!(s, row.completed_at, Some(at(100)), "success records completion time");
                        }
                        EnrichmentStatus::Pending => {
                            promise_eq!(s, row.lease_owner, None, "pending holds no lease");
                            promise_eq!(s, row.completed_at, None, "pending is not completed");
                        }
                    }
                }
                Err(StoreError::Domain(DomainError::IllegalTransition { from: f, to: t })) => {
                    promise!(s, !legal, "the legal transition {from} -> {to} is accepted");
                    promise_eq!(s, (f, t), (*from, *to), "an illegal transition error names both ends");
                    promise_eq!(
                        s,
                        get(s, &skills_key(&job)).await,
                        before,
                        "a rejected transition {from} -> {to} changes nothing"
                    );
                }
                Err(other) => panic!(
                    "[{}] promise broken: transition {from} -> {to} must succeed or fail with IllegalTransition, got {other}",
                    s.backend_name()
                ),
            }
        }
    }
}

pub async fn transition_reports_missing_rows_and_foreign_leases(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["job-a"]).await;
    let missing = store
        .transition_enrichment(
            &skills_key("job-a"),
            EnrichmentStatus::Processing,
            &TransitionDetails {
                lease_owner: Some("w".into()),
                ..TransitionDetails::default()
            },
            at(1),
        )
        .await;
    promise!(
        s,
        matches!(missing, Err(StoreError::NotFound { .. })),
        "a transition of a missing enrichment fails with NotFound, got {missing:?}"
    );
    enqueue(s, &["job-a"], SKILLS, &version(), at(0)).await;
    let no_owner = store
        .transition_enrichment(
            &skills_key("job-a"),
            EnrichmentStatus::Processing,
            &TransitionDetails::default(),
            at(1),
        )
        .await;
    promise!(
        s,
        matches!(no_owner, Err(StoreError::Domain(_))),
        "entering processing without a lease owner is rejected, got {no_owner:?}"
    );
    claim(s, "owner-1", at(2), 1).await;
    let foreign = store
        .transition_enrichment(
            &skills_key("job-a"),
            EnrichmentStatus::Success,
            &TransitionDetails {
                lease_owner: Some("owner-2".into()),
                ..TransitionDetails::default()
            },
            at(3),
        )
        .await;
    promise!(
        s,
        matches!(foreign, Err(StoreError::Conflict { .. })),
        "leaving processing with another owner's lease fails with Conflict, got {foreign:?}"
    );
    promise_eq!(
        s,
        get(s, &skills_key("job-a")).await.status,
        EnrichmentStatus::Processing,
        "a conflicting transition changes nothing"
    );
}

pub async fn concurrent_claimers_never_receive_the_same_enrichment(store: Arc<dyn Store>) {
    let s = &*store;
    let ids: Vec<String> = (0..200).map(|i| numbered_job_id(i).to_string()).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    seed_jobs(s, &refs).await;
    enqueue(s, &refs, SKILLS, &version(), at(0)).await;

    // Two workers on separate tasks, each claiming batches until nothing is left.
    let worker = |owner: &'static str| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = claim(&*store, owner, at(10), 20).await;
                if batch.is_empty() {
                    break mine;
                }
                mine.extend(batch);
            }
        })
    };
    let (a, b) = tokio::join!(worker("worker-a"), worker("worker-b"));
    let (a, b) = (a.expect("worker a finishes"), b.expect("worker b finishes"));

    for (owner, rows) in [("worker-a", &a), ("worker-b", &b)] {
        for row in rows.iter() {
            promise!(
                s,
                row.status == EnrichmentStatus::Processing
                    && row.lease_owner.as_deref() == Some(owner)
                    && row.attempts == 1,
                "a claimed enrichment is processing, leased to its claimer, attempt 1: {row:?}"
            );
        }
    }
    let set_a: BTreeSet<_> = a.iter().map(|e| e.job_posting_id.clone()).collect();
    let set_b: BTreeSet<_> = b.iter().map(|e| e.job_posting_id.clone()).collect();
    let shared: Vec<_> = set_a.intersection(&set_b).collect();
    promise!(
        s,
        shared.is_empty(),
        "two claimers never receive the same enrichment; both got {shared:?}"
    );
    promise_eq!(
        s,
        set_a.len(),
        a.len(),
        "one claimer never receives a job twice"
    );
    promise_eq!(
        s,
        set_b.len(),
        b.len(),
        "one claimer never receives a job twice"
    );
    promise_eq!(
        s,
        set_a.len() + set_b.len(),
        200,
        "concurrent claimers together receive every pending enrichment"
    );
}

pub async fn expired_leases_are_reclaimable_and_live_ones_are_not(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["job-a", "job-b", "job-c"]).await;
    enqueue(s, &["job-a", "job-b", "job-c"], SKILLS, &version(), at(0)).await;
    let first = claim(s, "worker-a", at(100), 10).await;
    promise_eq!(
        s,
        first.len(),
        3,
        "a claim leases all due work up to the limit"
    );

    let early = claim(s, "worker-b", at(130), 10).await;
    promise!(
        s,
        early.is_empty(),
        "an unexpired lease is never reclaimed, got {early:?}"
    );

    let reclaimed = claim(s, "worker-b", at(161), 10).await;
    promise_eq!(s, reclaimed.len(), 3, "expired leases are reclaimable");
    for row in &reclaimed {
        promise_eq!(
            s,
            row.lease_owner.as_deref(),
            Some("worker-b"),
            "a reclaimed lease belongs to the new claimer"
        );
        promise_eq!(s, row.attempts, 2, "a reclaim counts another attempt");
        promise_eq!(
            s,
            row.lease_expires_at,
            Some(at(221)),
            "a reclaimed lease expires at now + lease"
        );
    }
    let stale = ok(
        s,
        store
            .complete_enrichments(
                &[success(&skills_key("job-a"), "worker-a", vec![], vec![])],
                at(170),
            )
            .await,
        "complete_enrichments answers",
    );
    promise_eq!(
        s,
        stale.lost_leases,
        vec![skills_key("job-a")],
        "the former holder of a reclaimed lease is told it lost it"
    );
    let fresh = ok(
        s,
        store
            .complete_enrichments(
                &[success(&skills_key("job-a"), "worker-b", vec![], vec![])],
                at(171),
            )
            .await,
        "complete_enrichments answers",
    );
    promise_eq!(
        s,
        fresh.succeeded,
        1,
        "the new holder completes the reclaimed enrichment"
    );
}

pub async fn claims_respect_type_version_due_time_and_limit(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["job-a", "job-b", "job-c", "job-d"]).await;
    let v2 = enrichment_version("skills_extractor@v2.0");
    enqueue(s, &["job-a", "job-b"], SKILLS, &version(), at(0)).await;
    enqueue(s, &["job-c"], SKILLS, &v2, at(1)).await;
    enqueue(s, &["job-d"], EnrichmentType::Embeddings, &version(), at(2)).await;
    // job-b: failed, then back to pending with a retry time in the future.
    drive_to(s, "job-b", EnrichmentStatus::Failed).await;
    ok(
        s,
        store
            .transition_enrichment(
                &skills_key("job-b"),
                EnrichmentStatus::Pending,
                &TransitionDetails {
                    next_attempt_at: Some(at(130)),
                    ..TransitionDetails::default()
                },
                at(50),
            )
            .await,
        "failed -> pending is legal",
    );

    let ids = |rows: Vec<JobEnrichment>| -> Vec<String> {
        rows.into_iter()
            .map(|r| r.job_posting_id.to_string())
            .collect()
    };
    let one = ok(
        s,
        store
            .claim_enrichments(&claim_request("w", at(100), 1, SKILLS, Some(version())))
            .await,
        "claim",
    );
    promise_eq!(
        s,
        ids(one),
        vec!["job-a"],
        "a claim takes only due work of its type and version, at most `limit`"
    );
    let none_due = ok(
        s,
        store
            .claim_enrichments(&claim_request("w", at(100), 10, SKILLS, Some(version())))
            .await,
        "claim",
    );
    promise!(
        s,
        none_due.is_empty(),
        "pending work whose next_attempt_at is in the future is not claimed"
    );
    let any_version = ok(
        s,
        store
            .claim_enrichments(&claim_request("w", at(100), 10, SKILLS, None))
            .await,
        "claim",
    );
    promise_eq!(
        s,
        ids(any_version),
        vec!["job-c"],
        "a claim without a version takes due work of every version"
    );
    let due_later = ok(
        s,
        store
            .claim_enrichments(&claim_request("w", at(131), 10, SKILLS, Some(version())))
            .await,
        "claim",
    );
    promise_eq!(
        s,
        ids(due_later),
        vec!["job-b"],
        "pending work becomes claimable at its next_attempt_at"
    );
    let emb = ok(
        s,
        store
            .claim_enrichments(&claim_request(
                "w",
                at(131),
                10,
                EnrichmentType::Embeddings,
                None,
            ))
            .await,
        "claim",
    );
    promise_eq!(
        s,
        ids(emb),
        vec!["job-d"],
        "a claim takes only its enrichment type"
    );
    let zero = ok(
        s,
        store
            .claim_enrichments(&claim_request("w", at(9999), 0, SKILLS, None))
            .await,
        "claim",
    );
    promise!(s, zero.is_empty(), "a claim with limit 0 takes nothing");
}

pub async fn re_enrichment_anti_join_returns_exactly_the_missing_jobs(store: Arc<dyn Store>) {
    let s = &*store;
    let current = enrichment_version("skills_extractor@v2.0");
    let old = version();
    let jobs = [
        "a-success-current",
        "b-success-old-only",
        "c-failed-current",
        "d-pending-current",
        "e-no-enrichment",
        "f-success-other-type",
        "g-processing-current",
    ];
    seed_jobs(s, &jobs).await;

    // Successes at the old version (b, and a too) and the current one (a).
    enqueue(
        s,
        &["a-success-current", "b-success-old-only"],
        SKILLS,
        &old,
        at(0),
    )
    .await;
    enqueue(
        s,
        &[
            "a-success-current",
            "c-failed-current",
            "d-pending-current",
            "g-processing-current",
        ],
        SKILLS,
        &current,
        at(1),
    )
    .await;
    enqueue(
        s,
        &["f-success-other-type"],
        EnrichmentType::Embeddings,
        &current,
        at(2),
    )
    .await;

    let claim_all = |t: EnrichmentType, v: &EnrichmentVersion, now| {
        claim_request("w", now, 100, t, Some(v.clone()))
    };
    let old_rows = ok(
        s,
        store
            .claim_enrichments(&claim_all(SKILLS, &old, at(10)))
            .await,
        "claim",
    );
    let outcomes: Vec<_> = old_rows
        .iter()
        .map(|r| success(&r.key(), "w", vec![], vec![]))
        .collect();
    ok(
        s,
        store.complete_enrichments(&outcomes, at(11)).await,
        "complete",
    );
    let emb_rows = ok(
        s,
        store
            .claim_enrichments(&claim_all(EnrichmentType::Embeddings, &current, at(10)))
            .await,
        "claim",
    );
    let outcomes: Vec<_> = emb_rows
        .iter()
        .map(|r| success(&r.key(), "w", vec![], vec![]))
        .collect();
    ok(
        s,
        store.complete_enrichments(&outcomes, at(11)).await,
        "complete",
    );
    let cur_rows = ok(
        s,
        store
            .claim_enrichments(&claim_request(
                "w",
                at(12),
                3,
                SKILLS,
                Some(current.clone()),
            ))
            .await,
        "claim",
    );
    promise_eq!(
        s,
        cur_rows.len(),
        3,
        "claim takes the oldest due work first"
    );
    let mut outcomes = Vec::new();
    for r in &cur_rows {
        match r.job_posting_id.as_str() {
            "a-success-current" => outcomes.push(success(&r.key(), "w", vec![], vec![])),
            "c-failed-current" => outcomes.push(failure(&r.key(), "w", "boom", None)),
            _ => {} // d and g: one stays processing, the other pending
        }
    }
    ok(
        s,
        store.complete_enrichments(&outcomes, at(13)).await,
        "complete",
    );

    let needing = ok(
        s,
        store
            .find_jobs_needing_enrichment(SKILLS, &current, 100)
            .await,
        "find_jobs_needing_enrichment answers",
    );
    let expected: Vec<_> = jobs[1..].iter().map(|j| job_posting_id(j)).collect();
    promise_eq!(
        s,
        needing,
        expected,
        "the anti-join returns exactly the jobs without a success of this type at this version, by id"
    );
    let limited = ok(
        s,
        store
            .find_jobs_needing_enrichment(SKILLS, &current, 2)
            .await,
        "find",
    );
    promise_eq!(
        s,
        limited,
        expected[..2].to_vec(),
        "the anti-join honours its limit in id order"
    );
    let old_needing = ok(
        s,
        store.find_jobs_needing_enrichment(SKILLS, &old, 100).await,
        "find",
    );
    promise_eq!(
        s,
        old_needing.len(),
        5,
        "a success at one version does not count for another ({old_needing:?})"
    );
}

pub async fn lost_leases_are_reported_and_nothing_of_them_is_written(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["job-a", "job-b", "job-c"]).await;
    enqueue(s, &["job-a", "job-b", "job-c"], SKILLS, &version(), at(0)).await;
    claim(s, "worker-1", at(10), 10).await;
    let released = ok(
        s,
        store
            .release_enrichments(&[skills_key("job-c")], "worker-1", at(11))
            .await,
        "release",
    );
    promise_eq!(s, released, 1, "release returns a held lease");

    let skill = crate::fixtures::skill("job-b", "Rust");
    let report = ok(
        s,
        store
            .complete_enrichments(
                &[
                    success(
                        &skills_key("job-a"),
                        "worker-1",
                        vec![crate::fixtures::skill("job-a", "Rust")],
                        vec![],
                    ),
                    success(&skills_key("job-b"), "worker-2", vec![skill], vec![]),
                    failure(&skills_key("job-c"), "worker-1", "late", None),
                ],
                at(20),
            )
            .await,
        "complete_enrichments answers",
    );
    promise_eq!(
        s,
        report.succeeded,
        1,
        "held outcomes of a batch are written"
    );
    promise_eq!(
        s,
        report.skills_written,
        1,
        "only skills of held outcomes are counted"
    );
    promise_eq!(
        s,
        report.lost_leases,
        vec![skills_key("job-b"), skills_key("job-c")],
        "outcomes of another owner's or a released lease are reported lost, in input order"
    );
    let b = get(s, &skills_key("job-b")).await;
    promise!(
        s,
        b.status == EnrichmentStatus::Processing && b.lease_owner.as_deref() == Some("worker-1"),
        "a lost outcome leaves the enrichment as it was: {b:?}"
    );
    let b_skills = ok(
        s,
        store.skills_for_job(&job_posting_id("job-b"), None).await,
        "skills_for_job",
    );
    promise!(
        s,
        b_skills.is_empty(),
        "nothing of a lost outcome is written: {b_skills:?}"
    );
    promise_eq!(
        s,
        get(s, &skills_key("job-c")).await.status,
        EnrichmentStatus::Pending,
        "a failure outcome for a released lease is not written"
    );
}

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

pub async fn release_returns_leases_without_counting_the_attempt(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["job-a", "job-b"]).await;
    enqueue(s, &["job-a", "job-b"], SKILLS, &version(), at(0)).await;
    claim(s, "worker-1", at(10), 10).await;
    let keys = [skills_key("job-a"), skills_key("job-b")];
    let foreign = ok(
        s,
        store.release_enrichments(&keys, "worker-2", at(11)).await,
        "release",
    );
    promise_eq!(s, foreign, 0, "a worker never releases another's lease");
    let mine = ok(
        s,
        store
            .release_enrichments(&keys[..1], "worker-1", at(12))
            .await,
        "release",
    );
    promise_eq!(s, mine, 1, "release returns how many leases were released");
    let a = get(s, &keys[0]).await;
    promise_eq!(
        s,
        (
            a.status,
            a.attempts,
            a.lease_owner.clone(),
            a.lease_expires_at
        ),
        (EnrichmentStatus::Pending, 0, None, None),
        "a released enrichment is pending, without lease, and the attempt is not counted"
    );
    promise_eq!(
        s,
        get(s, &keys[1]).await.status,
        EnrichmentStatus::Processing,
        "unreleased leases are kept"
    );
    let again = claim(s, "worker-2", at(13), 10).await;
    promise_eq!(
        s,
        again
            .iter()
            .map(|e| e.job_posting_id.to_string())
            .collect::<Vec<_>>(),
        vec!["job-a"],
        "released work is claimable at once; live leases are not"
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

/// Helper for result cases: a claimed skills enrichment of `job` held by `owner`.
pub(crate) async fn claimed_job(
    store: &dyn Store,
    job: &str,
    owner: &str,
    now: DateTime<Utc>,
) -> EnrichmentKey {
    enqueue(store, &[job], SKILLS, &version(), now).await;
    let rows = ok(
        store,
        store
            .claim_enrichments(&claim_request(owner, now, 100, SKILLS, Some(version())))
            .await,
        "claim",
    );
    promise!(
        store,
        rows.iter().any(|r| r.job_posting_id.as_str() == job),
        "claim leases the pending enrichment of {job}"
    );
    skills_key(job)
}

/// `delete_pending_enrichments` removes exactly the `pending` rows of its type
/// at the given versions; leased work, other versions and other types stay.
pub async fn pending_enrichments_at_given_versions_are_deleted(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["job-a", "job-b", "job-c"]).await;
    let old = enrichment_version("skills_extractor@v0.9");
    let sections = enrichment_version("section_classifier@v1.0");
    enqueue(s, &["job-a", "job-b"], SKILLS, &old, at(0)).await;
    enqueue(s, &["job-a", "job-b", "job-c"], SKILLS, &version(), at(0)).await;
    let section_type = EnrichmentType::SectionClassification;
    enqueue(s, &["job-c"], section_type, &sections, at(0)).await;
    let leased = ok(
        s,
        store
            .claim_enrichments(&claim_request("w", at(1), 1, SKILLS, Some(old.clone())))
            .await,
        "claim_enrichments at the old version",
    );
    promise_eq!(s, leased.len(), 1, "one old enrichment is leased");
    let deleted = ok(
        s,
        store
            .delete_pending_enrichments(SKILLS, &[old.clone(), sections.clone()])
            .await,
        "delete_pending_enrichments",
    );
    promise_eq!(
        s,
        deleted,
        1,
        "only the pending row at the old version goes"
    );
    let leased_key = key(leased[0].job_posting_id.as_str(), SKILLS, &old);
    promise_eq!(
        s,
        get(s, &leased_key).await.status,
        EnrichmentStatus::Processing,
        "leased work at the version is not deleted"
    );
    for job in ["job-a", "job-b", "job-c"] {
        promise_eq!(
            s,
            get(s, &skills_key(job)).await.status,
            EnrichmentStatus::Pending,
            "pending work at other versions stays"
        );
    }
    let section_row = key("job-c", section_type, &sections);
    promise_eq!(
        s,
        get(s, &section_row).await.status,
        EnrichmentStatus::Pending,
        "pending work of other types stays"
    );
    let none = ok(
        s,
        store.delete_pending_enrichments(SKILLS, &[]).await,
        "delete_pending_enrichments with no versions",
    );
    promise_eq!(s, none, 0, "no versions delete nothing");
}
