//! The enrichment pipeline: lease a batch of pending enrichments, run section
//! classification then skills extraction (or, for `embeddings`, the text
//! encoder) on a blocking (CPU) thread with the active model configs, and hand
//! every result back in one store call.
//!
//! Per batch the store sees exactly three calls: `claim_enrichments`,
//! `get_postings` and `complete_enrichments` — never one per row. A posting
//! that makes the engine fail (or panic) fails alone; its neighbours succeed.

use chrono::{DateTime, Duration, Utc};
use jobenrich_domain::{
    AliasRepository, ClaimRequest, CompletionPlan, EnrichmentKey, EnrichmentOutcome,
    EnrichmentRepository, EnrichmentResult, EnrichmentSuccess, EnrichmentType, EnrichmentVersion,
    ExtractedSkill, JobEmbedding, JobEnrichment, JobId, JobPosting, JobPostingRepository,
    ModelConfig, ModelConfigRepository, PlannedOutcomes, SectionClassification, SkillAlias,
    StoreError,
};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Enrichment types this pipeline knows how to produce.
pub const PIPELINE_TYPES: [EnrichmentType; 3] = [
    EnrichmentType::SkillsExtraction,
    EnrichmentType::SectionClassification,
    EnrichmentType::Embeddings,
];

/// What the engine produced for one posting.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnrichedPosting {
    pub sections: Vec<SectionClassification>,
    pub skills: Vec<ExtractedSkill>,
}

/// Why one posting was not enriched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrichError {
    pub message: String,
    /// `false` when another attempt with the same model cannot succeed (the
    /// input is refused): the enrichment becomes a dead letter at once.
    pub retryable: bool,
}

impl EnrichError {
    /// A failure that may pass on another attempt.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure that repeats on every attempt at this version.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
        }
    }
}

/// Turns one posting into its sections and skills: the CPU-bound step.
/// Built once per set of active models and reused across batches.
pub trait PostingEnricher: Send + Sync {
    /// `skills_version` is the version every returned skill must carry.
    fn enrich(
        &self,
        posting: &JobPosting,
        skills_version: &EnrichmentVersion,
        now: DateTime<Utc>,
    ) -> Result<EnrichedPosting, EnrichError>;

    /// Called with a batch's postings before they are enriched one by one,
    /// for work shared across postings (ranking skill phrases against the
    /// taxonomy). An error here is not the postings' failure: `enrich` meets
    /// it again and reports it per posting.
    fn prepare_batch(&self, _postings: &[&JobPosting]) {}
}

/// Turns postings into vectors (`embeddings` enrichments): one call per
/// batch, since encoders are far faster on batches.
pub trait PostingEmbedder: Send + Sync {
    /// One result per posting, in order: the unit vector and how many
    /// characters of posting text it was computed from. A posting's error
    /// fails only that posting.
    fn embed(&self, postings: &[&JobPosting]) -> Vec<Result<(Vec<f32>, u32), EnrichError>>;
}

/// The active model configs a batch runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveModels {
    pub skills: ModelConfig,
    /// The active section classifier, when one is registered; otherwise the
    /// engine's built-in section rules apply.
    pub sections: Option<ModelConfig>,
    /// The active `embeddings` model, when one is registered and activated
    /// (none is by default: it needs `scripts/setup-models.sh`).
    pub embeddings: Option<ModelConfig>,
}

impl ActiveModels {
    /// What the engine is built from: versions and parameter overrides (not
    /// timestamps or metrics, which change without changing the engine).
    fn engine_inputs_equal(&self, other: &ActiveModels) -> bool {
        fn same(a: &ModelConfig, b: &ModelConfig) -> bool {
            a.model_id == b.model_id
                && a.version == b.version
                && a.config_overrides == b.config_overrides
        }
        same(&self.skills, &other.skills)
            && match (&self.sections, &other.sections) {
                (Some(a), Some(b)) => same(a, b),
                (None, None) => true,
                _ => false,
            }
    }

    /// The model whose version an enrichment of this type is recorded at.
    pub fn model_for(&self, enrichment_type: EnrichmentType) -> Option<&ModelConfig> {
        match enrichment_type {
            EnrichmentType::SkillsExtraction => Some(&self.skills),
            EnrichmentType::SectionClassification => self.sections.as_ref(),
            EnrichmentType::Embeddings => self.embeddings.as_ref(),
            EnrichmentType::Clustering => None,
        }
    }
}

/// Builds an enricher for a set of active models and aliases.
pub trait EnricherFactory: Send + Sync {
    fn build(
        &self,
        models: &ActiveModels,
        aliases: &[SkillAlias],
    ) -> Result<Arc<dyn PostingEnricher>, String>;

    /// The embedder of an `embeddings` model version. A factory without a
    /// text encoder refuses, naming what is missing.
    fn build_embedder(&self, model: &ModelConfig) -> Result<Arc<dyn PostingEmbedder>, String> {
        Err(format!(
            "{} needs a text encoder, which this process was not given",
            model.enrichment_version()
        ))
    }
}

/// Errors that stop a batch as a whole (a single posting's failure never does).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no active {0} model: register one and activate it (`jobenrich models register FILE`, `jobenrich models activate MODEL_ID VERSION`)")]
    NoActiveModel(EnrichmentType),
    #[error("{0} enrichments are not produced by this pipeline (it produces skills_extraction, section_classification and embeddings)")]
    UnsupportedType(EnrichmentType),
    #[error("building the enrichment engine for {version}: {reason}")]
    EngineBuild { version: String, reason: String },
    #[error("an enrichment worker thread failed: {0}")]
    WorkerThread(String),
}

/// How the pipeline leases and retries work.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    /// Lease holder name written on claimed rows (host + pid; never a secret).
    pub owner: String,
    pub batch_size: usize,
    pub lease: Duration,
    /// After this many attempts a failure stays `failed` (a dead letter).
    pub max_attempts: u32,
    /// First retry delay; doubles with each attempt up to `max_retry_backoff`.
    pub retry_backoff: Duration,
    pub max_retry_backoff: Duration,
    /// How often aliases are re-read so edits reach a long-running worker.
    pub alias_refresh: Duration,
}

impl PipelineConfig {
    /// Defaults suited to one process on a small machine.
    pub fn with_owner(owner: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            batch_size: 256,
            lease: Duration::seconds(300),
            max_attempts: 3,
            retry_backoff: Duration::seconds(30),
            max_retry_backoff: Duration::seconds(3600),
            alias_refresh: Duration::seconds(30),
        }
    }

    /// When a failure at this attempt number may be retried; `None` once the
    /// attempts are used up (the row stays failed: a dead letter).
    pub fn retry_at(&self, attempts: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if attempts >= self.max_attempts {
            return None;
        }
        let doublings = attempts.saturating_sub(1).min(20);
        let delay = self
            .retry_backoff
            .checked_mul(1 << doublings)
            .unwrap_or(self.max_retry_backoff)
            .min(self.max_retry_backoff);
        Some(now + delay)
    }
}

/// What an operator reads when results were dropped because their leases
/// ran out first: the one setting that prevents it, and how close the batch
/// came to it (results are retried, so nothing is lost but the work).
pub fn lost_lease_advice(lost: usize, lease: Duration, batch: std::time::Duration) -> String {
    format!(
        "{lost} result(s) dropped: their lease of {} s ran out before they were written \
         (this batch took {:.1} s; the enrichments go back to the queue or to another \
         worker); if batches or the store's write cycles come near the lease, raise \
         worker.lease_seconds",
        lease.num_seconds(),
        batch.as_secs_f64()
    )
}

/// A lease holder name unique to this process: `<hostname>:<pid>`.
pub fn process_owner_name(prefix: &str) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    format!("{prefix}@{host}:{}", std::process::id())
}

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchReport {
    pub enrichment_type: Option<EnrichmentType>,
    pub enrichment_version: Option<EnrichmentVersion>,
    pub claimed: usize,
    pub succeeded: u64,
    pub failed: u64,
    /// Results dropped because the lease had been lost (another worker holds the job).
    pub lost_leases: usize,
    pub skills_written: u64,
    pub sections_written: u64,
    pub embeddings_written: u64,
    pub elapsed: std::time::Duration,
    /// Where the batch's time went.
    pub timings: BatchTimings,
}

/// Wall time of each step of a batch (claim + postings read, engine, results write).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchTimings {
    pub claim_and_read: std::time::Duration,
    pub enrich: std::time::Duration,
    pub write: std::time::Duration,
}

impl BatchReport {
    pub fn postings_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.claimed as f64 / secs
        } else {
            0.0
        }
    }
}

/// The ports the pipeline uses; a full `Store` provides all of them.
#[derive(Clone)]
pub struct PipelinePorts {
    pub enrichments: Arc<dyn EnrichmentRepository>,
    pub postings: Arc<dyn JobPostingRepository>,
    pub models: Arc<dyn ModelConfigRepository>,
    pub aliases: Arc<dyn AliasRepository>,
}

impl PipelinePorts {
    pub fn from_store(store: Arc<dyn jobenrich_domain::Store>) -> Self {
        Self {
            enrichments: store.clone(),
            postings: store.clone(),
            models: store.clone(),
            aliases: store,
        }
    }
}

struct CachedEnricher {
    models: ActiveModels,
    aliases: Vec<SkillAlias>,
    aliases_read_at: DateTime<Utc>,
    enricher: Arc<dyn PostingEnricher>,
}

/// Runs batches of enrichments. Cheap to share (`Arc`) between batch loops.
pub struct EnrichmentPipeline {
    ports: PipelinePorts,
    factory: Arc<dyn EnricherFactory>,
    config: PipelineConfig,
    cached: Mutex<Option<Arc<CachedEnricher>>>,
    /// The embedder of the active `embeddings` model, built on first use.
    embedder: Mutex<Option<(ModelConfig, Arc<dyn PostingEmbedder>)>>,
}

impl EnrichmentPipeline {
    pub fn new(
        ports: PipelinePorts,
        factory: Arc<dyn EnricherFactory>,
        config: PipelineConfig,
    ) -> Self {
        Self {
            ports,
            factory,
            config,
            cached: Mutex::new(None),
            embedder: Mutex::new(None),
        }
    }

    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    pub fn ports(&self) -> &PipelinePorts {
        &self.ports
    }

    /// The active skills extractor and section classifier (one store read).
    pub async fn active_models(&self) -> Result<ActiveModels, PipelineError> {
        let models = self
            .ports
            .models
            .active_models_for_types(&[
                EnrichmentType::SkillsExtraction,
                EnrichmentType::SectionClassification,
                EnrichmentType::Embeddings,
            ])
            .await?;
        let of = |t: EnrichmentType| models.iter().find(|m| m.model_type == t).cloned();
        let skills = of(EnrichmentType::SkillsExtraction).ok_or(PipelineError::NoActiveModel(
            EnrichmentType::SkillsExtraction,
        ))?;
        let sections = of(EnrichmentType::SectionClassification);
        let embeddings = of(EnrichmentType::Embeddings);
        Ok(ActiveModels {
            skills,
            sections,
            embeddings,
        })
    }

    /// The version enrichments of this type are produced at right now.
    pub async fn current_version(
        &self,
        enrichment_type: EnrichmentType,
    ) -> Result<EnrichmentVersion, PipelineError> {
        if !PIPELINE_TYPES.contains(&enrichment_type) {
            return Err(PipelineError::UnsupportedType(enrichment_type));
        }
        let models = self.active_models().await?;
        models
            .model_for(enrichment_type)
            .map(ModelConfig::enrichment_version)
            .ok_or(PipelineError::NoActiveModel(enrichment_type))
    }

    /// An enricher for the active models, rebuilt only when a model version
    /// or the alias table changed.
    async fn enricher(&self, now: DateTime<Utc>) -> Result<Arc<CachedEnricher>, PipelineError> {
        let models = self.active_models().await?;
        let current = self.cached.lock().map_err(poisoned)?.clone();
        if let Some(cached) = &current {
            let fresh_aliases = now - cached.aliases_read_at < self.config.alias_refresh;
            if cached.models.engine_inputs_equal(&models) && fresh_aliases {
                if cached.models.embeddings == models.embeddings {
                    return Ok(cached.clone());
                }
                // Only the embeddings model changed: the engine stays.
                let refreshed = Arc::new(CachedEnricher {
                    models,
                    aliases: cached.aliases.clone(),
                    aliases_read_at: cached.aliases_read_at,
                    enricher: cached.enricher.clone(),
                });
                *self.cached.lock().map_err(poisoned)? = Some(refreshed.clone());
                return Ok(refreshed);
            }
        }
        let aliases = self.ports.aliases.list_aliases(true).await?;
        if let Some(cached) = &current {
            if cached.models.engine_inputs_equal(&models) && cached.aliases == aliases {
                let refreshed = Arc::new(CachedEnricher {
                    models,
                    aliases,
                    aliases_read_at: now,
                    enricher: cached.enricher.clone(),
                });
                *self.cached.lock().map_err(poisoned)? = Some(refreshed.clone());
                return Ok(refreshed);
            }
        }
        let factory = self.factory.clone();
        let (models_for_build, aliases_for_build) = (models.clone(), aliases.clone());
        // Building compiles the lexicon automaton: CPU work, off the executor.
        let enricher = tokio::task::spawn_blocking(move || {
            factory.build(&models_for_build, &aliases_for_build)
        })
        .await
        .map_err(|e| PipelineError::WorkerThread(e.to_string()))?
        .map_err(|reason| PipelineError::EngineBuild {
            version: models.skills.enrichment_version().to_string(),
            reason,
        })?;
        let built = Arc::new(CachedEnricher {
            models,
            aliases,
            aliases_read_at: now,
            enricher,
        });
        *self.cached.lock().map_err(poisoned)? = Some(built.clone());
        Ok(built)
    }

    /// The embedder of this `embeddings` model, rebuilt only when the
    /// version or its overrides change (loading an encoder takes seconds).
    async fn embedder_for(
        &self,
        model: &ModelConfig,
    ) -> Result<Arc<dyn PostingEmbedder>, PipelineError> {
        if let Some((built_for, embedder)) = &*self.embedder.lock().map_err(poisoned)? {
            if built_for.model_id == model.model_id
                && built_for.version == model.version
                && built_for.config_overrides == model.config_overrides
            {
                return Ok(embedder.clone());
            }
        }
        let factory = self.factory.clone();
        let for_build = model.clone();
        let embedder = tokio::task::spawn_blocking(move || factory.build_embedder(&for_build))
            .await
            .map_err(|e| PipelineError::WorkerThread(e.to_string()))?
            .map_err(|reason| PipelineError::EngineBuild {
                version: model.enrichment_version().to_string(),
                reason,
            })?;
        *self.embedder.lock().map_err(poisoned)? = Some((model.clone(), embedder.clone()));
        Ok(embedder)
    }

    /// Requeues due failures that have attempts left (`failed → pending`).
    pub async fn requeue_due_failures(
        &self,
        enrichment_type: EnrichmentType,
        now: DateTime<Utc>,
    ) -> Result<u64, PipelineError> {
        Ok(self
            .ports
            .enrichments
            .requeue_failed(enrichment_type, self.config.max_attempts, now)
            .await?)
    }

    /// Claims one batch of `enrichment_type` at the current version, enriches
    /// it and writes the results. A batch that claimed nothing reports `claimed: 0`.
    /// The three stages in a row; the runner overlaps them across batches.
    pub async fn process_batch(
        self: &Arc<Self>,
        enrichment_type: EnrichmentType,
    ) -> Result<BatchReport, PipelineError> {
        let started = Instant::now();
        let (version, batch) = self.claim(enrichment_type).await?;
        let Some(batch) = batch else {
            return Ok(BatchReport {
                enrichment_type: Some(enrichment_type),
                enrichment_version: Some(version),
                elapsed: started.elapsed(),
                ..BatchReport::default()
            });
        };
        let keys = batch.keys();
        let pipeline = self.clone();
        let enriched = tokio::task::spawn_blocking(move || pipeline.enrich_batch(batch)).await;
        match enriched {
            Ok(enriched) => self.write_batch(enriched).await,
            Err(join) => {
                self.release_quietly(&keys).await;
                Err(PipelineError::WorkerThread(join.to_string()))
            }
        }
    }

    /// Stage 1: leases up to `batch_size` enrichments of this type at the
    /// current version and reads their postings. `None` when nothing is due.
    pub async fn claim_batch(
        &self,
        enrichment_type: EnrichmentType,
    ) -> Result<Option<ClaimedBatch>, PipelineError> {
        Ok(self.claim(enrichment_type).await?.1)
    }

    /// `claim_batch`, with the version claimed at even when nothing was due.
    async fn claim(
        &self,
        enrichment_type: EnrichmentType,
    ) -> Result<(EnrichmentVersion, Option<ClaimedBatch>), PipelineError> {
        let started = Instant::now();
        let now = Utc::now();
        let cached = self.enricher(now).await?;
        let model = cached
            .models
            .model_for(enrichment_type)
            .ok_or(if PIPELINE_TYPES.contains(&enrichment_type) {
                PipelineError::NoActiveModel(enrichment_type)
            } else {
                PipelineError::UnsupportedType(enrichment_type)
            })?
            .clone();
        let version = model.enrichment_version();
        // Built before anything is leased: a missing encoder claims nothing.
        let embedder = if enrichment_type == EnrichmentType::Embeddings {
            Some(self.embedder_for(&model).await?)
        } else {
            None
        };
        let claimed = self
            .ports
            .enrichments
            .claim_enrichments(&ClaimRequest {
                enrichment_type,
                enrichment_version: Some(version.clone()),
                owner: self.config.owner.clone(),
                lease: self.config.lease,
                limit: self.config.batch_size,
                max_attempts: self.config.max_attempts,
                now,
            })
            .await?;
        if claimed.is_empty() {
            return Ok((version, None));
        }
        let ids: Vec<JobId> = claimed.iter().map(|e| e.job_posting_id.clone()).collect();
        let postings = match self.ports.postings.get_postings(&ids).await {
            Ok(postings) => postings,
            Err(err) => {
                let keys: Vec<EnrichmentKey> = claimed.iter().map(JobEnrichment::key).collect();
                self.release_quietly(&keys).await;
                return Err(err.into());
            }
        };
        Ok((
            version.clone(),
            Some(ClaimedBatch {
                enrichment_type,
                version,
                model,
                cached,
                embedder,
                rows: claimed,
                postings,
                started,
                claim_and_read: started.elapsed(),
            }),
        ))
    }

    /// Stage 2 (CPU; call on a blocking thread): runs the engine on every
    /// claimed posting. A posting's error or panic becomes its own failure.
    pub fn enrich_batch(&self, batch: ClaimedBatch) -> EnrichedBatch {
        let enrich_started = Instant::now();
        let outcomes = match &batch.embedder {
            Some(embedder) => embed_claimed(
                &batch.rows,
                batch.postings,
                &batch.model,
                embedder.as_ref(),
                &self.config,
            ),
            None => enrich_claimed(
                &batch.rows,
                batch.postings,
                &batch.model,
                batch.cached.enricher.as_ref(),
                &self.config,
            ),
        };
        EnrichedBatch {
            report: BatchReport {
                enrichment_type: Some(batch.enrichment_type),
                enrichment_version: Some(batch.version),
                claimed: batch.rows.len(),
                timings: BatchTimings {
                    claim_and_read: batch.claim_and_read,
                    enrich: enrich_started.elapsed(),
                    write: std::time::Duration::ZERO,
                },
                ..BatchReport::default()
            },
            outcomes,
            plan: None,
            started: batch.started,
        }
    }

    /// Between stages 2 and 3: lets the store do the part of the write that
    /// needs no write lock now, on the engine's side, so the one writer
    /// spends less time per batch (what bounds a run when extraction is cheap).
    pub async fn plan_write(&self, batch: EnrichedBatch) -> EnrichedBatch {
        let planned = self.ports.enrichments.plan_completion(batch.outcomes).await;
        EnrichedBatch {
            outcomes: planned.outcomes,
            plan: planned.plan,
            ..batch
        }
    }

    /// Stage 3: writes a batch's results in one store call (with the status
    /// changes). On failure the batch is released, not left leased.
    pub async fn write_batch(&self, batch: EnrichedBatch) -> Result<BatchReport, PipelineError> {
        let write_started = Instant::now();
        let mut report = batch.report;
        let keys: Vec<EnrichmentKey> = batch.outcomes.iter().map(|o| o.key.clone()).collect();
        let enrichments = &self.ports.enrichments;
        let completed = match batch.plan {
            Some(plan) => {
                let planned = PlannedOutcomes {
                    outcomes: batch.outcomes,
                    plan: Some(plan),
                };
                enrichments.complete_planned(planned, Utc::now()).await
            }
            None => {
                enrichments
                    .complete_enrichments_owned(batch.outcomes, Utc::now())
                    .await
            }
        };
        match completed {
            Ok(completion) => {
                report.succeeded = completion.succeeded;
                report.failed = completion.failed;
                report.lost_leases = completion.lost_leases.len();
                report.skills_written = completion.skills_written;
                report.sections_written = completion.sections_written;
                report.embeddings_written = completion.embeddings_written;
                report.timings.write = write_started.elapsed();
                report.elapsed = batch.started.elapsed();
                if report.lost_leases > 0 {
                    tracing::warn!(
                        lost_leases = report.lost_leases,
                        "{}",
                        lost_lease_advice(report.lost_leases, self.config.lease, report.elapsed)
                    );
                }
                Ok(report)
            }
            Err(err) => {
                self.release_quietly(&keys).await;
                Err(err.into())
            }
        }
    }

    /// Hands leased enrichments back (`processing → pending`) at once rather
    /// than letting their lease run out. Returns how many were released.
    pub async fn release(&self, keys: &[EnrichmentKey]) -> Result<u64, PipelineError> {
        if keys.is_empty() {
            return Ok(0);
        }
        Ok(self
            .ports
            .enrichments
            .release_enrichments(keys, &self.config.owner, Utc::now())
            .await?)
    }

    async fn release_quietly(&self, keys: &[EnrichmentKey]) {
        if let Err(err) = self.release(keys).await {
            tracing::warn!(error = %err, enrichments = keys.len(), "releasing a batch; its lease will expire instead");
        }
    }
}

/// A leased batch with its postings, ready for the engine.
pub struct ClaimedBatch {
    enrichment_type: EnrichmentType,
    version: EnrichmentVersion,
    model: ModelConfig,
    cached: Arc<CachedEnricher>,
    /// Set for `embeddings` batches.
    embedder: Option<Arc<dyn PostingEmbedder>>,
    rows: Vec<JobEnrichment>,
    postings: Vec<JobPosting>,
    started: Instant,
    claim_and_read: std::time::Duration,
}

impl ClaimedBatch {
    pub fn keys(&self) -> Vec<EnrichmentKey> {
        self.rows.iter().map(JobEnrichment::key).collect()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// A batch's outcomes, ready to be written.
pub struct EnrichedBatch {
    report: BatchReport,
    outcomes: Vec<EnrichmentOutcome>,
    /// What the store worked out ahead of the write (`plan_write`).
    plan: Option<CompletionPlan>,
    started: Instant,
}

impl EnrichedBatch {
    pub fn keys(&self) -> Vec<EnrichmentKey> {
        self.outcomes.iter().map(|o| o.key.clone()).collect()
    }
}

fn poisoned<T>(_: std::sync::PoisonError<T>) -> PipelineError {
    PipelineError::WorkerThread("the enricher cache lock was poisoned".into())
}

/// Enriches each claimed row; a posting's error or panic becomes its own failure.
fn enrich_claimed(
    claimed: &[JobEnrichment],
    postings: Vec<JobPosting>,
    model: &ModelConfig,
    enricher: &dyn PostingEnricher,
    config: &PipelineConfig,
) -> Vec<EnrichmentOutcome> {
    {
        let batch: Vec<&JobPosting> = postings.iter().collect();
        // A panic here falls to `enrich_one`, which fails only its posting.
        let _ = catch_unwind(AssertUnwindSafe(|| enricher.prepare_batch(&batch)));
    }
    let mut by_id: HashMap<JobId, JobPosting> = postings
        .into_iter()
        .map(|p| (p.job_posting_id.clone(), p))
        .collect();
    claimed
        .iter()
        .map(|row| {
            let now = Utc::now();
            let result = match by_id.remove(&row.job_posting_id) {
                // Deleted since it was queued: no attempt can find it.
                None => Err(EnrichError::permanent(format!(
                    "job posting {} not found in the store",
                    row.job_posting_id
                ))),
                Some(posting) => enrich_one(&posting, row, enricher, now),
            };
            let result = result.map(|enriched| EnrichmentSuccess {
                model_id: model.model_id.clone(),
                model_version: model.version.clone(),
                skills: if row.enrichment_type == EnrichmentType::SkillsExtraction {
                    enriched.skills
                } else {
                    Vec::new()
                },
                sections: enriched.sections,
                embedding: None,
                metadata: Default::default(),
            });
            outcome(row, result, config, now)
        })
        .collect()
}

/// Embeds the claimed rows' postings in one encoder call; a posting that is
/// gone or that the encoder fails on fails alone.
fn embed_claimed(
    claimed: &[JobEnrichment],
    postings: Vec<JobPosting>,
    model: &ModelConfig,
    embedder: &dyn PostingEmbedder,
    config: &PipelineConfig,
) -> Vec<EnrichmentOutcome> {
    let by_id: HashMap<&JobId, &JobPosting> =
        postings.iter().map(|p| (&p.job_posting_id, p)).collect();
    let found: Vec<&JobPosting> = claimed
        .iter()
        .filter_map(|row| by_id.get(&row.job_posting_id).copied())
        .collect();
    let vectors = match catch_unwind(AssertUnwindSafe(|| embedder.embed(&found))) {
        Ok(vectors) if vectors.len() == found.len() => vectors,
        Ok(vectors) => vec![
            Err(EnrichError::retryable(format!(
                "the embedder returned {} vectors for {} postings",
                vectors.len(),
                found.len()
            )));
            found.len()
        ],
        Err(_) => vec![Err(EnrichError::retryable("the embedder panicked")); found.len()],
    };
    let mut vectors: HashMap<&JobId, Result<(Vec<f32>, u32), EnrichError>> = found
        .iter()
        .map(|p| &p.job_posting_id)
        .zip(vectors)
        .collect();
    claimed
        .iter()
        .map(|row| {
            let now = Utc::now();
            let result = match vectors.remove(&row.job_posting_id) {
                None => Err(EnrichError::permanent(format!(
                    "job posting {} not found in the store",
                    row.job_posting_id
                ))),
                Some(vector) => vector.map(|(vector, source_chars)| EnrichmentSuccess {
                    model_id: model.model_id.clone(),
                    model_version: model.version.clone(),
                    skills: Vec::new(),
                    sections: Vec::new(),
                    embedding: Some(JobEmbedding {
                        job_posting_id: row.job_posting_id.clone(),
                        enrichment_id: None,
                        enrichment_version: row.enrichment_version.clone(),
                        model_id: model.model_id.clone(),
                        model_version: model.version.clone(),
                        vector,
                        source_chars,
                        created_at: now,
                    }),
                    metadata: Default::default(),
                }),
            };
            outcome(row, result, config, now)
        })
        .collect()
}

/// The outcome of one row: its results, or its failure with when it may be retried.
fn outcome(
    row: &JobEnrichment,
    result: Result<EnrichmentSuccess, EnrichError>,
    config: &PipelineConfig,
    now: DateTime<Utc>,
) -> EnrichmentOutcome {
    let result = match result {
        Ok(success) => EnrichmentResult::Success(success),
        Err(error) => EnrichmentResult::Failure {
            error_message: format!(
                "{} of job {} at {} (attempt {}{}): {}",
                row.enrichment_type,
                row.job_posting_id,
                row.enrichment_version,
                row.attempts,
                if error.retryable { "" } else { ", not retried" },
                error.message
            ),
            retry_at: if error.retryable {
                config.retry_at(row.attempts, now)
            } else {
                None
            },
            retryable: error.retryable,
        },
    };
    EnrichmentOutcome {
        key: row.key(),
        lease_owner: config.owner.clone(),
        result,
    }
}

fn enrich_one(
    posting: &JobPosting,
    row: &JobEnrichment,
    enricher: &dyn PostingEnricher,
    now: DateTime<Utc>,
) -> Result<EnrichedPosting, EnrichError> {
    // A panic in the engine must fail this posting, not the whole batch.
    match catch_unwind(AssertUnwindSafe(|| {
        enricher.enrich(posting, &row.enrichment_version, now)
    })) {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            // Retried within max_attempts: a panic may come from a bug that
            // a model update fixes, and the cap bounds the cost.
            Err(EnrichError::retryable(format!(
                "the engine panicked: {what}"
            )))
        }
    }
}
