//! The clustering use cases against a real SQLite store: many runs keep one
//! active assignment per job, cluster ids continue across runs so that the
//! store's change query agrees with the stability figures, and every error
//! says what to do.

use chrono::Utc;
use jobenrich_clustering::synthetic::synthetic_jobs;
use jobenrich_domain::{
    ClaimRequest, ClusterRepository, EnrichmentOutcome, EnrichmentRepository, EnrichmentResult,
    EnrichmentSuccess, EnrichmentType, EnrichmentVersion, ExtractedSkill, ExtractionStrategy,
    JobEmbedding, JobId, JobPosting, JobPostingRepository, ModelConfig, ModelConfigRepository,
    ModelId, ModelVersion, SchemaMigrator, SkillCategory, SkillRepository,
};
use jobenrich_services::clustering_flow::{
    default_clusterer, diff_clustering_runs, job_cluster_history, list_clusters, load_documents,
    run_clustering, ClusteringFlowError, ClusteringParams, DEFAULT_CLUSTERER_ID,
};
use jobenrich_services::model_registry::load_model_file;
use jobenrich_storage_sqlite::SqliteStore;
use std::path::Path;
use tempfile::TempDir;

async fn empty_store(dir: &TempDir, with_skills_model: bool) -> SqliteStore {
    let store = SqliteStore::open(dir.path().join("jobenrich.db")).unwrap();
    store.migrate().await.unwrap();
    if with_skills_model {
        let now = Utc::now();
        let model = ModelConfig::new(
            ModelId::parse("skills_extractor").unwrap(),
            EnrichmentType::SkillsExtraction,
            ModelVersion::parse("v1.0").unwrap(),
            now,
        );
        store.register_model(&model).await.unwrap();
        store
            .activate_model(&model.model_id, &model.version, "test", now)
            .await
            .unwrap();
    }
    store
}

async fn active_skills_version(store: &SqliteStore) -> EnrichmentVersion {
    store
        .active_model_for_type(EnrichmentType::SkillsExtraction)
        .await
        .unwrap()
        .unwrap()
        .enrichment_version()
}

/// `jobs` synthetic postings with their skills at the active skills version.
async fn store_with_jobs(dir: &TempDir, jobs: usize) -> SqliteStore {
    store_with_extracted_jobs(dir, jobs, |_| None).await
}

/// `store_with_jobs`, job `i`'s skills recorded as from extraction `extraction(i)`.
async fn store_with_extracted_jobs(
    dir: &TempDir,
    jobs: usize,
    extraction: impl Fn(usize) -> Option<jobenrich_domain::Uuid>,
) -> SqliteStore {
    let store = empty_store(dir, true).await;
    let version = active_skills_version(&store).await;
    let now = Utc::now();
    let documents = synthetic_jobs(jobs, 5);
    let postings: Vec<JobPosting> = documents
        .iter()
        .map(|d| JobPosting {
            job_posting_id: d.job_posting_id.clone(),
            title: d.title.clone(),
            company: None,
            location: None,
            description: format!("{} wanted.", d.title),
            posted_at: None,
            source: Some("synthetic".into()),
            url: None,
            ingested_at: now,
        })
        .collect();
    store.insert_postings(&postings).await.unwrap();
    let skills: Vec<ExtractedSkill> = documents
        .iter()
        .enumerate()
        .flat_map(|(i, d)| {
            let enrichment_id = extraction(i);
            let version = &version;
            d.skills.iter().map(move |s| ExtractedSkill {
                skill_id: jobenrich_domain::Uuid::new_v4(),
                enrichment_id,
                job_posting_id: d.job_posting_id.clone(),
                skill_name: s.name.to_string(),
                skill_category: SkillCategory::ALL[0],
                confidence_score: s.confidence,
                source_strategies: vec![ExtractionStrategy::Lexicon],
                section_relevance_score: None,
                extracted_from_section: None,
                context_snippet: None,
                position_in_text: None,
                mention_count: 1,
                mention_spans: vec![],
                taxonomy_ref: None,
                taxonomy_links: Vec::new(),
                enrichment_version: version.clone(),
                created_at: now,
            })
        })
        .collect();
    store.upsert_skills(&skills).await.unwrap();
    store
}

fn params(k: usize, seed: u64) -> ClusteringParams {
    ClusteringParams {
        k: Some(k),
        seed: Some(seed),
        // Neither divides the job count: the last page and skills batch are partial.
        page_size: 97,
        skills_batch: 250,
        ..ClusteringParams::default()
    }
}

#[tokio::test]
async fn many_runs_keep_exactly_one_active_assignment_per_job() {
    let dir = TempDir::new().unwrap();
    let store = store_with_jobs(&dir, 360).await;
    let mut run_ids = Vec::new();
    for (i, k) in [12, 4, 8, 12, 6, 3].into_iter().enumerate() {
        let report = run_clustering(&store, &params(k, i as u64)).await.unwrap();
        assert_eq!(report.jobs, 360);
        assert_eq!(report.jobs_with_skills, 360);
        assert_eq!(report.recorded.assignments, 360);
        assert_eq!(report.recorded.deactivated, if i == 0 { 0 } else { 360 });
        assert_eq!(report.previous_run_id, run_ids.last().cloned());
        assert_eq!(
            report.clusters.iter().map(|c| c.size as u64).sum::<u64>(),
            360
        );
        assert!(store
            .jobs_with_multiple_active_assignments()
            .await
            .unwrap()
            .is_empty());
        run_ids.push(report.cluster_run_id);
    }
    let runs = store.list_clustering_runs().await.unwrap();
    assert_eq!(runs.len(), 6);
    assert_eq!(runs[0].cluster_run_id, run_ids[5]);
    for id in ["job-0000000", "job-0000123", "job-0000359"] {
        let job = JobId::parse(id).unwrap();
        let active = store.active_assignment(&job).await.unwrap().unwrap();
        assert_eq!(active.cluster_run_id, run_ids[5]);
        assert_eq!(active.cluster_version, 6);
        let history = job_cluster_history(&store, id).await.unwrap();
        let versions: Vec<u32> = history.history.iter().map(|a| a.cluster_version).collect();
        assert_eq!(versions, [1, 2, 3, 4, 5, 6]);
        assert_eq!(history.history.iter().filter(|a| a.is_active).count(), 1);
        assert!(history.history[5].is_active);
        assert!(history.title.is_some());
    }
}

#[tokio::test]
async fn diff_figures_agree_with_the_stores_change_query() {
    let dir = TempDir::new().unwrap();
    let store = store_with_jobs(&dir, 480).await;
    let first = run_clustering(&store, &params(12, 1)).await.unwrap();
    let second = run_clustering(&store, &params(8, 2)).await.unwrap();
    let diff = diff_clustering_runs(&store, None, None).await.unwrap();
    assert_eq!(diff.old_run.cluster_run_id, first.cluster_run_id);
    assert_eq!(diff.new_run.cluster_run_id, second.cluster_run_id);
    let s = &diff.stability;
    assert_eq!(s.jobs_in_both, 480);
    // Ids continue the matched cluster, so "id changed" is exactly "moved".
    assert_eq!(s.moved_jobs, diff.changes.len() as u64);
    assert!(s.moved_jobs > 0, "12 → 8 clusters must move jobs");
    assert!(
        s.adjusted_rand_index > 0.3 && s.adjusted_rand_index < 1.0,
        "{}",
        s.adjusted_rand_index
    );
    assert!(s.normalized_mutual_information > 0.5 && s.normalized_mutual_information < 1.0);
    assert!(
        s.events
            .iter()
            .any(|e| matches!(e, jobenrich_clustering::ClusterEvent::Merged { .. })),
        "12 → 8 merges families: {:?}",
        s.events
    );
    let html = diff.to_html();
    assert!(html.contains("<svg") && html.contains(&first.cluster_run_id));

    // The same k and seed again: the same partition under the same ids.
    let third = run_clustering(&store, &params(8, 2)).await.unwrap();
    let again = diff_clustering_runs(&store, Some(&second.cluster_run_id), None)
        .await
        .unwrap();
    assert_eq!(again.new_run.cluster_run_id, third.cluster_run_id);
    assert!(again.changes.is_empty());
    assert_eq!(again.stability.moved_jobs, 0);
    assert_eq!(again.stability.adjusted_rand_index, 1.0);
    assert_eq!(again.stability.normalized_mutual_information, 1.0);
    let names = |r: &jobenrich_services::clustering_flow::ClusteringRunReport| {
        let mut v: Vec<(u32, String)> = r
            .clusters
            .iter()
            .map(|c| (c.cluster_id, c.name.clone()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&second), names(&third));
}

#[tokio::test]
async fn a_fresh_store_gets_the_shipped_clusterer_matching_its_yaml_file() {
    let dir = TempDir::new().unwrap();
    let store = store_with_jobs(&dir, 200).await;
    let auto_k = ClusteringParams {
        page_size: 64,
        ..ClusteringParams::default()
    };
    let first = run_clustering(&store, &auto_k).await.unwrap();
    assert!(first.activated_default_model);
    assert_eq!(first.cluster_model_id.as_str(), DEFAULT_CLUSTERER_ID);
    assert!(
        first.k_choice.starts_with("silhouette over 4..=16"),
        "{}",
        first.k_choice
    );
    assert_eq!(first.k_candidates.len(), 13);
    assert!((4..=16).contains(&first.k));
    let second = run_clustering(&store, &params(5, 1)).await.unwrap();
    assert!(!second.activated_default_model);
    assert_eq!(second.k, 5);

    let shipped =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/models/job_clusterer-v1.0.yaml");
    let from_file = load_model_file(&shipped, Utc::now()).unwrap();
    let built_in = default_clusterer(Utc::now());
    assert_eq!(from_file.model_id, built_in.model_id);
    assert_eq!(from_file.version, built_in.version);
    assert_eq!(from_file.model_type, EnrichmentType::Clustering);
    assert_eq!(from_file.config_overrides, built_in.config_overrides);
}

#[tokio::test]
async fn listing_groups_a_runs_clusters_largest_first() {
    let dir = TempDir::new().unwrap();
    let store = store_with_jobs(&dir, 240).await;
    let report = run_clustering(&store, &params(6, 9)).await.unwrap();
    let listing = list_clusters(&store, None).await.unwrap();
    assert_eq!(listing.run.cluster_run_id, report.cluster_run_id);
    assert_eq!(listing.clusters.len(), report.k);
    assert_eq!(
        listing.clusters.iter().map(|c| c.cluster_size).sum::<u32>(),
        240
    );
    assert!(listing
        .clusters
        .windows(2)
        .all(|w| w[0].cluster_size >= w[1].cluster_size));
    assert!(listing
        .clusters
        .iter()
        .all(|c| !c.cluster_keywords.is_empty()));
    let same = list_clusters(&store, Some(&report.cluster_run_id))
        .await
        .unwrap();
    assert_eq!(same, listing);
}

#[tokio::test]
async fn errors_name_what_is_missing_and_what_to_do() {
    let dir = TempDir::new().unwrap();
    let no_skills_model = empty_store(&dir, false).await;
    let e = run_clustering(&no_skills_model, &params(3, 1))
        .await
        .unwrap_err();
    assert!(matches!(e, ClusteringFlowError::NoSkillsVersion), "{e}");
    assert!(e.to_string().contains("jobenrich run"));

    let dir = TempDir::new().unwrap();
    let no_jobs = empty_store(&dir, true).await;
    let e = run_clustering(&no_jobs, &params(3, 1)).await.unwrap_err();
    assert!(matches!(e, ClusteringFlowError::NoJobs), "{e}");
    assert!(matches!(
        list_clusters(&no_jobs, None).await.unwrap_err(),
        ClusteringFlowError::NoRuns
    ));

    let dir = TempDir::new().unwrap();
    let store = store_with_jobs(&dir, 50).await;
    let only = run_clustering(&store, &params(3, 1)).await.unwrap();
    let e = diff_clustering_runs(&store, None, None).await.unwrap_err();
    assert!(matches!(e, ClusteringFlowError::NotEnoughRuns(1)), "{e}");
    assert!(e.to_string().contains("cluster run"));
    let e = diff_clustering_runs(&store, Some("nope"), Some(&only.cluster_run_id))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("\"nope\""), "{e}");
    let e = diff_clustering_runs(&store, Some(&only.cluster_run_id), None)
        .await
        .unwrap_err();
    assert!(matches!(e, ClusteringFlowError::SameRun(_)), "{e}");
    let e = job_cluster_history(&store, "no-such-job")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no-such-job"), "{e}");
}

/// Stores `vector(i)` for synthetic jobs `0..jobs` at the embeddings model's
/// version, through the queue as `jobenrich run` does.
async fn store_vectors(
    store: &SqliteStore,
    model: &ModelConfig,
    jobs: usize,
    vector: impl Fn(usize) -> Vec<f32>,
) {
    let version = model.enrichment_version();
    let now = Utc::now();
    let ids: Vec<JobId> = (0..jobs)
        .map(|i| JobId::parse(format!("job-{i:07}")).unwrap())
        .collect();
    store
        .enqueue_enrichments(&ids, EnrichmentType::Embeddings, &version, now)
        .await
        .unwrap();
    let claimed = store
        .claim_enrichments(&ClaimRequest {
            enrichment_type: EnrichmentType::Embeddings,
            enrichment_version: Some(version.clone()),
            owner: "test".into(),
            lease: chrono::Duration::minutes(5),
            limit: jobs,
            max_attempts: 3,
            now,
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), jobs);
    let outcomes: Vec<EnrichmentOutcome> = claimed
        .iter()
        .map(|e| {
            let i: usize = e.job_posting_id.as_str()[4..].parse().unwrap();
            EnrichmentOutcome {
                key: e.key(),
                lease_owner: "test".into(),
                result: EnrichmentResult::Success(EnrichmentSuccess {
                    model_id: model.model_id.clone(),
                    model_version: model.version.clone(),
                    skills: vec![],
                    sections: vec![],
                    embedding: Some(JobEmbedding {
                        job_posting_id: e.job_posting_id.clone(),
                        enrichment_id: Some(e.enrichment_id),
                        enrichment_version: version.clone(),
                        model_id: model.model_id.clone(),
                        model_version: model.version.clone(),
                        vector: vector(i),
                        source_chars: 100,
                        created_at: now,
                    }),
                    metadata: Default::default(),
                }),
            }
        })
        .collect();
    store.complete_enrichments(&outcomes, now).await.unwrap();
}

fn model_file(relative: &str) -> ModelConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative);
    load_model_file(&path, Utc::now()).unwrap()
}

async fn register_and_activate(store: &SqliteStore, model: &ModelConfig) {
    store.register_model(model).await.unwrap();
    store
        .activate_model(&model.model_id, &model.version, "test", Utc::now())
        .await
        .unwrap();
}

/// `store_with_extracted_jobs`, and `parity_vector(i)` for each job at the
/// active embeddings model's version (the model is returned).
async fn store_with_parity_vectors(
    dir: &TempDir,
    jobs: usize,
    extraction: impl Fn(usize) -> Option<jobenrich_domain::Uuid>,
) -> (SqliteStore, ModelConfig) {
    let store = store_with_extracted_jobs(dir, jobs, extraction).await;
    let embedder = model_file("models/job_embedder/v2.0-static/model.yaml");
    register_and_activate(&store, &embedder).await;
    store_vectors(&store, &embedder, jobs, parity_vector).await;
    (store, embedder)
}

/// Splits jobs by the parity of their index, a partition the skills (12
/// families, `synthetic_jobs`) know nothing about.
fn parity_vector(i: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; 8];
    v[i % 2] = 1.0;
    // A little per-job spread so that no two vectors are equal.
    v[2 + i % 6] = 0.05;
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_read_at_once_hand_every_job_its_own_skills_and_vector() {
    let dir = TempDir::new().unwrap();
    let jobs = 300;
    // Two jobs in three have skills from a known extraction, the third none.
    let extraction =
        |i: usize| (!i.is_multiple_of(3)).then(|| jobenrich_domain::Uuid::from_u128(i as u128));
    let (store, embedder) = store_with_parity_vectors(&dir, jobs, extraction).await;
    let skills = active_skills_version(&store).await;
    let vectors = embedder.enrichment_version();
    // One call for everything is the reference; small pages and batches
    // (neither dividing 300), several in flight, must give the same.
    let (one, one_ids) = load_documents(&store, &skills, Some(&vectors), 1_000, 1_000, 1)
        .await
        .unwrap();
    assert_eq!(one.len(), jobs);
    assert!(one
        .iter()
        .all(|d| !d.skills.is_empty() && d.embedding.is_some()));
    assert!(one.is_sorted_by(|a, b| a.job_posting_id < b.job_posting_id));
    let summary = |documents: &[jobenrich_clustering::JobDocument]| {
        let names = |d: &jobenrich_clustering::JobDocument| {
            let mut names: Vec<String> = d.skills.iter().map(|s| s.name.to_string()).collect();
            names.sort();
            names
        };
        documents
            .iter()
            .map(|d| (d.job_posting_id.clone(), d.title.clone(), names(d)))
            .collect::<Vec<_>>()
    };
    assert_eq!(summary(&one), summary(&synthetic_jobs(jobs, 5)));
    let expected_ids: std::collections::BTreeMap<JobId, jobenrich_domain::Uuid> = (0..jobs)
        .filter_map(|i| Some((JobId::parse(format!("job-{i:07}")).unwrap(), extraction(i)?)))
        .collect();
    assert_eq!(one_ids.len(), 200);
    assert_eq!(one_ids, expected_ids);
    for d in &one {
        let i: usize = d.job_posting_id.as_str()[4..].parse().unwrap();
        assert_eq!(d.embedding.as_deref(), Some(parity_vector(i).as_slice()));
    }
    for (page_size, batch, in_flight) in [(7, 23, 3), (50, 1, 4), (1, 2, 2), (300, 300, 8)] {
        let (many, many_ids) =
            load_documents(&store, &skills, Some(&vectors), page_size, batch, in_flight)
                .await
                .unwrap();
        assert_eq!(
            many, one,
            "pages {page_size}, batches {batch}, {in_flight} at once"
        );
        assert_eq!(many_ids, one_ids);
    }
}

#[tokio::test]
async fn v2_clusters_on_the_stored_vectors_and_v1_ignores_them() {
    let dir = TempDir::new().unwrap();
    let jobs = 240;
    let (store, _) = store_with_parity_vectors(&dir, jobs, |_| None).await;

    let parity_agreement = |assignments: &[jobenrich_domain::ClusterAssignment]| {
        // Share of jobs whose cluster is the majority cluster of their parity.
        let mut counts = std::collections::BTreeMap::new();
        for a in assignments {
            let i: usize = a.job_posting_id.as_str()[4..].parse().unwrap();
            *counts.entry((i % 2, a.cluster_id)).or_insert(0usize) += 1;
        }
        let best = |parity: usize| {
            counts
                .iter()
                .filter(|((p, _), _)| *p == parity)
                .map(|(_, &n)| n)
                .max()
                .unwrap_or(0)
        };
        (best(0) + best(1)) as f64 / assignments.len() as f64
    };

    // v1.0 (the shipped default): skills and titles only, vectors unread.
    let v1 = run_clustering(&store, &params(2, 1)).await.unwrap();
    assert_eq!(v1.cluster_model_version.as_str(), "v1.0");
    assert_eq!(
        (v1.embedding_weight, v1.embedding_version.clone()),
        (0.0, None)
    );
    assert_eq!(v1.jobs_with_embeddings, 0);
    let v1_assignments = store.assignments_for_run(&v1.cluster_run_id).await.unwrap();
    assert!(parity_agreement(&v1_assignments) < 0.75);

    let v2 = model_file("models/job_clusterer/v2.0/model.yaml");
    assert_eq!(v2.model_type, EnrichmentType::Clustering);
    register_and_activate(&store, &v2).await;
    let report = run_clustering(&store, &params(2, 1)).await.unwrap();
    assert_eq!(report.cluster_model_version.as_str(), "v2.0");
    assert!(report.embedding_weight > 0.0 && report.embedding_weight < 1.0);
    assert_eq!(
        report.embedding_version,
        Some(EnrichmentVersion::parse("job_embedder@v2.0-static").unwrap())
    );
    assert_eq!(report.jobs_with_embeddings, jobs as u64);
    assert_eq!(report.clusters.len(), 2);
    let assignments = store
        .assignments_for_run(&report.cluster_run_id)
        .await
        .unwrap();
    assert_eq!(
        parity_agreement(&assignments),
        1.0,
        "the vectors decide k = 2"
    );
    // Names still come from skills and titles: the vectors have no words.
    assert!(report
        .clusters
        .iter()
        .all(|c| !c.keywords.is_empty() && !c.name.starts_with("cluster ")));
    assert_eq!(
        report.vocabulary_size, v1.vocabulary_size,
        "vectors add no terms"
    );
}

#[tokio::test]
async fn v2_refuses_jobs_without_a_vector_and_versions_without_vectors() {
    let dir = TempDir::new().unwrap();
    let store = store_with_jobs(&dir, 120).await;
    let v2 = model_file("models/job_clusterer/v2.0/model.yaml");
    register_and_activate(&store, &v2).await;

    // No embeddings model active and no embedding_version set.
    let e = run_clustering(&store, &params(3, 1)).await.unwrap_err();
    assert!(
        matches!(e, ClusteringFlowError::NoEmbeddingsVersion { .. }),
        "{e}"
    );
    assert!(e.to_string().contains("job_clusterer@v2.0"), "{e}");

    // Active, but nothing embedded yet.
    let embedder = model_file("models/job_embedder/v2.0-static/model.yaml");
    register_and_activate(&store, &embedder).await;
    let e = run_clustering(&store, &params(3, 1)).await.unwrap_err();
    assert!(matches!(e, ClusteringFlowError::NoVectors { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("job_embedder@v2.0-static") && text.contains("jobenrich run"),
        "{text}"
    );

    // Only the first 100 of 120 postings embedded.
    store_vectors(&store, &embedder, 100, parity_vector).await;
    let e = run_clustering(&store, &params(3, 1)).await.unwrap_err();
    match &e {
        ClusteringFlowError::MissingEmbeddings {
            missing,
            total,
            version,
            first,
        } => {
            assert_eq!((*missing, *total), (20, 120));
            assert_eq!(version, "job_embedder@v2.0-static");
            assert_eq!(first, "job-0000100");
        }
        other => panic!("expected MissingEmbeddings, got {other}"),
    }
    assert!(e.to_string().contains("jobenrich run"), "{e}");
    // A refused run records nothing.
    assert!(store.list_clustering_runs().await.unwrap().is_empty());

    // A pinned version without vectors is named with the versions that have some.
    let mut pinned = v2.clone();
    pinned.version = ModelVersion::parse("v2.1-exp").unwrap();
    pinned
        .config_overrides
        .insert("embedding_version".into(), "v1.0".into());
    register_and_activate(&store, &pinned).await;
    let e = run_clustering(&store, &params(3, 1)).await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("job_embedder@v1.0") && text.contains("job_embedder@v2.0-static: 100"),
        "{text}"
    );
}

#[tokio::test]
async fn auto_k_on_more_jobs_than_the_selection_sample_says_so_and_labels_every_job() {
    let dir = TempDir::new().unwrap();
    let store = store_with_jobs(&dir, 300).await;
    let mut model = default_clusterer(Utc::now());
    model.version = jobenrich_domain::ModelVersion::parse("v1.1").unwrap();
    model
        .config_overrides
        .insert("selection_sample".into(), serde_json::Value::from(120u64));
    register_and_activate(&store, &model).await;
    let auto_k = ClusteringParams {
        page_size: 64,
        ..ClusteringParams::default()
    };
    let report = run_clustering(&store, &auto_k).await.unwrap();
    assert!(
        report.k_choice.ends_with("candidates on 120 of 300 jobs"),
        "{}",
        report.k_choice
    );
    assert_eq!(report.k_candidates.len(), 13);
    assert!(report.k_candidates.iter().any(|c| c.k == report.k));
    assert_eq!(
        report.recorded.assignments, 300,
        "the chosen k labels every job"
    );
    let sizes: usize = report.clusters.iter().map(|c| c.size as usize).sum();
    assert_eq!(sizes, 300);
}
