//! A job's membership in a cluster of one clustering run.

use crate::validation::{non_empty, Validate};
use crate::{JobId, ModelId, ModelVersion, ValidationError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterKeyword {
    pub term: String,
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterAssignment {
    pub job_id: JobId,
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
    pub assigned_at: DateTime<Utc>,
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
    pub job_id: JobId,
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
    pub job_id: JobId,
    pub old_cluster_id: u32,
    pub old_cluster_name: String,
    pub new_cluster_id: u32,
    pub new_cluster_name: String,
}
