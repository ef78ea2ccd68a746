//! One enrichment of one job by one type at one version, with its lease.

use crate::validation::Validate;
use crate::JobEmbedding;
use crate::{DomainError, ValidationError};
use crate::{EnrichmentOutcome, EnrichmentResult, ExtractedSkill, StoreError, TransitionDetails};
use crate::{EnrichmentStatus, EnrichmentType, EnrichmentVersion, JobId, ModelId, ModelVersion};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Natural key: a job is enriched at most once per type and version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EnrichmentKey {
    pub job_posting_id: JobId,
    pub enrichment_type: EnrichmentType,
    pub enrichment_version: EnrichmentVersion,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEnrichment {
    /// The seed's row id, a UUID (v4 for rows this project creates; an adopted
    /// dataset's own ids are kept).
    pub enrichment_id: Uuid,
    pub job_posting_id: JobId,
    pub enrichment_type: EnrichmentType,
    pub enrichment_version: EnrichmentVersion,
    pub status: EnrichmentStatus,
    pub model_id: Option<ModelId>,
    pub model_version: Option<ModelVersion>,
    /// Times this enrichment entered `processing` (each claim is an attempt).
    pub attempts: u32,
    pub error_message: Option<String>,
    /// What the run recorded about this enrichment, a JSON object (e.g. how
    /// many skills and sections a success wrote); `{}` until then.
    pub metadata: serde_json::Map<String, serde_json::Value>,
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
        job_posting_id: JobId,
        enrichment_type: EnrichmentType,
        enrichment_version: EnrichmentVersion,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            enrichment_id: Uuid::new_v4(),
            job_posting_id,
            enrichment_type,
            enrichment_version,
            status: EnrichmentStatus::Pending,
            model_id: None,
            model_version: None,
            attempts: 0,
            error_message: None,
            metadata: serde_json::Map::new(),
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
            job_posting_id: self.job_posting_id.clone(),
            enrichment_type: self.enrichment_type,
            enrichment_version: self.enrichment_version.clone(),
        }
    }

    /// Moves through the state machine, keeping attempts, lease and timestamps
    /// consistent with the new status. Private: stores go through the checked
    /// `apply_transition` (lease holder rule) or `complete`.
    fn transition(
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
            self.job_posting_id, self.enrichment_type, self.enrichment_version
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

/// What completing one enrichment did to its row (`JobEnrichment::complete`).
#[derive(Debug, Clone, PartialEq)]
pub enum CompletionStep {
    /// The lease is no longer held by the outcome's owner: nothing is written.
    LostLease,
    /// The row is `success`; these skills (stamped with the enrichment's id)
    /// replace its earlier results, and so does its vector (also stamped).
    Succeeded {
        skills: Vec<ExtractedSkill>,
        embedding: Option<JobEmbedding>,
    },
    /// The row is `failed`.
    Failed,
}

/// The `metadata` key that marks a final failure (`"retryable": false`):
/// stores keep such a row out of `requeue_failed` and list it as a dead
/// letter. A JSON key rather than a column, so an adopted seed table needs
/// no schema change for it.
pub const RETRYABLE_KEY: &str = "retryable";

impl JobEnrichment {
    /// Whether this row is a dead letter: failed, and either out of attempts
    /// or failed finally (another attempt at this version cannot succeed).
    /// Stores express the same test in SQL (`requeue_failed`, `dead_letters`).
    pub fn is_dead_letter(&self, max_attempts: u32) -> bool {
        self.status == EnrichmentStatus::Failed
            && (self.attempts >= max_attempts
                || self.metadata.get(RETRYABLE_KEY) == Some(&serde_json::Value::Bool(false)))
    }

    /// The completion rule every store applies to a row it read: the outcome
    /// counts only while its owner still holds the lease; a success records the
    /// model, the metadata (with the counts written) and references this
    /// enrichment from its skills; a failure records the error and when it may
    /// be retried. Stores persist the row and the returned results.
    pub fn complete(
        &mut self,
        outcome: &EnrichmentOutcome,
        now: DateTime<Utc>,
    ) -> Result<CompletionStep, DomainError> {
        self.complete_taking(&mut outcome.clone(), now)
    }

    /// [`JobEnrichment::complete`] that moves the skills and vector out of
    /// `outcome` instead of copying them: a store's write path owns its
    /// batch, and copying ~30 skills per posting was a tenth of its work.
    /// `outcome` keeps everything else (sections, metadata).
    pub fn complete_taking(
        &mut self,
        outcome: &mut EnrichmentOutcome,
        now: DateTime<Utc>,
    ) -> Result<CompletionStep, DomainError> {
        let held = self.status == EnrichmentStatus::Processing
            && self.lease_owner.as_deref() == Some(outcome.lease_owner.as_str());
        if !held {
            return Ok(CompletionStep::LostLease);
        }
        match &mut outcome.result {
            EnrichmentResult::Success(success) => {
                self.transition(EnrichmentStatus::Success, now)?;
                self.model_id = Some(success.model_id.clone());
                self.model_version = Some(success.model_version.clone());
                self.next_attempt_at = None;
                let mut metadata = success.metadata.clone();
                metadata.insert("skills".into(), success.skills.len().into());
                metadata.insert("sections".into(), success.sections.len().into());
                if let Some(embedding) = &success.embedding {
                    metadata.insert("dimension".into(), embedding.dimension().into());
                }
                self.metadata = metadata;
                let mut skills = std::mem::take(&mut success.skills);
                for skill in &mut skills {
                    skill.enrichment_id = Some(self.enrichment_id);
                }
                let embedding = success.embedding.take().map(|e| JobEmbedding {
                    enrichment_id: Some(self.enrichment_id),
                    ..e
                });
                Ok(CompletionStep::Succeeded { skills, embedding })
            }
            EnrichmentResult::Failure {
                error_message,
                retry_at,
                retryable,
            } => {
                self.transition(EnrichmentStatus::Failed, now)?;
                self.error_message = Some(error_message.clone());
                if *retryable {
                    self.next_attempt_at = *retry_at;
                    self.metadata.remove(RETRYABLE_KEY);
                } else {
                    self.next_attempt_at = None;
                    self.metadata
                        .insert(RETRYABLE_KEY.into(), serde_json::Value::Bool(false));
                }
                Ok(CompletionStep::Failed)
            }
        }
    }
}

/// What a claim did to one row it looked at (`JobEnrichment::claim`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimStep {
    /// Not due at the claim's `now` (a future retry, or a live lease): unchanged.
    NotDue,
    /// Leased to the claimer: `processing`, one more attempt.
    Leased,
    /// Its lease expired with the attempts used up: failed as a dead letter.
    Abandoned,
}

impl JobEnrichment {
    /// Whether a claim at `now` takes this row: `pending` and due, or
    /// `processing` with its lease expired. Stores that select in SQL say the
    /// same thing there.
    pub fn is_claimable(&self, now: DateTime<Utc>) -> bool {
        match self.status {
            EnrichmentStatus::Pending => self.next_attempt_at.is_none_or(|t| t <= now),
            EnrichmentStatus::Processing => self.lease_expires_at.is_some_and(|t| t <= now),
            _ => false,
        }
    }

    /// The claim rule for a store that plans claims in code rather than in
    /// one SQL statement: a due row is leased to the request's owner until
    /// `now + lease` (attempts + 1), or, if its expired lease used up the
    /// attempts ([`crate::ClaimRequest::abandons`]), failed as abandoned.
    pub fn claim(&mut self, request: &crate::ClaimRequest) -> ClaimStep {
        if !self.is_claimable(request.now) {
            return ClaimStep::NotDue;
        }
        self.updated_at = request.now;
        if request.abandons(self) {
            self.status = EnrichmentStatus::Failed;
            self.lease_owner = None;
            self.lease_expires_at = None;
            self.error_message = Some(request.abandoned_error());
            self.next_attempt_at = None;
            self.completed_at = Some(request.now);
            return ClaimStep::Abandoned;
        }
        self.status = EnrichmentStatus::Processing;
        self.lease_owner = Some(request.owner.clone());
        self.lease_expires_at = Some(request.now + request.lease);
        self.attempts += 1;
        self.error_message = None;
        self.completed_at = None;
        ClaimStep::Leased
    }

    /// The release rule (`EnrichmentRepository::release_enrichments`): a row
    /// `processing` under `owner` goes back to `pending` and the interrupted
    /// attempt is not counted. Returns whether the row changed.
    pub fn release(&mut self, owner: &str, now: DateTime<Utc>) -> bool {
        if self.status != EnrichmentStatus::Processing || self.lease_owner.as_deref() != Some(owner)
        {
            return false;
        }
        self.status = EnrichmentStatus::Pending;
        self.lease_owner = None;
        self.lease_expires_at = None;
        self.attempts = self.attempts.saturating_sub(1);
        self.updated_at = now;
        self.completed_at = None;
        true
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

    fn claimed(owner: &str) -> JobEnrichment {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut e = JobEnrichment::pending(
            JobId::parse("j1").unwrap(),
            EnrichmentType::SkillsExtraction,
            EnrichmentVersion::legacy(),
            t0,
        );
        e.apply_transition(
            EnrichmentStatus::Processing,
            &TransitionDetails {
                lease_owner: Some(owner.into()),
                ..Default::default()
            },
            t0,
        )
        .unwrap();
        e
    }

    fn skill(e: &JobEnrichment) -> ExtractedSkill {
        ExtractedSkill {
            skill_id: Uuid::new_v4(),
            job_posting_id: e.job_posting_id.clone(),
            enrichment_id: None,
            skill_name: "Rust".into(),
            skill_category: crate::SkillCategory::ProgrammingLanguages,
            confidence_score: 0.9,
            source_strategies: vec![crate::ExtractionStrategy::Lexicon],
            section_relevance_score: None,
            extracted_from_section: None,
            context_snippet: None,
            position_in_text: None,
            mention_count: 1,
            mention_spans: vec![],
            taxonomy_ref: None,
            taxonomy_links: Vec::new(),
            enrichment_version: e.enrichment_version.clone(),
            created_at: e.created_at,
        }
    }

    #[test]
    fn an_embedding_success_stamps_the_vector_and_records_its_dimension() {
        let mut e = claimed("w1");
        let now = e.updated_at + chrono::Duration::seconds(5);
        let vector = JobEmbedding {
            job_posting_id: e.job_posting_id.clone(),
            enrichment_id: None,
            enrichment_version: e.enrichment_version.clone(),
            model_id: ModelId::parse("job_embedder").unwrap(),
            model_version: ModelVersion::parse("v1.0").unwrap(),
            vector: vec![0.6, 0.8],
            source_chars: 42,
            created_at: now,
        };
        let outcome = EnrichmentOutcome {
            key: e.key(),
            lease_owner: "w1".into(),
            result: EnrichmentResult::Success(crate::EnrichmentSuccess {
                model_id: vector.model_id.clone(),
                model_version: vector.model_version.clone(),
                skills: vec![],
                sections: vec![],
                embedding: Some(vector.clone()),
                metadata: Default::default(),
            }),
        };
        assert!(outcome.validate().is_ok());
        let CompletionStep::Succeeded { embedding, .. } = e.complete(&outcome, now).unwrap() else {
            panic!("the holder's success completes");
        };
        let stored = embedding.expect("the vector is written");
        assert_eq!(stored.enrichment_id, Some(e.enrichment_id));
        assert_eq!(stored.vector, vector.vector);
        assert_eq!(e.metadata.get("dimension"), Some(&serde_json::json!(2)));

        let mut foreign = outcome.clone();
        if let EnrichmentResult::Success(s) = &mut foreign.result {
            s.embedding.as_mut().unwrap().job_posting_id = JobId::parse("other").unwrap();
        }
        let err = foreign.validate().unwrap_err().to_string();
        assert!(err.contains("JobEmbedding"), "{err}");
    }

    #[test]
    fn completion_needs_the_lease_and_stamps_results_with_the_enrichment_id() {
        let mut e = claimed("w1");
        let now = e.updated_at + chrono::Duration::seconds(5);
        let outcome = |owner: &str, e: &JobEnrichment| EnrichmentOutcome {
            key: e.key(),
            lease_owner: owner.into(),
            result: EnrichmentResult::Success(crate::EnrichmentSuccess {
                model_id: ModelId::parse("skills_extractor").unwrap(),
                model_version: ModelVersion::parse("v1.0").unwrap(),
                skills: vec![skill(e)],
                sections: vec![],
                embedding: None,
                metadata: serde_json::Map::from_iter([("engine_ms".to_string(), 3.into())]),
            }),
        };
        let before = e.clone();
        assert_eq!(
            e.complete(&outcome("w2", &before), now).unwrap(),
            CompletionStep::LostLease
        );
        assert_eq!(e, before, "a lost lease changes nothing");
        let held = outcome("w1", &before);
        let CompletionStep::Succeeded { skills, embedding } = e.complete(&held, now).unwrap()
        else {
            panic!("the holder's success completes");
        };
        assert_eq!(skills[0].enrichment_id, Some(e.enrichment_id));
        assert_eq!(embedding, None);
        assert_eq!(e.status, EnrichmentStatus::Success);
        assert_eq!(e.model_version.as_ref().unwrap().as_str(), "v1.0");
        assert_eq!(
            serde_json::Value::Object(e.metadata.clone()),
            serde_json::json!({"engine_ms": 3, "skills": 1, "sections": 0})
        );
        assert_eq!(e.lease_owner, None);

        // Taking the results out gives the same row and results, and leaves
        // the outcome's skills behind it (moved, not copied).
        let mut taken = before.clone();
        let mut owned = held.clone();
        let step = taken.complete_taking(&mut owned, now).unwrap();
        assert_eq!(taken, e);
        assert_eq!(
            step,
            CompletionStep::Succeeded {
                skills: skills.clone(),
                embedding: None
            }
        );
        let EnrichmentResult::Success(rest) = &owned.result else {
            panic!("still a success");
        };
        assert!(rest.skills.is_empty() && rest.metadata.contains_key("engine_ms"));

        let mut f = claimed("w1");
        let failure = EnrichmentOutcome {
            key: f.key(),
            lease_owner: "w1".into(),
            result: EnrichmentResult::Failure {
                error_message: "boom".into(),
                retry_at: Some(now),
                retryable: true,
            },
        };
        assert_eq!(f.complete(&failure, now).unwrap(), CompletionStep::Failed);
        assert_eq!(
            (f.status, f.error_message.as_deref(), f.next_attempt_at),
            (EnrichmentStatus::Failed, Some("boom"), Some(now))
        );
        assert!(
            !f.is_dead_letter(3),
            "a retryable failure with attempts left"
        );
        assert!(f.is_dead_letter(1), "a failure out of attempts");
    }

    #[test]
    fn a_final_failure_is_a_dead_letter_at_once_until_a_later_attempt_clears_it() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let claimed = || {
            let mut e = JobEnrichment::pending(
                JobId::parse("j1").unwrap(),
                EnrichmentType::SkillsExtraction,
                EnrichmentVersion::legacy(),
                now,
            );
            e.transition(EnrichmentStatus::Processing, now).unwrap();
            e.lease_owner = Some("w1".into());
            e
        };
        let failure = |e: &JobEnrichment, retryable| EnrichmentOutcome {
            key: e.key(),
            lease_owner: "w1".into(),
            result: EnrichmentResult::Failure {
                error_message: "input refused".into(),
                retry_at: Some(now + chrono::Duration::seconds(30)),
                retryable,
            },
        };
        let mut e = claimed();
        e.complete(&failure(&e, false), now).unwrap();
        assert_eq!(e.attempts, 1);
        assert!(e.is_dead_letter(3), "final on its first attempt");
        assert_eq!(e.next_attempt_at, None, "no retry time for a final failure");
        assert_eq!(
            e.metadata.get(RETRYABLE_KEY),
            Some(&serde_json::Value::Bool(false))
        );

        // A manual retry (e.g. after the limit was raised) that fails again,
        // retryably, is an ordinary failure again.
        e.transition(EnrichmentStatus::Pending, now).unwrap();
        e.transition(EnrichmentStatus::Processing, now).unwrap();
        e.lease_owner = Some("w1".into());
        e.complete(&failure(&e, true), now).unwrap();
        assert!(!e.is_dead_letter(3));
        assert_eq!(e.metadata.get(RETRYABLE_KEY), None);
    }

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

    fn request(owner: &str, now: DateTime<Utc>) -> crate::ClaimRequest {
        crate::ClaimRequest {
            enrichment_type: EnrichmentType::SkillsExtraction,
            enrichment_version: None,
            owner: owner.into(),
            lease: chrono::Duration::seconds(30),
            limit: 10,
            max_attempts: 2,
            now,
        }
    }

    #[test]
    fn claims_lease_due_rows_reclaim_expired_ones_and_abandon_at_the_cap() {
        let mut e = claimed("a");
        e.release("a", e.updated_at);
        let t0 = e.updated_at;
        e.next_attempt_at = Some(t0 + chrono::Duration::seconds(5));
        assert_eq!(
            e.claim(&request("a", t0)),
            ClaimStep::NotDue,
            "a retry not yet due"
        );
        let t1 = t0 + chrono::Duration::seconds(5);
        assert_eq!(e.claim(&request("a", t1)), ClaimStep::Leased);
        assert_eq!(
            (
                e.status,
                e.lease_owner.as_deref(),
                e.attempts,
                e.lease_expires_at
            ),
            (
                EnrichmentStatus::Processing,
                Some("a"),
                1,
                Some(t1 + chrono::Duration::seconds(30))
            )
        );
        let live = t1 + chrono::Duration::seconds(29);
        assert_eq!(
            e.claim(&request("b", live)),
            ClaimStep::NotDue,
            "a live lease"
        );
        let expired = t1 + chrono::Duration::seconds(30);
        assert_eq!(e.claim(&request("b", expired)), ClaimStep::Leased);
        assert_eq!((e.lease_owner.as_deref(), e.attempts), (Some("b"), 2));
        let later = expired + chrono::Duration::seconds(30);
        assert_eq!(e.claim(&request("c", later)), ClaimStep::Abandoned);
        assert_eq!(e.status, EnrichmentStatus::Failed);
        assert_eq!(e.attempts, 2, "abandoning is not an attempt");
        assert!(e.is_dead_letter(2));
        assert_eq!(
            e.claim(&request("c", later)),
            ClaimStep::NotDue,
            "failed rows wait for requeue"
        );
    }

    #[test]
    fn only_the_lease_holder_releases_and_the_attempt_is_not_counted() {
        let mut e = claimed("a");
        let now = e.updated_at + chrono::Duration::seconds(1);
        assert!(!e.release("b", now), "someone else's lease");
        assert_eq!(e.status, EnrichmentStatus::Processing);
        assert!(e.release("a", now));
        assert_eq!(
            (e.status, e.attempts, e.lease_owner.as_deref(), e.updated_at),
            (EnrichmentStatus::Pending, 0, None, now)
        );
        assert!(!e.release("a", now), "already pending");
    }
}
