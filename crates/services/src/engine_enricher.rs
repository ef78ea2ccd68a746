//! The enrichment engine behind the pipeline's `PostingEnricher` port: the
//! shipped lexicon is loaded once per process, and a `SkillsEngine` is built
//! per set of active models (their `config_overrides`) and active aliases.

use crate::enrichment_pipeline::{
    ActiveModels, EnrichedPosting, EnricherFactory, EnrichmentPipeline, PipelineConfig,
    PipelinePorts, PostingEnricher,
};
use chrono::{DateTime, Utc};
use jobenrich_domain::{EnrichmentVersion, JobPosting, SkillAlias, Store};
use jobenrich_enrichment_engine::{EngineConfig, Lexicon, SkillsEngine};
use std::sync::Arc;

/// Builds engines over one loaded lexicon.
pub struct EngineEnricherFactory {
    lexicon: Arc<Lexicon>,
}

impl EngineEnricherFactory {
    /// Loads the lexicon the project ships.
    pub fn shipped() -> Result<Self, String> {
        let path = Lexicon::shipped_path();
        let lexicon = Lexicon::load(&path)
            .map_err(|e| format!("loading the lexicon {}: {e}", path.display()))?;
        Ok(Self {
            lexicon: Arc::new(lexicon),
        })
    }

    pub fn with_lexicon(lexicon: Arc<Lexicon>) -> Self {
        Self { lexicon }
    }
}

/// The section model's overrides first, the skills model's on top: one
/// engine performs both steps, each configured by its own model version.
fn merged_overrides(models: &ActiveModels) -> serde_json::Map<String, serde_json::Value> {
    // Evaluation thresholds live in the same overrides but are not engine settings.
    let mut merged = models
        .sections
        .as_ref()
        .map(crate::evaluation_engine::engine_overrides)
        .unwrap_or_default();
    merged.extend(crate::evaluation_engine::engine_overrides(&models.skills));
    merged
}

impl EnricherFactory for EngineEnricherFactory {
    fn build(
        &self,
        models: &ActiveModels,
        aliases: &[SkillAlias],
    ) -> Result<Arc<dyn PostingEnricher>, String> {
        let config =
            EngineConfig::from_overrides(&merged_overrides(models)).map_err(|e| e.to_string())?;
        let engine =
            SkillsEngine::new(self.lexicon.clone(), aliases, config).map_err(|e| e.to_string())?;
        Ok(Arc::new(EngineEnricher {
            engine,
            classifier_version: models
                .sections
                .as_ref()
                .map(|m| m.enrichment_version().to_string()),
        }))
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
    ) -> Result<EnrichedPosting, String> {
        let output = self
            .engine
            .enrich(posting, skills_version, now)
            .map_err(|e| e.to_string())?;
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
}

/// The pipeline over a store with the shipped lexicon: what `jobenrich run`
/// and `jobenrich-worker` use.
pub fn build_pipeline(
    store: Arc<dyn Store>,
    config: PipelineConfig,
) -> Result<EnrichmentPipeline, String> {
    Ok(EnrichmentPipeline::new(
        PipelinePorts::from_store(store),
        Arc::new(EngineEnricherFactory::shipped()?),
        config,
    ))
}
