//! The enrichment engine behind the pipeline's `PostingEnricher` port: the
//! shipped lexicon is loaded once per process, and a `SkillsEngine` is built
//! per set of active models (their `config_overrides`) and active aliases.

use crate::enrichment_pipeline::{
    ActiveModels, EnrichError, EnrichedPosting, EnricherFactory, EnrichmentPipeline,
    PipelineConfig, PipelinePorts, PostingEmbedder, PostingEnricher,
};
use crate::model_artifacts::{ArtifactStore, LinkerSource};
use crate::posting_embedder::{EncoderPostingEmbedder, EncoderSource};
use chrono::{DateTime, Utc};
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::{
    EnrichmentType, EnrichmentVersion, JobId, JobPosting, ModelConfig, ModelConfigRepository,
    SkillAlias, Store,
};
use jobenrich_enrichment_engine::{Analysis, EngineConfig, EngineError, Lexicon, SkillsEngine};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

/// Analyses kept for postings not yet enriched: a few batches' worth.
const MAX_PREPARED: usize = 8_192;

/// Builds engines over one loaded lexicon.
pub struct EngineEnricherFactory {
    lexicon: Arc<Lexicon>,
    /// Trained artifacts (taggers) of model versions.
    artifacts: Arc<ArtifactStore>,
    /// The text encoder `embeddings` versions use, loaded when one is active.
    encoder_source: Option<EncoderSource>,
}

impl EngineEnricherFactory {
    /// Loads the lexicon of a directory (the `engine.lexicon_dir` setting).
    pub fn load(lexicon_dir: &Path) -> Result<Self, String> {
        let lexicon = Lexicon::load_dir(lexicon_dir)
            .map_err(|e| format!("loading the lexicon of {}: {e}", lexicon_dir.display()))?;
        Ok(Self::with_lexicon(Arc::new(lexicon)))
    }

    /// Model artifacts (`tagger_artifact`) are read under `dir` (the
    /// `models.artifacts_dir` setting).
    pub fn with_models_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.artifacts = Arc::new(ArtifactStore::new(dir));
        self
    }

    pub fn with_lexicon(lexicon: Arc<Lexicon>) -> Self {
        Self {
            lexicon,
            artifacts: Arc::default(),
            encoder_source: None,
        }
    }

    /// Artifacts are read and cached by `artifacts` (which a caller may
    /// have started loading: `preload_active_artifacts`).
    pub fn with_artifacts(mut self, artifacts: Arc<ArtifactStore>) -> Self {
        self.artifacts = artifacts;
        self
    }

    /// Lets skills versions with `use_semantic` run, with the ESCO linker
    /// `source` builds (call after `with_models_dir`).
    pub fn with_linker_source(mut self, source: LinkerSource) -> Self {
        self.artifacts =
            Arc::new(ArtifactStore::new(self.artifacts.dir()).with_linker_source(Some(source)));
        self
    }

    /// Lets `embeddings` versions run, with the encoder `source` loads.
    pub fn with_encoder_source(mut self, source: EncoderSource) -> Self {
        self.encoder_source = Some(source);
        self
    }
}

/// The section model's overrides first, the skills model's on top: one
/// engine performs both steps, each configured by its own model version.
fn merged_overrides(
    skills: Option<&ModelConfig>,
    sections: Option<&ModelConfig>,
) -> serde_json::Map<String, serde_json::Value> {
    // Evaluation thresholds live in the same overrides but are not engine settings.
    let mut merged = sections
        .map(crate::evaluation_engine::engine_overrides)
        .unwrap_or_default();
    if let Some(skills) = skills {
        merged.extend(crate::evaluation_engine::engine_overrides(skills));
    }
    merged
}

/// The engine `run` and the worker enrich with for these active models and
/// aliases; `jobenrich bench extract` measures the same one.
/// A version's trained artifacts (`tagger_artifact`, `section_model_artifact`)
/// are read from `artifacts`.
pub fn build_engine(
    lexicon: Arc<Lexicon>,
    models: &ActiveModels,
    aliases: &[SkillAlias],
    artifacts: &ArtifactStore,
) -> Result<SkillsEngine, String> {
    build_engine_for(
        lexicon,
        Some(&models.skills),
        models.sections.as_ref(),
        aliases,
        artifacts,
    )
}

/// `build_engine` for any pair of model versions (either may be absent:
/// evaluation scores one version with the other step's active model).
pub fn build_engine_for(
    lexicon: Arc<Lexicon>,
    skills: Option<&ModelConfig>,
    sections: Option<&ModelConfig>,
    aliases: &[SkillAlias],
    artifacts: &ArtifactStore,
) -> Result<SkillsEngine, String> {
    let config = EngineConfig::from_overrides(&merged_overrides(skills, sections))
        .map_err(|e| e.to_string())?;
    let engine = SkillsEngine::new(lexicon, aliases, config).map_err(|e| e.to_string())?;
    artifacts.attach(engine)
}

impl EnricherFactory for EngineEnricherFactory {
    fn build(
        &self,
        models: &ActiveModels,
        aliases: &[SkillAlias],
    ) -> Result<Arc<dyn PostingEnricher>, String> {
        let engine = build_engine(self.lexicon.clone(), models, aliases, &self.artifacts)?;
        Ok(Arc::new(EngineEnricher {
            engine,
            prepared: Mutex::default(),
            classifier_version: models
                .sections
                .as_ref()
                .map(|m| m.enrichment_version().to_string()),
        }))
    }

    fn build_embedder(&self, model: &ModelConfig) -> Result<Arc<dyn PostingEmbedder>, String> {
        let source = self.encoder_source.as_ref().ok_or_else(|| {
            format!(
                "{} needs the text encoder, which this command does not load",
                model.enrichment_version()
            )
        })?;
        let options = crate::posting_embedder::EmbedderOptions::from_model(model)?;
        Ok(Arc::new(EncoderPostingEmbedder::new(
            model,
            source(options.encoder)?,
        )?))
    }
}

struct EngineEnricher {
    engine: SkillsEngine,
    /// Analyses `prepare_batch` made to rank a batch's phrases in one pass,
    /// by posting, with the text they are of; `enrich` takes them, so the
    /// tagger and the rules run once per posting.
    prepared: Mutex<HashMap<JobId, (String, Analysis)>>,
    /// Sections are recorded at the active section model's version.
    classifier_version: Option<String>,
}

impl PostingEnricher for EngineEnricher {
    fn enrich(
        &self,
        posting: &JobPosting,
        skills_version: &EnrichmentVersion,
        now: DateTime<Utc>,
    ) -> Result<EnrichedPosting, EnrichError> {
        let prepared = self
            .prepared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&posting.job_posting_id)
            .filter(|(text, _)| *text == posting.description);
        let output = match prepared {
            Some((_, analysis)) => self.engine.finish(posting, analysis, skills_version, now),
            None => self.engine.enrich(posting, skills_version, now),
        };
        let output = output.map_err(|e| match e {
            // The same input is refused by the same model every time.
            EngineError::InputRefused(_) => EnrichError::permanent(e.to_string()),
            _ => EnrichError::retryable(e.to_string()),
        })?;
        let mut sections = output.sections;
        if let Some(version) = &self.classifier_version {
            for section in &mut sections {
                section.classifier_version.clone_from(version);
            }
        }
        Ok(EnrichedPosting {
            sections,
            skills: output.skills,
        })
    }

    fn prepare_batch(&self, postings: &[&JobPosting]) {
        if !self.engine.links() {
            return;
        }
        // A posting the engine refuses is refused again by `enrich`.
        let analyses: Vec<(JobId, (String, Analysis))> = postings
            .iter()
            .filter_map(|p| {
                let analysis = self.engine.analyze(p).ok()?;
                Some((p.job_posting_id.clone(), (p.description.clone(), analysis)))
            })
            .collect();
        let refs: Vec<&Analysis> = analyses.iter().map(|(_, (_, a))| a).collect();
        if let Err(e) = self.engine.prepare_links(&refs) {
            tracing::debug!(error = %e, "ranking a batch's skill phrases failed; each posting retries alone");
        }
        let mut prepared = self.prepared.lock().unwrap_or_else(PoisonError::into_inner);
        // Left over only by a batch whose postings were not all enriched.
        if prepared.len() > MAX_PREPARED {
            prepared.clear();
        }
        prepared.extend(analyses);
    }
}

/// The engine configuration of the active models (sections' overrides, the
/// skills model's on top), or why it cannot be built.
pub async fn active_engine_config(
    models: &dyn ModelConfigRepository,
) -> StoreResult<Result<EngineConfig, String>> {
    let skills = models
        .active_model_for_type(EnrichmentType::SkillsExtraction)
        .await?;
    let sections = models
        .active_model_for_type(EnrichmentType::SectionClassification)
        .await?;
    let merged = merged_overrides(skills.as_ref(), sections.as_ref());
    Ok(EngineConfig::from_overrides(&merged).map_err(|e| e.to_string()))
}

/// Starts loading, on a blocking thread, what the active versions' engine
/// attaches (section model, tagger, ESCO linker) into `artifacts`' cache,
/// so that a command can work meanwhile (`run` ingests); the engine built
/// later takes them from the cache.
pub async fn preload_active_artifacts(
    models: &dyn ModelConfigRepository,
    artifacts: Arc<ArtifactStore>,
) -> StoreResult<tokio::task::JoinHandle<()>> {
    let config = active_engine_config(models).await?;
    Ok(tokio::task::spawn_blocking(move || {
        if let Ok(config) = config {
            // A failure is the engine build's to report: it asks the same
            // cache (which keeps a linker's error; a tagger is tried again).
            let _ = artifacts.preload(&config);
        }
    }))
}

/// The longest description (bytes) the active engine accepts: what ingest
/// lets in. Defaults apply when the active overrides cannot be built (that is
/// reported by `status`, not here).
pub async fn max_description_bytes(models: &dyn ModelConfigRepository) -> StoreResult<usize> {
    Ok(active_engine_config(models)
        .await?
        .map(|c| c.max_input_bytes)
        .unwrap_or_else(|_| EngineConfig::default().max_input_bytes))
}

/// The pipeline over a store with the lexicon of `lexicon_dir`: what
/// `jobenrich run` and `jobenrich-worker` use.
pub fn build_pipeline(
    store: Arc<dyn Store>,
    config: PipelineConfig,
    lexicon_dir: &Path,
    models_dir: &Path,
    encoder_source: EncoderSource,
    linker_source: LinkerSource,
) -> Result<EnrichmentPipeline, String> {
    Ok(EnrichmentPipeline::new(
        PipelinePorts::from_store(store),
        Arc::new(
            EngineEnricherFactory::load(lexicon_dir)?
                .with_models_dir(models_dir)
                .with_linker_source(linker_source)
                .with_encoder_source(encoder_source),
        ),
        config,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jobenrich_domain::{EncoderError, SkillCategory, TextEncoder};
    use jobenrich_enrichment_engine::{
        LexiconEntry, LexiconSource, SemanticLinker, SkillIndex, SurfaceForm, TaxonomyConcept,
    };

    /// Counts letters: deterministic, and enough to rank two concepts.
    struct Letters;
    impl TextEncoder for Letters {
        fn model_id(&self) -> &str {
            "letters"
        }
        fn dim(&self) -> usize {
            26
        }
        fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
            Ok(texts
                .iter()
                .map(|t| {
                    let mut v = vec![0.1f32; 26];
                    for b in t.bytes().filter(u8::is_ascii_lowercase) {
                        v[(b - b'a') as usize] += 1.0;
                    }
                    jobenrich_domain::encoder::l2_normalize(&mut v);
                    v
                })
                .collect())
        }
    }

    fn enricher() -> EngineEnricher {
        let entry = |name: &str| LexiconEntry {
            canonical: name.into(),
            category: SkillCategory::SoftwareTools,
            source: LexiconSource::Curated,
            weight: 0.9,
            taxonomy_ref: None,
            surfaces: vec![SurfaceForm::new(name, false)],
        };
        let lexicon = Arc::new(Lexicon::from_entries(vec![
            entry("Budgeting"),
            entry("Sqls"),
        ]));
        let concepts = vec![
            TaxonomyConcept {
                label: "use databases".into(),
                alt_labels: vec!["sql".into()],
            },
            TaxonomyConcept {
                label: "manage budgets".into(),
                alt_labels: vec![],
            },
        ];
        let encoder: Arc<dyn TextEncoder> = Arc::new(Letters);
        let index = Arc::new(SkillIndex::build(encoder.as_ref(), &concepts, "t").unwrap());
        let linker = Arc::new(SemanticLinker::new(encoder, index, 2).unwrap());
        EngineEnricher {
            engine: SkillsEngine::new(lexicon, &[], EngineConfig::default())
                .unwrap()
                .with_linker(linker),
            prepared: Mutex::default(),
            classifier_version: None,
        }
    }

    fn posting(id: &str, description: &str) -> JobPosting {
        JobPosting {
            job_posting_id: JobId::parse(id).unwrap(),
            title: "Analyst".into(),
            company: None,
            location: None,
            description: description.into(),
            posted_at: None,
            source: None,
            url: None,
            ingested_at: Utc::now(),
        }
    }

    /// What a posting's enrichment says, without its random ids.
    fn summary(e: &EnrichedPosting) -> Vec<(String, Vec<String>)> {
        e.skills
            .iter()
            .map(|s| {
                let links = s
                    .taxonomy_links
                    .iter()
                    .map(|l| l.label.to_string())
                    .collect();
                (s.skill_name.clone(), links)
            })
            .collect()
    }

    #[test]
    fn a_prepared_batch_is_analysed_once_and_a_changed_text_is_analysed_again() {
        let e = enricher();
        let v = EnrichmentVersion::legacy();
        let a = posting("a", "Requirements:\n- Budgeting and Sqls");
        let b = posting("b", "Requirements:\n- Sqls");
        e.prepare_batch(&[&a, &b]);
        assert_eq!(e.prepared.lock().unwrap().len(), 2);

        let from_batch = e.enrich(&a, &v, Utc::now()).unwrap();
        assert_eq!(e.prepared.lock().unwrap().len(), 1, "taken by enrich");
        let fresh = enricher().enrich(&a, &v, Utc::now()).unwrap();
        assert_eq!(summary(&from_batch), summary(&fresh));
        assert_eq!(from_batch.sections.len(), fresh.sections.len());
        assert!(!summary(&from_batch)[0].1.is_empty(), "skills are linked");

        // Same posting id, another text since: the kept analysis is not used.
        let b_edited = posting("b", "Requirements:\n- Budgeting");
        let edited = e.enrich(&b_edited, &v, Utc::now()).unwrap();
        let names: Vec<String> = summary(&edited).into_iter().map(|s| s.0).collect();
        assert_eq!(names, ["Budgeting"]);
        assert!(e.prepared.lock().unwrap().is_empty());
    }
}
