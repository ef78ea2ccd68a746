//! A versioned model configuration in the registry.

use crate::validation::{unit_interval, Validate};
use crate::{EnrichmentType, ModelId, ModelVersion, ValidationError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub model_id: ModelId,
    pub model_type: EnrichmentType,
    pub version: ModelVersion,
    pub description: Option<String>,
    /// At most one active version per model id (enforced by the store).
    pub is_active: bool,
    /// Engine parameters this version overrides (weights, thresholds, …), a JSON object.
    pub config_overrides: serde_json::Map<String, serde_json::Value>,
    /// Latest evaluation figures (e.g. `f1_score`, `precision`), updated by `evaluate`.
    pub performance_metrics: BTreeMap<String, f64>,
    /// The training data a trained model learnt from (dataset name + content
    /// hash); absent for rule-based versions.
    pub training_data_version: Option<String>,
    /// When a trained model was trained; absent for rule-based versions.
    pub training_date: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    pub activated_by: Option<String>,
}

impl ModelConfig {
    pub fn new(
        model_id: ModelId,
        model_type: EnrichmentType,
        version: ModelVersion,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            model_id,
            model_type,
            version,
            description: None,
            is_active: false,
            config_overrides: serde_json::Map::new(),
            performance_metrics: BTreeMap::new(),
            training_data_version: None,
            training_date: None,
            created_at: now,
            updated_at: now,
            activated_at: None,
            activated_by: None,
        }
    }

    pub fn enrichment_version(&self) -> crate::EnrichmentVersion {
        crate::EnrichmentVersion::for_model(&self.model_id, &self.version)
    }
}

impl Validate for ModelConfig {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.created_at > self.updated_at {
            return Err(ValidationError::new(
                "ModelConfig",
                "updated_at",
                format!(
                    "created_at ({}) must be <= updated_at ({})",
                    self.created_at, self.updated_at
                ),
            ));
        }
        for (name, value) in &self.performance_metrics {
            if !value.is_finite() {
                return Err(ValidationError::new(
                    "ModelConfig",
                    "performance_metrics",
                    format!("{name} must be finite"),
                ));
            }
            // The seed's rule: metrics are in [0, 1] (they are evaluation figures).
            unit_interval("ModelConfig", "performance_metrics", *value)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn created_after_updated_is_rejected() {
        let now = Utc::now();
        let mut m = ModelConfig::new(
            ModelId::parse("skills_extractor").unwrap(),
            EnrichmentType::SkillsExtraction,
            ModelVersion::parse("v1.0").unwrap(),
            now,
        );
        assert!(m.validate().is_ok());
        m.updated_at = now - Duration::seconds(1);
        let e = m.validate().unwrap_err();
        assert_eq!(e.field, "updated_at");
        m.updated_at = now;
        m.performance_metrics.insert("f1_score".into(), 0.75);
        assert!(m.validate().is_ok());
        for bad in [1.5, -0.1, f64::NAN] {
            m.performance_metrics.insert("f1_score".into(), bad);
            assert_eq!(
                m.validate().unwrap_err().field,
                "performance_metrics",
                "{bad}"
            );
        }
    }
}
