//! Cases of leases: concurrent claims, expiry and reclaim, the attempts cap
//! at claim time, lost leases and releases.

use super::enrichments::{
    claim, claim_request, drive_to, enqueue, failure, get, seed_jobs, skills_key, success,
};
use super::{expect_validation, ok};
use crate::fixtures::{at, enrichment_version, job_posting_id, numbered_job_id, version};
use jobenrich_domain::{
    ClaimRequest, EnrichmentStatus, EnrichmentType, JobEnrichment, Store, TransitionDetails,
};
use std::collections::BTreeSet;
use std::sync::Arc;

const SKILLS: EnrichmentType = EnrichmentType::SkillsExtraction;

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

/// The attempts cap is counted at claim time: a row whose lease expired
/// after `max_attempts` attempts (the process handling it died each time) is
/// failed as a dead letter instead of being leased to the next process.
pub async fn an_expired_lease_at_the_attempts_cap_is_dead_lettered(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["job-a", "job-b"]).await;
    enqueue(s, &["job-a", "job-b"], SKILLS, &version(), at(0)).await;
    let capped = |owner: &str, now| ClaimRequest {
        max_attempts: 2,
        ..claim_request(owner, now, 10, SKILLS, Some(version()))
    };
    let zero = ClaimRequest {
        max_attempts: 0,
        ..capped("worker-z", at(1))
    };
    expect_validation(
        s,
        s.claim_enrichments(&zero).await,
        "ClaimRequest",
        "max_attempts",
        "a claim with max_attempts 0 is invalid",
    );

    let first = ok(
        s,
        s.claim_enrichments(&capped("worker-a", at(100))).await,
        "claim",
    );
    promise_eq!(s, first.len(), 2, "both jobs are leased");
    // Both leases expire unanswered (worker-a died); attempt 2 of 2 for both.
    let second = ok(
        s,
        s.claim_enrichments(&capped("worker-b", at(161))).await,
        "claim",
    );
    promise_eq!(
        s,
        second.len(),
        2,
        "expired leases below the cap are reclaimed"
    );
    promise!(
        s,
        second.iter().all(|row| row.attempts == 2),
        "the reclaim counts a second attempt: {second:?}"
    );
    ok(
        s,
        s.complete_enrichments(
            &[success(&skills_key("job-b"), "worker-b", vec![], vec![])],
            at(170),
        )
        .await,
        "complete_enrichments answers",
    );

    let live = ok(
        s,
        s.claim_enrichments(&capped("worker-c", at(200))).await,
        "claim",
    );
    promise!(s, live.is_empty(), "a live lease is not taken: {live:?}");
    let held = get(s, &skills_key("job-a")).await;
    promise_eq!(
        s,
        held.status,
        EnrichmentStatus::Processing,
        "a live lease at the cap is not abandoned"
    );
    promise!(
        s,
        capped("worker-c", at(300)).abandons(&held),
        "the domain rule says job-a is abandoned once its lease expires"
    );

    let third = ok(
        s,
        s.claim_enrichments(&capped("worker-c", at(300))).await,
        "claim",
    );
    promise!(
        s,
        third.is_empty(),
        "an expired lease at the cap is never leased again: {third:?}"
    );
    let abandoned = get(s, &skills_key("job-a")).await;
    promise_eq!(
        s,
        abandoned.status,
        EnrichmentStatus::Failed,
        "it is failed"
    );
    promise_eq!(
        s,
        abandoned.error_message,
        Some(capped("worker-c", at(300)).abandoned_error()),
        "its error says why"
    );
    promise_eq!(s, abandoned.attempts, 2, "the abandon counts no attempt");
    promise_eq!(s, abandoned.lease_owner, None, "and holds no lease");
    let done = get(s, &skills_key("job-b")).await;
    promise_eq!(
        s,
        done.status,
        EnrichmentStatus::Success,
        "a completed neighbour is untouched"
    );
    let requeued = ok(
        s,
        s.requeue_failed(SKILLS, 2, at(400)).await,
        "requeue_failed answers",
    );
    promise_eq!(s, requeued, 0, "an abandoned row is not retried");
    let dead = ok(s, s.dead_letters(2, 10).await, "dead_letters answers");
    promise_eq!(
        s,
        dead.iter()
            .map(|d| d.job_posting_id.to_string())
            .collect::<Vec<_>>(),
        vec!["job-a".to_string()],
        "it is a dead letter"
    );
}
