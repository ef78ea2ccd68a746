//! Scores stored clustering runs in two common feature spaces, so that runs
//! of different clusterers (v1.0: TF-IDF; v2.0: TF-IDF + posting vectors)
//! can be compared: each run's silhouette in the TF-IDF space of skills and
//! title tokens (v1.0's features) and in the posting-vector space (unit
//! vectors alone), on the same jobs. Prints one JSON line per run.
//! docs/clustering.md ("v1.0 and v2.0 compared") uses it via
//! bench/cluster_compare.sh.
//!
//! Run: `cargo run --release -p jobenrich-services --example cluster_spaces --
//! DB SKILLS_VERSION EMBEDDINGS_VERSION [RUN_ID...]` (default: every run).

use jobenrich_clustering::{sampled_silhouette, ClusteringSettings, FeatureMatrix};
use jobenrich_domain::{ClusterRepository, EnrichmentVersion};
use jobenrich_services::clustering_flow::{
    load_documents, DEFAULT_CONCURRENT_BATCHES, DEFAULT_PAGE_SIZE, DEFAULT_SKILLS_BATCH,
};
use jobenrich_storage_sqlite::SqliteStore;
use std::collections::HashMap;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [db, skills, embeddings, runs @ ..] = args.as_slice() else {
        return Err(
            "usage: cluster_spaces DB SKILLS_VERSION EMBEDDINGS_VERSION [RUN_ID...]".into(),
        );
    };
    let store = SqliteStore::open(db)?;
    let skills = EnrichmentVersion::parse(skills.as_str())?;
    let embeddings = EnrichmentVersion::parse(embeddings.as_str())?;
    let (documents, _) = load_documents(
        &store,
        &skills,
        Some(&embeddings),
        DEFAULT_PAGE_SIZE,
        DEFAULT_SKILLS_BATCH,
        DEFAULT_CONCURRENT_BATCHES,
    )
    .await?;
    // v1.0's feature settings: the TF-IDF space both versions share.
    let settings = ClusteringSettings::default();
    let tfidf = FeatureMatrix::build(&documents, &settings.feature_config());
    // Weight 1: term values become 0, rows are the unit posting vectors.
    let vectors = tfidf.clone().with_embeddings(&documents, 1.0)?;
    let row_of: HashMap<&str, usize> = documents
        .iter()
        .enumerate()
        .map(|(i, d)| (d.job_posting_id.as_str(), i))
        .collect();
    let run_ids: Vec<String> = if runs.is_empty() {
        let mut all = store.list_clustering_runs().await?;
        all.reverse(); // oldest first
        all.into_iter().map(|r| r.cluster_run_id).collect()
    } else {
        runs.to_vec()
    };
    for run in run_ids {
        let assignments = store.assignments_for_run(&run).await?;
        let mut labels = vec![u32::MAX; documents.len()];
        for a in &assignments {
            if let Some(&i) = row_of.get(a.job_posting_id.as_str()) {
                labels[i] = a.cluster_id;
            }
        }
        if labels.contains(&u32::MAX) {
            return Err(format!("run {run} does not assign every job of the store").into());
        }
        let k = labels
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let line = serde_json::json!({
            "run": run,
            "jobs": documents.len(),
            "k": k,
            "silhouette_tfidf": sampled_silhouette(&tfidf, &labels, 5_000, 0),
            "silhouette_embedding": sampled_silhouette(&vectors, &labels, 5_000, 0),
        });
        println!("{line}");
    }
    Ok(())
}
