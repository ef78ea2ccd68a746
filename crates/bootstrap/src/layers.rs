//! Layered configuration with provenance.
//!
//! Layers, later ones winning key by key:
//! 1. `config/default.yaml` (the directory is `JOBENRICH_CONFIG_DIR`, else
//!    `./config`); when the file is absent, the copy compiled into the binary,
//!    so `jobenrich` works from any directory;
//! 2. `config/{JOBENRICH_ENV}.yaml` when `JOBENRICH_ENV` is set (it must exist);
//! 3. the `--config FILE` given on the command line (it must exist);
//! 4. environment variables `JOBENRICH__SECTION__KEY` (`__` separates levels,
//!    names are lower-cased: `JOBENRICH__STORAGE__SQLITE__PATH` → `storage.sqlite.path`).
//!
//! The `config` crate merges the layers; each layer is also read on its own
//! so `config show` can say which layer set each effective value.

use crate::error::BootstrapError;
use crate::settings::Settings;
use config::{Config, Environment, File, FileFormat};
use jobenrich_domain::text::flatten_json;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// What secret values are printed as.
pub const MASK: &str = "********";

/// Prefix of the environment variables that override settings.
pub const ENV_PREFIX: &str = "JOBENRICH";
const ENV_SEPARATOR: &str = "__";

/// `config/default.yaml` as it was when the binary was built.
const BUILT_IN_DEFAULT: &str = include_str!("../../../config/default.yaml");

/// Fragments of key names whose values are secrets (matched in lower case,
/// at every depth of the tree, lists included).
const SECRET_KEY_FRAGMENTS: [&str; 10] = [
    "password",
    "passwd",
    "secret",
    "token",
    "credential",
    "bearer",
    "auth",
    "private",
    "service_account",
    "api_key",
];

/// Where a layer (and so a value) came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LayerOrigin {
    /// A default of the typed settings that no layer sets.
    CodeDefault,
    /// The copy of `config/default.yaml` compiled into the binary.
    BuiltInDefaultFile,
    DefaultFile {
        path: PathBuf,
    },
    EnvironmentFile {
        environment: String,
        path: PathBuf,
    },
    ConfigFile {
        path: PathBuf,
    },
    EnvironmentVariable {
        name: String,
    },
}

impl fmt::Display for LayerOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayerOrigin::CodeDefault => f.write_str("code default"),
            LayerOrigin::BuiltInDefaultFile => f.write_str("default file (built in)"),
            LayerOrigin::DefaultFile { path } => write!(f, "default file {}", path.display()),
            LayerOrigin::EnvironmentFile { environment, path } => write!(
                f,
                "env file {} (JOBENRICH_ENV={environment})",
                path.display()
            ),
            LayerOrigin::ConfigFile { path } => write!(f, "--config {}", path.display()),
            LayerOrigin::EnvironmentVariable { name } => write!(f, "env var {name}"),
        }
    }
}

#[derive(Debug, Clone)]
enum LayerSource {
    YamlFile(PathBuf),
    YamlText(&'static str),
    /// Environment variables with the prefix, keyed by their dotted setting key.
    Variables(BTreeMap<String, (String, String)>),
}

#[derive(Debug, Clone)]
struct Layer {
    origin: LayerOrigin,
    source: LayerSource,
}

/// One effective setting as `config show` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectiveSetting {
    /// Dotted key (`storage.sqlite.path`).
    pub key: String,
    /// The value, masked when the key names a secret.
    pub value: serde_json::Value,
    /// Which layer set it (the last one that does).
    pub origin: String,
    /// False for keys no section of the settings reads (typos, leftovers).
    pub known: bool,
}

/// The configuration layers found for this process.
#[derive(Debug, Clone)]
pub struct ConfigLayers {
    layers: Vec<Layer>,
}

impl ConfigLayers {
    /// Finds the layers from the process environment and the working directory.
    pub fn discover(config_file: Option<&Path>) -> Result<Self, BootstrapError> {
        let config_dir = std::env::var_os("JOBENRICH_CONFIG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("config"));
        let environment = std::env::var("JOBENRICH_ENV")
            .ok()
            .filter(|e| !e.trim().is_empty());
        Self::from_parts(&config_dir, environment, config_file, std::env::vars())
    }

    /// The layers for an explicit directory, environment name, file and variables.
    pub fn from_parts(
        config_dir: &Path,
        environment: Option<String>,
        config_file: Option<&Path>,
        variables: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, BootstrapError> {
        let mut layers = Vec::new();
        let default_path = config_dir.join("default.yaml");
        layers.push(if default_path.is_file() {
            Layer {
                origin: LayerOrigin::DefaultFile {
                    path: default_path.clone(),
                },
                source: LayerSource::YamlFile(default_path),
            }
        } else {
            Layer {
                origin: LayerOrigin::BuiltInDefaultFile,
                source: LayerSource::YamlText(BUILT_IN_DEFAULT),
            }
        });
        if let Some(environment) = environment {
            let path = config_dir.join(format!("{environment}.yaml"));
            if !path.is_file() {
                return Err(BootstrapError::MissingFile {
                    what: format!("JOBENRICH_ENV={environment}"),
                    path,
                });
            }
            layers.push(Layer {
                origin: LayerOrigin::EnvironmentFile {
                    environment,
                    path: path.clone(),
                },
                source: LayerSource::YamlFile(path),
            });
        }
        if let Some(path) = config_file {
            if !path.is_file() {
                return Err(BootstrapError::MissingFile {
                    what: "--config".to_string(),
                    path: path.to_path_buf(),
                });
            }
            layers.push(Layer {
                origin: LayerOrigin::ConfigFile {
                    path: path.to_path_buf(),
                },
                source: LayerSource::YamlFile(path.to_path_buf()),
            });
        }
        let prefix = format!("{ENV_PREFIX}{ENV_SEPARATOR}");
        let mut by_key = BTreeMap::new();
        for (name, value) in variables {
            if let Some(rest) = name.strip_prefix(&prefix) {
                let key = rest
                    .split(ENV_SEPARATOR)
                    .map(str::to_lowercase)
                    .collect::<Vec<_>>()
                    .join(".");
                if !key.is_empty() {
                    by_key.insert(key, (name, value));
                }
            }
        }
        if !by_key.is_empty() {
            layers.push(Layer {
                origin: LayerOrigin::EnvironmentVariable {
                    name: "JOBENRICH__*".to_string(),
                },
                source: LayerSource::Variables(by_key),
            });
        }
        Ok(Self { layers })
    }

    /// Where each layer comes from, in application order.
    pub fn origins(&self) -> Vec<LayerOrigin> {
        self.layers.iter().map(|l| l.origin.clone()).collect()
    }

    fn add_source(
        builder: config::ConfigBuilder<config::builder::DefaultState>,
        layer: &Layer,
    ) -> config::ConfigBuilder<config::builder::DefaultState> {
        match &layer.source {
            LayerSource::YamlFile(path) => {
                builder.add_source(File::from(path.as_path()).format(FileFormat::Yaml))
            }
            LayerSource::YamlText(text) => {
                builder.add_source(File::from_str(text, FileFormat::Yaml))
            }
            LayerSource::Variables(by_key) => {
                let map = by_key
                    .values()
                    .map(|(name, value)| (name.clone(), value.clone()))
                    .collect();
                builder.add_source(
                    Environment::with_prefix(ENV_PREFIX)
                        .prefix_separator(ENV_SEPARATOR)
                        .separator(ENV_SEPARATOR)
                        .try_parsing(true)
                        .source(Some(map)),
                )
            }
        }
    }

    fn merged(&self) -> Result<Config, BootstrapError> {
        let builder = self.layers.iter().fold(Config::builder(), Self::add_source);
        Ok(builder.build()?)
    }

    /// The typed, validated settings of the merged layers. A key no section
    /// reads (a misspelling like `workr:`) is an error naming it and its layer.
    pub fn settings(&self) -> Result<Settings, BootstrapError> {
        let settings: Settings = self.merged()?.try_deserialize()?;
        if let Some(unknown) = self.effective_of(&settings)?.into_iter().find(|s| !s.known) {
            return Err(BootstrapError::UnknownSetting {
                key: unknown.key,
                origin: unknown.origin,
            });
        }
        settings.validate()?;
        Ok(settings)
    }

    /// Every effective setting with its value (secrets masked) and origin, by
    /// key; unknown keys are listed (flagged), not refused, so `config show`
    /// can point at them.
    pub fn effective(&self) -> Result<Vec<EffectiveSetting>, BootstrapError> {
        let settings: Settings = self.merged()?.try_deserialize()?;
        settings.validate()?;
        self.effective_of(&settings)
    }

    fn effective_of(&self, settings: &Settings) -> Result<Vec<EffectiveSetting>, BootstrapError> {
        let typed = serde_json::to_value(settings).map_err(|e| {
            BootstrapError::invalid("(settings)", format!("cannot be serialized: {e}"))
        })?;
        let typed_leaves = flatten_json(&typed);

        // Last layer setting a key wins, as in the merge.
        let mut origin_of: BTreeMap<String, String> = BTreeMap::new();
        for layer in &self.layers {
            let raw: serde_json::Value = Self::add_source(Config::builder(), layer)
                .build()?
                .try_deserialize()
                .unwrap_or(serde_json::Value::Null);
            let leaves = flatten_json(&raw);
            for key in leaves.into_keys() {
                let origin = match &layer.source {
                    LayerSource::Variables(by_key) => by_key
                        .get(&key)
                        .map(|(name, _)| {
                            LayerOrigin::EnvironmentVariable { name: name.clone() }.to_string()
                        })
                        .unwrap_or_else(|| layer.origin.to_string()),
                    _ => layer.origin.to_string(),
                };
                origin_of.insert(key, origin);
            }
        }

        let raw_merged: serde_json::Value = self
            .merged()?
            .try_deserialize()
            .unwrap_or(serde_json::Value::Null);
        let raw_leaves = flatten_json(&raw_merged);

        let mut out: Vec<EffectiveSetting> = typed_leaves
            .iter()
            .map(|(key, value)| EffectiveSetting {
                key: key.clone(),
                value: mask(key, value),
                origin: origin_of
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| LayerOrigin::CodeDefault.to_string()),
                known: true,
            })
            .collect();
        for (key, value) in raw_leaves {
            let covered = typed_leaves.contains_key(&key)
                || typed_leaves
                    .keys()
                    .any(|typed_key| key.starts_with(&format!("{typed_key}.")));
            if !covered {
                out.push(EffectiveSetting {
                    value: mask(&key, &value),
                    origin: origin_of.get(&key).cloned().unwrap_or_default(),
                    key,
                    known: false,
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

/// Whether any segment of a dotted key names a secret (`password`,
/// `api_token`, `service_account_json`, `auth.bearer`, …; not `keywords`).
pub fn is_secret_key(key: &str) -> bool {
    key.split('.').any(is_secret_segment)
}

fn is_secret_segment(segment: &str) -> bool {
    let segment = segment.to_lowercase();
    segment == "key"
        || segment.ends_with("_key")
        || SECRET_KEY_FRAGMENTS.iter().any(|f| segment.contains(f))
}

/// A value with every secret inside it masked: the whole value when the key
/// names a secret, else each member of maps and lists, at any depth.
pub fn mask(key: &str, value: &serde_json::Value) -> serde_json::Value {
    if value.is_null() {
        return serde_json::Value::Null;
    }
    if is_secret_key(key) {
        return serde_json::Value::String(MASK.to_string());
    }
    match value {
        serde_json::Value::Object(map) => {
            serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), mask(k, v))).collect())
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(|v| mask("", v)).collect())
        }
        other => other.clone(),
    }
}

/// An error message with every double-quoted part hidden. serde quotes the
/// offending value of a type error (`invalid type: string "…", expected a
/// map`); when a secret sits where a map is expected, that would print it.
/// Keys are quoted with backticks and stay readable.
pub fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find('"') {
        out.push_str(&rest[..start]);
        out.push_str("\"(value hidden)\"");
        rest = match rest[start + 1..].find('"') {
            Some(end) => &rest[start + 1 + end + 1..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn origin_of<'a>(effective: &'a [EffectiveSetting], key: &str) -> &'a EffectiveSetting {
        effective
            .iter()
            .find(|s| s.key == key)
            .unwrap_or_else(|| panic!("{key} missing from {effective:?}"))
    }

    #[test]
    fn later_layers_win_and_each_value_names_its_layer() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "default.yaml",
            "storage:\n  sqlite:\n    path: a.db\ningest:\n  batch_size: 10\nlogging:\n  level: info\n",
        );
        write(dir.path(), "staging.yaml", "ingest:\n  batch_size: 20\n");
        let extra = write(dir.path(), "extra.yaml", "logging:\n  level: debug\n");
        let layers = ConfigLayers::from_parts(
            dir.path(),
            Some("staging".into()),
            Some(&extra),
            [
                (
                    "JOBENRICH__STORAGE__SQLITE__PATH".to_string(),
                    "env.db".to_string(),
                ),
                ("UNRELATED".to_string(), "x".to_string()),
            ],
        )
        .unwrap();
        let settings = layers.settings().unwrap();
        assert_eq!(settings.storage.sqlite.path, PathBuf::from("env.db"));
        assert_eq!(settings.ingest.batch_size, 20);
        assert_eq!(settings.logging.level, "debug");

        let effective = layers.effective().unwrap();
        assert_eq!(
            origin_of(&effective, "storage.sqlite.path").origin,
            "env var JOBENRICH__STORAGE__SQLITE__PATH"
        );
        assert!(origin_of(&effective, "ingest.batch_size")
            .origin
            .starts_with("env file"));
        assert!(origin_of(&effective, "logging.level")
            .origin
            .starts_with("--config"));
        assert!(origin_of(&effective, "storage.backend")
            .origin
            .starts_with("code default"));
    }

    #[test]
    fn missing_default_file_falls_back_to_the_built_in_copy() {
        let dir = tempfile::tempdir().unwrap();
        let layers = ConfigLayers::from_parts(dir.path(), None, None, []).unwrap();
        assert_eq!(layers.origins(), [LayerOrigin::BuiltInDefaultFile]);
        let effective = layers.effective().unwrap();
        let path = origin_of(&effective, "storage.sqlite.path");
        assert_eq!(path.value, "var/jobenrich.db");
        assert_eq!(path.origin, "default file (built in)");
    }

    #[test]
    fn missing_environment_or_config_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = ConfigLayers::from_parts(dir.path(), Some("prod".into()), None, [])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("prod.yaml") && err.contains("JOBENRICH_ENV=prod"),
            "{err}"
        );
        let err = ConfigLayers::from_parts(dir.path(), None, Some(Path::new("nope.yaml")), [])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("nope.yaml") && err.contains("--config"),
            "{err}"
        );
    }

    #[test]
    fn secrets_are_masked_and_unknown_keys_are_flagged() {
        let dir = tempfile::tempdir().unwrap();
        let extra = write(
            dir.path(),
            "extra.yaml",
            "storage:\n  bigquery:\n    project_id: demo\n    credentials_json: '{\"k\":1}'\nstorage_typo:\n  path: x\n",
        );
        let layers = ConfigLayers::from_parts(dir.path(), None, Some(&extra), []).unwrap();
        let effective = layers.effective().unwrap();
        assert_eq!(
            origin_of(&effective, "storage.bigquery.credentials_json").value,
            MASK
        );
        assert_eq!(
            origin_of(&effective, "storage.bigquery.project_id").value,
            "demo"
        );
        for secret in [
            "a.password",
            "b.api_token",
            "c.service_account_key",
            "key",
            "storage.bigquery.service_account_json",
            "auth.bearer",
        ] {
            assert!(is_secret_key(secret), "{secret}");
        }
        for plain in [
            "clustering.keywords_per_cluster",
            "storage.sqlite.path",
            "a.monkey",
        ] {
            assert!(!is_secret_key(plain), "{plain}");
        }
        let typo = origin_of(&effective, "storage_typo.path");
        assert!(!typo.known);
        assert!(typo.origin.starts_with("--config"));
    }

    #[test]
    fn a_wrong_type_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let layers = ConfigLayers::from_parts(
            dir.path(),
            None,
            None,
            [(
                "JOBENRICH__INGEST__BATCH_SIZE".to_string(),
                "lots".to_string(),
            )],
        )
        .unwrap();
        let err = layers.settings().unwrap_err().to_string();
        assert!(err.contains("batch_size"), "{err}");
        assert!(!err.contains("lots"), "the value is echoed: {err}");
    }

    #[test]
    fn a_misspelled_key_is_an_error_naming_it_and_its_layer() {
        let dir = tempfile::tempdir().unwrap();
        for (text, key) in [
            ("workr:\n  batch_size: 5\n", "workr.batch_size"),
            (
                "storage:\n  sqllite:\n    path: x.db\n",
                "storage.sqllite.path",
            ),
        ] {
            let extra = write(dir.path(), "extra.yaml", text);
            let layers = ConfigLayers::from_parts(dir.path(), None, Some(&extra), []).unwrap();
            let err = layers.settings().unwrap_err().to_string();
            assert!(
                err.contains(&format!("unknown setting {key}")) && err.contains("extra.yaml"),
                "{err}"
            );
            // `config show` still lists it, flagged, to help find it.
            let effective = layers.effective().unwrap();
            assert!(!origin_of(&effective, key).known);
        }
    }

    #[test]
    fn secrets_are_masked_at_every_depth_and_never_echoed_in_type_errors() {
        let dir = tempfile::tempdir().unwrap();
        let extra = write(
            dir.path(),
            "extra.yaml",
            "storage:\n  bigquery:\n    project: demo\n    service_account_json: S3CRET-A\n    auth:\n      bearer: S3CRET-B\n    users:\n      - name: bob\n        password: S3CRET-C\n",
        );
        let layers = ConfigLayers::from_parts(dir.path(), None, Some(&extra), []).unwrap();
        let shown = serde_json::to_string(&layers.effective().unwrap()).unwrap();
        assert!(!shown.contains("S3CRET"), "{shown}");
        assert!(shown.contains("demo") && shown.contains("bob"), "{shown}");

        let wrong = write(dir.path(), "wrong.yaml", "storage:\n  bigquery: S3CRET-D\n");
        let layers = ConfigLayers::from_parts(dir.path(), None, Some(&wrong), []).unwrap();
        let err = layers.settings().unwrap_err().to_string();
        assert!(!err.contains("S3CRET"), "{err}");
    }
}
