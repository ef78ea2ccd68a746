//! One skill found in one job, fused over all strategies, with provenance.

use crate::validation::{non_empty, unit_interval, Validate};
use crate::{EnrichmentVersion, ExtractionStrategy, JobId, SkillCategory, ValidationError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractedSkill {
    /// The seed's row id, a UUID.
    pub skill_id: Uuid,
    pub job_posting_id: JobId,
    /// The enrichment that wrote this skill (its `enrichment_id`); null only
    /// for rows older than enrichment ids that no enrichment matched.
    pub enrichment_id: Option<Uuid>,
    /// Canonical skill name; unique per (job, enrichment_version).
    pub skill_name: String,
    pub skill_category: SkillCategory,
    pub confidence_score: f64,
    /// Strategies that found it, sorted and without repeats.
    pub source_strategies: Vec<ExtractionStrategy>,
    pub section_relevance_score: Option<f64>,
    pub extracted_from_section: Option<String>,
    /// A window of text around the first mention.
    pub context_snippet: Option<String>,
    /// Offset of the first mention in the posting's description, in Unicode
    /// scalar values (Rust `char`s), not bytes.
    pub position_in_text: Option<u32>,
    pub mention_count: u32,
    /// Taxonomy reference (e.g. an ESCO URI or O*NET commodity code) when known.
    pub taxonomy_ref: Option<String>,
    pub enrichment_version: EnrichmentVersion,
    pub created_at: DateTime<Utc>,
}

impl Validate for ExtractedSkill {
    fn validate(&self) -> Result<(), ValidationError> {
        non_empty("ExtractedSkill", "skill_name", &self.skill_name)?;
        unit_interval("ExtractedSkill", "confidence_score", self.confidence_score)?;
        if self.source_strategies.is_empty() {
            return Err(ValidationError::new(
                "ExtractedSkill",
                "source_strategies",
                "must name at least one known strategy",
            ));
        }
        if let Some(r) = self.section_relevance_score {
            unit_interval("ExtractedSkill", "section_relevance_score", r)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_a_strategy_and_scores_in_unit_interval() {
        let mut s = ExtractedSkill {
            skill_id: Uuid::new_v4(),
            enrichment_id: None,
            job_posting_id: JobId::parse("j").unwrap(),
            skill_name: "Rust".into(),
            skill_category: SkillCategory::ProgrammingLanguages,
            confidence_score: 0.8,
            source_strategies: vec![ExtractionStrategy::Lexicon],
            section_relevance_score: Some(0.9),
            extracted_from_section: None,
            context_snippet: None,
            position_in_text: Some(3),
            mention_count: 1,
            taxonomy_ref: None,
            enrichment_version: EnrichmentVersion::legacy(),
            created_at: Utc::now(),
        };
        assert!(s.validate().is_ok());
        s.section_relevance_score = Some(-0.1);
        assert_eq!(s.validate().unwrap_err().field, "section_relevance_score");
        s.section_relevance_score = None;
        s.source_strategies.clear();
        assert_eq!(s.validate().unwrap_err().field, "source_strategies");
        assert!(serde_json::from_str::<ExtractionStrategy>("\"guess\"").is_err());
    }
}
