//! When a model version may become the active one: a version of a type that
//! `evaluate` scores (skills extraction, section classification) is
//! activated only when its latest evaluation passed its gate (or set none).
//! A version never evaluated, or whose latest evaluation failed, needs an
//! explicit override (`models activate --force`), recorded in
//! `activated_by` so `models history` shows it.

use crate::{EnrichmentType, EvaluationResult};

/// Why activating a version is refused without an override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivationRefusal {
    /// No evaluation of this version is stored.
    NeverEvaluated,
    /// The version's latest evaluation failed its gate.
    GateFailed {
        evaluation_id: String,
        dataset_version: String,
    },
}

impl std::fmt::Display for ActivationRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NeverEvaluated => write!(f, "never evaluated"),
            Self::GateFailed {
                evaluation_id,
                dataset_version,
            } => write!(
                f,
                "latest evaluation {evaluation_id} on {dataset_version} failed its gate"
            ),
        }
    }
}

/// Model types `evaluate` can score; the others have no gate to pass.
pub fn is_gated(model_type: EnrichmentType) -> bool {
    matches!(
        model_type,
        EnrichmentType::SkillsExtraction | EnrichmentType::SectionClassification
    )
}

/// Why a version of `model_type` whose latest evaluation is `latest` may
/// not be activated; `None` when it may. An evaluation without a gate
/// (`threshold_passed` null) does not block: nothing failed.
pub fn activation_refusal(
    model_type: EnrichmentType,
    latest: Option<&EvaluationResult>,
) -> Option<ActivationRefusal> {
    if !is_gated(model_type) {
        return None;
    }
    match latest {
        None => Some(ActivationRefusal::NeverEvaluated),
        Some(e) if e.threshold_passed == Some(false) => Some(ActivationRefusal::GateFailed {
            evaluation_id: e.evaluation_id.clone(),
            dataset_version: e.dataset_version.clone(),
        }),
        Some(_) => None,
    }
}

/// `activated_by` of an activation forced past `refusal`.
pub fn forced_activation_actor(actor: &str, refusal: &ActivationRefusal) -> String {
    format!("{actor} (forced: {refusal})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ModelId, ModelVersion};

    fn evaluation(passed: Option<bool>) -> EvaluationResult {
        EvaluationResult {
            evaluation_id: "e1".into(),
            model_id: ModelId::parse("skills_extractor").unwrap(),
            model_version: ModelVersion::parse("v2.0").unwrap(),
            dataset_version: "sha256:0123".into(),
            dataset_path: None,
            overall_precision: 0.5,
            overall_recall: 0.5,
            overall_f1: 0.5,
            category_metrics: Default::default(),
            additional_metrics: Default::default(),
            sample_count: 1,
            execution_time_seconds: 0.1,
            is_ci_run: false,
            ci_build_id: None,
            threshold_passed: passed,
            evaluation_date: chrono::Utc::now(),
        }
    }

    #[test]
    fn gated_types_need_a_passing_or_ungated_latest_evaluation() {
        let skills = EnrichmentType::SkillsExtraction;
        assert_eq!(
            activation_refusal(skills, None),
            Some(ActivationRefusal::NeverEvaluated)
        );
        let failed = activation_refusal(skills, Some(&evaluation(Some(false)))).unwrap();
        assert!(matches!(failed, ActivationRefusal::GateFailed { .. }));
        assert!(failed
            .to_string()
            .contains("e1 on sha256:0123 failed its gate"));
        assert_eq!(
            activation_refusal(skills, Some(&evaluation(Some(true)))),
            None
        );
        assert_eq!(activation_refusal(skills, Some(&evaluation(None))), None);
        assert_eq!(
            activation_refusal(EnrichmentType::SectionClassification, None),
            Some(ActivationRefusal::NeverEvaluated)
        );
    }

    #[test]
    fn ungated_types_are_never_refused() {
        assert_eq!(activation_refusal(EnrichmentType::Clustering, None), None);
        assert_eq!(
            forced_activation_actor("ana", &ActivationRefusal::NeverEvaluated),
            "ana (forced: never evaluated)"
        );
    }
}
