//! The measured quality of one model version on one dataset version.

use crate::validation::{
    category_name_regex, matches, non_empty, non_negative, unit_interval, Validate,
};
use crate::{ModelId, ModelVersion, ValidationError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryMetrics {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Number of gold items of the category.
    pub support: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationResult {
    /// A UUID.
    pub evaluation_id: String,
    pub model_id: ModelId,
    pub model_version: ModelVersion,
    pub dataset_version: String,
    pub dataset_path: Option<String>,
    /// Macro averages over categories.
    pub precision: f64,
    pub recall: f64,
    pub f1_score: f64,
    pub category_metrics: BTreeMap<String, CategoryMetrics>,
    /// Further figures in [0, 1] (micro averages, span overlap F1, RP@5, …).
    pub additional_metrics: BTreeMap<String, f64>,
    pub sample_count: u64,
    pub execution_time_seconds: f64,
    pub is_ci_run: bool,
    pub ci_build_id: Option<String>,
    pub threshold_passed: Option<bool>,
    pub evaluated_at: DateTime<Utc>,
}

impl Validate for EvaluationResult {
    fn validate(&self) -> Result<(), ValidationError> {
        const E: &str = "EvaluationResult";
        non_empty(E, "evaluation_id", &self.evaluation_id)?;
        non_empty(E, "dataset_version", &self.dataset_version)?;
        unit_interval(E, "precision", self.precision)?;
        unit_interval(E, "recall", self.recall)?;
        unit_interval(E, "f1_score", self.f1_score)?;
        for (name, m) in &self.category_metrics {
            matches(E, "category_metrics", name, category_name_regex())?;
            unit_interval(E, "category_metrics", m.precision)?;
            unit_interval(E, "category_metrics", m.recall)?;
            unit_interval(E, "category_metrics", m.f1)?;
        }
        for v in self.additional_metrics.values() {
            unit_interval(E, "additional_metrics", *v)?;
        }
        if self.sample_count == 0 {
            return Err(ValidationError::new(E, "sample_count", "must be > 0"));
        }
        non_negative(E, "execution_time_seconds", self.execution_time_seconds)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_samples_and_category_names_are_checked() {
        let mut r = EvaluationResult {
            evaluation_id: "e1".into(),
            model_id: ModelId::parse("skills_extractor").unwrap(),
            model_version: ModelVersion::parse("v1.0").unwrap(),
            dataset_version: "abc".into(),
            dataset_path: None,
            precision: 0.5,
            recall: 0.5,
            f1_score: 0.5,
            category_metrics: BTreeMap::from([(
                "databases".to_string(),
                CategoryMetrics {
                    precision: 1.0,
                    recall: 0.0,
                    f1: 0.0,
                    support: 3,
                },
            )]),
            additional_metrics: BTreeMap::new(),
            sample_count: 1,
            execution_time_seconds: 0.0,
            is_ci_run: false,
            ci_build_id: None,
            threshold_passed: None,
            evaluated_at: Utc::now(),
        };
        assert!(r.validate().is_ok());
        r.sample_count = 0;
        assert_eq!(r.validate().unwrap_err().field, "sample_count");
        r.sample_count = 1;
        r.execution_time_seconds = -1.0;
        assert_eq!(r.validate().unwrap_err().field, "execution_time_seconds");
        r.execution_time_seconds = 1.0;
        r.category_metrics.insert(
            "Bad Name".into(),
            CategoryMetrics {
                precision: 0.0,
                recall: 0.0,
                f1: 0.0,
                support: 0,
            },
        );
        assert_eq!(r.validate().unwrap_err().field, "category_metrics");
        r.category_metrics.remove("Bad Name");
        r.f1_score = 1.5;
        assert_eq!(r.validate().unwrap_err().field, "f1_score");
    }
}
