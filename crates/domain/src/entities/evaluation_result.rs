//! The measured quality of one model version on one dataset version.

use crate::validation::{non_empty, non_negative, unit_interval, Validate};
use crate::{EnrichmentType, ModelId, ModelVersion, SkillCategory, ValidationError};
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
    pub overall_precision: f64,
    pub overall_recall: f64,
    pub overall_f1: f64,
    pub category_metrics: BTreeMap<String, CategoryMetrics>,
    /// Further figures in [0, 1] (micro averages, span overlap F1, RP@5, …).
    pub additional_metrics: BTreeMap<String, f64>,
    pub sample_count: u64,
    pub execution_time_seconds: f64,
    pub is_ci_run: bool,
    pub ci_build_id: Option<String>,
    pub threshold_passed: Option<bool>,
    pub evaluation_date: DateTime<Utc>,
}

impl EvaluationResult {
    /// The `category_metrics` key of gold skills whose category the dataset
    /// does not give.
    pub const UNCATEGORIZED: &'static str = "uncategorized";
    /// The `category_metrics` key of a skills evaluation on span-only gold
    /// (SkillSpan): its spans carry no skill names, so no categories, and the
    /// headline figures are the overlap span metrics under this key.
    pub const SKILL_SPAN: &'static str = "skill_span";

    /// Whether `name` is a well-formed category label: lower-case ASCII
    /// letters, digits and `_`, starting with a letter (skill categories,
    /// `uncategorized`, and normalized section types all are).
    pub fn is_category_label(name: &str) -> bool {
        name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }

    /// The seed's rule, `category_metrics` keys are valid categories, for a
    /// model of `model_type`: a skill category (or `uncategorized`) for
    /// skills extraction; a section type label for section classification,
    /// whose types are open-ended (the gold data names them).
    pub fn check_categories(&self, model_type: EnrichmentType) -> Result<(), ValidationError> {
        for name in self.category_metrics.keys() {
            let valid = match model_type {
                EnrichmentType::SkillsExtraction => {
                    name == Self::UNCATEGORIZED
                        || name == Self::SKILL_SPAN
                        || name.parse::<SkillCategory>().is_ok()
                }
                _ => Self::is_category_label(name),
            };
            if !valid {
                return Err(ValidationError::new(
                    "EvaluationResult",
                    "category_metrics",
                    match model_type {
                        EnrichmentType::SkillsExtraction => format!(
                            "key {name:?} is not a skill category (one of {}), {:?} or {:?}",
                            SkillCategory::ALL
                                .iter()
                                .map(|c| c.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                            Self::UNCATEGORIZED,
                            Self::SKILL_SPAN
                        ),
                        _ => format!("key {name:?} is not a section type label (a-z, 0-9, _)"),
                    },
                ));
            }
        }
        Ok(())
    }
}

impl Validate for EvaluationResult {
    fn validate(&self) -> Result<(), ValidationError> {
        const E: &str = "EvaluationResult";
        non_empty(E, "evaluation_id", &self.evaluation_id)?;
        non_empty(E, "dataset_version", &self.dataset_version)?;
        unit_interval(E, "overall_precision", self.overall_precision)?;
        unit_interval(E, "overall_recall", self.overall_recall)?;
        unit_interval(E, "overall_f1", self.overall_f1)?;
        for (name, m) in &self.category_metrics {
            // Which labels are valid depends on the model's type
            // (`check_categories`); any stored key is at least a label.
            if !Self::is_category_label(name) {
                return Err(ValidationError::new(
                    E,
                    "category_metrics",
                    format!("key {name:?} is not a category label (a-z, 0-9, _)"),
                ));
            }
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
            overall_precision: 0.5,
            overall_recall: 0.5,
            overall_f1: 0.5,
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
            evaluation_date: Utc::now(),
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
        let metrics = CategoryMetrics {
            precision: 0.0,
            recall: 0.0,
            f1: 0.0,
            support: 0,
        };
        r.category_metrics
            .insert("Databases".into(), metrics.clone());
        let e = r.validate().unwrap_err();
        assert_eq!(e.field, "category_metrics");
        assert!(e.rule.contains("Databases"), "{e}");
        r.category_metrics.remove("Databases");
        // A label, but a skills model's keys are skill categories and a
        // section model's are section types.
        r.category_metrics.insert("benefits".into(), metrics);
        assert!(r.validate().is_ok());
        let e = r
            .check_categories(EnrichmentType::SkillsExtraction)
            .unwrap_err();
        assert!(
            e.rule.contains("benefits") && e.rule.contains("databases"),
            "{e}"
        );
        assert!(r
            .check_categories(EnrichmentType::SectionClassification)
            .is_ok());
        r.category_metrics.remove("benefits");
        assert!(r.check_categories(EnrichmentType::SkillsExtraction).is_ok());
        r.category_metrics.insert(
            EvaluationResult::UNCATEGORIZED.into(),
            CategoryMetrics {
                precision: 0.5,
                recall: 0.5,
                f1: 0.5,
                support: 1,
            },
        );
        assert!(r.validate().is_ok(), "uncategorized gold skills have a key");
        assert!(r.check_categories(EnrichmentType::SkillsExtraction).is_ok());
        // Span-only gold (SkillSpan) scores its spans under one key.
        let span_only = EvaluationResult {
            category_metrics: [(
                EvaluationResult::SKILL_SPAN.to_string(),
                r.category_metrics[EvaluationResult::UNCATEGORIZED].clone(),
            )]
            .into(),
            ..r.clone()
        };
        assert!(span_only
            .check_categories(EnrichmentType::SkillsExtraction)
            .is_ok());
        r.overall_f1 = 1.5;
        assert_eq!(r.validate().unwrap_err().field, "overall_f1");
    }
}
