//! The enrichment pipeline against mockall mocks of the ports: which store
//! calls a batch makes, what it writes, and how failures are isolated.

use chrono::{DateTime, Duration, Utc};
use jobenrich_domain::{
    ClaimRequest, CompletionReport, EnrichmentOutcome, EnrichmentResult, EnrichmentStatus,
    EnrichmentType, EnrichmentVersion, ExtractedSkill, ExtractionStrategy, JobEnrichment, JobId,
    JobPosting, MockAliasRepository, MockEnrichmentRepository, MockJobPostingRepository,
    MockModelConfigRepository, ModelConfig, ModelId, ModelVersion, SkillAlias, SkillCategory,
    StoreError,
};
use jobenrich_services::enrichment_pipeline::{
    lost_lease_advice, ActiveModels, EnrichError, EnrichedPosting, EnricherFactory,
    EnrichmentPipeline, PipelineConfig, PipelineError, PipelinePorts, PostingEnricher,
};
use jobenrich_services::reenrichment::queue_missing_enrichments;
use std::sync::{Arc, Mutex};

const OWNER: &str = "test-worker";

fn id(s: &str) -> JobId {
    JobId::parse(s).unwrap()
}

fn model(model_id: &str, t: EnrichmentType, version: &str) -> ModelConfig {
    let mut m = ModelConfig::new(
        ModelId::parse(model_id).unwrap(),
        t,
        ModelVersion::parse(version).unwrap(),
        Utc::now(),
    );
    m.is_active = true;
    m
}

fn skills_version() -> EnrichmentVersion {
    EnrichmentVersion::parse("skills_extractor@v2.0").unwrap()
}

fn posting(job: &str, description: &str) -> JobPosting {
    JobPosting {
        job_posting_id: id(job),
        title: "Engineer".into(),
        company: None,
        location: None,
        description: description.into(),
        posted_at: None,
        source: None,
        url: None,
        ingested_at: Utc::now(),
    }
}

fn claimed(job: &str, attempts: u32) -> JobEnrichment {
    let mut e = JobEnrichment::pending(
        id(job),
        EnrichmentType::SkillsExtraction,
        skills_version(),
        Utc::now(),
    );
    e.status = EnrichmentStatus::Processing;
    e.attempts = attempts;
    e.lease_owner = Some(OWNER.into());
    e
}

/// Finds "rust" in the text; fails on "POISON", panics on "PANIC".
struct KeywordEnricher;

impl PostingEnricher for KeywordEnricher {
    fn enrich(
        &self,
        posting: &JobPosting,
        skills_version: &EnrichmentVersion,
        now: DateTime<Utc>,
    ) -> Result<EnrichedPosting, EnrichError> {
        if posting.description.contains("POISON") {
            return Err(EnrichError::permanent(
                "input exceeds the configured maximum size",
            ));
        }
        if posting.description.contains("PANIC") {
            panic!("boom");
        }
        let skills = posting
            .description
            .contains("rust")
            .then(|| ExtractedSkill {
                skill_id: jobenrich_domain::Uuid::new_v4(),
                enrichment_id: None,
                job_posting_id: posting.job_posting_id.clone(),
                skill_name: "Rust".into(),
                skill_category: SkillCategory::ProgrammingLanguages,
                confidence_score: 0.9,
                source_strategies: vec![ExtractionStrategy::Lexicon],
                section_relevance_score: None,
                extracted_from_section: None,
                context_snippet: None,
                position_in_text: Some(0),
                mention_count: 1,
                mention_spans: vec![],
                taxonomy_ref: None,
                taxonomy_links: Vec::new(),
                enrichment_version: skills_version.clone(),
                created_at: now,
            })
            .into_iter()
            .collect();
        Ok(EnrichedPosting {
            sections: Vec::new(),
            skills,
        })
    }
}

#[derive(Default)]
struct CountingFactory {
    builds: Mutex<Vec<(ActiveModels, usize)>>,
}

impl EnricherFactory for CountingFactory {
    fn build(
        &self,
        models: &ActiveModels,
        aliases: &[SkillAlias],
    ) -> Result<Arc<dyn PostingEnricher>, String> {
        self.builds
            .lock()
            .unwrap()
            .push((models.clone(), aliases.len()));
        Ok(Arc::new(KeywordEnricher))
    }
}

fn models_with_active_skills_model() -> MockModelConfigRepository {
    let mut models = MockModelConfigRepository::new();
    // Both types asked in one read; only the skills extractor is active.
    models.expect_active_models_for_types().returning(|types| {
        assert!(types.contains(&EnrichmentType::SectionClassification));
        Ok(vec![model(
            "skills_extractor",
            EnrichmentType::SkillsExtraction,
            "v2.0",
        )])
    });
    models
}

fn aliases_none() -> MockAliasRepository {
    let mut aliases = MockAliasRepository::new();
    aliases.expect_list_aliases().returning(|_| Ok(Vec::new()));
    aliases
}

fn pipeline(
    enrichments: MockEnrichmentRepository,
    postings: MockJobPostingRepository,
    models: MockModelConfigRepository,
    factory: Arc<CountingFactory>,
) -> Arc<EnrichmentPipeline> {
    let mut config = PipelineConfig::with_owner(OWNER);
    config.batch_size = 10;
    config.max_attempts = 3;
    config.retry_backoff = Duration::seconds(10);
    Arc::new(EnrichmentPipeline::new(
        PipelinePorts {
            enrichments: Arc::new(enrichments),
            postings: Arc::new(postings),
            models: Arc::new(models),
            aliases: Arc::new(aliases_none()),
        },
        factory,
        config,
    ))
}

#[tokio::test]
async fn a_batch_is_one_claim_one_read_and_one_write_and_a_poison_posting_fails_alone() {
    let mut enrichments = MockEnrichmentRepository::new();
    enrichments
        .expect_claim_enrichments()
        .times(1)
        .withf(|r: &ClaimRequest| {
            r.enrichment_type == EnrichmentType::SkillsExtraction
                && r.enrichment_version == Some(skills_version())
                && r.owner == OWNER
                && r.limit == 10
        })
        .returning(|_| {
            Ok(vec![
                claimed("a", 1),
                claimed("poison", 1),
                claimed("b", 1),
                claimed("panics", 3),
                claimed("gone", 1),
            ])
        });
    let written: Arc<Mutex<Vec<EnrichmentOutcome>>> = Arc::default();
    let sink = written.clone();
    enrichments
        .expect_complete_enrichments_owned()
        .times(1)
        .returning(move |outcomes, _| {
            sink.lock().unwrap().extend(outcomes);
            Ok(CompletionReport {
                succeeded: 2,
                failed: 3,
                skills_written: 2,
                ..CompletionReport::default()
            })
        });
    enrichments.expect_release_enrichments().never();
    let mut postings = MockJobPostingRepository::new();
    postings
        .expect_get_postings()
        .times(1)
        .withf(|ids: &[JobId]| ids.len() == 5)
        .returning(|_| {
            Ok(vec![
                posting("a", "we use rust"),
                posting("b", "rust and more rust"),
                posting("panics", "PANIC"),
                posting("poison", "POISON"),
            ])
        });
    let factory = Arc::new(CountingFactory::default());
    let p = pipeline(
        enrichments,
        postings,
        models_with_active_skills_model(),
        factory.clone(),
    );

    let report = p
        .process_batch(EnrichmentType::SkillsExtraction)
        .await
        .unwrap();
    assert_eq!(report.claimed, 5);
    assert_eq!((report.succeeded, report.failed), (2, 3));

    let written = written.lock().unwrap();
    let by_job = |job: &str| {
        written
            .iter()
            .find(|o| o.key.job_posting_id.as_str() == job)
            .unwrap()
            .clone()
    };
    for job in ["a", "b"] {
        let EnrichmentResult::Success(s) = by_job(job).result else {
            panic!("{job} should succeed");
        };
        assert_eq!(s.model_id.as_str(), "skills_extractor");
        assert_eq!(s.model_version.as_str(), "v2.0");
        assert_eq!(s.skills.len(), 1);
        assert_eq!(s.skills[0].enrichment_version, skills_version());
    }
    let EnrichmentResult::Failure {
        error_message,
        retry_at,
        retryable,
    } = by_job("poison").result
    else {
        panic!("poison should fail");
    };
    assert!(
        error_message.contains("job poison") && error_message.contains("maximum size"),
        "{error_message}"
    );
    assert_eq!(
        (retry_at, retryable),
        (None, false),
        "a refused input is not retried, though attempt 1 of 3"
    );
    let EnrichmentResult::Failure {
        error_message,
        retry_at,
        retryable,
    } = by_job("panics").result
    else {
        panic!("a panicking posting should fail");
    };
    assert!(error_message.contains("panicked: boom"), "{error_message}");
    assert!(retryable, "a panic may pass with another model");
    assert_eq!(retry_at, None, "the last attempt becomes a dead letter");
    let EnrichmentResult::Failure {
        error_message,
        retryable,
        ..
    } = by_job("gone").result
    else {
        panic!("a missing posting should fail");
    };
    assert!(error_message.contains("not found"), "{error_message}");
    assert!(!retryable, "a deleted posting cannot be found next time");
    assert!(written.iter().all(|o| o.lease_owner == OWNER));
    assert_eq!(factory.builds.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_empty_queue_claims_nothing_and_writes_nothing() {
    let mut enrichments = MockEnrichmentRepository::new();
    enrichments
        .expect_claim_enrichments()
        .times(2)
        .returning(|_| Ok(Vec::new()));
    enrichments.expect_complete_enrichments().never();
    enrichments.expect_complete_enrichments_owned().never();
    let mut postings = MockJobPostingRepository::new();
    postings.expect_get_postings().never();
    let factory = Arc::new(CountingFactory::default());
    let p = pipeline(
        enrichments,
        postings,
        models_with_active_skills_model(),
        factory.clone(),
    );
    for _ in 0..2 {
        let report = p
            .process_batch(EnrichmentType::SkillsExtraction)
            .await
            .unwrap();
        assert_eq!(report.claimed, 0);
    }
    assert_eq!(
        factory.builds.lock().unwrap().len(),
        1,
        "the engine is built once and reused while models are unchanged"
    );
}

#[tokio::test]
async fn without_an_active_model_nothing_is_claimed() {
    let mut enrichments = MockEnrichmentRepository::new();
    enrichments.expect_claim_enrichments().never();
    let mut models = MockModelConfigRepository::new();
    models
        .expect_active_models_for_types()
        .returning(|_| Ok(Vec::new()));
    let p = pipeline(
        enrichments,
        MockJobPostingRepository::new(),
        models,
        Arc::new(CountingFactory::default()),
    );
    let err = p
        .process_batch(EnrichmentType::SkillsExtraction)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        PipelineError::NoActiveModel(EnrichmentType::SkillsExtraction)
    ));
    assert!(
        err.to_string().contains("jobenrich models activate"),
        "{err}"
    );
}

#[tokio::test]
async fn a_failed_write_releases_the_batch_instead_of_waiting_for_the_lease() {
    let mut enrichments = MockEnrichmentRepository::new();
    enrichments
        .expect_claim_enrichments()
        .returning(|_| Ok(vec![claimed("a", 1), claimed("b", 1)]));
    enrichments
        .expect_complete_enrichments_owned()
        .returning(|_, _| Err(StoreError::Transient("database is locked".into())));
    enrichments
        .expect_release_enrichments()
        .times(1)
        .withf(|keys, owner, _| keys.len() == 2 && owner == OWNER)
        .returning(|keys, _, _| Ok(keys.len() as u64));
    let mut postings = MockJobPostingRepository::new();
    postings
        .expect_get_postings()
        .returning(|_| Ok(vec![posting("a", "rust"), posting("b", "rust")]));
    let p = pipeline(
        enrichments,
        postings,
        models_with_active_skills_model(),
        Arc::new(CountingFactory::default()),
    );
    let err = p
        .process_batch(EnrichmentType::SkillsExtraction)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("database is locked"), "{err}");
}

#[test]
fn retries_back_off_exponentially_until_attempts_are_used_up() {
    let mut c = PipelineConfig::with_owner("w");
    c.max_attempts = 4;
    c.retry_backoff = Duration::seconds(10);
    c.max_retry_backoff = Duration::seconds(25);
    let now = Utc::now();
    assert_eq!(c.retry_at(1, now), Some(now + Duration::seconds(10)));
    assert_eq!(c.retry_at(2, now), Some(now + Duration::seconds(20)));
    assert_eq!(c.retry_at(3, now), Some(now + Duration::seconds(25)));
    assert_eq!(c.retry_at(4, now), None);
}

#[test]
fn lost_leases_name_the_setting_that_prevents_them() {
    let advice = lost_lease_advice(
        50,
        Duration::seconds(60),
        std::time::Duration::from_millis(48_300),
    );
    for part in [
        "50 result(s)",
        "lease of 60 s",
        "took 48.3 s",
        "worker.lease_seconds",
    ] {
        assert!(advice.contains(part), "{part:?} not in {advice:?}");
    }
}

#[tokio::test]
async fn reenrichment_queues_exactly_the_anti_join() {
    let version = skills_version();
    let mut enrichments = MockEnrichmentRepository::new();
    enrichments
        .expect_find_jobs_needing_enrichment()
        .times(1)
        .withf(move |t, v, _| *t == EnrichmentType::SkillsExtraction && *v == skills_version())
        .returning(|_, _, _| Ok(vec![id("a"), id("c"), id("d")]));
    enrichments
        .expect_enqueue_enrichments()
        .times(1)
        .withf(|ids, _, v, _| {
            ids.iter().map(JobId::as_str).collect::<Vec<_>>() == ["a", "c", "d"]
                && *v == skills_version()
        })
        // "d" already had a failed row at this version.
        .returning(|_, _, _, _| Ok(2));
    let report = queue_missing_enrichments(
        &enrichments,
        EnrichmentType::SkillsExtraction,
        &version,
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(
        (report.needing, report.newly_queued, report.already_queued),
        (3, 2, 1)
    );
}
