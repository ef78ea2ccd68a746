//! One enrichment of one job by one type at one version, with its lease.

use crate::validation::Validate;
use crate::{DomainError, ValidationError};
use crate::{EnrichmentStatus, EnrichmentType, EnrichmentVersion, JobId, ModelId, ModelVersion};
use crate::{StoreError, TransitionDetails};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Natural key: a job is enriched at most once per type and version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EnrichmentKey {
    pub job_id: JobId,
    pub enrichment_type: EnrichmentType,
    pub enrichment_version: EnrichmentVersion,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEnrichment {
    pub job_id: JobId,
    pub enrichment_type: EnrichmentType,
    pub enrichment_version: EnrichmentVersion,
    pub status: EnrichmentStatus,
    pub model_id: Option<ModelId>,
    pub model_version: Option<ModelVersion>,
    /// Times this enrichment entered `processing` (each claim is an attempt).
    pub attempts: u32,
    pub error_message: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// A failed enrichment is not retried before this instant (backoff).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl JobEnrichment {
    /// A fresh pending enrichment.
    pub fn pending(
        job_id: JobId,
        enrichment_type: EnrichmentType,
        enrichment_version: EnrichmentVersion,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            job_id,
            enrichment_type,
            enrichment_version,
            status: EnrichmentStatus::Pending,
            model_id: None,
            model_version: None,
            attempts: 0,
            error_message: None,
            lease_owner: None,
            lease_expires_at: None,
            next_attempt_at: None,
            created_at: now,
            updated_at: now,
            completed_at: None,
        }
    }

    pub fn key(&self) -> EnrichmentKey {
        EnrichmentKey {
            job_id: self.job_id.clone(),
            enrichment_type: self.enrichment_type,
            enrichment_version: self.enrichment_version.clone(),
        }
    }

    /// Moves through the state machine, keeping attempts, lease and timestamps
    /// consistent with the new status.
    pub fn transition(
        &mut self,
        next: EnrichmentStatus,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        self.status.transition_to(next)?;
        match next {
            EnrichmentStatus::Processing => {
                self.attempts += 1;
                self.error_message = None;
            }
            EnrichmentStatus::Success => {
                self.completed_at = Some(now);
                self.error_message = None;
                self.lease_owner = None;
                self.lease_expires_at = None;
            }
            EnrichmentStatus::Failed => {
                self.completed_at = Some(now);
                self.lease_owner = None;
                self.lease_expires_at = None;
            }
            EnrichmentStatus::Pending => {
                self.lease_owner = None;
                self.lease_expires_at = None;
                self.completed_at = None;
            }
        }
        self.status = next;
        self.updated_at = now;
        Ok(())
    }
}

impl std::fmt::Display for EnrichmentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.job_id, self.enrichment_type, self.enrichment_version
        )
    }
}

impl JobEnrichment {
    /// The checked transition every store applies in
    /// `EnrichmentRepository::transition_enrichment`: the state machine, the
    /// lease holder rule when leaving `processing`, and the details each target
    /// status takes. Stores only load the row before and persist it after.
    pub fn apply_transition(
        &mut self,
        to: EnrichmentStatus,
        details: &TransitionDetails,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let from = self.status;
        if !from.can_transition_to(to) {
            return Err(DomainError::IllegalTransition { from, to }.into());
        }
        if from == EnrichmentStatus::Processing
            && details.lease_owner.as_deref() != self.lease_owner.as_deref()
        {
            return Err(StoreError::Conflict {
                entity: "JobEnrichment",
                key: self.key().to_string(),
                reason: format!(
                    "lease held by {:?}, not by {:?}",
                    self.lease_owner.as_deref().unwrap_or(""),
                    details.lease_owner.as_deref().unwrap_or("")
                ),
            });
        }
        self.transition(to, now)?;
        match to {
            EnrichmentStatus::Processing => {
                let owner = details
                    .lease_owner
                    .clone()
                    .filter(|o| !o.trim().is_empty())
                    .ok_or_else(|| {
                        ValidationError::new(
                            "JobEnrichment",
                            "lease_owner",
                            "must be set while processing",
                        )
                    })?;
                self.lease_owner = Some(owner);
                self.lease_expires_at = details.lease_expires_at;
            }
            EnrichmentStatus::Failed => {
                self.error_message = details.error_message.clone();
                self.next_attempt_at = details.next_attempt_at;
            }
            EnrichmentStatus::Pending => {
                if from == EnrichmentStatus::Processing {
                    // A release: the interrupted attempt is not counted.
                    self.attempts = self.attempts.saturating_sub(1);
                }
                if details.next_attempt_at.is_some() {
                    self.next_attempt_at = details.next_attempt_at;
                }
            }
            EnrichmentStatus::Success => {
                self.next_attempt_at = None;
            }
        }
        self.validate()?;
        Ok(())
    }
}

impl Validate for JobEnrichment {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.updated_at < self.created_at {
            return Err(ValidationError::new(
                "JobEnrichment",
                "updated_at",
                "must not be before created_at",
            ));
        }
        if self.status == EnrichmentStatus::Processing && self.lease_owner.is_none() {
            return Err(ValidationError::new(
                "JobEnrichment",
                "lease_owner",
                "must be set while processing",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn transitions_update_attempts_and_lease_and_reject_illegal_moves() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut e = JobEnrichment::pending(
            JobId::parse("j1").unwrap(),
            EnrichmentType::SkillsExtraction,
            EnrichmentVersion::legacy(),
            t0,
        );
        assert!(e.transition(EnrichmentStatus::Success, t0).is_err());
        e.transition(EnrichmentStatus::Processing, t0).unwrap();
        e.lease_owner = Some("w1".into());
        e.transition(EnrichmentStatus::Failed, t0).unwrap();
        assert_eq!(e.lease_owner, None);
        e.transition(EnrichmentStatus::Pending, t0).unwrap();
        e.transition(EnrichmentStatus::Processing, t0).unwrap();
        assert_eq!(e.attempts, 2);
        e.transition(EnrichmentStatus::Success, t0).unwrap();
        let err = e.transition(EnrichmentStatus::Pending, t0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "illegal enrichment transition success -> pending"
        );
    }
}
