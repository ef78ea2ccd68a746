//! Cases of the schema migrator and the job posting repository.

use super::ok;
use crate::fixtures::{job_posting_id, numbered_job_id, posting, posting_minimal};
use jobenrich_domain::{InsertCounts, JobId, JobPosting, Store};
use std::sync::Arc;

pub async fn migrate_is_idempotent(store: Arc<dyn Store>) {
    let s = &*store;
    let version = ok(s, store.schema_version().await, "schema_version answers");
    promise!(
        s,
        version > 0,
        "a fresh store from the factory is migrated (schema version {version})"
    );
    let again = ok(
        s,
        store.migrate().await,
        "migrate on a migrated store succeeds",
    );
    promise!(
        s,
        again.applied.is_empty(),
        "migrate is idempotent: nothing applied twice, got {:?}",
        again.applied
    );
    promise_eq!(
        s,
        again.schema_version,
        version,
        "migrate keeps the schema version of a migrated store"
    );
}

pub async fn postings_round_trip_with_and_without_optional_fields(store: Arc<dyn Store>) {
    let s = &*store;
    let full = posting("job-full");
    let minimal = posting_minimal("job-minimal");
    ok(
        s,
        store
            .insert_postings(&[full.clone(), minimal.clone()])
            .await,
        "insert_postings stores valid postings",
    );
    for expected in [&full, &minimal] {
        let got = ok(
            s,
            store.get_posting(&expected.job_posting_id).await,
            "get_posting answers",
        );
        promise_eq!(
            s,
            got.as_ref(),
            Some(expected),
            "a posting round-trips exactly (optional fields present and absent, µs timestamps)"
        );
    }
    let missing = ok(
        s,
        store.get_posting(&job_posting_id("job-absent")).await,
        "get_posting answers",
    );
    promise_eq!(s, missing, None, "get_posting of an unknown id is None");
}

pub async fn insert_postings_is_idempotent(store: Arc<dyn Store>) {
    let s = &*store;
    let first: Vec<JobPosting> = (0..3).map(|i| posting(&format!("job-{i}"))).collect();
    let counts = ok(
        s,
        store.insert_postings(&first).await,
        "first insert succeeds",
    );
    promise_eq!(
        s,
        counts,
        InsertCounts {
            inserted: 3,
            already_present: 0
        },
        "new postings are counted as inserted"
    );

    let mut changed = posting("job-1");
    changed.title = "A different title".to_string();
    let second = vec![
        first[0].clone(),
        changed,
        first[2].clone(),
        posting("job-3"),
    ];
    let counts = ok(
        s,
        store.insert_postings(&second).await,
        "re-insert succeeds",
    );
    promise_eq!(
        s,
        counts,
        InsertCounts {
            inserted: 1,
            already_present: 3
        },
        "re-ingesting stores nothing twice: known ids are counted as already present"
    );
    let kept = ok(
        s,
        store.get_posting(&job_posting_id("job-1")).await,
        "get_posting answers",
    );
    promise_eq!(
        s,
        kept.as_ref(),
        Some(&first[1]),
        "a posting with a known id is left as it was stored"
    );

    let duplicated = vec![posting("job-dup"), posting("job-dup")];
    let counts = ok(
        s,
        store.insert_postings(&duplicated).await,
        "insert with a repeated id succeeds",
    );
    promise_eq!(
        s,
        counts,
        InsertCounts {
            inserted: 1,
            already_present: 1
        },
        "an id repeated within one batch is stored once"
    );
    promise_eq!(
        s,
        ok(s, store.count_postings().await, "count_postings answers"),
        5,
        "count_postings counts each id once"
    );
}

pub async fn postings_are_paged_and_looked_up_by_id(store: Arc<dyn Store>) {
    let s = &*store;
    // Inserted out of order: pages must still come in id order.
    let mut postings: Vec<JobPosting> = (0..25)
        .map(|i| {
            let mut p = posting_minimal("x");
            p.job_posting_id = numbered_job_id(i);
            p
        })
        .collect();
    postings.reverse();
    ok(s, store.insert_postings(&postings).await, "insert succeeds");
    promise_eq!(
        s,
        ok(s, store.count_postings().await, "count_postings answers"),
        25,
        "count_postings counts every stored posting"
    );

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = ok(
            s,
            store.list_postings_page(after.clone(), 10).await,
            "list_postings_page answers",
        );
        promise!(s, page.len() <= 10, "a page holds at most `limit` postings");
        if page.is_empty() {
            break;
        }
        after = page.last().map(|p| p.job_posting_id.clone());
        seen.extend(page.into_iter().map(|p| p.job_posting_id));
    }
    let expected: Vec<_> = (0..25).map(numbered_job_id).collect();
    promise_eq!(
        s,
        seen,
        expected,
        "keyset pages return every posting once, in ascending id order"
    );
    let titles = ok(
        s,
        store.list_titles_page(Some(numbered_job_id(4)), 3).await,
        "list_titles_page answers",
    );
    let full = ok(
        s,
        store.list_postings_page(Some(numbered_job_id(4)), 3).await,
        "list_postings_page answers",
    );
    let full: Vec<(JobId, String)> = full
        .into_iter()
        .map(|p| (p.job_posting_id, p.title))
        .collect();
    promise_eq!(
        s,
        titles,
        full,
        "list_titles_page is list_postings_page's ids and titles"
    );

    let wanted = [
        numbered_job_id(20),
        numbered_job_id(3),
        job_posting_id("job-unknown"),
        numbered_job_id(5),
    ];
    let got: Vec<_> = ok(s, store.get_postings(&wanted).await, "get_postings answers")
        .into_iter()
        .map(|p| p.job_posting_id)
        .collect();
    promise_eq!(
        s,
        got,
        vec![numbered_job_id(3), numbered_job_id(5), numbered_job_id(20)],
        "get_postings returns the existing postings among the ids, ordered by id"
    );
    let none = ok(
        s,
        store.get_postings(&[]).await,
        "get_postings of no ids answers",
    );
    promise!(s, none.is_empty(), "get_postings of no ids is empty");
}
