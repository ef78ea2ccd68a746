//! Measures the BigQuery store against the emulator: rows/s of a batched
//! posting insert, and HTTP requests per 1,000 postings enriched through the
//! worker's cycle (enqueue, claim 100, complete with skills and sections).
//!
//! `JOBENRICH_BQ_EMULATOR_URL=http://127.0.0.1:9050 cargo run -p jobenrich-storage-bigquery --example bq_measure`

use chrono::{Duration, Utc};
use jobenrich_domain::{
    ClaimRequest, ClassificationMethod, EnrichmentOutcome, EnrichmentRepository, EnrichmentResult,
    EnrichmentSuccess, EnrichmentType, EnrichmentVersion, ExtractedSkill, ExtractionStrategy,
    JobId, JobPosting, JobPostingRepository, ModelId, ModelVersion, SchemaMigrator,
    SectionClassification, SkillCategory,
};
use jobenrich_storage_bigquery::{BigQuerySettings, BigQueryStore};
use std::time::Instant;

fn posting(prefix: &str, i: usize) -> JobPosting {
    JobPosting {
        job_posting_id: JobId::parse(format!("{prefix}-{i:06}")).unwrap(),
        title: format!("Data Engineer {i}"),
        company: Some("Acme".into()),
        location: Some("Berlin".into()),
        description: "We use Rust, Python, SQL, BigQuery and Kubernetes. ".repeat(20),
        posted_at: Some(Utc::now()),
        source: Some("bench".into()),
        url: None,
        ingested_at: Utc::now(),
    }
}

#[tokio::main]
async fn main() {
    let url = std::env::var("JOBENRICH_BQ_EMULATOR_URL")
        .expect("set JOBENRICH_BQ_EMULATOR_URL (scripts/bigquery-emulator.sh start)");
    let dataset = format!("measure_{}", uuid::Uuid::new_v4().simple());
    let store = BigQueryStore::connect(BigQuerySettings::emulator(&url, "test-proj", &dataset))
        .await
        .unwrap();
    store.migrate().await.unwrap();

    // 1. Batched insert throughput (staged: 500 rows per insertAll, then one MERGE).
    let rows = 10_000;
    let postings: Vec<JobPosting> = (0..rows).map(|i| posting("ins", i)).collect();
    let before = store.request_count();
    let started = Instant::now();
    let counts = store.insert_postings(&postings).await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(counts.inserted, rows as u64);
    println!(
        "insert_postings: {rows} rows ({} bytes of description each) in {secs:.2} s = {:.0} rows/s, {} requests",
        postings[0].description.len(),
        rows as f64 / secs,
        store.request_count() - before
    );

    // 2. Requests per 1,000 postings enriched, worker batches of 100.
    let version = EnrichmentVersion::parse("skills_extractor@v1.0").unwrap();
    let jobs: Vec<JobPosting> = (0..1000).map(|i| posting("enr", i)).collect();
    store.insert_postings(&jobs).await.unwrap();
    let before = store.request_count();
    let started = Instant::now();
    let ids: Vec<JobId> = jobs.iter().map(|p| p.job_posting_id.clone()).collect();
    store
        .enqueue_enrichments(&ids, EnrichmentType::SkillsExtraction, &version, Utc::now())
        .await
        .unwrap();
    let mut done = 0;
    let (mut skills_written, mut sections_written) = (0, 0);
    loop {
        let claimed = store
            .claim_enrichments(&ClaimRequest {
                enrichment_type: EnrichmentType::SkillsExtraction,
                enrichment_version: Some(version.clone()),
                owner: "bench-worker".into(),
                lease: Duration::minutes(5),
                limit: 100,
                max_attempts: 3,
                now: Utc::now(),
            })
            .await
            .unwrap();
        if claimed.is_empty() {
            break;
        }
        let outcomes: Vec<EnrichmentOutcome> = claimed
            .iter()
            .map(|e| EnrichmentOutcome {
                key: e.key(),
                lease_owner: "bench-worker".into(),
                result: EnrichmentResult::Success(EnrichmentSuccess {
                    metadata: Default::default(),
                    model_id: ModelId::parse("skills_extractor").unwrap(),
                    model_version: ModelVersion::parse("v1.0").unwrap(),
                    skills: (0..12)
                        .map(|k| ExtractedSkill {
                            skill_id: jobenrich_domain::Uuid::new_v4(),
                            enrichment_id: None,
                            job_posting_id: e.job_posting_id.clone(),
                            skill_name: format!("Skill {k}"),
                            skill_category: SkillCategory::ProgrammingLanguages,
                            confidence_score: 0.8,
                            source_strategies: vec![ExtractionStrategy::Lexicon],
                            section_relevance_score: Some(0.9),
                            extracted_from_section: Some("requirements".into()),
                            context_snippet: Some("we use Rust".into()),
                            position_in_text: Some(k),
                            mention_count: 1,
                            mention_spans: vec![],
                            taxonomy_ref: None,
                            taxonomy_links: Vec::new(),
                            enrichment_version: version.clone(),
                            created_at: Utc::now(),
                        })
                        .collect(),
                    sections: (0..4)
                        .map(|s| SectionClassification {
                            classification_id: jobenrich_domain::Uuid::new_v4(),
                            job_posting_id: e.job_posting_id.clone(),
                            section_index: s,
                            section_header: Some("Requirements".into()),
                            section_type: "requirements".into(),
                            section_text: "We use Rust, Python and SQL.".into(),
                            start_offset: s * 100,
                            end_offset: s * 100 + 50,
                            is_skills_relevant: true,
                            relevance_probability: 0.9,
                            classification_method: ClassificationMethod::RuleBased,
                            classifier_version: "rules-v1".into(),
                            created_at: Utc::now(),
                        })
                        .collect(),
                    embedding: None,
                }),
            })
            .collect();
        let report = store
            .complete_enrichments(&outcomes, Utc::now())
            .await
            .unwrap();
        done += report.succeeded;
        skills_written += report.skills_written;
        sections_written += report.sections_written;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "enrichment cycle: {done} postings enriched ({skills_written} skills, {sections_written} sections) \
         in {secs:.1} s with {} requests = {:.0} requests per 1,000 postings",
        store.request_count() - before,
        (store.request_count() - before) as f64 * 1000.0 / done as f64
    );
    store.delete_dataset().await.unwrap();
}
