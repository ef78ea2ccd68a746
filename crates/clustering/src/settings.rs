//! Clustering settings read from a `clustering` model's `config_overrides`
//! (a JSON object). Unknown keys are rejected so that a typo does not go
//! unnoticed; every error names the key and what was expected.

use crate::features::FeatureConfig;
use crate::kmeans::KMeansConfig;
use jobenrich_domain::{EnrichmentVersion, ModelId, ModelVersion};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

/// How k is chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KChoice {
    Fixed(usize),
    /// The k in `min..=max` with the best sampled silhouette.
    Silhouette {
        min: usize,
        max: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusteringSettings {
    pub k: KChoice,
    pub seed: u64,
    pub max_iterations: usize,
    pub n_init: usize,
    pub tolerance: f64,
    pub skill_weight: f64,
    pub title_weight: f64,
    pub min_document_frequency: usize,
    pub silhouette_sample: usize,
    /// With `k: auto` and more jobs than this, every candidate k runs on a
    /// seeded sample of this many jobs and only the chosen k on all of them.
    pub selection_sample: usize,
    pub keywords_per_cluster: usize,
    /// Share of each row's squared length given to the posting vector
    /// (0..=1); 0 clusters on skills and titles alone, as v1.0.
    pub embedding_weight: f64,
    /// Whose vectors are used when `embedding_weight` > 0 (`None`: the
    /// active `embeddings` model's).
    pub embedding_version: Option<EnrichmentVersion>,
}

/// The embeddings model a bare `embedding_version` (`v2.0-static`) belongs to.
pub const DEFAULT_EMBEDDER_ID: &str = "job_embedder";

impl Default for ClusteringSettings {
    fn default() -> Self {
        let features = FeatureConfig::default();
        let kmeans = KMeansConfig::default();
        Self {
            k: KChoice::Silhouette { min: 4, max: 16 },
            seed: kmeans.seed,
            max_iterations: kmeans.max_iterations,
            n_init: kmeans.n_init,
            tolerance: kmeans.tolerance,
            skill_weight: features.skill_weight,
            title_weight: features.title_weight,
            min_document_frequency: features.min_document_frequency,
            silhouette_sample: 2_000,
            selection_sample: 20_000,
            keywords_per_cluster: 8,
            embedding_weight: 0.0,
            embedding_version: None,
        }
    }
}

/// A setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("clustering setting {key:?}: {reason}")]
pub struct SettingsError {
    pub key: String,
    pub reason: String,
}

fn invalid(key: &str, reason: impl Into<String>) -> SettingsError {
    SettingsError {
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// Keys `config_overrides` may hold.
pub const KNOWN_KEYS: &[&str] = &[
    "k",
    "k_min",
    "k_max",
    "seed",
    "max_iterations",
    "n_init",
    "tolerance",
    "skill_weight",
    "title_weight",
    "min_document_frequency",
    "silhouette_sample",
    "selection_sample",
    "keywords_per_cluster",
    "embedding_weight",
    "embedding_version",
];

impl ClusteringSettings {
    /// Defaults overridden by the model's `config_overrides`. `k` is a
    /// number, or `"auto"` for silhouette selection over `k_min..=k_max`.
    pub fn from_overrides(overrides: &Map<String, Value>) -> Result<Self, SettingsError> {
        if let Some(unknown) = overrides.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
            return Err(invalid(
                unknown,
                format!("unknown key (expected one of: {})", KNOWN_KEYS.join(", ")),
            ));
        }
        let mut s = Self::default();
        let (mut k_min, mut k_max) = match s.k {
            KChoice::Silhouette { min, max } => (min, max),
            KChoice::Fixed(k) => (k, k),
        };
        k_min = opt_count(overrides, "k_min", 2)?.unwrap_or(k_min);
        k_max = opt_count(overrides, "k_max", 2)?.unwrap_or(k_max);
        if k_min > k_max {
            return Err(invalid(
                "k_min",
                format!("must be <= k_max ({k_max}), got {k_min}"),
            ));
        }
        s.k = match overrides.get("k") {
            None => KChoice::Silhouette {
                min: k_min,
                max: k_max,
            },
            Some(Value::String(a)) if a == "auto" => KChoice::Silhouette {
                min: k_min,
                max: k_max,
            },
            Some(_) => KChoice::Fixed(opt_count(overrides, "k", 1)?.expect("present")),
        };
        if let Some(seed) = overrides.get("seed") {
            s.seed = seed.as_u64().ok_or_else(|| {
                invalid(
                    "seed",
                    format!("must be a non-negative integer, got {seed}"),
                )
            })?;
        }
        s.max_iterations = opt_count(overrides, "max_iterations", 1)?.unwrap_or(s.max_iterations);
        s.n_init = opt_count(overrides, "n_init", 1)?.unwrap_or(s.n_init);
        s.min_document_frequency =
            opt_count(overrides, "min_document_frequency", 1)?.unwrap_or(s.min_document_frequency);
        s.silhouette_sample =
            opt_count(overrides, "silhouette_sample", 10)?.unwrap_or(s.silhouette_sample);
        s.selection_sample =
            opt_count(overrides, "selection_sample", 100)?.unwrap_or(s.selection_sample);
        s.keywords_per_cluster =
            opt_count(overrides, "keywords_per_cluster", 1)?.unwrap_or(s.keywords_per_cluster);
        s.tolerance = opt_non_negative(overrides, "tolerance")?.unwrap_or(s.tolerance);
        s.skill_weight = opt_non_negative(overrides, "skill_weight")?.unwrap_or(s.skill_weight);
        s.title_weight = opt_non_negative(overrides, "title_weight")?.unwrap_or(s.title_weight);
        if let Some(v) = overrides.get("embedding_weight") {
            s.embedding_weight = match v.as_f64() {
                Some(w) if (0.0..=1.0).contains(&w) => w,
                _ => {
                    return Err(invalid(
                        "embedding_weight",
                        format!("must be a number in 0.0..=1.0, got {v}"),
                    ))
                }
            };
        }
        s.embedding_version = match overrides.get("embedding_version") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(embedding_version(text)?),
            Some(other) => {
                return Err(invalid(
                    "embedding_version",
                    format!(
                        "must be a string such as \"v1.0\" or \"job_embedder@v2.0-static\", got {other}"
                    ),
                ))
            }
        };
        if s.skill_weight == 0.0 && s.title_weight == 0.0 {
            return Err(invalid(
                "skill_weight",
                "skill_weight and title_weight cannot both be 0",
            ));
        }
        Ok(s)
    }

    pub fn feature_config(&self) -> FeatureConfig {
        FeatureConfig {
            skill_weight: self.skill_weight,
            title_weight: self.title_weight,
            min_document_frequency: self.min_document_frequency,
        }
    }

    /// k-means settings; `k` is the fixed k or the range's lower end.
    pub fn kmeans_config(&self) -> KMeansConfig {
        KMeansConfig {
            k: match self.k {
                KChoice::Fixed(k) => k,
                KChoice::Silhouette { min, .. } => min,
            },
            max_iterations: self.max_iterations,
            tolerance: self.tolerance,
            n_init: self.n_init,
            seed: self.seed,
            threads: 0,
        }
    }

    /// The shipped default as `config_overrides` (what `job_clusterer@v1.0` holds).
    pub fn default_overrides() -> Map<String, Value> {
        let d = Self::default();
        let (min, max) = match d.k {
            KChoice::Silhouette { min, max } => (min, max),
            KChoice::Fixed(k) => (k, k),
        };
        let mut m = Map::new();
        m.insert("k".into(), Value::from("auto"));
        m.insert("k_min".into(), Value::from(min));
        m.insert("k_max".into(), Value::from(max));
        m.insert("seed".into(), Value::from(d.seed));
        m.insert("max_iterations".into(), Value::from(d.max_iterations));
        m.insert("n_init".into(), Value::from(d.n_init));
        m.insert("skill_weight".into(), Value::from(d.skill_weight));
        m.insert("title_weight".into(), Value::from(d.title_weight));
        m.insert(
            "min_document_frequency".into(),
            Value::from(d.min_document_frequency),
        );
        m.insert("silhouette_sample".into(), Value::from(d.silhouette_sample));
        m.insert(
            "keywords_per_cluster".into(),
            Value::from(d.keywords_per_cluster),
        );
        m
    }
}

/// `v2.0-static` (a `job_embedder` version) or `model_id@version`.
fn embedding_version(text: &str) -> Result<EnrichmentVersion, SettingsError> {
    let reason = |e: String| {
        invalid(
            "embedding_version",
            format!(
                "{text:?} is not an embeddings version (\"v1.0\" or \"job_embedder@v1.0\"): {e}"
            ),
        )
    };
    let (model, version) = text
        .trim()
        .split_once('@')
        .unwrap_or((DEFAULT_EMBEDDER_ID, text.trim()));
    let model = ModelId::parse(model).map_err(|e| reason(e.to_string()))?;
    let version = ModelVersion::parse(version).map_err(|e| reason(e.to_string()))?;
    Ok(EnrichmentVersion::for_model(&model, &version))
}

fn opt_count(
    overrides: &Map<String, Value>,
    key: &str,
    minimum: usize,
) -> Result<Option<usize>, SettingsError> {
    match overrides.get(key) {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n as usize >= minimum => Ok(Some(n as usize)),
            _ => Err(invalid(
                key,
                format!("must be an integer >= {minimum}, got {v}"),
            )),
        },
    }
}

fn opt_non_negative(
    overrides: &Map<String, Value>,
    key: &str,
) -> Result<Option<f64>, SettingsError> {
    match overrides.get(key) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
            _ => Err(invalid(key, format!("must be a number >= 0, got {v}"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<ClusteringSettings, SettingsError> {
        ClusteringSettings::from_overrides(v.as_object().unwrap())
    }

    #[test]
    fn defaults_round_trip_through_overrides() {
        let parsed = ClusteringSettings::from_overrides(&ClusteringSettings::default_overrides());
        assert_eq!(parsed.unwrap(), ClusteringSettings::default());
    }

    #[test]
    fn fixed_k_auto_k_and_errors_naming_the_key() {
        assert_eq!(
            parse(json!({"k": 7, "seed": 3})).unwrap().k,
            KChoice::Fixed(7)
        );
        assert_eq!(
            parse(json!({"k": "auto", "k_min": 3, "k_max": 5}))
                .unwrap()
                .k,
            KChoice::Silhouette { min: 3, max: 5 }
        );
        let e = parse(json!({"k": 0})).unwrap_err();
        assert_eq!(e.key, "k");
        let e = parse(json!({"k_min": 9, "k_max": 5})).unwrap_err();
        assert_eq!(e.key, "k_min");
        let e = parse(json!({"clusters": 5})).unwrap_err();
        assert!(e.to_string().contains("unknown key"), "{e}");
        let e = parse(json!({"title_weight": -1})).unwrap_err();
        assert_eq!(e.key, "title_weight");
    }

    #[test]
    fn embedding_weight_and_version_are_read_and_checked() {
        let d = parse(json!({})).unwrap();
        assert_eq!(d.embedding_weight, 0.0);
        assert_eq!(d.embedding_version, None);
        let s =
            parse(json!({"embedding_weight": 0.6, "embedding_version": "v2.0-static"})).unwrap();
        assert_eq!(s.embedding_weight, 0.6);
        assert_eq!(
            s.embedding_version.unwrap().as_str(),
            "job_embedder@v2.0-static"
        );
        let s =
            parse(json!({"embedding_weight": 1, "embedding_version": "my_embedder@v3.1"})).unwrap();
        assert_eq!(s.embedding_weight, 1.0);
        assert_eq!(s.embedding_version.unwrap().as_str(), "my_embedder@v3.1");
        for bad in [json!(-0.1), json!(1.5), json!("half"), json!(null)] {
            let e = parse(json!({ "embedding_weight": bad })).unwrap_err();
            assert_eq!(e.key, "embedding_weight");
            assert!(e.reason.contains("0.0..=1.0"), "{e}");
        }
        for bad in [json!(2), json!(""), json!("job_embedder@")] {
            let e = parse(json!({ "embedding_version": bad })).unwrap_err();
            assert_eq!(e.key, "embedding_version", "{bad}");
        }
        // v1.0's overrides name neither key: its behaviour is the default.
        let v1 = ClusteringSettings::default_overrides();
        assert!(!v1.contains_key("embedding_weight") && !v1.contains_key("embedding_version"));
    }
}
