//! Cases of result size and concurrency that a remote store gets wrong first:
//! a read longer than one result page, and a completion racing itself.

use super::enrichments::{claim_request, enqueue, seed_jobs, success};
use super::ok;
use crate::fixtures::at;
use crate::fixtures::{job_posting_id, numbered_job_id, posting_minimal, skill, version};
use jobenrich_domain::{EnrichmentStatus, EnrichmentType, JobPosting, Store};
use std::collections::BTreeSet;
use std::sync::Arc;

/// More rows than BigQuery returns in one page (10,000), so paging is needed.
const LONG_READ_ROWS: usize = 25_000;

pub async fn a_read_of_25000_rows_returns_every_row_once(store: Arc<dyn Store>) {
    let s = &*store;
    let postings: Vec<JobPosting> = (0..LONG_READ_ROWS)
        .map(|i| posting_minimal(numbered_job_id(i).as_str()))
        .collect();
    let counts = ok(
        s,
        store.insert_postings(&postings).await,
        "insert_postings stores 25,000 postings",
    );
    promise_eq!(
        s,
        counts.inserted,
        LONG_READ_ROWS as u64,
        "every new posting of a 25,000-row batch is counted as inserted"
    );
    let page = ok(
        s,
        store.list_postings_page(None, LONG_READ_ROWS + 1_000).await,
        "list_postings_page reads 25,000 rows in one call",
    );
    promise_eq!(
        s,
        page.len(),
        LONG_READ_ROWS,
        "a 25,000-row read returns every row"
    );
    let ids: BTreeSet<&str> = page.iter().map(|p| p.job_posting_id.as_str()).collect();
    promise_eq!(s, ids.len(), LONG_READ_ROWS, "no row is returned twice");
    promise!(
        s,
        page.windows(2)
            .all(|w| w[0].job_posting_id < w[1].job_posting_id),
        "the rows come back in id order across result pages"
    );
    promise_eq!(
        s,
        page[LONG_READ_ROWS - 1],
        postings[LONG_READ_ROWS - 1],
        "the last row (on the last page) round-trips"
    );
}

pub async fn two_concurrent_completions_of_one_batch_write_it_once(store: Arc<dyn Store>) {
    let s = &*store;
    let jobs: Vec<String> = (0..20).map(|i| numbered_job_id(i).to_string()).collect();
    let refs: Vec<&str> = jobs.iter().map(String::as_str).collect();
    seed_jobs(s, &refs).await;
    enqueue(
        s,
        &refs,
        EnrichmentType::SkillsExtraction,
        &version(),
        at(0),
    )
    .await;
    let claimed = ok(
        s,
        store
            .claim_enrichments(&claim_request(
                "worker-1",
                at(0),
                100,
                EnrichmentType::SkillsExtraction,
                Some(version()),
            ))
            .await,
        "claim",
    );
    promise_eq!(s, claimed.len(), 20, "the batch is claimed whole");
    let outcomes: Vec<_> = claimed
        .iter()
        .map(|e| {
            success(
                &e.key(),
                "worker-1",
                vec![
                    skill(e.job_posting_id.as_str(), "Rust"),
                    skill(e.job_posting_id.as_str(), "SQL"),
                ],
                Vec::new(),
            )
        })
        .collect();
    // The same batch completed twice at once (a retried request racing the first).
    let (first, second) = tokio::join!(
        store.complete_enrichments(&outcomes, at(10)),
        store.complete_enrichments(&outcomes, at(10)),
    );
    let first = ok(s, first, "a completion racing another one succeeds");
    let second = ok(s, second, "a completion racing another one succeeds");
    promise_eq!(
        s,
        first.succeeded + second.succeeded,
        20,
        "each enrichment of the batch succeeds exactly once across both completions"
    );
    promise_eq!(
        s,
        first.lost_leases.len() + second.lost_leases.len(),
        20,
        "the completion that came second reports each enrichment lost"
    );
    promise_eq!(
        s,
        first.skills_written + second.skills_written,
        40,
        "the skills of the batch are written by one completion only"
    );
    for job in &jobs {
        let skills = ok(
            s,
            store.skills_for_job(&job_posting_id(job), None).await,
            "skills_for_job",
        );
        promise_eq!(s, skills.len(), 2, "{job} has its two skills once");
        let rows = ok(
            s,
            store.enrichments_for_job(&job_posting_id(job)).await,
            "enrichments_for_job",
        );
        promise!(
            s,
            rows.len() == 1 && rows[0].status == EnrichmentStatus::Success && rows[0].attempts == 1,
            "{job}: one successful enrichment, one attempt counted: {rows:?}"
        );
    }
}
