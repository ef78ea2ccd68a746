//! Re-enrichment when a model version changes, and pruning of old versions.
//!
//! Queueing uses the data model's anti-join: exactly the jobs without a
//! *successful* enrichment of the type at the current version get a pending
//! row. Results of older versions stay stored (and queryable by version)
//! until `prune_old_versions` removes all but the newest N per model.

use chrono::{DateTime, Utc};
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::{
    EmbeddingRepository, EnrichmentRepository, EnrichmentType, EnrichmentVersion, JobId,
    ModelConfig, ModelConfigRepository, ModelId, ModelVersion, SectionRepository, SkillRepository,
};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Jobs are enqueued in chunks of this many ids (one store call each).
const ENQUEUE_CHUNK: usize = 5_000;

/// What a re-enrichment request did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReenrichReport {
    pub enrichment_type: Option<EnrichmentType>,
    pub enrichment_version: Option<EnrichmentVersion>,
    /// Jobs without a successful enrichment at the version (the anti-join).
    pub needing: u64,
    /// Of those, jobs that got a new pending enrichment.
    pub newly_queued: u64,
    /// Of those, jobs already queued, in progress or failed at this version.
    pub already_queued: u64,
}

/// Queues every job that lacks a successful `enrichment_type` enrichment at `version`.
pub async fn queue_missing_enrichments(
    enrichments: &dyn EnrichmentRepository,
    enrichment_type: EnrichmentType,
    version: &EnrichmentVersion,
    now: DateTime<Utc>,
) -> StoreResult<ReenrichReport> {
    let needing = enrichments
        .find_jobs_needing_enrichment(enrichment_type, version, usize::MAX)
        .await?;
    let mut newly_queued = 0;
    for chunk in needing.chunks(ENQUEUE_CHUNK) {
        newly_queued += enrichments
            .enqueue_enrichments(chunk, enrichment_type, version, now)
            .await?;
    }
    Ok(ReenrichReport {
        enrichment_type: Some(enrichment_type),
        enrichment_version: Some(version.clone()),
        needing: needing.len() as u64,
        newly_queued,
        already_queued: needing.len() as u64 - newly_queued,
    })
}

/// Postings stored but never queued — an ingest killed (or out of disk)
/// between storing a batch and queueing it — get a pending enrichment of each
/// type at its active version. `migrate` and `run` perform this repair and
/// report it. Jobs are repaired when the re-enrichment anti-join finds them at
/// every version of the type with queue rows (no successful result anywhere),
/// so a job with an older version's result is left to `reenrich`. Types with
/// no active model are skipped. Reports only count newly created rows.
pub async fn queue_never_queued(
    enrichments: &dyn EnrichmentRepository,
    models: &dyn ModelConfigRepository,
    types: &[EnrichmentType],
    now: DateTime<Utc>,
) -> StoreResult<Vec<ReenrichReport>> {
    let counts = enrichments.enrichment_status_counts().await?;
    let mut reports = Vec::new();
    for &t in types {
        let Some(active) = models.active_model_for_type(t).await? else {
            continue;
        };
        let version = active.enrichment_version();
        let mut never: BTreeSet<JobId> = enrichments
            .find_jobs_needing_enrichment(t, &version, usize::MAX)
            .await?
            .into_iter()
            .collect();
        let other_versions: BTreeSet<&EnrichmentVersion> = counts
            .iter()
            .filter(|c| c.enrichment_type == t && c.enrichment_version != version)
            .map(|c| &c.enrichment_version)
            .collect();
        for other in other_versions {
            if never.is_empty() {
                break;
            }
            let lacking: BTreeSet<JobId> = enrichments
                .find_jobs_needing_enrichment(t, other, usize::MAX)
                .await?
                .into_iter()
                .collect();
            never.retain(|id| lacking.contains(id));
        }
        let never: Vec<JobId> = never.into_iter().collect();
        let mut newly_queued = 0;
        for chunk in never.chunks(ENQUEUE_CHUNK) {
            newly_queued += enrichments
                .enqueue_enrichments(chunk, t, &version, now)
                .await?;
        }
        reports.push(ReenrichReport {
            enrichment_type: Some(t),
            enrichment_version: Some(version),
            needing: never.len() as u64,
            newly_queued,
            already_queued: never.len() as u64 - newly_queued,
        });
    }
    Ok(reports)
}

/// What pruning removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    pub kept_versions: Vec<String>,
    pub pruned_skill_versions: Vec<String>,
    pub skills_deleted: u64,
    pub pruned_section_versions: Vec<String>,
    pub sections_deleted: u64,
    pub pruned_embedding_versions: Vec<String>,
    pub embeddings_deleted: u64,
}

/// Order of an enrichment version within its model: `legacy` first, then
/// `model@vX.Y` by numeric version; unparseable versions sort first.
fn version_rank(version: &str) -> (u8, (u64, u64, bool, String)) {
    match version.split_once('@').map(|(_, v)| ModelVersion::parse(v)) {
        Some(Ok(v)) => (1, v.sort_key()),
        _ => (0, (0, 0, false, version.to_string())),
    }
}

fn model_of(version: &str) -> &str {
    version.split_once('@').map(|(m, _)| m).unwrap_or(version)
}

/// Versions to delete: all but the newest `keep` of each model, never an
/// active one.
fn versions_to_prune(
    versions: impl IntoIterator<Item = String>,
    keep: usize,
    active: &BTreeSet<String>,
) -> (Vec<String>, Vec<String>) {
    let mut by_model: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for v in versions {
        by_model
            .entry(model_of(&v).to_string())
            .or_default()
            .push(v);
    }
    let (mut kept, mut pruned) = (Vec::new(), Vec::new());
    for (_, mut list) in by_model {
        list.sort_by_key(|v| std::cmp::Reverse(version_rank(v)));
        list.dedup();
        for (i, v) in list.into_iter().enumerate() {
            if i < keep || active.contains(&v) {
                kept.push(v);
            } else {
                pruned.push(v);
            }
        }
    }
    kept.sort();
    pruned.sort();
    (kept, pruned)
}

/// Deletes stored skills, sections and posting vectors of all but the newest
/// `keep` versions of each model (active versions are always kept). `keep`
/// must be at least 1.
pub async fn prune_old_versions(
    skills: &dyn SkillRepository,
    sections: &dyn SectionRepository,
    embeddings: &dyn EmbeddingRepository,
    models: &dyn ModelConfigRepository,
    keep: usize,
) -> StoreResult<PruneReport> {
    let keep = keep.max(1);
    let registered = models.list_models(None).await?;
    let active: BTreeSet<String> = registered
        .iter()
        .filter(|m| m.is_active)
        .map(|m| m.enrichment_version().to_string())
        .collect();

    let skill_versions = skills.skill_versions().await?;
    let (mut kept, pruned_skills) = versions_to_prune(
        skill_versions.into_iter().map(|(v, _)| v.to_string()),
        keep,
        &active,
    );
    let to_delete: Vec<EnrichmentVersion> = pruned_skills
        .iter()
        .filter_map(|v| EnrichmentVersion::parse(v.clone()).ok())
        .collect();
    let skills_deleted = if to_delete.is_empty() {
        0
    } else {
        skills.delete_skills_at_versions(&to_delete).await?
    };

    // Sections are stored per classifier version, which is the section
    // model's enrichment version; the registry lists them.
    let section_versions = registered
        .iter()
        .filter(|m| m.model_type == EnrichmentType::SectionClassification)
        .map(|m| m.enrichment_version().to_string());
    let (kept_sections, pruned_sections) = versions_to_prune(section_versions, keep, &active);
    let sections_deleted = if pruned_sections.is_empty() {
        0
    } else {
        sections
            .delete_sections_at_versions(&pruned_sections)
            .await?
    };
    kept.extend(kept_sections);

    let embedding_versions = embeddings.embedding_versions().await?;
    let (kept_embeddings, pruned_embeddings) = versions_to_prune(
        embedding_versions.into_iter().map(|(v, _)| v.to_string()),
        keep,
        &active,
    );
    let to_delete: Vec<EnrichmentVersion> = pruned_embeddings
        .iter()
        .filter_map(|v| EnrichmentVersion::parse(v.clone()).ok())
        .collect();
    let embeddings_deleted = if to_delete.is_empty() {
        0
    } else {
        embeddings.delete_embeddings_at_versions(&to_delete).await?
    };
    kept.extend(kept_embeddings);
    kept.sort();
    kept.dedup();
    Ok(PruneReport {
        kept_versions: kept,
        pruned_skill_versions: pruned_skills,
        skills_deleted,
        pruned_section_versions: pruned_sections,
        sections_deleted,
        pruned_embedding_versions: pruned_embeddings,
        embeddings_deleted,
    })
}

/// The model `jobenrich run` registers and activates on a store that has
/// none of a type, so the main job works out of the box.
pub fn default_model(enrichment_type: EnrichmentType, now: DateTime<Utc>) -> Option<ModelConfig> {
    let (id, description) = match enrichment_type {
        EnrichmentType::SkillsExtraction => (
            "skills_extractor",
            "Shipped default: lexicon, alias and pattern strategies with the engine's default weights",
        ),
        EnrichmentType::SectionClassification => (
            "section_classifier",
            "Shipped default: rule-based section headers with the engine's default keyword weights",
        ),
        _ => return None,
    };
    let mut model = ModelConfig::new(
        ModelId::parse(id).ok()?,
        enrichment_type,
        ModelVersion::parse("v1.0").ok()?,
        now,
    );
    model.description = Some(description.to_string());
    Some(model)
}

/// Registers and activates the default model of each type that has no
/// active model. Returns the models activated.
pub async fn ensure_active_models(
    models: &dyn ModelConfigRepository,
    types: &[EnrichmentType],
    activated_by: &str,
    now: DateTime<Utc>,
) -> StoreResult<Vec<ModelConfig>> {
    let mut activated = Vec::new();
    for &t in types {
        if models.active_model_for_type(t).await?.is_some() {
            continue;
        }
        let Some(default) = default_model(t, now) else {
            continue;
        };
        if models
            .get_model(&default.model_id, &default.version)
            .await?
            .is_none()
        {
            models.register_model(&default).await?;
        }
        activated.push(
            models
                .activate_model(&default.model_id, &default.version, activated_by, now)
                .await?,
        );
    }
    Ok(activated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_the_newest_versions_of_each_model_and_every_active_one() {
        let versions = [
            "legacy",
            "skills_extractor@v1.0",
            "skills_extractor@v1.10",
            "skills_extractor@v1.9",
            "skills_extractor@v2.0-rc-1",
            "other@v1.0",
        ]
        .map(String::from);
        let active = BTreeSet::from(["skills_extractor@v1.0".to_string()]);
        let (kept, pruned) = versions_to_prune(versions, 2, &active);
        assert_eq!(
            kept,
            [
                "legacy",
                "other@v1.0",
                "skills_extractor@v1.0",
                "skills_extractor@v1.10",
                "skills_extractor@v2.0-rc-1"
            ]
        );
        assert_eq!(pruned, ["skills_extractor@v1.9"]);
    }
}
