//! A surface form that normalizes to a canonical skill (K8s → Kubernetes).

use crate::validation::{max_chars, non_empty, unit_interval, Validate};
use crate::{AliasSource, SkillCategory, ValidationError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillAlias {
    /// The seed's row id, a UUID.
    pub alias_id: Uuid,
    /// Unique case-insensitively among all aliases (enforced by the store).
    pub alias_text: String,
    pub canonical_name: String,
    pub skill_category: SkillCategory,
    pub confidence: f64,
    pub source: AliasSource,
    /// Deactivated aliases are kept (history) but not used for extraction.
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    /// Who added it: `cli:<user>` for `aliases add`, `import:<file name>` for
    /// a CSV import, `jobenrich` for shipped aliases (docs/data-model.md).
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

impl SkillAlias {
    pub const MAX_ALIAS_CHARS: usize = 50;
    pub const MAX_CANONICAL_CHARS: usize = 100;

    /// Key for case-insensitive uniqueness.
    pub fn normalized_key(alias_text: &str) -> String {
        alias_text.trim().to_lowercase()
    }
}

impl Validate for SkillAlias {
    fn validate(&self) -> Result<(), ValidationError> {
        non_empty("SkillAlias", "alias_text", &self.alias_text)?;
        max_chars(
            "SkillAlias",
            "alias_text",
            &self.alias_text,
            Self::MAX_ALIAS_CHARS,
        )?;
        non_empty("SkillAlias", "canonical_name", &self.canonical_name)?;
        max_chars(
            "SkillAlias",
            "canonical_name",
            &self.canonical_name,
            Self::MAX_CANONICAL_CHARS,
        )?;
        unit_interval("SkillAlias", "confidence", self.confidence)?;
        non_empty("SkillAlias", "created_by", &self.created_by)?;
        if self.created_at > self.updated_at {
            return Err(ValidationError::new(
                "SkillAlias",
                "updated_at",
                "must not be before created_at",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alias(text: &str, canonical: &str, confidence: f64) -> SkillAlias {
        let now = Utc::now();
        SkillAlias {
            alias_id: Uuid::new_v4(),
            alias_text: text.into(),
            canonical_name: canonical.into(),
            skill_category: SkillCategory::DevopsTools,
            confidence,
            source: AliasSource::Manual,
            is_active: true,
            created_at: now,
            created_by: "cli:test".into(),
            updated_at: now,
        }
    }

    #[test]
    fn rules_name_the_field_that_failed() {
        assert!(alias("K8s", "Kubernetes", 0.95).validate().is_ok());
        assert_eq!(
            alias("", "Kubernetes", 0.9).validate().unwrap_err().field,
            "alias_text"
        );
        assert_eq!(
            alias(&"x".repeat(51), "K", 0.9)
                .validate()
                .unwrap_err()
                .field,
            "alias_text"
        );
        assert!(alias(&"é".repeat(50), "K", 0.9).validate().is_ok());
        assert_eq!(
            alias("k", &"x".repeat(101), 0.9)
                .validate()
                .unwrap_err()
                .field,
            "canonical_name"
        );
        assert_eq!(
            alias("k", "K", 1.01).validate().unwrap_err().field,
            "confidence"
        );
        assert_eq!(
            alias("k", "K", f64::NAN).validate().unwrap_err().field,
            "confidence"
        );
    }
}
