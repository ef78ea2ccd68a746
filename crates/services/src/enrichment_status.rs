//! Read models of the enrichment queue and its results: the `jobenrich status`
//! report (counts by type × version × status, oldest pending, dead letters)
//! and the skills summary printed after `jobenrich run`.

use chrono::{DateTime, Utc};
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::{
    pending_is_removable, stuck_reason, EnrichmentRepository, EnrichmentStatus,
    EnrichmentStatusCount, EnrichmentType, EnrichmentVersion, JobEnrichment, ModelConfigRepository,
    SkillCategory, SkillFrequency, SkillRepository, StuckReason,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// The queue at a glance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    pub counts: Vec<EnrichmentStatusCount>,
    /// The oldest pending enrichment's type, version and creation time.
    pub oldest_pending: Option<OldestPending>,
    /// Failures with no attempts left (at least `max_attempts`) or final
    /// ones (`JobEnrichment::is_dead_letter`).
    pub dead_letters: Vec<JobEnrichment>,
    pub max_attempts: u32,
    /// Why the engine cannot be built from the active models (enrichment is
    /// stopped until a buildable version is activated), when it cannot.
    pub engine_problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OldestPending {
    pub enrichment_type: EnrichmentType,
    pub enrichment_version: EnrichmentVersion,
    pub created_at: DateTime<Utc>,
}

pub async fn status_report(
    enrichments: &dyn EnrichmentRepository,
    max_attempts: u32,
    dead_letter_limit: usize,
) -> StoreResult<StatusReport> {
    let counts = enrichments.enrichment_status_counts().await?;
    let oldest_pending = counts
        .iter()
        .filter(|c| c.status == EnrichmentStatus::Pending)
        .filter_map(|c| {
            c.oldest_created_at.map(|at| OldestPending {
                enrichment_type: c.enrichment_type,
                enrichment_version: c.enrichment_version.clone(),
                created_at: at,
            })
        })
        .min_by_key(|p| p.created_at);
    let dead_letters = enrichments
        .dead_letters(max_attempts, dead_letter_limit)
        .await?;
    Ok(StatusReport {
        counts,
        oldest_pending,
        dead_letters,
        max_attempts,
        engine_problem: None,
    })
}

/// Queued enrichments that will not be processed as things stand, and why
/// (`jobenrich_domain::queue_rules`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StuckGroup {
    pub enrichment_type: EnrichmentType,
    pub enrichment_version: EnrichmentVersion,
    pub count: u64,
    #[serde(flatten)]
    pub reason: StuckReason,
    /// The reason in words, with what resolves it.
    pub explanation: String,
}

/// The active version of each type that has an active model.
pub async fn active_versions(
    models: &dyn ModelConfigRepository,
) -> StoreResult<BTreeMap<EnrichmentType, EnrichmentVersion>> {
    Ok(models
        .list_models(None)
        .await?
        .into_iter()
        .filter(|m| m.is_active)
        .map(|m| (m.model_type, m.enrichment_version()))
        .collect())
}

/// The groups of `counts` that are stuck, given the active models and the
/// types the configured processes handle (`worker.types`).
pub async fn stuck_groups(
    counts: &[EnrichmentStatusCount],
    models: &dyn ModelConfigRepository,
    processed_types: &[EnrichmentType],
) -> StoreResult<Vec<StuckGroup>> {
    let active = active_versions(models).await?;
    Ok(counts
        .iter()
        .filter_map(|c| {
            let reason = stuck_reason(
                c.enrichment_type,
                &c.enrichment_version,
                c.status,
                active.get(&c.enrichment_type),
                processed_types,
            )?;
            Some(StuckGroup {
                enrichment_type: c.enrichment_type,
                enrichment_version: c.enrichment_version.clone(),
                count: c.count,
                explanation: reason.to_string(),
                reason,
            })
        })
        .collect())
}

/// What removing never-claimed work did: `(type, version, rows deleted)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PendingPruneReport {
    pub removed: Vec<(EnrichmentType, EnrichmentVersion, u64)>,
}

/// Deletes pending enrichments at versions that are not the active one of
/// their type: under `queue_rules` they are never claimed.
pub async fn prune_unclaimable_pending(
    enrichments: &dyn EnrichmentRepository,
    models: &dyn ModelConfigRepository,
) -> StoreResult<PendingPruneReport> {
    let active = active_versions(models).await?;
    let counts = enrichments.enrichment_status_counts().await?;
    let mut report = PendingPruneReport::default();
    for c in counts
        .iter()
        .filter(|c| c.status == EnrichmentStatus::Pending)
    {
        if !pending_is_removable(&c.enrichment_version, active.get(&c.enrichment_type)) {
            continue;
        }
        let deleted = enrichments
            .delete_pending_enrichments(
                c.enrichment_type,
                std::slice::from_ref(&c.enrichment_version),
            )
            .await?;
        if deleted > 0 {
            report
                .removed
                .push((c.enrichment_type, c.enrichment_version.clone(), deleted));
        }
    }
    Ok(report)
}

/// Skills found at one version: the most frequent skills and the categories.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkillsSummary {
    pub enrichment_version: EnrichmentVersion,
    pub distinct_skills: u64,
    /// (job, skill) pairs found.
    pub skill_mentions: u64,
    pub top_skills: Vec<SkillFrequency>,
    /// Per category: (distinct skills, job mentions), most mentioned first.
    pub categories: Vec<CategoryCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryCount {
    pub category: SkillCategory,
    pub distinct_skills: u64,
    pub job_mentions: u64,
}

pub async fn skills_summary(
    skills: &dyn SkillRepository,
    version: &EnrichmentVersion,
    top_n: usize,
) -> StoreResult<SkillsSummary> {
    let all = skills.top_skills(version, usize::MAX).await?;
    let mut categories: BTreeMap<SkillCategory, CategoryCount> = BTreeMap::new();
    for s in &all {
        let c = categories
            .entry(s.skill_category)
            .or_insert_with(|| CategoryCount {
                category: s.skill_category,
                distinct_skills: 0,
                job_mentions: 0,
            });
        c.distinct_skills += 1;
        c.job_mentions += s.job_count;
    }
    let mut categories: Vec<CategoryCount> = categories.into_values().collect();
    categories.sort_by(|a, b| {
        b.job_mentions
            .cmp(&a.job_mentions)
            .then(a.category.cmp(&b.category))
    });
    Ok(SkillsSummary {
        enrichment_version: version.clone(),
        distinct_skills: all.len() as u64,
        skill_mentions: all.iter().map(|s| s.job_count).sum(),
        top_skills: all.into_iter().take(top_n).collect(),
        categories,
    })
}
