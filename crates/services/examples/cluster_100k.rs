//! Times `run_clustering` end to end on a SQLite store holding 100,000
//! synthetic jobs (12 families, 5–12 skills each; see
//! `jobenrich_clustering::synthetic`): paging postings and skills out of the
//! store, features, k-means, c-TF-IDF names and the atomic write of 100,000
//! assignments. Then a second run (another seed) and the diff between them.
//!
//! Run: `cargo run --release -p jobenrich-services --example cluster_100k [JOBS]`.

use chrono::Utc;
use jobenrich_clustering::synthetic::synthetic_jobs;
use jobenrich_domain::{
    EnrichmentType, ExtractedSkill, ExtractionStrategy, JobPosting, JobPostingRepository,
    ModelConfig, ModelConfigRepository, ModelId, ModelVersion, SchemaMigrator, SkillCategory,
    SkillRepository,
};
use jobenrich_services::clustering_flow::{diff_clustering_runs, run_clustering, ClusteringParams};
use jobenrich_storage_sqlite::SqliteStore;
use std::time::Instant;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let jobs: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 100_000,
    };
    let dir = tempfile::TempDir::new()?;
    let store = SqliteStore::open(dir.path().join("cluster-bench.db"))?;
    store.migrate().await?;
    let now = Utc::now();
    let skills_model = ModelConfig::new(
        ModelId::parse("skills_extractor")?,
        EnrichmentType::SkillsExtraction,
        ModelVersion::parse("v1.0")?,
        now,
    );
    store.register_model(&skills_model).await?;
    store
        .activate_model(&skills_model.model_id, &skills_model.version, "bench", now)
        .await?;
    let version = skills_model.enrichment_version();

    let setup = Instant::now();
    let documents = synthetic_jobs(jobs, 1);
    let mut skill_rows = 0;
    for chunk in documents.chunks(10_000) {
        let postings: Vec<JobPosting> = chunk
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
        store.insert_postings(&postings).await?;
        let skills: Vec<ExtractedSkill> = chunk
            .iter()
            .flat_map(|d| {
                d.skills.iter().map(|s| ExtractedSkill {
                    skill_id: jobenrich_domain::Uuid::new_v4(),
                    enrichment_id: None,
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
        skill_rows += skills.len();
        store.upsert_skills(&skills).await?;
    }
    eprintln!(
        "setup: {jobs} postings, {skill_rows} skills stored in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    for (label, params) in [
        (
            "k = 12, seed 1",
            ClusteringParams {
                k: Some(12),
                seed: Some(1),
                ..ClusteringParams::default()
            },
        ),
        (
            "k = 12, seed 2",
            ClusteringParams {
                k: Some(12),
                seed: Some(2),
                ..ClusteringParams::default()
            },
        ),
        (
            "k auto (silhouette 4..=16), seed 42",
            ClusteringParams::default(),
        ),
    ] {
        let report = run_clustering(&store, &params).await?;
        let t = &report.timings;
        println!(
            "cluster run ({label}): {} jobs, k = {}, {} terms: total {:.2} s (load {:.2}, cluster {:.2}, record {:.2})",
            report.jobs,
            report.k,
            report.vocabulary_size,
            t.total_seconds,
            t.load_seconds,
            t.cluster_seconds,
            t.record_seconds
        );
    }
    let diff_started = Instant::now();
    let diff = diff_clustering_runs(&store, None, None).await?;
    println!(
        "cluster diff: {:.2} s; churn {:.2}%, ARI {:.4}, NMI {:.4}, {} moved",
        diff_started.elapsed().as_secs_f64(),
        diff.stability.churn_rate * 100.0,
        diff.stability.adjusted_rand_index,
        diff.stability.normalized_mutual_information,
        diff.changes.len()
    );
    Ok(())
}
