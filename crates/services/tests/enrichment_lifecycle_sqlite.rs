//! The enrichment lifecycle on a real SQLite store with a stand-in engine:
//! drain to completion, retries until dead letters, idempotent re-runs,
//! re-enrichment after a model version change and pruning of old versions.

use chrono::{DateTime, Duration, Utc};
use jobenrich_domain::{
    EnrichmentStatus, EnrichmentType, EnrichmentVersion, ExtractedSkill, ExtractionStrategy, JobId,
    JobPosting, JobPostingRepository, ModelConfig, ModelId, ModelVersion, SchemaMigrator,
    SkillAlias, SkillCategory, Store,
};
use jobenrich_services::enrichment_pipeline::{
    ActiveModels, EnrichError, EnrichedPosting, EnricherFactory, EnrichmentPipeline,
    PipelineConfig, PipelineError, PipelinePorts, PostingEnricher,
};
use jobenrich_services::enrichment_runner::{drain, BatchObserver};
use jobenrich_services::enrichment_status::status_report;
use jobenrich_services::reenrichment::{
    ensure_active_models, prune_old_versions, queue_missing_enrichments, queue_never_queued,
};
use jobenrich_storage_sqlite::SqliteStore;
use std::sync::Arc;

const SKILLS: [EnrichmentType; 1] = [EnrichmentType::SkillsExtraction];

/// One skill per word `rust` / `sql` in the text; fails on `POISON` (as a
/// fault that may pass next time) and on `REFUSED` (finally, as the engine
/// refuses an oversized input).
struct WordEnricher;

impl PostingEnricher for WordEnricher {
    fn enrich(
        &self,
        posting: &JobPosting,
        version: &EnrichmentVersion,
        now: DateTime<Utc>,
    ) -> Result<EnrichedPosting, EnrichError> {
        if posting.description.contains("POISON") {
            return Err(EnrichError::retryable("the engine hit a fault"));
        }
        if posting.description.contains("REFUSED") {
            return Err(EnrichError::permanent("input exceeds max_input_chars"));
        }
        let skills = [("rust", "Rust"), ("sql", "SQL")]
            .iter()
            .filter(|(word, _)| posting.description.contains(word))
            .map(|(_, name)| ExtractedSkill {
                skill_id: jobenrich_domain::Uuid::new_v4(),
                enrichment_id: None,
                job_posting_id: posting.job_posting_id.clone(),
                skill_name: (*name).into(),
                skill_category: SkillCategory::ProgrammingLanguages,
                confidence_score: 0.8,
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
            .collect();
        Ok(EnrichedPosting {
            sections: Vec::new(),
            skills,
        })
    }
}

struct WordEnricherFactory;

impl EnricherFactory for WordEnricherFactory {
    fn build(
        &self,
        _: &ActiveModels,
        _: &[SkillAlias],
    ) -> Result<Arc<dyn PostingEnricher>, String> {
        Ok(Arc::new(WordEnricher))
    }
}

async fn store_with_postings(dir: &tempfile::TempDir, texts: &[&str]) -> Arc<dyn Store> {
    let store = SqliteStore::open(dir.path().join("lifecycle.db")).unwrap();
    store.migrate().await.unwrap();
    let now = Utc::now();
    let postings: Vec<JobPosting> = texts
        .iter()
        .enumerate()
        .map(|(n, text)| JobPosting {
            job_posting_id: JobId::parse(format!("job-{n:03}")).unwrap(),
            title: "Engineer".into(),
            company: None,
            location: None,
            description: (*text).into(),
            posted_at: None,
            source: None,
            url: None,
            ingested_at: now,
        })
        .collect();
    store.insert_postings(&postings).await.unwrap();
    ensure_active_models(&store, &SKILLS, "test", now)
        .await
        .unwrap();
    Arc::new(store)
}

fn pipeline(store: &Arc<dyn Store>) -> Arc<EnrichmentPipeline> {
    let mut config = PipelineConfig::with_owner("lifecycle-test");
    config.batch_size = 7;
    config.max_attempts = 2;
    config.retry_backoff = Duration::zero();
    Arc::new(EnrichmentPipeline::new(
        PipelinePorts::from_store(store.clone()),
        Arc::new(WordEnricherFactory),
        config,
    ))
}

async fn queue_all(store: &Arc<dyn Store>, p: &EnrichmentPipeline) -> EnrichmentVersion {
    let version = p
        .current_version(EnrichmentType::SkillsExtraction)
        .await
        .unwrap();
    queue_missing_enrichments(
        store.as_ref(),
        EnrichmentType::SkillsExtraction,
        &version,
        Utc::now(),
    )
    .await
    .unwrap();
    version
}

#[tokio::test]
async fn drain_retries_failures_until_they_become_dead_letters_and_reruns_do_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut texts = vec!["rust and sql"; 30];
    texts[4] = "POISON rust";
    texts[9] = "REFUSED rust";
    texts[17] = "POISON sql";
    let store = store_with_postings(&dir, &texts).await;
    let p = pipeline(&store);
    let version = queue_all(&store, &p).await;

    let totals = drain(p.clone(), &SKILLS, 2, None).await.unwrap();
    assert_eq!(totals.succeeded, 27);
    assert_eq!(
        totals.failed, 5,
        "each poison posting tried max_attempts = 2 times, the refused one once"
    );
    assert_eq!(totals.processed, 32);
    assert_eq!(totals.skills_written, 54);

    let report = status_report(store.as_ref(), 2, 10).await.unwrap();
    let mut dead: Vec<(&str, u32)> = report
        .dead_letters
        .iter()
        .map(|d| (d.job_posting_id.as_str(), d.attempts))
        .collect();
    dead.sort();
    assert_eq!(dead, [("job-004", 2), ("job-009", 1), ("job-017", 2)]);
    let refused = report
        .dead_letters
        .iter()
        .find(|d| d.job_posting_id.as_str() == "job-009")
        .unwrap();
    let message = refused.error_message.as_deref().unwrap();
    assert!(
        message.contains("max_input_chars") && message.contains("not retried"),
        "{message}"
    );
    let success = report
        .counts
        .iter()
        .find(|c| c.status == EnrichmentStatus::Success && c.enrichment_version == version)
        .unwrap();
    assert_eq!(success.count, 27);
    assert_eq!(report.oldest_pending, None);

    let again = drain(p, &SKILLS, 2, None).await.unwrap();
    assert_eq!(again.processed, 0, "nothing is due after a complete run");
    let job = JobId::parse("job-000").unwrap();
    assert_eq!(
        store
            .skills_for_job(&job, Some(version))
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn postings_stored_but_never_queued_are_queued_by_the_repair_and_only_they() {
    let dir = tempfile::tempdir().unwrap();
    // Ten postings stored, as an ingest killed before its queueing write leaves them.
    let store = store_with_postings(&dir, &["rust"; 10]).await;
    let p = pipeline(&store);
    let v1 = p
        .current_version(EnrichmentType::SkillsExtraction)
        .await
        .unwrap();
    let now = Utc::now();
    let queued_ids: Vec<JobId> = (0..4)
        .map(|n| JobId::parse(format!("job-{n:03}")).unwrap())
        .collect();
    store
        .enqueue_enrichments(&queued_ids, EnrichmentType::SkillsExtraction, &v1, now)
        .await
        .unwrap();
    drain(p.clone(), &SKILLS, 1, None).await.unwrap();

    // A new version is active: jobs with a v1 result are re-enrichment, not repair.
    let v2_model = ModelConfig::new(
        ModelId::parse("skills_extractor").unwrap(),
        EnrichmentType::SkillsExtraction,
        ModelVersion::parse("v1.1").unwrap(),
        now,
    );
    store.register_model(&v2_model).await.unwrap();
    store
        .activate_model(&v2_model.model_id, &v2_model.version, "test", now)
        .await
        .unwrap();

    let repaired = queue_never_queued(store.as_ref(), store.as_ref(), &SKILLS, now)
        .await
        .unwrap();
    assert_eq!(repaired.len(), 1);
    assert_eq!(
        repaired[0].enrichment_version.as_ref().unwrap().as_str(),
        "skills_extractor@v1.1"
    );
    assert_eq!((repaired[0].needing, repaired[0].newly_queued), (6, 6));
    let again = queue_never_queued(store.as_ref(), store.as_ref(), &SKILLS, now)
        .await
        .unwrap();
    assert_eq!(again[0].newly_queued, 0, "the repair is idempotent");
    let first = store
        .enrichments_for_job(&JobId::parse("job-000").unwrap())
        .await
        .unwrap();
    assert_eq!(
        first.len(),
        1,
        "a job with a v1 result is not requeued: {first:?}"
    );
}

#[tokio::test]
async fn a_new_model_version_requeues_exactly_the_jobs_without_a_result_and_prune_drops_the_old() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_postings(&dir, &["rust"; 12]).await;
    let p = pipeline(&store);
    let v1 = queue_all(&store, &p).await;
    drain(p.clone(), &SKILLS, 1, None).await.unwrap();

    let now = Utc::now();
    let mut v2_model = ModelConfig::new(
        ModelId::parse("skills_extractor").unwrap(),
        EnrichmentType::SkillsExtraction,
        ModelVersion::parse("v1.1").unwrap(),
        now,
    );
    v2_model
        .config_overrides
        .insert("min_confidence".into(), serde_json::json!(0.5));
    store.register_model(&v2_model).await.unwrap();
    store
        .activate_model(&v2_model.model_id, &v2_model.version, "test", now)
        .await
        .unwrap();
    let v2 = p
        .current_version(EnrichmentType::SkillsExtraction)
        .await
        .unwrap();
    assert_eq!(v2.as_str(), "skills_extractor@v1.1");

    let queued =
        queue_missing_enrichments(store.as_ref(), EnrichmentType::SkillsExtraction, &v2, now)
            .await
            .unwrap();
    assert_eq!((queued.needing, queued.newly_queued), (12, 12));
    let totals = drain(p.clone(), &SKILLS, 2, None).await.unwrap();
    assert_eq!(totals.succeeded, 12);
    let requeued =
        queue_missing_enrichments(store.as_ref(), EnrichmentType::SkillsExtraction, &v2, now)
            .await
            .unwrap();
    assert_eq!(
        requeued.needing, 0,
        "the anti-join is empty once v1.1 is done"
    );

    let job = JobId::parse("job-003").unwrap();
    assert_eq!(
        store
            .skills_for_job(&job, Some(v1.clone()))
            .await
            .unwrap()
            .len(),
        1,
        "old results stay queryable by version"
    );
    let enrichments = store.enrichments_for_job(&job).await.unwrap();
    assert!(enrichments
        .iter()
        .all(|e| e.status == EnrichmentStatus::Success
            && e.model_id.as_ref().map(ModelId::as_str) == Some("skills_extractor")));

    let pruned = prune_old_versions(
        store.as_ref(),
        store.as_ref(),
        store.as_ref(),
        store.as_ref(),
        1,
    )
    .await
    .unwrap();
    assert_eq!(pruned.pruned_skill_versions, [v1.to_string()]);
    assert_eq!(pruned.skills_deleted, 12);
    assert!(store
        .skills_for_job(&job, Some(v1))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.skills_for_job(&job, Some(v2)).await.unwrap().len(), 1);
}

/// A write stage that dies (here its observer panics, as a log line to a
/// closed stderr once made it do) stops the run with an error. Before, the
/// other stages went on claiming, enriching and releasing the same batches
/// for ever.
#[tokio::test]
async fn a_run_whose_writer_dies_stops_with_an_error_and_leaves_nothing_leased() {
    let dir = tempfile::tempdir().unwrap();
    let texts = vec!["rust and sql"; 60];
    let store = store_with_postings(&dir, &texts).await;
    let p = pipeline(&store);
    let version = queue_all(&store, &p).await;
    let observer: BatchObserver = Arc::new(|_| panic!("the observer failed"));

    let ended = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        drain(p.clone(), &SKILLS, 2, Some(observer)),
    )
    .await
    .expect("the run stops instead of claiming for ever");
    let err = ended.expect_err("a dead writer is the run's error");
    assert!(matches!(err, PipelineError::WorkerThread(_)), "{err}");

    let report = status_report(store.as_ref(), 2, 10).await.unwrap();
    let count = |status| {
        report
            .counts
            .iter()
            .filter(|c| c.status == status && c.enrichment_version == version)
            .map(|c| c.count)
            .sum::<u64>()
    };
    // The batch written before the observer ran; the rest handed back.
    assert_eq!(count(EnrichmentStatus::Success), 7);
    assert_eq!(count(EnrichmentStatus::Processing), 0);
    assert_eq!(count(EnrichmentStatus::Pending), 53);
}
