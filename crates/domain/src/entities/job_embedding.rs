//! One vector per posting and embeddings version (`job_embeddings`).

use crate::validation::Validate;
use crate::{EnrichmentVersion, JobId, ModelId, ModelVersion, ValidationError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Largest vector a store accepts: BERT-large and most sentence encoders
/// are ≤ 1,024; the cap keeps a corrupt result from writing megabytes.
pub const MAX_EMBEDDING_DIM: usize = 4096;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEmbedding {
    pub job_posting_id: JobId,
    /// The `embeddings` enrichment that wrote it (stamped on completion).
    pub enrichment_id: Option<Uuid>,
    pub enrichment_version: EnrichmentVersion,
    pub model_id: ModelId,
    pub model_version: ModelVersion,
    /// Unit length (`TextEncoder`), so a dot product is the cosine.
    pub vector: Vec<f32>,
    /// Characters of posting text the vector was computed from (title and
    /// skills-relevant sections, before the encoder's token limit).
    pub source_chars: u32,
    pub created_at: DateTime<Utc>,
}

impl JobEmbedding {
    pub fn dimension(&self) -> usize {
        self.vector.len()
    }

    /// Cosine similarity of two stored vectors (both unit length); `None`
    /// when their dimensions differ (different encoders).
    pub fn similarity(&self, other: &JobEmbedding) -> Option<f32> {
        (self.vector.len() == other.vector.len())
            .then(|| crate::encoder::dot(&self.vector, &other.vector))
    }
}

impl Validate for JobEmbedding {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.vector.is_empty() || self.vector.len() > MAX_EMBEDDING_DIM {
            return Err(ValidationError::new(
                "JobEmbedding",
                "vector",
                format!(
                    "must hold 1..={MAX_EMBEDDING_DIM} values, got {}",
                    self.vector.len()
                ),
            ));
        }
        if let Some(i) = self.vector.iter().position(|x| !x.is_finite()) {
            return Err(ValidationError::new(
                "JobEmbedding",
                "vector",
                format!("value {i} is not a finite number"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embedding(vector: Vec<f32>) -> JobEmbedding {
        JobEmbedding {
            job_posting_id: JobId::parse("j1").unwrap(),
            enrichment_id: None,
            enrichment_version: EnrichmentVersion::parse("job_embedder@v1.0").unwrap(),
            model_id: ModelId::parse("job_embedder").unwrap(),
            model_version: ModelVersion::parse("v1.0").unwrap(),
            vector,
            source_chars: 10,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn empty_oversized_and_non_finite_vectors_are_refused_by_field() {
        assert!(embedding(vec![0.6, 0.8]).validate().is_ok());
        for bad in [
            vec![],
            vec![0.0; MAX_EMBEDDING_DIM + 1],
            vec![0.1, f32::NAN],
            vec![f32::INFINITY],
        ] {
            let err = embedding(bad).validate().unwrap_err().to_string();
            assert!(
                err.contains("JobEmbedding") && err.contains("vector"),
                "{err}"
            );
        }
    }

    #[test]
    fn similarity_is_the_dot_product_and_needs_equal_dimensions() {
        let a = embedding(vec![0.6, 0.8]);
        let b = embedding(vec![0.8, 0.6]);
        assert!((a.similarity(&b).unwrap() - 0.96).abs() < 1e-6);
        assert_eq!(a.similarity(&embedding(vec![1.0])), None);
    }
}
