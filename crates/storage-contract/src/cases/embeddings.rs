//! Posting vectors (`job_embeddings`): written by completing an `embeddings`
//! enrichment, replaced by a later completion of the same job and version,
//! read by job, page, and version, deleted by version.

use super::enrichments::{claim_request, enqueue, seed_jobs};
use super::ok;
use crate::fixtures::{at, embedding, embedding_version, enrichment_version, job_posting_id};
use crate::{SeedSql, SqlParam};
use jobenrich_domain::{
    EnrichmentKey, EnrichmentOutcome, EnrichmentResult, EnrichmentSuccess, EnrichmentType,
    JobEmbedding, JobEnrichment, Store, StoreError, MAX_EMBEDDING_DIM,
};
use std::collections::HashMap;
use std::sync::Arc;

const EMBEDDINGS: EnrichmentType = EnrichmentType::Embeddings;

fn vector_success(key: &EnrichmentKey, owner: &str, e: JobEmbedding) -> EnrichmentOutcome {
    EnrichmentOutcome {
        key: key.clone(),
        lease_owner: owner.to_string(),
        result: EnrichmentResult::Success(EnrichmentSuccess {
            model_id: e.model_id.clone(),
            model_version: e.model_version.clone(),
            skills: vec![],
            sections: vec![],
            embedding: Some(e),
            metadata: Default::default(),
        }),
    }
}

async fn claim_vectors(store: &dyn Store, owner: &str, seconds: i64) -> Vec<JobEnrichment> {
    ok(
        store,
        store
            .claim_enrichments(&claim_request(owner, at(seconds), 50, EMBEDDINGS, None))
            .await,
        "claim_enrichments of embeddings",
    )
}

fn by_job(mut v: Vec<JobEmbedding>) -> Vec<JobEmbedding> {
    v.sort_by(|a, b| a.job_posting_id.cmp(&b.job_posting_id));
    v
}

/// Values whose float32 bits must survive the store exactly (a float64
/// column, a decimal text form, or a blob on the way).
fn awkward_vector() -> Vec<f32> {
    vec![
        0.1,
        -0.0,
        1.0e-30,
        1.0 / 3.0,
        -0.987_654_3,
        f32::MIN_POSITIVE,
        16_777_216.0,
        -3.4e38,
    ]
}

pub async fn a_completed_embedding_is_stored_replaced_and_a_corrupt_row_is_named(
    store: Arc<dyn Store>,
    sql: Arc<dyn SeedSql>,
) {
    let s = &*store;
    let v = embedding_version();
    seed_jobs(s, &["vec-1", "vec-2"]).await;
    enqueue(s, &["vec-1", "vec-2"], EMBEDDINGS, &v, at(0)).await;
    let claimed = claim_vectors(s, "w1", 1).await;
    promise_eq!(
        s,
        claimed.len(),
        2,
        "both embeddings enrichments are claimed"
    );
    let ids: HashMap<String, _> = claimed
        .iter()
        .map(|e| (e.job_posting_id.to_string(), (e.key(), e.enrichment_id)))
        .collect();
    let (key1, id1) = ids["vec-1"].clone();
    let (key2, _) = ids["vec-2"].clone();

    // vec-1 by its holder; vec-2 by a worker that does not hold its lease.
    let first = embedding("vec-1", &v, awkward_vector());
    let report = ok(
        s,
        store
            .complete_enrichments(
                &[
                    vector_success(&key1, "w1", first.clone()),
                    vector_success(&key2, "w-other", embedding("vec-2", &v, vec![1.0])),
                ],
                at(2),
            )
            .await,
        "complete_enrichments",
    );
    promise_eq!(
        s,
        (
            report.succeeded,
            report.embeddings_written,
            report.lost_leases
        ),
        (1, 1, vec![key2.clone()]),
        "the holder's vector is written and counted; the lost lease is reported"
    );
    let jobs = [job_posting_id("vec-1"), job_posting_id("vec-2")];
    let stored = ok(s, store.embeddings_for_jobs(&jobs, &v).await, "read");
    let mut expected = first.clone();
    expected.enrichment_id = Some(id1);
    promise_eq!(
        s,
        stored,
        vec![expected.clone()],
        "the vector reads back equal, stamped with its enrichment, and a lost lease wrote none"
    );
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    promise_eq!(
        s,
        bits(&stored[0].vector),
        bits(&first.vector),
        "every float32 keeps its exact bits (the sign of -0.0 included)"
    );
    promise_eq!(s, stored[0].dimension(), 8, "the dimension is kept");

    // The row is put back to pending (an operator's re-run): completing it
    // again replaces the vector, a new dimension included.
    sql.execute(
        "UPDATE job_enrichments SET status = 'pending', lease_owner = NULL,
             lease_expires_at = NULL, completed_at = NULL
         WHERE job_posting_id = @job AND enrichment_type = 'embeddings'",
        &[("job", SqlParam::Text("vec-1".to_string()))],
    )
    .await
    .unwrap_or_else(|e| panic!("[{}] resetting the enrichment: {e}", s.backend_name()));
    let again = claim_vectors(s, "w2", 3).await;
    promise_eq!(s, again.len(), 1, "the reset enrichment is claimed again");
    let second = embedding("vec-1", &v, vec![0.6, -0.8, 0.0]);
    let report = ok(
        s,
        store
            .complete_enrichments(&[vector_success(&key1, "w2", second.clone())], at(4))
            .await,
        "complete_enrichments again",
    );
    promise_eq!(s, report.embeddings_written, 1, "the new vector is counted");
    let mut expected = second;
    expected.enrichment_id = Some(id1);
    promise_eq!(
        s,
        ok(s, store.embeddings_for_jobs(&jobs, &v).await, "read"),
        vec![expected],
        "a second completion of the same job and version replaces the vector"
    );
    promise_eq!(
        s,
        ok(s, store.embedding_versions().await, "embedding_versions"),
        vec![(v.clone(), 1)],
        "one vector per job and version"
    );

    // A row whose stored vector does not hold `dimension` values is corrupt.
    sql.execute(
        "UPDATE job_embeddings SET dimension = 7 WHERE job_posting_id = @job",
        &[("job", SqlParam::Text("vec-1".to_string()))],
    )
    .await
    .unwrap_or_else(|e| panic!("[{}] corrupting the row: {e}", s.backend_name()));
    match store.embeddings_for_jobs(&jobs, &v).await {
        Err(e @ StoreError::Corrupt { .. }) => {
            let text = e.to_string();
            promise!(
                s,
                text.contains("job_embeddings")
                    && text.contains("vec-1")
                    && text.contains(v.as_str()),
                "a corrupt vector names the table, job and version: {text}"
            );
        }
        other => panic!(
            "[{}] promise broken: a vector of the wrong length is a corrupt row, got {other:?}",
            s.backend_name()
        ),
    }
}

pub async fn embeddings_are_read_by_job_paged_counted_and_deleted(store: Arc<dyn Store>) {
    let s = &*store;
    let v1 = embedding_version();
    let v2 = enrichment_version("job_embedder@v2.0");
    let names: Vec<String> = (1..=20).map(|i| format!("emb-{i:02}")).collect();
    let jobs: Vec<&str> = names.iter().map(String::as_str).collect();
    seed_jobs(s, &jobs).await;
    seed_jobs(s, &["emb-none"]).await;
    enqueue(s, &jobs, EMBEDDINGS, &v1, at(0)).await;
    enqueue(s, &jobs[..2], EMBEDDINGS, &v2, at(0)).await;
    let claimed = claim_vectors(s, "w", 1).await;
    promise_eq!(
        s,
        claimed.len(),
        22,
        "every embeddings enrichment is claimed"
    );

    // Vectors of the largest dimension: over 1 MB as decimal text, so an
    // adapter that sends small batches inline (BigQuery) stages this one.
    let mut expected: HashMap<(String, String), JobEmbedding> = HashMap::new();
    let outcomes: Vec<EnrichmentOutcome> = claimed
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let vector = (0..MAX_EMBEDDING_DIM)
                .map(|k| ((i * MAX_EMBEDDING_DIM + k) as f32).sin() / 3.0)
                .collect();
            let mut e = embedding(row.job_posting_id.as_str(), &row.enrichment_version, vector);
            let outcome = vector_success(&row.key(), "w", e.clone());
            e.enrichment_id = Some(row.enrichment_id);
            expected.insert(
                (
                    row.enrichment_version.to_string(),
                    row.job_posting_id.to_string(),
                ),
                e,
            );
            outcome
        })
        .collect();
    let report = ok(
        s,
        store.complete_enrichments(&outcomes, at(2)).await,
        "complete_enrichments",
    );
    promise_eq!(s, report.embeddings_written, 22, "every vector is written");
    let want = |v: &jobenrich_domain::EnrichmentVersion, job: &str| {
        expected[&(v.to_string(), job.to_string())].clone()
    };

    let asked = ["emb-03", "emb-none", "emb-01", "emb-missing"].map(job_posting_id);
    promise_eq!(
        s,
        by_job(ok(s, store.embeddings_for_jobs(&asked, &v1).await, "read")),
        vec![want(&v1, "emb-01"), want(&v1, "emb-03")],
        "embeddings_for_jobs returns the asked jobs that have a vector at that version"
    );
    promise_eq!(
        s,
        by_job(ok(s, store.embeddings_for_jobs(&asked, &v2).await, "read")),
        vec![want(&v2, "emb-01")],
        "and only at that version"
    );
    promise!(
        s,
        ok(s, store.embeddings_for_jobs(&[], &v1).await, "read").is_empty(),
        "no jobs asked, none returned"
    );

    let mut paged = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = ok(
            s,
            store.embeddings_page(&v1, after.clone(), 8).await,
            "embeddings_page",
        );
        promise!(s, page.len() <= 8, "a page holds at most `limit` vectors");
        let Some(last) = page.last() else { break };
        after = Some(last.job_posting_id.clone());
        paged.extend(page);
        pages += 1;
        promise!(s, pages <= 3, "paging ends after 3 pages of 8 (20 vectors)");
    }
    promise_eq!(
        s,
        paged,
        jobs.iter().map(|j| want(&v1, j)).collect::<Vec<_>>(),
        "pages return every vector of the version once, in job id order"
    );
    promise!(
        s,
        ok(s, store.embeddings_page(&v1, None, 0).await, "page").is_empty(),
        "a page of limit 0 is empty"
    );

    promise_eq!(
        s,
        ok(s, store.embedding_versions().await, "embedding_versions"),
        vec![(v1.clone(), 20), (v2.clone(), 2)],
        "versions with their counts, by version"
    );
    promise_eq!(
        s,
        ok(
            s,
            store
                .delete_embeddings_at_versions(std::slice::from_ref(&v2))
                .await,
            "delete"
        ),
        2,
        "the vectors of the given version are deleted"
    );
    promise_eq!(
        s,
        ok(s, store.embedding_versions().await, "embedding_versions"),
        vec![(v1.clone(), 20)],
        "other versions keep theirs"
    );
    promise!(
        s,
        ok(s, store.embeddings_page(&v2, None, 10).await, "page").is_empty(),
        "nothing is left at the deleted version"
    );
    promise_eq!(
        s,
        ok(s, store.delete_embeddings_at_versions(&[]).await, "delete"),
        0,
        "deleting no versions deletes nothing"
    );
}
