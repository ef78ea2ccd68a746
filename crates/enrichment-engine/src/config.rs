//! Engine weights and thresholds. Defaults are the tuned values; a model
//! version changes them through `model_config.config_overrides` (a JSON
//! object whose keys are the field names below; map-valued keys are merged
//! into the defaults, other keys replace them).

use crate::EngineError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// Multiplies a lexicon entry's prior weight for a bare lexicon match.
    pub lexicon_weight: f64,
    /// Multiplies an active alias's own confidence.
    pub alias_weight: f64,
    /// Confidence of a phrase found only by a context pattern.
    pub pattern_weight: f64,
    /// Added to a lexicon/alias match that a context pattern also supports.
    pub pattern_boost: f64,
    /// Added per extra strategy that found the same skill.
    pub multi_strategy_bonus: f64,
    /// Added per extra mention, up to `mention_bonus_cap`.
    pub mention_bonus: f64,
    pub mention_bonus_cap: f64,
    /// How much section relevance scales confidence:
    /// `confidence *= (1 - w) + w * relevance`.
    pub section_relevance_weight: f64,
    /// Skills scoring below this are dropped.
    pub min_confidence: f64,
    /// Multiplies the confidence of an ambiguous term (`Go`, `R`, `Excel`)
    /// that has no supporting context.
    pub ambiguity_penalty: f64,
    /// Characters either side of an ambiguous mention searched for context.
    pub ambiguity_context_chars: usize,
    /// Apply the ambiguity rules (off only for ablation).
    pub ambiguity_rules: bool,
    /// Characters either side of the first mention kept as the snippet.
    pub snippet_chars: usize,
    /// Inputs larger than this (bytes of UTF-8) are refused.
    pub max_input_bytes: usize,
    /// Sections with relevance at or above this are `is_skills_relevant`.
    pub relevance_threshold: f64,
    /// Prior relevance per section type (`requirements`, `benefits`, …).
    pub section_type_relevance: BTreeMap<String, f64>,
    /// Log-odds added per occurrence (up to 3) of a keyword in a section's body.
    pub section_keyword_weights: BTreeMap<String, f64>,
    /// Strategy switches (for ablation and for models that drop one).
    pub use_lexicon: bool,
    pub use_aliases: bool,
    pub use_patterns: bool,
    /// Emit phrases caught by patterns that match no known skill.
    pub emit_pattern_phrases: bool,
    /// Longest phrase (in words) a pattern may emit.
    pub pattern_phrase_max_words: usize,
    /// Skip lexicon matches of ESCO entries whose weight is below this.
    pub min_lexicon_weight: f64,
    /// Trained tagger artifact directory of this model version, relative
    /// to the `models.artifacts_dir` setting (`None`: rules only).
    #[serde(default)]
    pub tagger_artifact: Option<String>,
    /// Multiplies a tagger span's marginal probability.
    #[serde(default = "one")]
    pub tagger_weight: f64,
    /// Added when a lexicon entry or alias names the tagger's span.
    #[serde(default = "default_evidence_bonus")]
    pub tagger_evidence_bonus: f64,
    /// Subtracted from every token's `O` score before decoding (recall up,
    /// precision down); in score units of the tagger.
    #[serde(default)]
    pub tagger_o_penalty: f64,
    /// Above 0: report every span whose probability under the tagger
    /// reaches this (overlaps dropped, best first) instead of the single
    /// best path's spans; in [0, 1].
    #[serde(default)]
    pub tagger_span_threshold: f64,
    /// Keep rule mentions that no tagger span overlaps.
    #[serde(default)]
    pub tagger_keep_rule_mentions: bool,
    /// Trained section model directory (`ml_model` relevance), relative to
    /// the `models.artifacts_dir` setting (`None`: rule relevance).
    #[serde(default)]
    pub section_model_artifact: Option<String>,
    /// The `semantic` strategy: rank ESCO links of every skill by meaning
    /// (needs the `embeddings` encoder; see `SemanticLinker`).
    #[serde(default)]
    pub use_semantic: bool,
    /// The encoder the `semantic` strategy links with: `transformer` (exact;
    /// its ESCO index takes minutes of CPU to build once) or `static`
    /// (seconds).
    #[serde(default)]
    pub semantic_encoder: jobenrich_domain::EncoderKind,
    /// A skill the lexicon does not link takes its best semantic candidate
    /// as `taxonomy_ref` only from this cosine up; weaker candidates stay
    /// ranked links for a reviewer.
    #[serde(default)]
    pub semantic_min_score: f64,
    /// How much the mention's context (its snippet) counts in ranking a
    /// skill's ESCO candidates: 0 ranks by the skill's name alone, w ranks
    /// by (1 − w)·cos(name) + w·cos(context), which breaks ties between
    /// senses of one name by the posting's wording.
    #[serde(default)]
    pub semantic_context_weight: f64,
    /// 0 keeps each semantic link's score a cosine; t > 0 makes it the
    /// concept's share of the phrase's candidates (softmax of cosine / t),
    /// comparable across skills. Fitted off the dev sets: docs/quality.md.
    #[serde(default)]
    pub semantic_link_temperature: f64,
}

fn one() -> f64 {
    1.0
}

fn default_evidence_bonus() -> f64 {
    0.1
}

fn map(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// The largest `max_input_bytes` accepted (1 GiB).
pub const MAX_INPUT_BYTES_LIMIT: usize = 1 << 30;

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            lexicon_weight: 1.0,
            alias_weight: 1.0,
            pattern_weight: 0.6,
            pattern_boost: 0.15,
            multi_strategy_bonus: 0.05,
            mention_bonus: 0.05,
            mention_bonus_cap: 0.15,
            section_relevance_weight: 0.3,
            min_confidence: 0.3,
            ambiguity_penalty: 0.4,
            ambiguity_context_chars: 80,
            ambiguity_rules: true,
            snippet_chars: 60,
            max_input_bytes: 4 * 1024 * 1024,
            relevance_threshold: 0.5,
            section_type_relevance: map(&[
                ("requirements", 0.92),
                ("qualifications", 0.92),
                ("responsibilities", 0.8),
                ("tech_stack", 0.95),
                ("nice_to_have", 0.85),
                ("skills", 0.95),
                ("role", 0.6),
                ("other", 0.5),
                ("about_company", 0.15),
                ("benefits", 0.08),
                ("eeo", 0.03),
                ("how_to_apply", 0.08),
                ("salary", 0.05),
                ("location", 0.1),
            ]),
            section_keyword_weights: map(&[
                ("experience", 0.4),
                ("years", 0.3),
                ("knowledge", 0.4),
                ("proficient", 0.5),
                ("skills", 0.4),
                ("degree", 0.2),
                ("familiar", 0.4),
                ("ability to", 0.3),
                ("you will", 0.2),
                ("benefits", -0.5),
                ("vacation", -0.6),
                ("insurance", -0.6),
                ("salary", -0.6),
                ("equal opportunity", -1.5),
                ("regardless of", -0.8),
                ("apply", -0.3),
                ("founded", -0.5),
                ("our mission", -0.5),
            ]),
            use_lexicon: true,
            use_aliases: true,
            use_patterns: true,
            emit_pattern_phrases: true,
            pattern_phrase_max_words: 6,
            min_lexicon_weight: 0.0,
            tagger_artifact: None,
            tagger_weight: one(),
            tagger_evidence_bonus: default_evidence_bonus(),
            tagger_o_penalty: 0.0,
            tagger_span_threshold: 0.0,
            tagger_keep_rule_mentions: false,
            section_model_artifact: None,
            use_semantic: false,
            semantic_encoder: jobenrich_domain::EncoderKind::Transformer,
            semantic_min_score: 0.0,
            semantic_context_weight: 0.0,
            semantic_link_temperature: 0.0,
        }
    }
}

impl EngineConfig {
    /// Applies `config_overrides` to the defaults. Unknown keys and values of
    /// the wrong type or range are errors naming the key.
    pub fn from_overrides(
        overrides: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<EngineConfig, EngineError> {
        let defaults =
            serde_json::to_value(EngineConfig::default()).map_err(|e| EngineError::Config {
                key: String::new(),
                message: e.to_string(),
            })?;
        let serde_json::Value::Object(mut merged) = defaults else {
            unreachable!("EngineConfig serializes to an object")
        };
        for (key, value) in overrides {
            let Some(current) = merged.get_mut(key) else {
                let known: Vec<&String> = merged.keys().collect();
                return Err(EngineError::Config {
                    key: key.clone(),
                    message: format!(
                        "unknown key; known keys: {}",
                        known
                            .iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            };
            match (current, value) {
                (serde_json::Value::Object(base), serde_json::Value::Object(extra)) => {
                    for (k, v) in extra {
                        base.insert(k.clone(), v.clone());
                    }
                }
                (slot, v) => *slot = v.clone(),
            }
            // Deserialize after each key so a type error names that key.
            serde_json::from_value::<EngineConfig>(serde_json::Value::Object(merged.clone()))
                .map_err(|e| EngineError::Config {
                    key: key.clone(),
                    message: e.to_string(),
                })?;
        }
        let config: EngineConfig = serde_json::from_value(serde_json::Value::Object(merged))
            .map_err(|e| EngineError::Config {
                key: String::new(),
                message: e.to_string(),
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every probability-like value is in [0,1].
    pub fn validate(&self) -> Result<(), EngineError> {
        let unit = [
            ("lexicon_weight", self.lexicon_weight),
            ("alias_weight", self.alias_weight),
            ("pattern_weight", self.pattern_weight),
            ("pattern_boost", self.pattern_boost),
            ("multi_strategy_bonus", self.multi_strategy_bonus),
            ("mention_bonus", self.mention_bonus),
            ("mention_bonus_cap", self.mention_bonus_cap),
            ("section_relevance_weight", self.section_relevance_weight),
            ("min_confidence", self.min_confidence),
            ("ambiguity_penalty", self.ambiguity_penalty),
            ("relevance_threshold", self.relevance_threshold),
            ("min_lexicon_weight", self.min_lexicon_weight),
            ("tagger_weight", self.tagger_weight),
            ("tagger_evidence_bonus", self.tagger_evidence_bonus),
            ("semantic_min_score", self.semantic_min_score),
            ("semantic_context_weight", self.semantic_context_weight),
            ("semantic_link_temperature", self.semantic_link_temperature),
        ];
        for (key, v) in unit {
            if !(0.0..=1.0).contains(&v) {
                return Err(EngineError::Config {
                    key: key.to_string(),
                    message: format!("must be in [0,1], got {v}"),
                });
            }
        }
        for (k, v) in &self.section_type_relevance {
            if !(0.0..=1.0).contains(v) {
                return Err(EngineError::Config {
                    key: format!("section_type_relevance.{k}"),
                    message: format!("must be in [0,1], got {v}"),
                });
            }
        }
        for (k, v) in &self.section_keyword_weights {
            if !v.is_finite() {
                return Err(EngineError::Config {
                    key: format!("section_keyword_weights.{k}"),
                    message: "must be a finite number".into(),
                });
            }
        }
        if !self.tagger_o_penalty.is_finite() {
            return Err(EngineError::Config {
                key: "tagger_o_penalty".into(),
                message: "must be a finite number".into(),
            });
        }
        if !(0.0..=1.0).contains(&self.tagger_span_threshold) {
            return Err(EngineError::Config {
                key: "tagger_span_threshold".into(),
                message: "must be a number from 0 to 1".into(),
            });
        }
        for (key, dir) in [
            ("tagger_artifact", &self.tagger_artifact),
            ("section_model_artifact", &self.section_model_artifact),
        ] {
            let Some(dir) = dir else { continue };
            // A relative path under the models directory, never outside it.
            let path = std::path::Path::new(dir);
            if dir.trim().is_empty()
                || path.is_absolute()
                || path
                    .components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                return Err(EngineError::Config {
                    key: key.into(),
                    message: format!(
                        "must be a relative path inside the models directory, got {dir:?}"
                    ),
                });
            }
        }
        // Tokens and mentions hold 32-bit offsets.
        if self.max_input_bytes == 0 || self.max_input_bytes > MAX_INPUT_BYTES_LIMIT {
            return Err(EngineError::Config {
                key: "max_input_bytes".into(),
                message: format!("must be between 1 and {MAX_INPUT_BYTES_LIMIT}"),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn overrides(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn max_input_bytes_must_fit_32_bit_offsets() {
        for bad in [0usize, MAX_INPUT_BYTES_LIMIT + 1] {
            let config = EngineConfig {
                max_input_bytes: bad,
                ..EngineConfig::default()
            };
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains("max_input_bytes"), "{err}");
        }
        let config = EngineConfig {
            max_input_bytes: MAX_INPUT_BYTES_LIMIT,
            ..EngineConfig::default()
        };
        assert!(config.validate().is_ok());
    }

    #[test]
    fn artifact_paths_stay_inside_the_models_directory() {
        for key in ["tagger_artifact", "section_model_artifact"] {
            for bad in ["../outside", "/abs/path", " ", "a/../../b"] {
                let err = EngineConfig::from_overrides(&overrides(json!({ key: bad })))
                    .unwrap_err()
                    .to_string();
                assert!(err.contains(key) && err.contains("relative path"), "{err}");
            }
            let ok = EngineConfig::from_overrides(&overrides(json!({ key: "m/v2.0" }))).unwrap();
            assert!(ok.validate().is_ok());
        }
    }

    #[test]
    fn empty_overrides_are_the_defaults() {
        assert_eq!(
            EngineConfig::from_overrides(&serde_json::Map::new()).unwrap(),
            EngineConfig::default()
        );
    }

    #[test]
    fn overrides_replace_scalars_and_merge_maps() {
        let c = EngineConfig::from_overrides(&overrides(json!({
            "pattern_weight": 0.9,
            "section_keyword_weights": {"kubernetes": 0.7}
        })))
        .unwrap();
        assert_eq!(c.pattern_weight, 0.9);
        assert_eq!(c.section_keyword_weights["kubernetes"], 0.7);
        assert_eq!(c.section_keyword_weights["experience"], 0.4);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let err = EngineConfig::from_overrides(&overrides(json!({"pattern_wieght": 1})))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`pattern_wieght`") && err.contains("pattern_weight"),
            "{err}"
        );
        let err = EngineConfig::from_overrides(&overrides(json!({"min_confidence": "high"})))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`min_confidence`"), "{err}");
        let err = EngineConfig::from_overrides(&overrides(json!({"min_confidence": 3.0})))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`min_confidence`") && err.contains("[0,1]"),
            "{err}"
        );
        let err = EngineConfig::from_overrides(&overrides(json!({"semantic_context_weight": 1.5})))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`semantic_context_weight`"), "{err}");
        let ok = EngineConfig::from_overrides(&overrides(json!({"semantic_context_weight": 0.5})));
        assert_eq!(ok.unwrap().semantic_context_weight, 0.5);
        for bad in [-0.1, 2.0] {
            let err =
                EngineConfig::from_overrides(&overrides(json!({"semantic_link_temperature": bad})))
                    .unwrap_err()
                    .to_string();
            assert!(err.contains("`semantic_link_temperature`"), "{err}");
        }
        let ok =
            EngineConfig::from_overrides(&overrides(json!({"semantic_link_temperature": 0.03})));
        assert_eq!(ok.unwrap().semantic_link_temperature, 0.03);
    }
}
