//! Which queued enrichments get processed, and why the others are stuck.
//!
//! The rule: an enrichment is produced only at the **active** version of its
//! type, and only by a process whose `worker.types` includes the type (both
//! `jobenrich run` and `jobenrich-worker` follow it). So
//!
//! - pending work at any other version is never claimed — its results would be
//!   stale on arrival. It is not processed but removed: `jobenrich prune`
//!   deletes it (nothing is lost: the postings stay, and `reenrich` or `run`
//!   queue them again at whatever version is active then);
//! - work of a type no process handles waits until `worker.types` includes it,
//!   so `reenrich` refuses to queue such a type;
//! - `status` names each stuck group with its reason.

use crate::{EnrichmentStatus, EnrichmentType, EnrichmentVersion};
use serde::Serialize;

/// Why a group of queued enrichments will not be processed as things stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum StuckReason {
    /// Queued at a version that is not the active one of its type (`active`
    /// is `None` when the type has no active model).
    InactiveVersion { active: Option<EnrichmentVersion> },
    /// No enrichment process is configured for the type (`worker.types`).
    TypeNotProcessed,
}

impl std::fmt::Display for StuckReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StuckReason::InactiveVersion {
                active: Some(active),
            } => write!(
                f,
                "not the active version ({active}): never processed; `jobenrich prune` removes it"
            ),
            StuckReason::InactiveVersion { active: None } => write!(
                f,
                "its type has no active model: never processed; `jobenrich prune` removes it"
            ),
            StuckReason::TypeNotProcessed => write!(
                f,
                "no process handles this type: add it to worker.types to process it"
            ),
        }
    }
}

/// Whether queued enrichments in `status` of this type and version will be
/// processed; `Some(reason)` when they will not. Only `pending` work can be
/// stuck: `processing` work is in a worker's hands, finished work is done, and
/// a failure retried at an inactive version becomes pending (then stuck).
pub fn stuck_reason(
    enrichment_type: EnrichmentType,
    enrichment_version: &EnrichmentVersion,
    status: EnrichmentStatus,
    active_version: Option<&EnrichmentVersion>,
    processed_types: &[EnrichmentType],
) -> Option<StuckReason> {
    if status != EnrichmentStatus::Pending {
        return None;
    }
    if active_version != Some(enrichment_version) {
        return Some(StuckReason::InactiveVersion {
            active: active_version.cloned(),
        });
    }
    if !processed_types.contains(&enrichment_type) {
        return Some(StuckReason::TypeNotProcessed);
    }
    None
}

/// Whether pending work at `version` is removed by `prune` under the rule
/// above: it is, unless `version` is the active version of its type.
pub fn pending_is_removable(
    version: &EnrichmentVersion,
    active_version: Option<&EnrichmentVersion>,
) -> bool {
    active_version != Some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> EnrichmentVersion {
        EnrichmentVersion::parse(text.to_string()).unwrap()
    }

    #[test]
    fn pending_work_is_stuck_at_an_inactive_version_or_an_unprocessed_type() {
        use EnrichmentStatus::*;
        use EnrichmentType::*;
        let (old, new) = (v("skills_extractor@v1.0"), v("skills_extractor@v1.1"));
        let types = [SkillsExtraction];
        assert_eq!(
            stuck_reason(SkillsExtraction, &new, Pending, Some(&new), &types),
            None
        );
        assert_eq!(
            stuck_reason(SkillsExtraction, &old, Pending, Some(&new), &types),
            Some(StuckReason::InactiveVersion {
                active: Some(new.clone())
            })
        );
        assert_eq!(
            stuck_reason(SkillsExtraction, &old, Pending, None, &types),
            Some(StuckReason::InactiveVersion { active: None })
        );
        let sections = v("section_classifier@v1.0");
        assert_eq!(
            stuck_reason(
                SectionClassification,
                &sections,
                Pending,
                Some(&sections),
                &types
            ),
            Some(StuckReason::TypeNotProcessed)
        );
        for status in [Processing, Success, Failed] {
            assert_eq!(
                stuck_reason(SkillsExtraction, &old, status, Some(&new), &types),
                None
            );
        }
        assert!(pending_is_removable(&old, Some(&new)));
        assert!(pending_is_removable(&old, None));
        assert!(!pending_is_removable(&new, Some(&new)));
        assert!(StuckReason::TypeNotProcessed
            .to_string()
            .contains("worker.types"));
    }
}
