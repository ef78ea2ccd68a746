//! Closed vocabularies of the data model: enrichment types, statuses, alias
//! sources, classification methods, extraction strategies and skill categories.
//! Each is stored and printed by its snake_case name.

use crate::DomainError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(DomainError::UnknownName {
                        kind: $kind,
                        value: other.to_string(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }
    };
}

named_enum!(
    /// What an enrichment (and the model that performs it) produces.
    EnrichmentType, "enrichment type" {
        SkillsExtraction => "skills_extraction",
        Embeddings => "embeddings",
        Clustering => "clustering",
        SectionClassification => "section_classification",
    }
);

/// Models are typed by the enrichment they perform.
pub type ModelType = EnrichmentType;

named_enum!(
    /// Lifecycle of one enrichment: `pending → processing → success | failed`,
    /// `failed → pending` (retry).
    EnrichmentStatus, "enrichment status" {
        Pending => "pending",
        Processing => "processing",
        Success => "success",
        Failed => "failed",
    }
);

impl EnrichmentStatus {
    /// The only legal transitions of the state machine. `processing → pending`
    /// is a lease release (graceful shutdown or expired lease reclaimed).
    pub fn can_transition_to(self, next: EnrichmentStatus) -> bool {
        use EnrichmentStatus::*;
        matches!(
            (self, next),
            (Pending, Processing)
                | (Processing, Success)
                | (Processing, Failed)
                | (Processing, Pending)
                | (Failed, Pending)
        )
    }

    /// Checks a transition, naming both ends when it is illegal.
    pub fn transition_to(self, next: EnrichmentStatus) -> Result<EnrichmentStatus, DomainError> {
        if self.can_transition_to(next) {
            Ok(next)
        } else {
            Err(DomainError::IllegalTransition {
                from: self,
                to: next,
            })
        }
    }
}

named_enum!(
    /// Where a skill alias came from.
    AliasSource, "alias source" {
        Manual => "manual",
        UserFeedback => "user_feedback",
        AutoDetected => "auto_detected",
    }
);

named_enum!(
    /// How a section was classified.
    ClassificationMethod, "classification method" {
        RuleBased => "rule_based",
        MlModel => "ml_model",
    }
);

named_enum!(
    /// Strategies of the skills extractor; each found skill lists those that found it.
    ExtractionStrategy, "extraction strategy" {
        /// Aho-Corasick match of a taxonomy surface form.
        Lexicon => "lexicon",
        /// Normalization through the skill_aliases table (e.g. K8s → Kubernetes).
        Alias => "alias",
        /// Context patterns (`experience with X`, `Python 3.11`, lists after `such as`).
        Pattern => "pattern",
        /// The trained sequence tagger (BILO tags over tokens, SKILL / KNOWLEDGE).
        MlTagger => "ml_tagger",
        /// Linking to the nearest ESCO skill by meaning (sentence encoder):
        /// named when it set the skill's `taxonomy_ref`.
        Semantic => "semantic",
    }
);

named_enum!(
    /// The documented skill categories (see docs/skill-categories.md). The
    /// lexicon, aliases and evaluation metrics all use this one set.
    SkillCategory, "skill category" {
        ProgrammingLanguages => "programming_languages",
        FrameworksLibraries => "frameworks_libraries",
        Databases => "databases",
        CloudPlatforms => "cloud_platforms",
        DevopsTools => "devops_tools",
        DataMl => "data_ml",
        SoftwareTools => "software_tools",
        Methodologies => "methodologies",
        SoftSkills => "soft_skills",
        HumanLanguages => "human_languages",
        DomainKnowledge => "domain_knowledge",
        Certifications => "certifications",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for c in SkillCategory::ALL {
            assert_eq!(c.as_str().parse::<SkillCategory>().unwrap(), *c);
        }
        let err = "cobol".parse::<SkillCategory>().unwrap_err().to_string();
        assert!(
            err.contains("\"cobol\"") && err.contains("programming_languages"),
            "{err}"
        );
        assert_eq!(
            serde_json::to_string(&EnrichmentType::SectionClassification).unwrap(),
            "\"section_classification\""
        );
    }

    #[test]
    fn state_machine_allows_exactly_the_documented_transitions() {
        use EnrichmentStatus::*;
        let legal = [
            (Pending, Processing),
            (Processing, Success),
            (Processing, Failed),
            (Processing, Pending),
            (Failed, Pending),
        ];
        for from in EnrichmentStatus::ALL {
            for to in EnrichmentStatus::ALL {
                let expected = legal.contains(&(*from, *to));
                assert_eq!(from.can_transition_to(*to), expected, "{from} -> {to}");
                assert_eq!(from.transition_to(*to).is_ok(), expected);
            }
        }
    }
}
