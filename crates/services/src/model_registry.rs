//! The model registry use cases: register model configs from YAML files, list,
//! show, activate (one active version per model id), and seed the shipped
//! configs (`config/models/*.yaml`) into a fresh store.
//!
//! A model file:
//!
//! ```yaml
//! model_id: skills_extractor          # ^[a-z_]+$
//! model_type: skills_extraction       # skills_extraction | embeddings | clustering | section_classification
//! version: v1.1                       # ^v\d+\.\d+(-[a-z0-9-]+)?$
//! description: "Lexicon + aliases, higher pattern weight"   # optional
//! config_overrides:                   # optional: engine parameters this version changes
//!   pattern_weight: 0.8
//! training_data_version: "skillspan-train.jsonl@sha256:63a156fd9cc69cd8"  # trained versions only
//! training_date: 2026-12-02T00:50:52Z                                        # trained versions only
//! ```

use chrono::{DateTime, Utc};
use jobenrich_domain::validation::Validate;
use jobenrich_domain::{
    activation_refusal, forced_activation_actor, ActivationRefusal, EnrichmentType,
    EvaluationRepository, EvaluationResult, ModelConfig, ModelConfigRepository, ModelId,
    ModelVersion, StoreError,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ModelRegistryError {
    #[error("model file {}: {reason}", path.display())]
    InvalidFile { path: PathBuf, reason: String },
    #[error("reading model directory {}", path.display())]
    ReadDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A version whose `config_overrides` the engine cannot be built from.
    #[error("{model}: {reason}")]
    InvalidOverrides { model: String, reason: String },
    /// Activation refused by the domain's rule (`activation_rules`).
    #[error("{model}: {reason}; evaluate it first (`jobenrich evaluate --model ID --version V --dataset FILE`) or pass --force to activate it anyway")]
    ActivationRefused {
        model: String,
        reason: ActivationRefusal,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks the engine can be built from a model's `config_overrides` (for the
/// types the engine produces): a version that cannot be built would stop all
/// enrichment once active, so it is refused at the door.
pub fn check_engine_overrides(model: &ModelConfig) -> Result<(), String> {
    if model.model_type == EnrichmentType::Embeddings {
        return crate::posting_embedder::EmbedderOptions::from_model(model).map(|_| ());
    }
    if model.model_type == EnrichmentType::Clustering {
        // Else a bad `k` or `embedding_weight` surfaces only at `cluster run`.
        return jobenrich_clustering::ClusteringSettings::from_overrides(&model.config_overrides)
            .map(|_| ())
            .map_err(|e| e.to_string());
    }
    if !matches!(
        model.model_type,
        EnrichmentType::SkillsExtraction | EnrichmentType::SectionClassification
    ) {
        return Ok(());
    }
    jobenrich_enrichment_engine::EngineConfig::from_overrides(
        &crate::evaluation_engine::engine_overrides(model),
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// The YAML shape of a model file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    model_id: String,
    model_type: String,
    version: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    config_overrides: serde_json::Map<String, serde_json::Value>,
    /// Dataset name + content hash a trained version learnt from.
    #[serde(default)]
    training_data_version: Option<String>,
    /// RFC 3339 time of training (kept as text: YAML has no time type here).
    #[serde(default)]
    training_date: Option<String>,
}

/// Reads and validates a model file; errors name the file and the field.
pub fn load_model_file(path: &Path, now: DateTime<Utc>) -> Result<ModelConfig, ModelRegistryError> {
    let invalid = |reason: String| ModelRegistryError::InvalidFile {
        path: path.to_path_buf(),
        reason,
    };
    if !path.is_file() {
        return Err(invalid("not found".to_string()));
    }
    let file: ModelFile = config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Yaml))
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| invalid(e.to_string()))?;
    let model_id = ModelId::parse(file.model_id).map_err(|e| invalid(e.to_string()))?;
    let model_type: EnrichmentType = file
        .model_type
        .parse()
        .map_err(|e: jobenrich_domain::DomainError| invalid(format!("model_type: {e}")))?;
    let version = ModelVersion::parse(file.version).map_err(|e| invalid(e.to_string()))?;
    let mut model = ModelConfig::new(model_id, model_type, version, now);
    model.description = file.description.filter(|d| !d.trim().is_empty());
    model.config_overrides = file.config_overrides;
    model.training_data_version = file.training_data_version.filter(|v| !v.trim().is_empty());
    model.training_date = file
        .training_date
        .map(|t| {
            DateTime::parse_from_rfc3339(t.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| invalid(format!("training_date {t:?}: not an RFC 3339 time: {e}")))
        })
        .transpose()?;
    model.validate().map_err(|e| invalid(e.to_string()))?;
    check_engine_overrides(&model).map_err(invalid)?;
    Ok(model)
}

/// Registers the model of a file (stored inactive).
pub async fn register_model_file(
    models: &dyn ModelConfigRepository,
    path: &Path,
    now: DateTime<Utc>,
) -> Result<ModelConfig, ModelRegistryError> {
    let model = load_model_file(path, now)?;
    models.register_model(&model).await?;
    Ok(model)
}

/// An activation, and the refusal it was forced past (if any).
#[derive(Debug, Clone)]
pub struct Activation {
    pub model: ModelConfig,
    pub forced: Option<ActivationRefusal>,
}

/// Makes a version the only active one of its model id. A version whose
/// latest evaluation failed its gate, or that was never evaluated, is
/// refused unless `force`; a forced activation is recorded in `activated_by`.
pub async fn activate_model(
    models: &dyn ModelConfigRepository,
    evaluations: &dyn EvaluationRepository,
    model_id: &ModelId,
    version: &ModelVersion,
    activated_by: &str,
    force: bool,
    now: DateTime<Utc>,
) -> Result<Activation, ModelRegistryError> {
    let mut actor = activated_by.to_string();
    let mut forced = None;
    // An unknown version is the store's error (not found) below.
    if let Some(model) = models.get_model(model_id, version).await? {
        // Versions registered before overrides were checked may still be stored.
        check_engine_overrides(&model).map_err(|reason| ModelRegistryError::InvalidOverrides {
            model: format!("{model_id} {version}"),
            reason,
        })?;
        // Re-activating the active version changes nothing: no gate.
        if !model.is_active {
            let latest = evaluations
                .latest_evaluation(model_id, Some(version.clone()), None)
                .await?;
            if let Some(reason) = activation_refusal(model.model_type, latest.as_ref()) {
                if !force {
                    return Err(ModelRegistryError::ActivationRefused {
                        model: format!("{model_id} {version}"),
                        reason,
                    });
                }
                actor = forced_activation_actor(activated_by, &reason);
                forced = Some(reason);
            }
        }
    }
    let model = models
        .activate_model(model_id, version, &actor, now)
        .await?;
    Ok(Activation { model, forced })
}

/// A model version with its latest evaluation, for `models show`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelDetails {
    pub model: ModelConfig,
    pub enrichment_version: String,
    pub latest_evaluation: Option<EvaluationResult>,
}

/// One version (or, without `version`, the active one, else the newest).
pub async fn show_model(
    models: &dyn ModelConfigRepository,
    evaluations: &dyn EvaluationRepository,
    model_id: &ModelId,
    version: Option<&ModelVersion>,
) -> Result<ModelDetails, ModelRegistryError> {
    let model = match version {
        Some(v) => models.get_model(model_id, v).await?,
        None => match models.active_model(model_id).await? {
            Some(m) => Some(m),
            None => models
                .list_models(Some(model_id.clone()))
                .await?
                .into_iter()
                .max_by_key(|m| m.version.sort_key()),
        },
    };
    let model = model.ok_or_else(|| StoreError::NotFound {
        entity: "ModelConfig",
        key: match version {
            Some(v) => format!("{model_id} {v}"),
            None => model_id.to_string(),
        },
    })?;
    let latest_evaluation = evaluations
        .latest_evaluation(model_id, Some(model.version.clone()), None)
        .await?;
    Ok(ModelDetails {
        enrichment_version: model.enrichment_version().to_string(),
        model,
        latest_evaluation,
    })
}

/// What seeding the shipped model configs did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SeedReport {
    /// `model_id@version` of each newly registered file.
    pub registered: Vec<String>,
    /// `model_id@version` of each version activated because its type had none active.
    pub activated: Vec<String>,
}

/// The model configs of every `*.yaml` / `*.yml` of `dir`, in file name
/// order; a missing directory has none.
pub fn read_model_directory(
    dir: &Path,
    now: DateTime<Utc>,
) -> Result<Vec<ModelConfig>, ModelRegistryError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let read_dir = |source| ModelRegistryError::ReadDir {
        path: dir.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read_dir)?;
    files.retain(|p| {
        p.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
    });
    files.sort();
    files.iter().map(|p| load_model_file(p, now)).collect()
}

/// The newest version of each enrichment type: what seeding activates on a
/// store that has none active.
pub fn newest_of_each_type(models: Vec<ModelConfig>) -> BTreeMap<EnrichmentType, ModelConfig> {
    let mut newest: BTreeMap<EnrichmentType, ModelConfig> = BTreeMap::new();
    for model in models {
        let newer = match newest.get(&model.model_type) {
            Some(seen) => model.version.sort_key() > seen.version.sort_key(),
            None => true,
        };
        if newer {
            newest.insert(model.model_type, model);
        }
    }
    newest
}

/// Registers every `*.yaml` of `dir` that is not registered yet, then, for each
/// enrichment type with no active model, activates the newest seeded version
/// of that type. A missing directory seeds nothing.
pub async fn seed_model_directory(
    models: &dyn ModelConfigRepository,
    dir: &Path,
    activated_by: &str,
    now: DateTime<Utc>,
) -> Result<SeedReport, ModelRegistryError> {
    let mut report = SeedReport::default();
    let files = read_model_directory(dir, now)?;
    for model in &files {
        if models
            .get_model(&model.model_id, &model.version)
            .await?
            .is_none()
        {
            models.register_model(model).await?;
            report
                .registered
                .push(model.enrichment_version().to_string());
        }
    }
    let newest_of_type = newest_of_each_type(files);
    for (model_type, model) in newest_of_type {
        if models.active_model_for_type(model_type).await?.is_none() {
            let active = models
                .activate_model(&model.model_id, &model.version, activated_by, now)
                .await?;
            report
                .activated
                .push(active.enrichment_version().to_string());
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_model_file_keeps_its_overrides_verbatim() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "m.yaml",
            "model_id: job_clusterer\nmodel_type: clustering\nversion: v1.1\ndescription: Fixed k\nconfig_overrides:\n  k: 8\n  embedding_weight: 0.5\n",
        );
        let model = load_model_file(&path, Utc::now()).unwrap();
        assert_eq!(model.model_id.as_str(), "job_clusterer");
        assert_eq!(model.model_type, EnrichmentType::Clustering);
        assert_eq!(model.version.as_str(), "v1.1");
        assert!(!model.is_active);
        assert_eq!(
            serde_json::Value::Object(model.config_overrides),
            serde_json::json!({"k": 8, "embedding_weight": 0.5})
        );
    }

    #[test]
    fn a_clustering_version_is_refused_at_register_for_settings_clustering_cannot_use() {
        let dir = tempfile::tempdir().unwrap();
        for (overrides, key) in [
            ("embedding_weight: 1.5", "embedding_weight"),
            ("k: 0", "k"),
            ("patternWeight: 0.8", "patternWeight"),
        ] {
            let path = write(
                dir.path(),
                "c.yaml",
                &format!("model_id: job_clusterer\nmodel_type: clustering\nversion: v9.0\nconfig_overrides:\n  {overrides}\n"),
            );
            let err = load_model_file(&path, Utc::now()).unwrap_err().to_string();
            assert!(err.contains("c.yaml") && err.contains(key), "{err}");
        }
        for shipped in [
            "../../config/models/job_clusterer-v1.0.yaml",
            "../../models/job_clusterer/v2.0/model.yaml",
        ] {
            load_model_file(std::path::Path::new(shipped), Utc::now()).unwrap();
        }
    }

    #[test]
    fn an_embeddings_version_is_refused_at_register_for_a_key_the_embedder_does_not_know() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "m.yaml",
            "model_id: job_embedder\nmodel_type: embeddings\nversion: v1.1\nconfig_overrides:\n  max_char: 10\n",
        );
        let err = load_model_file(&path, Utc::now()).unwrap_err().to_string();
        assert!(err.contains("m.yaml") && err.contains("max_char"), "{err}");
        // Tests run in the package directory.
        let shipped = std::path::Path::new("../../config/models/job_embedder-v1.0.yaml");
        let model = load_model_file(shipped, Utc::now()).unwrap();
        assert_eq!(model.model_type, EnrichmentType::Embeddings);
    }

    #[test]
    fn overrides_the_engine_cannot_build_are_refused_at_register_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        for (overrides, key) in [
            ("pattern_weight: heavy", "pattern_weight"),
            ("no_such_knob: 1", "no_such_knob"),
            ("min_confidence: -7", "min_confidence"),
        ] {
            let path = write(
                dir.path(),
                "m.yaml",
                &format!("model_id: skills_extractor\nmodel_type: skills_extraction\nversion: v9.0\nconfig_overrides:\n  {overrides}\n"),
            );
            let err = load_model_file(&path, Utc::now()).unwrap_err();
            assert!(
                matches!(err, ModelRegistryError::InvalidFile { .. }),
                "{err}"
            );
            let message = err.to_string();
            assert!(
                message.contains(key) && message.contains("m.yaml"),
                "{message}"
            );
        }
    }

    #[test]
    fn invalid_model_files_name_the_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "model_id: Bad-Id\nmodel_type: skills_extraction\nversion: v1.0\n",
                "model_id",
            ),
            (
                "model_id: a\nmodel_type: skills_extraction\nversion: 1.0\n",
                "version",
            ),
            (
                "model_id: a\nmodel_type: magic\nversion: v1.0\n",
                "model_type",
            ),
            ("model_id: a\nversion: v1.0\n", "model_type"),
            (
                "model_id: a\nmodel_type: clustering\nversion: v1.0\nweights: 1\n",
                "weights",
            ),
        ];
        for (i, (text, field)) in cases.iter().enumerate() {
            let path = write(dir.path(), &format!("m{i}.yaml"), text);
            let err = load_model_file(&path, Utc::now()).unwrap_err().to_string();
            assert!(
                err.contains(&format!("m{i}.yaml")) && err.contains(field),
                "{text}: {err}"
            );
        }
    }
}
