//! A job's membership in a cluster of one clustering run.

use crate::validation::{non_empty, Validate};
use crate::{JobId, ModelId, ModelVersion, ValidationError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One entry of `cluster_keywords` (stored as a JSON array). Written as
/// `{"term", "score"}`; a bare string, as in a pre-extension dataset's
/// arrays of keywords, reads as that term with score 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "KeywordRepr")]
pub struct ClusterKeyword {
    pub term: String,
    pub score: f64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum KeywordRepr {
    Scored { term: String, score: f64 },
    Term(String),
}

impl From<KeywordRepr> for ClusterKeyword {
    fn from(r: KeywordRepr) -> Self {
        match r {
            KeywordRepr::Scored { term, score } => Self { term, score },
            KeywordRepr::Term(term) => Self { term, score: 0.0 },
        }
    }
}

impl ClusterKeyword {
    /// Parses a stored `cluster_keywords` value: the seed requires a JSON
    /// array (of keyword objects or strings); anything else is an error
    /// naming the field.
    pub fn parse_list(json: &str) -> Result<Vec<ClusterKeyword>, ValidationError> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| {
            ValidationError::new(
                "ClusterAssignment",
                "cluster_keywords",
                format!("must be a JSON array: {e}"),
            )
        })?;
        if !value.is_array() {
            return Err(ValidationError::new(
                "ClusterAssignment",
                "cluster_keywords",
                format!("must be a JSON array, got {value}"),
            ));
        }
        serde_json::from_value(value).map_err(|e| {
            ValidationError::new(
                "ClusterAssignment",
                "cluster_keywords",
                format!("entries must be keyword strings or {{term, score}} objects: {e}"),
            )
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterAssignment {
    /// The seed's row id, a UUID.
    pub cluster_assignment_id: Uuid,
    pub job_posting_id: JobId,
    /// The `skills_extraction` enrichment whose skills were this job's
    /// features (null when the job had no skills and was clustered on its
    /// title alone); see docs/data-model.md.
    pub enrichment_id: Option<Uuid>,
    pub cluster_id: u32,
    pub cluster_name: String,
    pub cluster_keywords: Vec<ClusterKeyword>,
    pub cluster_size: u32,
    /// One id per clustering run (a UUID).
    pub cluster_run_id: String,
    pub cluster_model_id: ModelId,
    pub cluster_model_version: ModelVersion,
    /// Per job: 1 for its first run, max(previous) + 1 after (set by the store).
    pub cluster_version: u32,
    /// Exactly one active assignment per job (enforced by the store).
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

impl Validate for ClusterAssignment {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.cluster_version < 1 {
            return Err(ValidationError::new(
                "ClusterAssignment",
                "cluster_version",
                "must be >= 1, got 0",
            ));
        }
        non_empty("ClusterAssignment", "cluster_name", &self.cluster_name)?;
        non_empty("ClusterAssignment", "cluster_run_id", &self.cluster_run_id)?;
        for k in &self.cluster_keywords {
            non_empty("ClusterAssignment", "cluster_keywords", &k.term)?;
            if !k.score.is_finite() {
                return Err(ValidationError::new(
                    "ClusterAssignment",
                    "cluster_keywords",
                    "scores must be finite",
                ));
            }
        }
        Ok(())
    }
}

/// What a clustering run proposes for one job; the store assigns the version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewClusterAssignment {
    pub job_posting_id: JobId,
    /// See `ClusterAssignment::enrichment_id`.
    pub enrichment_id: Option<Uuid>,
    pub cluster_id: u32,
    pub cluster_name: String,
    pub cluster_keywords: Vec<ClusterKeyword>,
    pub cluster_size: u32,
}

/// A whole clustering run, written atomically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusteringRun {
    pub cluster_run_id: String,
    pub cluster_model_id: ModelId,
    pub cluster_model_version: ModelVersion,
    pub assigned_at: DateTime<Utc>,
    pub assignments: Vec<NewClusterAssignment>,
}

impl ClusteringRun {
    /// The run's full assignments, each validated and with a fresh
    /// `cluster_assignment_id`, active, at placeholder version 1 (the store
    /// sets max + 1 per job). A job may appear once per run.
    pub fn expand(&self) -> Result<Vec<ClusterAssignment>, ValidationError> {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::with_capacity(self.assignments.len());
        for a in &self.assignments {
            if !seen.insert(&a.job_posting_id) {
                return Err(ValidationError::new(
                    "ClusteringRun",
                    "assignments",
                    format!(
                        "job {} appears more than once in run {}",
                        a.job_posting_id, self.cluster_run_id
                    ),
                ));
            }
            let full = ClusterAssignment {
                cluster_assignment_id: Uuid::new_v4(),
                job_posting_id: a.job_posting_id.clone(),
                enrichment_id: a.enrichment_id,
                cluster_id: a.cluster_id,
                cluster_name: a.cluster_name.clone(),
                cluster_keywords: a.cluster_keywords.clone(),
                cluster_size: a.cluster_size,
                cluster_run_id: self.cluster_run_id.clone(),
                cluster_model_id: self.cluster_model_id.clone(),
                cluster_model_version: self.cluster_model_version.clone(),
                cluster_version: 1,
                is_active: true,
                created_at: self.assigned_at,
            };
            full.validate()?;
            out.push(full);
        }
        Ok(out)
    }
}

/// Summary of a stored run (for listing and choosing runs to compare).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusteringRunSummary {
    pub cluster_run_id: String,
    pub cluster_model_id: ModelId,
    pub cluster_model_version: ModelVersion,
    pub assigned_at: DateTime<Utc>,
    pub job_count: u64,
    pub cluster_count: u64,
}

/// A job whose cluster differs between two runs (the stability query).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterChange {
    pub job_posting_id: JobId,
    pub old_cluster_id: u32,
    pub old_cluster_name: String,
    pub new_cluster_id: u32,
    pub new_cluster_name: String,
}
