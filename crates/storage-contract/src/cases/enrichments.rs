//! Cases of the enrichment repository: the queue, the state machine, the
//! re-enrichment anti-join and pruning (leases are in `leases.rs`, retries
//! and dead letters in `retries.rs`), and the helpers they share.

use super::ok;
use crate::fixtures::{
    at, enrichment_version, job_posting_id, key, model_id, model_version, posting_minimal, version,
};
use chrono::{DateTime, Duration, Utc};
use jobenrich_domain::{
    ClaimRequest, DomainError, EnrichmentKey, EnrichmentOutcome, EnrichmentResult,
    EnrichmentStatus, EnrichmentSuccess, EnrichmentType, EnrichmentVersion, ExtractedSkill,
    JobEnrichment, JobPosting, SectionClassification, Store, StoreError, TransitionDetails,
};
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
        max_attempts: 3,
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
            embedding: None,
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
            retryable: true,
        },
    }
}

/// A failure another attempt cannot fix (`retryable: false`).
pub(crate) fn final_failure(key: &EnrichmentKey, owner: &str, message: &str) -> EnrichmentOutcome {
    EnrichmentOutcome {
        key: key.clone(),
        lease_owner: owner.to_string(),
        result: EnrichmentResult::Failure {
            error_message: message.to_string(),
            retry_at: None,
            retryable: false,
        },
    }
}

pub(crate) fn skills_key(job: &str) -> EnrichmentKey {
    key(job, SKILLS, &version())
}

pub(crate) async fn get(store: &dyn Store, k: &EnrichmentKey) -> JobEnrichment {
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
pub(crate) async fn drive_to(store: &dyn Store, job: &str, status: EnrichmentStatus) {
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

pub async fn many_enrichments_are_read_by_key_at_once(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["j1", "j2", "j3"]).await;
    let other = enrichment_version("skills_extractor@v0.9");
    enqueue(s, &["j1", "j2"], SKILLS, &version(), at(0)).await;
    enqueue(s, &["j3"], SKILLS, &other, at(0)).await;
    let keys = [
        skills_key("j2"),
        skills_key("j1"),
        // Not there: another version of a known job, and a job never queued.
        skills_key("j3"),
        key("nobody", SKILLS, &version()),
    ];
    let mut got = ok(
        s,
        store.get_enrichments(&keys).await,
        "get_enrichments answers",
    );
    got.sort_by(|a, b| a.job_posting_id.cmp(&b.job_posting_id));
    let expected = vec![
        get(s, &skills_key("j1")).await,
        get(s, &skills_key("j2")).await,
    ];
    promise_eq!(
        s,
        got,
        expected,
        "get_enrichments returns exactly the existing enrichments of the keys, as get_enrichment does"
    );
    let none = ok(
        s,
        store.get_enrichments(&[]).await,
        "get_enrichments answers",
    );
    promise!(s, none.is_empty(), "no keys read nothing");
}
