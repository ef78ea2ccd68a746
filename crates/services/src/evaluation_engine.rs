//! The enrichment engine behind the evaluation flow's `Predictor` port: one
//! `SkillsEngine` per evaluated model version (its `config_overrides`, minus
//! the evaluation thresholds) and the active aliases, over the shipped lexicon.

use crate::evaluation_flow::{predicted_skill, Predictor, PredictorFactory};
use jobenrich_domain::{EnrichmentType, ModelConfig, SkillAlias, SkillCategory};
use jobenrich_enrichment_engine::{Lexicon, SkillsEngine};
use jobenrich_evaluation::gate::OVERRIDES_KEY;
use jobenrich_evaluation::scoring::normalize_name;
use jobenrich_evaluation::{PredictedSection, Prediction, RankedLink};
use std::collections::HashMap;
use std::sync::Arc;

/// Builds predictors over one loaded lexicon.
pub struct EnginePredictorFactory {
    lexicon: Arc<Lexicon>,
    /// Trained artifacts (taggers) of model versions.
    artifacts: Arc<crate::model_artifacts::ArtifactStore>,
    /// Normalized canonical names and ESCO labels → category.
    categories: Arc<HashMap<String, SkillCategory>>,
}

impl EnginePredictorFactory {
    /// Loads the lexicon of a directory (the `engine.lexicon_dir` setting).
    pub fn load(lexicon_dir: &std::path::Path) -> Result<Self, String> {
        let lexicon = Lexicon::load_dir(lexicon_dir)
            .map_err(|e| format!("loading the lexicon of {}: {e}", lexicon_dir.display()))?;
        Ok(Self::with_lexicon(Arc::new(lexicon)))
    }

    /// Model artifacts (`tagger_artifact`) are read under `dir` (the
    /// `models.artifacts_dir` setting).
    pub fn with_models_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.artifacts = Arc::new(
            crate::model_artifacts::ArtifactStore::new(dir)
                .with_linker_source(self.artifacts.linker_source()),
        );
        self
    }

    /// Versions with `use_semantic` link skills with this linker.
    pub fn with_linker_source(mut self, source: crate::model_artifacts::LinkerSource) -> Self {
        self.artifacts = Arc::new(
            crate::model_artifacts::ArtifactStore::new(self.artifacts.dir())
                .with_linker_source(Some(source)),
        );
        self
    }

    pub fn with_lexicon(lexicon: Arc<Lexicon>) -> Self {
        let mut categories = HashMap::new();
        for entry in lexicon.entries() {
            categories
                .entry(normalize_name(&entry.canonical))
                .or_insert(entry.category);
            if let Some(label) = entry.esco_label() {
                categories
                    .entry(normalize_name(label))
                    .or_insert(entry.category);
            }
        }
        Self {
            lexicon,
            artifacts: Arc::default(),
            categories: Arc::new(categories),
        }
    }
}

/// The engine parameters of a model config: its overrides without the
/// evaluation thresholds, which configure the gate, not the engine.
pub fn engine_overrides(model: &ModelConfig) -> serde_json::Map<String, serde_json::Value> {
    let mut overrides = model.config_overrides.clone();
    overrides.remove(OVERRIDES_KEY);
    overrides
}

impl PredictorFactory for EnginePredictorFactory {
    fn build(
        &self,
        model: &ModelConfig,
        companion: Option<&ModelConfig>,
        aliases: &[SkillAlias],
    ) -> Result<Arc<dyn Predictor>, String> {
        // The engine `run` would build for this version and the companion.
        let (skills, sections) = match model.model_type {
            EnrichmentType::SectionClassification => (companion, Some(model)),
            _ => (Some(model), companion),
        };
        let engine = crate::engine_enricher::build_engine_for(
            self.lexicon.clone(),
            skills,
            sections,
            aliases,
            &self.artifacts,
        )?;
        Ok(Arc::new(EnginePredictor {
            engine,
            categories: self.categories.clone(),
        }))
    }
}

struct EnginePredictor {
    engine: SkillsEngine,
    categories: Arc<HashMap<String, SkillCategory>>,
}

impl Predictor for EnginePredictor {
    fn predict(&self, text: &str) -> Result<Prediction, String> {
        let found = self.engine.extract_text(text);
        let links = self.engine.link(&found).map_err(|e| e.to_string())?;
        let skills = found
            .into_iter()
            .zip(links)
            .map(|(s, links)| {
                let mut skill = predicted_skill(
                    s.canonical,
                    s.category,
                    s.confidence,
                    s.mentions.iter().map(|m| (m.start, m.end)),
                    s.taxonomy_ref.as_deref(),
                );
                skill.links = links
                    .into_iter()
                    .map(|l| RankedLink {
                        label: l.label.to_string(),
                        score: f64::from(l.score),
                    })
                    .collect();
                skill
            })
            .collect();
        let sections = self
            .engine
            .sections(text)
            .into_iter()
            .map(|s| PredictedSection {
                start: s.char_start,
                end: s.char_end,
                section_type: s.section_type,
            })
            .collect();
        Ok(Prediction { skills, sections })
    }

    fn category_of(&self, skill_name: &str) -> Option<SkillCategory> {
        self.categories.get(&normalize_name(skill_name)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use jobenrich_domain::{EnrichmentType, ModelId, ModelVersion};
    use jobenrich_enrichment_engine::{LexiconEntry, LexiconSource, SurfaceForm};
    use serde_json::json;

    fn factory() -> EnginePredictorFactory {
        let entry =
            |canonical: &str, category, esco: Option<&str>, surfaces: &[&str]| LexiconEntry {
                canonical: canonical.into(),
                category,
                source: LexiconSource::Curated,
                weight: 0.95,
                taxonomy_ref: esco.map(|l| format!("esco:{l}")),
                surfaces: surfaces
                    .iter()
                    .map(|s| SurfaceForm::new(*s, false))
                    .collect(),
            };
        let lexicon = Lexicon::from_entries(vec![
            entry(
                "Java",
                SkillCategory::ProgrammingLanguages,
                Some("Java (computer programming)"),
                &["Java"],
            ),
            entry(
                "Kubernetes",
                SkillCategory::DevopsTools,
                None,
                &["Kubernetes"],
            ),
        ]);
        EnginePredictorFactory::with_lexicon(Arc::new(lexicon))
    }

    fn model(overrides: serde_json::Value) -> ModelConfig {
        let mut m = ModelConfig::new(
            ModelId::parse("skills_extractor").unwrap(),
            EnrichmentType::SkillsExtraction,
            ModelVersion::parse("v1.1").unwrap(),
            Utc::now(),
        );
        m.config_overrides = overrides.as_object().unwrap().clone();
        m
    }

    /// Bag-of-letters vectors: enough to rank labels without a model.
    struct Letters;
    impl jobenrich_domain::TextEncoder for Letters {
        fn model_id(&self) -> &str {
            "letters"
        }
        fn dim(&self) -> usize {
            26
        }
        fn encode_batch(
            &self,
            texts: &[&str],
        ) -> Result<Vec<Vec<f32>>, jobenrich_domain::EncoderError> {
            Ok(texts
                .iter()
                .map(|t| {
                    let mut v = vec![0f32; 26];
                    for b in t.bytes().filter(u8::is_ascii_alphabetic) {
                        v[(b.to_ascii_lowercase() - b'a') as usize] += 1.0;
                    }
                    jobenrich_domain::encoder::l2_normalize(&mut v);
                    v
                })
                .collect())
        }
    }

    /// Links with `Letters` as the transformer; this test has no static one.
    fn letters_linker() -> crate::model_artifacts::LinkerSource {
        use jobenrich_enrichment_engine::{SemanticLinker, SkillIndex, TaxonomyConcept};
        Arc::new(|kind| {
            if kind != jobenrich_domain::EncoderKind::Transformer {
                return Err(format!("no {} encoder here", kind.as_str()));
            }
            let concepts = vec![
                TaxonomyConcept {
                    label: "Kubernetes orchestration".into(),
                    alt_labels: vec!["kubernetes".into()],
                },
                TaxonomyConcept {
                    label: "sing".into(),
                    alt_labels: vec![],
                },
            ];
            let index = SkillIndex::build(&Letters, &concepts, "t").map_err(|e| e.to_string())?;
            SemanticLinker::new(Arc::new(Letters), Arc::new(index), 2)
                .map(Arc::new)
                .map_err(|e| e.to_string())
        })
    }

    #[test]
    fn the_semantic_strategy_ranks_links_after_the_exact_one_and_needs_an_encoder() {
        let semantic = model(json!({"use_semantic": true}));
        let err = factory().build(&semantic, None, &[]).err().unwrap();
        assert!(err.contains("use_semantic"), "{err}");

        let factory = factory().with_linker_source(letters_linker());
        let p = factory
            .build(&semantic, None, &[])
            .unwrap()
            .predict("Experience with Java and Kubernetes required.")
            .unwrap();
        let java = p.skills.iter().find(|s| s.name == "Java").unwrap();
        assert_eq!(&*java.links[0].label, "Java (computer programming)");
        assert_eq!(java.links[0].score, 1.0);
        assert_eq!(java.links.len(), 2);
        let k8s = p.skills.iter().find(|s| s.name == "Kubernetes").unwrap();
        assert_eq!(&*k8s.links[0].label, "Kubernetes orchestration");
        assert!((k8s.links[0].score - 1.0).abs() < 1e-6);

        // Off: no links, and no encoder is loaded.
        let off = factory.build(&model(json!({})), None, &[]).unwrap();
        let p = off.predict("Kubernetes").unwrap();
        assert!(p.skills.iter().all(|s| s.links.is_empty()));

        // `semantic_encoder` picks the encoder the linker is built with.
        let on_static = model(json!({"use_semantic": true, "semantic_encoder": "static"}));
        let err = factory.build(&on_static, None, &[]).err().unwrap();
        assert!(err.contains("no static encoder"), "{err}");
        let bad = model(json!({"use_semantic": true, "semantic_encoder": "bert"}));
        let err = factory.build(&bad, None, &[]).err().unwrap();
        assert!(err.contains("semantic_encoder"), "{err}");
    }

    #[test]
    fn thresholds_do_not_reach_the_engine_and_esco_labels_become_other_names() {
        // The gate's `evaluation` key is not an engine parameter; the engine
        // rejects unknown keys, so building must strip it.
        let m = model(json!({"min_confidence": 0.1, "evaluation": {"min_f1": 0.5}}));
        assert!(!engine_overrides(&m).contains_key(OVERRIDES_KEY));
        let predictor = factory().build(&m, None, &[]).unwrap();
        let p = predictor
            .predict("Experience with Java and Kubernetes required.")
            .unwrap();
        let java = p.skills.iter().find(|s| s.name == "Java").unwrap();
        assert_eq!(java.also_known_as, ["Java (computer programming)"]);
        assert_eq!(java.mentions[0].start, 16);
        assert_eq!(java.mentions[0].end, 20);
        assert_eq!(
            predictor.category_of("java (computer programming)"),
            Some(SkillCategory::ProgrammingLanguages)
        );
        assert_eq!(predictor.category_of("COBOL"), None);
        // An unknown engine key is still an error naming the key.
        let bad = factory()
            .build(&model(json!({"min_confidense": 0.1})), None, &[])
            .err()
            .unwrap();
        assert!(bad.contains("min_confidense"), "{bad}");
    }
}
