//! `cluster run` end to end on the emulator, in several pages and skill
//! batches read two at a time: the same jobs and skills in a BigQuery
//! dataset and in a SQLite file give the same clusters under the same ids,
//! and a second run keeps one active assignment per job on BigQuery as on
//! SQLite. The contract suite checks each port call; this checks the flow
//! that strings them together over real paging.

mod common;

use chrono::Utc;
use jobenrich_clustering::synthetic::synthetic_jobs;
use jobenrich_domain::{EnrichmentType, ExtractedSkill, JobId, JobPosting, SchemaMigrator, Store};
use jobenrich_services::clustering_flow::{
    diff_clustering_runs, run_clustering, ClusteringParams, ClusteringRunReport,
};
use jobenrich_storage_contract::fixtures;
use jobenrich_storage_sqlite::SqliteStore;

const JOBS: usize = 300;

/// The skills model, `JOBS` synthetic postings and their skills at its version.
async fn seed(store: &dyn Store) {
    let now = Utc::now();
    let model =
        fixtures::model_minimal("skills_extractor", "v1.0", EnrichmentType::SkillsExtraction);
    store.register_model(&model).await.unwrap();
    store
        .activate_model(&model.model_id, &model.version, "test", now)
        .await
        .unwrap();
    let version = model.enrichment_version();
    let documents = synthetic_jobs(JOBS, 5);
    // The contract's fixtures with the synthetic titles, names and confidences:
    // what clustering reads.
    let postings: Vec<JobPosting> = documents
        .iter()
        .map(|d| JobPosting {
            title: d.title.clone(),
            ..fixtures::posting(d.job_posting_id.as_str())
        })
        .collect();
    store.insert_postings(&postings).await.unwrap();
    let skills: Vec<ExtractedSkill> = documents
        .iter()
        .flat_map(|d| {
            let version = &version;
            d.skills.iter().map(move |s| ExtractedSkill {
                confidence_score: s.confidence,
                enrichment_version: version.clone(),
                ..fixtures::skill(d.job_posting_id.as_str(), &s.name)
            })
        })
        .collect();
    store.upsert_skills(&skills).await.unwrap();
}

fn params(k: usize, seed: u64) -> ClusteringParams {
    ClusteringParams {
        k: Some(k),
        seed: Some(seed),
        // Neither divides the job count: 4 pages and 3 skill batches, the
        // last of each partial.
        page_size: 97,
        skills_batch: 110,
        concurrent_batches: 2,
        ..ClusteringParams::default()
    }
}

/// Each job's cluster id in a run, in job order.
async fn partition(store: &dyn Store, report: &ClusteringRunReport) -> Vec<(JobId, u32)> {
    let mut ids = store
        .cluster_ids_for_run(&report.cluster_run_id)
        .await
        .unwrap();
    ids.sort();
    ids
}

fn names(report: &ClusteringRunReport) -> Vec<(u32, String, u32)> {
    let mut v: Vec<_> = report
        .clusters
        .iter()
        .map(|c| (c.cluster_id, c.name.clone(), c.size))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn paged_runs_on_bigquery_match_sqlite_and_keep_one_active_assignment_per_job() {
    let (bigquery, _guard) = common::fresh_store().await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path().join("jobenrich.db")).unwrap();
    sqlite.migrate().await.unwrap();
    let stores: [&dyn Store; 2] = [&bigquery, &sqlite];
    for store in stores {
        seed(store).await;
    }

    let mut firsts = Vec::new();
    for store in stores {
        let first = run_clustering(store, &params(12, 3)).await.unwrap();
        assert_eq!(first.jobs, JOBS as u64);
        assert_eq!(first.jobs_with_skills, JOBS as u64);
        assert_eq!(first.recorded.assignments, JOBS as u64);
        assert_eq!(first.recorded.deactivated, 0);
        firsts.push((partition(store, &first).await, names(&first), first));
    }
    let (bq, sq) = (&firsts[0], &firsts[1]);
    assert_eq!(bq.0.len(), JOBS);
    assert_eq!(bq.0, sq.0, "the same jobs in the same clusters");
    assert_eq!(bq.1, sq.1, "the same cluster ids, names and sizes");

    let mut moved = Vec::new();
    for store in stores {
        let second = run_clustering(store, &params(8, 4)).await.unwrap();
        assert_eq!(second.recorded.assignments, JOBS as u64);
        assert_eq!(second.recorded.deactivated, JOBS as u64);
        assert!(store
            .jobs_with_multiple_active_assignments()
            .await
            .unwrap()
            .is_empty());
        for (job, _) in partition(store, &second).await.iter().step_by(37) {
            let active = store.active_assignment(job).await.unwrap().unwrap();
            assert_eq!(active.cluster_run_id, second.cluster_run_id);
            assert_eq!(active.cluster_version, 2);
        }
        let diff = diff_clustering_runs(store, None, None).await.unwrap();
        assert_eq!(diff.stability.jobs_in_both, JOBS as u64);
        moved.push((diff.stability.moved_jobs, diff.changes.len() as u64));
    }
    assert!(moved[0].0 > 0, "12 → 8 clusters moves jobs: {moved:?}");
    assert_eq!(moved[0], moved[1], "BigQuery and SQLite see the same moves");
}
