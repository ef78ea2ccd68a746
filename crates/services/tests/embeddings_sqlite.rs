//! The `embeddings` enrichment on a real SQLite store: `run`'s preparation
//! passes the type over until an embeddings model is active, then the queue
//! embeds every posting beside its skills, and `similar` ranks by the
//! stored vectors. The encoder is a bag-of-words stand-in (the candle
//! encoder has its own reference-vector test).

use chrono::{DateTime, Utc};
use jobenrich_domain::{
    EncoderError, EnrichmentStatus, EnrichmentType, EnrichmentVersion, JobId, JobPosting,
    JobPostingRepository, ModelConfig, SchemaMigrator, SkillAlias, Store, TextEncoder,
};
use jobenrich_services::enrichment_pipeline::{
    ActiveModels, EnrichError, EnrichedPosting, EnricherFactory, EnrichmentPipeline,
    PipelineConfig, PipelinePorts, PostingEmbedder, PostingEnricher,
};
use jobenrich_services::enrichment_run::{prepare_run, run_to_completion, EnrichmentRunOptions};
use jobenrich_services::model_registry::load_model_file;
use jobenrich_services::posting_embedder::EncoderPostingEmbedder;
use jobenrich_services::shutdown::Shutdown;
use jobenrich_services::similar_jobs::{similar_jobs, SimilarError, SimilarPorts};
use jobenrich_storage_sqlite::SqliteStore;
use std::sync::Arc;

/// Words hashed into 32 buckets, unit length.
struct BagOfWords;

impl TextEncoder for BagOfWords {
    fn model_id(&self) -> &str {
        "bag-of-words"
    }
    fn dim(&self) -> usize {
        32
    }
    fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0.0f32; 32];
                for word in t.split_whitespace() {
                    let h = word
                        .to_lowercase()
                        .bytes()
                        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
                    v[(h % 32) as usize] += 1.0;
                }
                jobenrich_domain::encoder::l2_normalize(&mut v);
                v
            })
            .collect())
    }
}

struct NoSkills;

impl PostingEnricher for NoSkills {
    fn enrich(
        &self,
        _: &JobPosting,
        _: &EnrichmentVersion,
        _: DateTime<Utc>,
    ) -> Result<EnrichedPosting, EnrichError> {
        Ok(EnrichedPosting::default())
    }
}

struct Factory;

impl EnricherFactory for Factory {
    fn build(
        &self,
        _: &ActiveModels,
        _: &[SkillAlias],
    ) -> Result<Arc<dyn PostingEnricher>, String> {
        Ok(Arc::new(NoSkills))
    }
    fn build_embedder(&self, model: &ModelConfig) -> Result<Arc<dyn PostingEmbedder>, String> {
        Ok(Arc::new(EncoderPostingEmbedder::new(
            model,
            Arc::new(BagOfWords),
        )?))
    }
}

const TEXTS: [(&str, &str); 4] = [
    ("a", "rust developer tokio async services"),
    ("b", "rust developer async tokio backend"),
    ("c", "registered nurse patient care ward"),
    ("d", "nurse patient care night shifts"),
];

async fn store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    let store = SqliteStore::open(dir.path().join("embeddings.db")).unwrap();
    store.migrate().await.unwrap();
    let now = Utc::now();
    let postings: Vec<JobPosting> = TEXTS
        .iter()
        .map(|(id, text)| JobPosting {
            job_posting_id: JobId::parse(*id).unwrap(),
            title: "Job".into(),
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
    Arc::new(store)
}

fn options() -> EnrichmentRunOptions {
    EnrichmentRunOptions {
        types: vec![EnrichmentType::SkillsExtraction, EnrichmentType::Embeddings],
        engine_threads: 2,
        top_skills: 5,
        activated_by: "test".into(),
    }
}

/// `jobenrich run`'s drain of what `prepare_run` queued.
async fn run(
    store: &Arc<dyn Store>,
    pipeline: &Arc<EnrichmentPipeline>,
    queued: Vec<jobenrich_services::reenrichment::ReenrichReport>,
) -> jobenrich_services::enrichment_run::RunSummary {
    run_to_completion(
        store,
        pipeline.clone(),
        &options(),
        queued,
        None,
        &Shutdown::new(),
    )
    .await
    .unwrap()
}

fn shipped_embedder() -> ModelConfig {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../config/models/job_embedder-v1.0.yaml");
    load_model_file(&file, Utc::now()).unwrap()
}

#[tokio::test]
async fn embeddings_wait_for_an_active_model_then_every_posting_gets_a_vector_and_similar_ranks_by_it(
) {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let pipeline = Arc::new(EnrichmentPipeline::new(
        PipelinePorts::from_store(store.clone()),
        Arc::new(Factory),
        PipelineConfig::with_owner("embeddings-test"),
    ));

    // No embeddings model: the type is passed over, skills run.
    let (queued, _) = prepare_run(&store, &pipeline, &options()).await.unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    let summary = run(&store, &pipeline, queued).await;
    assert_eq!((summary.succeeded, summary.embeddings_written), (4, 0));
    assert!(matches!(
        similar_jobs(
            &SimilarPorts {
                embeddings: store.as_ref(),
                postings: store.as_ref(),
                models: store.as_ref()
            },
            &JobId::parse("a").unwrap(),
            None,
            3
        )
        .await,
        Err(SimilarError::NoEmbeddings)
    ));

    // The shipped model made active (its 384-dimension check is for the
    // real encoder, so this stand-in version drops it).
    let mut model = shipped_embedder();
    model.config_overrides.remove("encoder_dim");
    store.register_model(&model).await.unwrap();
    store
        .activate_model(&model.model_id, &model.version, "test", Utc::now())
        .await
        .unwrap();
    let (queued, due) = prepare_run(&store, &pipeline, &options()).await.unwrap();
    assert_eq!(due, 4, "every posting lacks a vector");
    let summary = run(&store, &pipeline, queued).await;
    assert_eq!((summary.succeeded, summary.embeddings_written), (4, 4));

    let version = model.enrichment_version();
    let counts = store.enrichment_status_counts().await.unwrap();
    assert!(counts
        .iter()
        .any(|c| c.enrichment_type == EnrichmentType::Embeddings
            && c.enrichment_version == version
            && c.status == EnrichmentStatus::Success
            && c.count == 4));
    let ids: Vec<JobId> = TEXTS
        .iter()
        .map(|(id, _)| JobId::parse(*id).unwrap())
        .collect();
    let stored = store.embeddings_for_jobs(&ids, &version).await.unwrap();
    assert_eq!(stored.len(), 4);
    assert!(stored.iter().all(|e| e.dimension() == 32
        && e.enrichment_id.is_some()
        && e.source_chars > 0
        && e.model_id == model.model_id));

    let ports = SimilarPorts {
        embeddings: store.as_ref(),
        postings: store.as_ref(),
        models: store.as_ref(),
    };
    let found = similar_jobs(&ports, &JobId::parse("a").unwrap(), None, 2)
        .await
        .unwrap();
    assert_eq!(found.compared, 3, "every other job, not the job itself");
    let order: Vec<&str> = found
        .similar
        .iter()
        .map(|s| s.job_posting_id.as_str())
        .collect();
    assert_eq!(order[0], "b", "{found:?}");
    assert!(found.similar[0].similarity > found.similar[1].similarity);
    assert_eq!(found.similar[0].title.as_deref(), Some("Job"));
    let nurse = similar_jobs(&ports, &JobId::parse("c").unwrap(), None, 1)
        .await
        .unwrap();
    assert_eq!(nurse.similar[0].job_posting_id.as_str(), "d");

    // A second run has nothing left to embed.
    let (_, due) = prepare_run(&store, &pipeline, &options()).await.unwrap();
    assert_eq!(due, 0);
    assert!(matches!(
        similar_jobs(&ports, &JobId::parse("zz").unwrap(), None, 1).await,
        Err(SimilarError::UnknownJob(_))
    ));
    assert!(matches!(
        similar_jobs(
            &ports,
            &JobId::parse("a").unwrap(),
            Some(EnrichmentVersion::parse("job_embedder@v9.9").unwrap()),
            1
        )
        .await,
        Err(SimilarError::UnknownVersion { .. })
    ));
}
