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
    EnrichmentType, EnrichmentVersion, JobPosting, ModelConfig, ModelConfigRepository, SkillAlias,
    Store,
};
use jobenrich_enrichment_engine::{EngineConfig, EngineError, Lexicon, SkillsEngine};
use std::path::Path;
use std::sync::Arc;

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
        let output = self
            .engine
            .enrich(posting, skills_version, now)
            .map_err(|e| match e {
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
        if let Err(e) = self.engine.prepare_links(postings) {
            tracing::debug!(error = %e, "ranking a batch's skill phrases failed; each posting retries alone");
        }
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
