//! Repository ports: one async trait per aggregate, batch-first where volume is
//! high. Every adapter (SQLite, BigQuery) implements all of them and must pass
//! the shared contract suite (`jobenrich-storage-contract`).
//!
//! Rules every adapter keeps:
//! - entities are `validate()`d before any write; an invalid one fails the whole
//!   call with `StoreError::Domain` and nothing of the call is stored;
//! - a batch call is atomic: all of it is stored or none;
//! - timestamps round-trip to the microsecond in UTC; lists and maps round-trip exactly.

use crate::error::StoreResult;
use crate::ValidationError;
use crate::{
    ClusterAssignment, ClusterChange, ClusteringRun, ClusteringRunSummary, EnrichmentKey,
    EnrichmentStatus, EnrichmentType, EnrichmentVersion, EvaluationResult, ExtractedSkill,
    JobEmbedding, JobEnrichment, JobId, JobPosting, ModelConfig, ModelId, ModelVersion,
    SectionClassification, SkillAlias, SkillCategory,
};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// What `migrate` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationReport {
    /// Names of the migrations applied by this call, in order.
    pub applied: Vec<String>,
    /// Schema version after the call.
    pub schema_version: u32,
}

#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait SchemaMigrator: Send + Sync {
    /// Applies pending migrations; idempotent.
    async fn migrate(&self) -> StoreResult<MigrationReport>;
    /// The applied schema version (0 for an empty store).
    async fn schema_version(&self) -> StoreResult<u32>;
    /// Gives the space freed inside the store (pruned results, rows a
    /// migration compacted) back to the file system, keeping every row;
    /// `None` where the service manages storage (BigQuery).
    async fn reclaim_space(&self) -> StoreResult<Option<SpaceReport>>;
}

/// A store's size before and after `reclaim_space`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceReport {
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// Result of an idempotent batch insert.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsertCounts {
    pub inserted: u64,
    /// Rows whose key already existed; left as stored.
    pub already_present: u64,
}

#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait JobPostingRepository: Send + Sync {
    /// Stores postings whose id is new; postings with a known id are left as
    /// they are (re-ingesting a file stores nothing twice).
    async fn insert_postings(&self, postings: &[JobPosting]) -> StoreResult<InsertCounts>;
    async fn get_posting(&self, id: &JobId) -> StoreResult<Option<JobPosting>>;
    /// The postings among `ids` that exist, ordered by id.
    async fn get_postings(&self, ids: &[JobId]) -> StoreResult<Vec<JobPosting>>;
    async fn count_postings(&self) -> StoreResult<u64>;
    /// Keyset pagination in ascending id order: ids strictly greater than `after`.
    async fn list_postings_page(
        &self,
        after: Option<JobId>,
        limit: usize,
    ) -> StoreResult<Vec<JobPosting>>;
    /// `list_postings_page` reduced to (id, title): what clustering reads.
    /// Adapters that can skip the descriptions override it.
    async fn list_titles_page(
        &self,
        after: Option<JobId>,
        limit: usize,
    ) -> StoreResult<Vec<(JobId, String)>> {
        Ok(self
            .list_postings_page(after, limit)
            .await?
            .into_iter()
            .map(|p| (p.job_posting_id, p.title))
            .collect())
    }
}

/// A request to lease work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    pub enrichment_type: EnrichmentType,
    /// Only enrichments at this version are claimed (`None`: any version).
    pub enrichment_version: Option<EnrichmentVersion>,
    /// Who holds the lease (worker id); never a secret.
    pub owner: String,
    pub lease: Duration,
    pub limit: usize,
    /// The attempts cap, counted at claim time: a row whose lease expired
    /// after this many attempts is not leased again but failed as
    /// [`ClaimRequest::abandoned_error`] (a dead letter). Each of its
    /// attempts ended with the process dead or hung (a posting that kills
    /// the worker), so leasing it again would kill the next one too.
    pub max_attempts: u32,
    pub now: DateTime<Utc>,
}

impl ClaimRequest {
    /// The checks every store applies before claiming.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.owner.trim().is_empty() {
            return Err(ValidationError::new(
                "ClaimRequest",
                "owner",
                "must not be empty",
            ));
        }
        if self.lease <= Duration::zero() {
            return Err(ValidationError::new(
                "ClaimRequest",
                "lease",
                format!("must be positive, got {}", self.lease),
            ));
        }
        if self.max_attempts == 0 {
            return Err(ValidationError::new(
                "ClaimRequest",
                "max_attempts",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// Whether a row the claim would take over is abandoned instead: its
    /// lease expired (it is still `processing`) and its attempts are used up.
    pub fn abandons(&self, row: &JobEnrichment) -> bool {
        row.status == EnrichmentStatus::Processing && row.attempts >= self.max_attempts
    }

    /// The `error_message` of a row failed at the attempts cap.
    pub fn abandoned_error(&self) -> String {
        format!(
            "abandoned after {} attempts: each lease expired without a result \
             (the process handling this posting died or hung)",
            self.max_attempts
        )
    }
}

/// Details applied with a checked transition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransitionDetails {
    /// Required when moving to `processing`; when leaving it, must match the holder.
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub error_message: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// The results of one successful enrichment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrichmentSuccess {
    pub model_id: ModelId,
    pub model_version: ModelVersion,
    /// Replace every skill of the job at the key's enrichment version.
    pub skills: Vec<ExtractedSkill>,
    /// Replace every section of the job at each classifier version present here.
    pub sections: Vec<SectionClassification>,
    /// The posting's vector (an `embeddings` enrichment); replaces the job's
    /// vector at the key's enrichment version.
    pub embedding: Option<JobEmbedding>,
    /// Stored in the enrichment's `metadata` (a JSON object), with the counts
    /// of skills and sections written added by the completion.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

// Most outcomes are successes, so boxing the large variant would add an
// allocation per outcome to save bytes only on the rare failures.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EnrichmentResult {
    Success(EnrichmentSuccess),
    Failure {
        error_message: String,
        /// When the failure may be retried (`requeue_failed`); `None`: at once.
        retry_at: Option<DateTime<Utc>>,
        /// `false` when another attempt at this version cannot succeed (the
        /// input is refused by the model, the posting is gone): the row is a
        /// dead letter at once instead of failing `max_attempts` times.
        retryable: bool,
    },
}

/// A store's own work on a batch of outcomes, done ahead of the write
/// ([`EnrichmentRepository::plan_completion`]); only that store reads it.
pub type CompletionPlan = Box<dyn std::any::Any + Send>;

/// Outcomes with the plan a store made for them
/// ([`EnrichmentRepository::plan_completion`]).
pub struct PlannedOutcomes {
    pub outcomes: Vec<EnrichmentOutcome>,
    pub plan: Option<CompletionPlan>,
}

/// One finished enrichment, handed back by the lease holder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrichmentOutcome {
    pub key: EnrichmentKey,
    pub lease_owner: String,
    pub result: EnrichmentResult,
}

/// The results of a success belong to the enrichment they are written under.
impl crate::validation::Validate for EnrichmentOutcome {
    fn validate(&self) -> Result<(), crate::ValidationError> {
        if let EnrichmentResult::Success(success) = &self.result {
            for skill in &success.skills {
                skill.validate()?;
                if skill.job_posting_id != self.key.job_posting_id
                    || skill.enrichment_version != self.key.enrichment_version
                {
                    return Err(crate::ValidationError::new(
                        "ExtractedSkill",
                        "job_posting_id",
                        format!(
                            "a result skill must belong to the enrichment {} (got job {} at {})",
                            self.key, skill.job_posting_id, skill.enrichment_version
                        ),
                    ));
                }
            }
            if let Some(embedding) = &success.embedding {
                embedding.validate()?;
                if embedding.job_posting_id != self.key.job_posting_id
                    || embedding.enrichment_version != self.key.enrichment_version
                {
                    return Err(crate::ValidationError::new(
                        "JobEmbedding",
                        "job_posting_id",
                        format!(
                            "a result embedding must belong to the enrichment {} (got job {} at {})",
                            self.key, embedding.job_posting_id, embedding.enrichment_version
                        ),
                    ));
                }
            }
            for section in &success.sections {
                section.validate()?;
                if section.job_posting_id != self.key.job_posting_id {
                    return Err(crate::ValidationError::new(
                        "SectionClassification",
                        "job_posting_id",
                        format!(
                            "a result section must belong to job {} (got {})",
                            self.key.job_posting_id, section.job_posting_id
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What `complete_enrichments` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionReport {
    pub succeeded: u64,
    pub failed: u64,
    /// Outcomes whose lease was no longer held by the given owner (expired and
    /// reclaimed by another worker, or released); nothing of them was written.
    pub lost_leases: Vec<EnrichmentKey>,
    pub skills_written: u64,
    pub sections_written: u64,
    #[serde(default)]
    pub embeddings_written: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrichmentStatusCount {
    pub enrichment_type: EnrichmentType,
    pub enrichment_version: EnrichmentVersion,
    pub status: EnrichmentStatus,
    pub count: u64,
    pub oldest_created_at: Option<DateTime<Utc>>,
}

#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EnrichmentRepository: Send + Sync {
    /// Creates a `pending` enrichment for each job that has none of this type
    /// at this version. Returns how many were created.
    async fn enqueue_enrichments(
        &self,
        job_ids: &[JobId],
        enrichment_type: EnrichmentType,
        enrichment_version: &EnrichmentVersion,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// The anti-join: jobs with no *successful* enrichment of this type at this
    /// version, in ascending id order, at most `limit`.
    async fn find_jobs_needing_enrichment(
        &self,
        enrichment_type: EnrichmentType,
        enrichment_version: &EnrichmentVersion,
        limit: usize,
    ) -> StoreResult<Vec<JobId>>;

    /// Leases up to `limit` enrichments: `pending` ones that are due
    /// (`next_attempt_at` null or <= now) and `processing` ones whose lease has
    /// expired. Each moves to `processing` with the owner and `now + lease`,
    /// attempts + 1. Atomic: two claimers never receive the same enrichment.
    async fn claim_enrichments(&self, request: &ClaimRequest) -> StoreResult<Vec<JobEnrichment>>;

    /// Writes the outcomes of a batch in one atomic call: results replace
    /// earlier results of the same job and version (idempotent), status moves
    /// to `success` or `failed`. Outcomes whose lease is lost are skipped and
    /// reported.
    async fn complete_enrichments(
        &self,
        outcomes: &[EnrichmentOutcome],
        now: DateTime<Utc>,
    ) -> StoreResult<CompletionReport>;

    /// [`EnrichmentRepository::complete_enrichments`] for a caller that hands
    /// its batch over: a store that writes on another thread can then move
    /// the results instead of copying them (the pipeline's writer does).
    async fn complete_enrichments_owned(
        &self,
        outcomes: Vec<EnrichmentOutcome>,
        now: DateTime<Utc>,
    ) -> StoreResult<CompletionReport> {
        self.complete_enrichments(&outcomes, now).await
    }

    /// Work a store can do for a batch of outcomes before writing it, with
    /// no write lock held (reading the postings' text its encoding depends
    /// on, say), so that a caller with idle threads takes it off the one
    /// writer. The outcomes come back unchanged, with no plan by default.
    async fn plan_completion(&self, outcomes: Vec<EnrichmentOutcome>) -> PlannedOutcomes {
        PlannedOutcomes {
            outcomes,
            plan: None,
        }
    }

    /// [`EnrichmentRepository::complete_enrichments_owned`] with the plan
    /// this store made for these outcomes. The result is the same as without
    /// it: a plan that does not fit the outcomes is not used.
    async fn complete_planned(
        &self,
        planned: PlannedOutcomes,
        now: DateTime<Utc>,
    ) -> StoreResult<CompletionReport> {
        self.complete_enrichments_owned(planned.outcomes, now).await
    }

    /// `processing → pending` for enrichments held by `owner` (graceful shutdown);
    /// the attempt is not counted. Returns how many were released.
    async fn release_enrichments(
        &self,
        keys: &[EnrichmentKey],
        owner: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// `failed → pending` for due failures with fewer than `max_attempts`
    /// attempts that are not final ([`crate::JobEnrichment::is_dead_letter`]).
    /// Returns how many were requeued.
    async fn requeue_failed(
        &self,
        enrichment_type: EnrichmentType,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// One checked transition of the state machine. Illegal transitions fail
    /// with `DomainError::IllegalTransition`; a missing row with `NotFound`; a
    /// lease held by someone else with `Conflict`.
    async fn transition_enrichment(
        &self,
        key: &EnrichmentKey,
        to: EnrichmentStatus,
        details: &TransitionDetails,
        now: DateTime<Utc>,
    ) -> StoreResult<JobEnrichment>;

    async fn get_enrichment(&self, key: &EnrichmentKey) -> StoreResult<Option<JobEnrichment>>;
    /// The enrichments among `keys` that exist, in no particular order: one
    /// read for many keys (`evaluate --from-store` checks a dataset's jobs).
    async fn get_enrichments(&self, keys: &[EnrichmentKey]) -> StoreResult<Vec<JobEnrichment>>;
    /// All enrichments of a job, by type then version.
    async fn enrichments_for_job(&self, job_posting_id: &JobId) -> StoreResult<Vec<JobEnrichment>>;
    /// Counts by type × version × status, with the oldest creation time.
    async fn enrichment_status_counts(&self) -> StoreResult<Vec<EnrichmentStatusCount>>;
    /// `failed` enrichments with at least `max_attempts` attempts or a final
    /// failure ([`crate::JobEnrichment::is_dead_letter`]); they stay failed.
    async fn dead_letters(
        &self,
        max_attempts: u32,
        limit: usize,
    ) -> StoreResult<Vec<JobEnrichment>>;
    /// Deletes the `pending` enrichments of this type at these versions (work
    /// that is never claimed, `queue_rules`); rows in other states stay.
    /// Returns how many were deleted.
    async fn delete_pending_enrichments(
        &self,
        enrichment_type: EnrichmentType,
        versions: &[EnrichmentVersion],
    ) -> StoreResult<u64>;
}

/// A skill with how many jobs mention it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillFrequency {
    pub skill_name: String,
    pub skill_category: SkillCategory,
    pub job_count: u64,
    pub mean_confidence: f64,
}

/// One skill of one job with its confidence and the extraction it came
/// from (what a cluster assignment references), nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct SkillWeight {
    pub job_posting_id: JobId,
    pub enrichment_id: Option<Uuid>,
    /// Shared: a version has a few thousand names over millions of rows.
    pub skill_name: std::sync::Arc<str>,
    pub confidence_score: f64,
}

#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait SkillRepository: Send + Sync {
    /// Upserts by (job_posting_id, skill_name, enrichment_version) in one transaction.
    async fn upsert_skills(&self, skills: &[ExtractedSkill]) -> StoreResult<u64>;
    /// A job's skills (at one version, or every version), by confidence desc then name.
    async fn skills_for_job(
        &self,
        job_posting_id: &JobId,
        version: Option<EnrichmentVersion>,
    ) -> StoreResult<Vec<ExtractedSkill>>;
    /// Skills of many jobs at one version (feature extraction for clustering), by job then name.
    async fn skills_for_jobs(
        &self,
        job_ids: &[JobId],
        version: &EnrichmentVersion,
    ) -> StoreResult<Vec<ExtractedSkill>>;
    /// `skills_for_jobs` reduced to (job, skill, confidence), same order:
    /// what clustering reads. Adapters that can skip snippets and provenance
    /// override it.
    async fn skill_weights_for_jobs(
        &self,
        job_ids: &[JobId],
        version: &EnrichmentVersion,
    ) -> StoreResult<Vec<SkillWeight>> {
        Ok(self
            .skills_for_jobs(job_ids, version)
            .await?
            .into_iter()
            .map(|s| SkillWeight {
                job_posting_id: s.job_posting_id,
                enrichment_id: s.enrichment_id,
                skill_name: s.skill_name.into(),
                confidence_score: s.confidence_score,
            })
            .collect())
    }
    /// Most frequent skills at a version.
    async fn top_skills(
        &self,
        version: &EnrichmentVersion,
        limit: usize,
    ) -> StoreResult<Vec<SkillFrequency>>;
    /// Versions that have stored skills, with their row counts.
    async fn skill_versions(&self) -> StoreResult<Vec<(EnrichmentVersion, u64)>>;
    /// Deletes every skill stored at these versions; returns rows deleted.
    async fn delete_skills_at_versions(&self, versions: &[EnrichmentVersion]) -> StoreResult<u64>;
}

/// Posting vectors (`embeddings` enrichments); written by
/// `complete_enrichments`, read here.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EmbeddingRepository: Send + Sync {
    /// The vectors of these jobs at this version (those that exist), in no
    /// particular order: one read for many jobs.
    async fn embeddings_for_jobs(
        &self,
        job_ids: &[JobId],
        version: &EnrichmentVersion,
    ) -> StoreResult<Vec<JobEmbedding>>;
    /// Up to `limit` vectors at this version with job ids greater than
    /// `after`, in ascending id order: the scan `similar` ranks page by page.
    async fn embeddings_page(
        &self,
        version: &EnrichmentVersion,
        after: Option<JobId>,
        limit: usize,
    ) -> StoreResult<Vec<JobEmbedding>>;
    /// Versions that have stored vectors, with their counts, by version.
    async fn embedding_versions(&self) -> StoreResult<Vec<(EnrichmentVersion, u64)>>;
    /// Deletes every vector stored at these versions; returns rows deleted.
    async fn delete_embeddings_at_versions(
        &self,
        versions: &[EnrichmentVersion],
    ) -> StoreResult<u64>;
}

#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait SectionRepository: Send + Sync {
    /// Upserts by (job_posting_id, classifier_version, section_index) in one transaction.
    async fn upsert_sections(&self, sections: &[SectionClassification]) -> StoreResult<u64>;
    /// A job's sections by classifier version then index (one version, or all).
    async fn sections_for_job(
        &self,
        job_posting_id: &JobId,
        classifier_version: Option<String>,
    ) -> StoreResult<Vec<SectionClassification>>;
    /// Deletes every section stored by these classifier versions; returns rows deleted.
    async fn delete_sections_at_versions(&self, classifier_versions: &[String])
        -> StoreResult<u64>;
}

/// What `record_clustering_run` stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusteringRunRecorded {
    pub assignments: u64,
    /// Previously active assignments now inactive.
    pub deactivated: u64,
}

#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ClusterRepository: Send + Sync {
    /// Atomically: for each job, version = max(existing) + 1 (1 if none), the new
    /// assignment active and every earlier one inactive. A failure leaves the
    /// previous run active and intact.
    async fn record_clustering_run(
        &self,
        run: &ClusteringRun,
    ) -> StoreResult<ClusteringRunRecorded>;
    /// Runs, newest first.
    async fn list_clustering_runs(&self) -> StoreResult<Vec<ClusteringRunSummary>>;
    /// The newest run: `list_clustering_runs`' first. Adapters that can
    /// find it without summarising every run override it.
    async fn latest_clustering_run(&self) -> StoreResult<Option<ClusteringRunSummary>> {
        Ok(self.list_clustering_runs().await?.into_iter().next())
    }
    /// Every assignment of a run, by job id.
    async fn assignments_for_run(
        &self,
        cluster_run_id: &str,
    ) -> StoreResult<Vec<ClusterAssignment>>;
    /// `assignments_for_run` reduced to (job, cluster id), same order: what
    /// a new run needs to carry cluster ids over. Adapters that can skip
    /// names and keywords override it.
    async fn cluster_ids_for_run(&self, cluster_run_id: &str) -> StoreResult<Vec<(JobId, u32)>> {
        Ok(self
            .assignments_for_run(cluster_run_id)
            .await?
            .into_iter()
            .map(|a| (a.job_posting_id, a.cluster_id))
            .collect())
    }
    async fn active_assignment(
        &self,
        job_posting_id: &JobId,
    ) -> StoreResult<Option<ClusterAssignment>>;
    /// A job's assignments by ascending cluster_version.
    async fn assignment_history(
        &self,
        job_posting_id: &JobId,
    ) -> StoreResult<Vec<ClusterAssignment>>;
    /// Jobs present in both runs whose cluster id differs, by job id.
    async fn cluster_changes(&self, run_a: &str, run_b: &str) -> StoreResult<Vec<ClusterChange>>;
    /// Jobs with more than one active assignment (always empty if the invariant holds).
    async fn jobs_with_multiple_active_assignments(&self) -> StoreResult<Vec<JobId>>;
}

/// What an alias import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasUpsertCounts {
    pub inserted: u64,
    pub updated: u64,
}

#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait AliasRepository: Send + Sync {
    /// Adds one alias; `AlreadyExists` if its text exists case-insensitively.
    async fn add_alias(&self, alias: &SkillAlias) -> StoreResult<()>;
    /// Inserts new aliases and updates existing ones (matched case-insensitively), atomically.
    async fn upsert_aliases(&self, aliases: &[SkillAlias]) -> StoreResult<AliasUpsertCounts>;
    /// Case-insensitive lookup.
    async fn get_alias(&self, alias_text: &str) -> StoreResult<Option<SkillAlias>>;
    /// Aliases ordered by lower-cased text.
    async fn list_aliases(&self, active_only: bool) -> StoreResult<Vec<SkillAlias>>;
    /// Marks an alias inactive, keeping it; `NotFound` if absent.
    async fn deactivate_alias(
        &self,
        alias_text: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<SkillAlias>;
}

#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ModelConfigRepository: Send + Sync {
    /// Registers a version, stored inactive whatever `is_active` says;
    /// `AlreadyExists` if (model_id, version) exists.
    async fn register_model(&self, model: &ModelConfig) -> StoreResult<()>;
    async fn get_model(
        &self,
        model_id: &ModelId,
        version: &ModelVersion,
    ) -> StoreResult<Option<ModelConfig>>;
    /// Every version (of one model id, or all), by model id then version order.
    async fn list_models(&self, model_id: Option<ModelId>) -> StoreResult<Vec<ModelConfig>>;
    async fn active_model(&self, model_id: &ModelId) -> StoreResult<Option<ModelConfig>>;
    /// The active model of a type; with several model ids of the type active,
    /// the most recently activated.
    async fn active_model_for_type(
        &self,
        model_type: EnrichmentType,
    ) -> StoreResult<Option<ModelConfig>>;
    /// The active model of each of these types, chosen as by
    /// `active_model_for_type` (types without one are absent), in one read
    /// where the backend allows it: the enrichment pipeline asks once per batch.
    async fn active_models_for_types(
        &self,
        model_types: &[EnrichmentType],
    ) -> StoreResult<Vec<ModelConfig>> {
        let mut found = Vec::new();
        for &model_type in model_types {
            if let Some(model) = self.active_model_for_type(model_type).await? {
                found.push(model);
            }
        }
        Ok(found)
    }
    /// Atomically makes this version the only active one of its model id,
    /// recording who and when; `NotFound` if absent.
    async fn activate_model(
        &self,
        model_id: &ModelId,
        version: &ModelVersion,
        activated_by: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<ModelConfig>;
    /// Merges these figures into the version's performance_metrics.
    async fn update_performance_metrics(
        &self,
        model_id: &ModelId,
        version: &ModelVersion,
        metrics: &BTreeMap<String, f64>,
        now: DateTime<Utc>,
    ) -> StoreResult<ModelConfig>;
}

#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EvaluationRepository: Send + Sync {
    async fn insert_evaluation(&self, result: &EvaluationResult) -> StoreResult<()>;
    /// The newest evaluation (by evaluated_at, then evaluation_id) of a model,
    /// optionally of one version and one dataset version.
    async fn latest_evaluation(
        &self,
        model_id: &ModelId,
        model_version: Option<ModelVersion>,
        dataset_version: Option<String>,
    ) -> StoreResult<Option<EvaluationResult>>;
    /// Every evaluation of a model, newest first.
    async fn list_evaluations(&self, model_id: &ModelId) -> StoreResult<Vec<EvaluationResult>>;
}

/// A complete store: what an adapter provides and the apps depend on.
pub trait Store:
    SchemaMigrator
    + JobPostingRepository
    + EnrichmentRepository
    + SkillRepository
    + SectionRepository
    + EmbeddingRepository
    + ClusterRepository
    + AliasRepository
    + ModelConfigRepository
    + EvaluationRepository
{
    /// Backend name for messages (`sqlite`, `bigquery`).
    fn backend_name(&self) -> &'static str;
}
