//! Trained model artifacts of model versions (`tagger_artifact` in a skills
//! model's `config_overrides`, `section_model_artifact` in a section
//! model's), found under the `models.artifacts_dir` setting and loaded once
//! per process; and the `semantic` strategy's linker (`use_semantic`), built
//! once by whoever wired the encoder in.

use jobenrich_domain::EncoderKind;
use jobenrich_enrichment_engine::{
    EngineConfig, SectionModel, SemanticLinker, SkillsEngine, Tagger,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Builds the ESCO linker of an encoder on first use (loading the encoder
/// and its skill index costs seconds, so only a model version that asks for
/// it pays).
pub type LinkerSource =
    Arc<dyn Fn(EncoderKind) -> Result<Arc<SemanticLinker>, String> + Send + Sync>;

/// A linker built (or failed) once per encoder kind.
type LinkerCell = OnceLock<Result<Arc<SemanticLinker>, String>>;

/// Loads tagger artifacts relative to one models directory, caching them.
pub struct ArtifactStore {
    dir: PathBuf,
    taggers: Mutex<HashMap<PathBuf, Arc<Tagger>>>,
    section_models: Mutex<HashMap<PathBuf, Arc<SectionModel>>>,
    linker_source: Option<LinkerSource>,
    linkers: [LinkerCell; EncoderKind::ALL.len()],
}

impl std::fmt::Debug for ArtifactStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactStore")
            .field("dir", &self.dir)
            .field("semantic", &self.linker_source.is_some())
            .finish()
    }
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
            linker_source: None,
            linkers: Default::default(),
        }
    }

    /// Where versions with `use_semantic` get their linker.
    pub fn with_linker_source(mut self, source: Option<LinkerSource>) -> Self {
        self.linker_source = source;
        self
    }

    pub fn linker_source(&self) -> Option<LinkerSource> {
        self.linker_source.clone()
    }

    /// The linker a config asks for (`use_semantic`, `semantic_encoder`),
    /// built once per encoder.
    pub fn linker(&self, config: &EngineConfig) -> Result<Option<Arc<SemanticLinker>>, String> {
        if !config.use_semantic {
            return Ok(None);
        }
        let Some(source) = &self.linker_source else {
            return Err(
                "use_semantic needs the embeddings encoder, which this command does not load"
                    .to_string(),
            );
        };
        let kind = config.semantic_encoder;
        let slot = EncoderKind::ALL
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(0);
        self.linkers[slot]
            .get_or_init(|| source(kind))
            .clone()
            .map(Some)
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
        let tagger = match cache.get(&path) {
            Some(t) => t.clone(),
            None => {
                let t = Arc::new(Tagger::load(&path).map_err(|e| {
                    format!(
                        "loading the tagger artifact `{rel}` (models.artifacts_dir {}): {e}",
                        self.dir.display()
                    )
                })?);
                cache.insert(path, t.clone());
                t
            }
        };
        tagger
            .check_decoding(config)
            .map_err(|e| format!("the tagger artifact `{rel}`: {e}"))?;
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

    /// Loads into the cache what `attach` will take for `config`, so that
    /// a caller can have it loaded while it does other work.
    pub fn preload(&self, config: &EngineConfig) -> Result<(), String> {
        self.section_model(config)?;
        self.tagger(config)?;
        self.linker(config)?;
        Ok(())
    }

    /// `engine` with the tagger, section model and linker its config asks for.
    pub fn attach(&self, engine: SkillsEngine) -> Result<SkillsEngine, String> {
        let engine = match self.section_model(engine.config())? {
            Some(m) => engine.with_section_model(m),
            None => engine,
        };
        let engine = match self.tagger(engine.config())? {
            Some(t) => engine.with_tagger(t),
            None => engine,
        };
        Ok(match self.linker(engine.config())? {
            Some(l) => engine.with_linker(l),
            None => engine,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn preloading_fills_the_cache_the_engine_build_reads() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let source: LinkerSource = Arc::new(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            Err("no encoder in this test".to_string())
        });
        let store = ArtifactStore::new("no-such-dir").with_linker_source(Some(source));
        let config = EngineConfig {
            use_semantic: true,
            ..EngineConfig::default()
        };
        assert_eq!(
            store.preload(&config),
            Err("no encoder in this test".to_string())
        );
        // The build's own request is answered from the cache, error included.
        assert!(store.linker(&config).is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // A missing tagger is named, as the build would name it.
        let config = EngineConfig {
            tagger_artifact: Some("skills_extractor/v9".into()),
            ..EngineConfig::default()
        };
        let err = store.preload(&config).unwrap_err();
        assert!(err.contains("skills_extractor/v9"), "{err}");
    }
}
