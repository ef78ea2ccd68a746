//! Trained model artifacts of model versions (`tagger_artifact` in a skills
//! model's `config_overrides`, `section_model_artifact` in a section
//! model's), found under the `models.artifacts_dir` setting and loaded once
//! per process.

use jobenrich_enrichment_engine::{EngineConfig, SectionModel, SkillsEngine, Tagger};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Loads tagger artifacts relative to one models directory, caching them.
#[derive(Debug)]
pub struct ArtifactStore {
    dir: PathBuf,
    taggers: Mutex<HashMap<PathBuf, Arc<Tagger>>>,
    section_models: Mutex<HashMap<PathBuf, Arc<SectionModel>>>,
}

/// The `models.artifacts_dir` default.
pub const DEFAULT_ARTIFACTS_DIR: &str = "models";

impl Default for ArtifactStore {
    fn default() -> Self {
        Self::new(DEFAULT_ARTIFACTS_DIR)
    }
}

impl ArtifactStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            taggers: Mutex::new(HashMap::new()),
            section_models: Mutex::new(HashMap::new()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The tagger a config names, if any; errors name the artifact path.
    pub fn tagger(&self, config: &EngineConfig) -> Result<Option<Arc<Tagger>>, String> {
        let Some(rel) = &config.tagger_artifact else {
            return Ok(None);
        };
        let path = self.dir.join(rel);
        let mut cache = self
            .taggers
            .lock()
            .map_err(|_| "the artifact cache is poisoned".to_string())?;
        if let Some(t) = cache.get(&path) {
            return Ok(Some(t.clone()));
        }
        let tagger = Arc::new(Tagger::load(&path).map_err(|e| {
            format!(
                "loading the tagger artifact `{rel}` (models.artifacts_dir {}): {e}",
                self.dir.display()
            )
        })?);
        cache.insert(path, tagger.clone());
        Ok(Some(tagger))
    }

    /// The section model a config names, if any; errors name the artifact path.
    pub fn section_model(
        &self,
        config: &EngineConfig,
    ) -> Result<Option<Arc<SectionModel>>, String> {
        let Some(rel) = &config.section_model_artifact else {
            return Ok(None);
        };
        let path = self.dir.join(rel);
        let mut cache = self
            .section_models
            .lock()
            .map_err(|_| "the artifact cache is poisoned".to_string())?;
        if let Some(m) = cache.get(&path) {
            return Ok(Some(m.clone()));
        }
        let model = Arc::new(SectionModel::load(&path).map_err(|e| {
            format!(
                "loading the section model artifact `{rel}` (models.artifacts_dir {}): {e}",
                self.dir.display()
            )
        })?);
        cache.insert(path, model.clone());
        Ok(Some(model))
    }

    /// `engine` with the tagger and the section model its config names.
    pub fn attach(&self, engine: SkillsEngine) -> Result<SkillsEngine, String> {
        let engine = match self.section_model(engine.config())? {
            Some(m) => engine.with_section_model(m),
            None => engine,
        };
        Ok(match self.tagger(engine.config())? {
            Some(t) => engine.with_tagger(t),
            None => engine,
        })
    }
}
