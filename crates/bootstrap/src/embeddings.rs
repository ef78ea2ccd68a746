//! The `embeddings` settings and the wiring of the text encoders: the candle
//! encoder of `embeddings.model_dir`, the static encoder of
//! `embeddings.static_model_dir`, and the ESCO skill index the `semantic`
//! strategy links to (cached under `embeddings.cache_dir`).

use crate::error::BootstrapError;
use crate::settings::{in_range, resolve_data_dir};
use jobenrich_domain::{EncoderKind, TextEncoder};
use jobenrich_encoder_candle::CandleEncoder;
use jobenrich_encoder_static::StaticEncoder;
use jobenrich_enrichment_engine::{load_esco_skills, SemanticLinker, SkillIndex};
use jobenrich_services::model_artifacts::LinkerSource;
use jobenrich_services::posting_embedder::EncoderSource;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct EmbeddingsSettings {
    /// The sentence-transformers model directory (`scripts/setup-models.sh`).
    pub model_dir: PathBuf,
    /// The static encoder distilled from it (shipped under models/encoders).
    pub static_model_dir: PathBuf,
    /// Word pieces per text, special tokens included.
    pub max_tokens: usize,
    /// The ESCO skills CSV (`preferredLabel`, `altLabels`).
    pub taxonomy_file: PathBuf,
    /// Where the embedded skill index is cached.
    pub cache_dir: PathBuf,
    /// Ranked ESCO candidates kept per skill.
    pub link_top_k: usize,
    /// Keep each phrase's ranked candidates in a file beside the index
    /// (`phrase-ranks_*.bin`), so the next process does not rank it again.
    pub keep_phrase_ranks: bool,
}

impl Default for EmbeddingsSettings {
    fn default() -> Self {
        Self {
            model_dir: PathBuf::from("var/models/all-MiniLM-L6-v2"),
            static_model_dir: PathBuf::from("models/encoders/minilm-static-128"),
            max_tokens: 256,
            taxonomy_file: PathBuf::from("data/taxonomy/esco-v1.1.1-all-skills/skills_en.csv"),
            cache_dir: PathBuf::from("var/cache"),
            link_top_k: 5,
            keep_phrase_ranks: true,
        }
    }
}

/// Largest `embeddings.max_tokens` (BERT position tables hold 512).
pub const MAX_TOKENS: u64 = 512;
/// Largest `embeddings.link_top_k`.
pub const MAX_LINK_TOP_K: u64 = 50;

impl EmbeddingsSettings {
    pub(crate) fn validate(&self) -> Result<(), BootstrapError> {
        in_range(
            "embeddings.max_tokens",
            self.max_tokens as u64,
            2,
            MAX_TOKENS,
        )?;
        in_range(
            "embeddings.link_top_k",
            self.link_top_k as u64,
            1,
            MAX_LINK_TOP_K,
        )?;
        for (key, path) in [
            ("embeddings.model_dir", &self.model_dir),
            ("embeddings.static_model_dir", &self.static_model_dir),
            ("embeddings.taxonomy_file", &self.taxonomy_file),
            ("embeddings.cache_dir", &self.cache_dir),
        ] {
            if path.as_os_str().is_empty() {
                return Err(BootstrapError::invalid(key, "must not be empty"));
            }
        }
        Ok(())
    }

    /// Loads the encoder (a missing model names the directory and the setup
    /// script).
    pub fn encoder(&self) -> Result<Arc<CandleEncoder>, BootstrapError> {
        let dir = resolve_data_dir("embeddings.model_dir", &self.model_dir).map_err(|_| {
            BootstrapError::invalid(
                "embeddings.model_dir",
                format!(
                    "names {}, which holds no model: run `bash scripts/setup-models.sh` or set the directory",
                    self.model_dir.display()
                ),
            )
        })?;
        CandleEncoder::load(&dir, self.max_tokens)
            .map(Arc::new)
            .map_err(|e| BootstrapError::invalid("embeddings.model_dir", e.to_string()))
    }

    /// Loads the static encoder (a missing directory names the setting).
    pub fn static_encoder(&self) -> Result<Arc<StaticEncoder>, BootstrapError> {
        let key = "embeddings.static_model_dir";
        let dir = resolve_data_dir(key, &self.static_model_dir).map_err(|_| {
            BootstrapError::invalid(
                key,
                format!(
                    "names {}, which holds no static model (it ships under models/encoders)",
                    self.static_model_dir.display()
                ),
            )
        })?;
        StaticEncoder::load(&dir)
            .map(Arc::new)
            .map_err(|e| BootstrapError::invalid(key, e.to_string()))
    }

    /// The encoder of a kind.
    pub fn encoder_of(&self, kind: EncoderKind) -> Result<Arc<dyn TextEncoder>, BootstrapError> {
        Ok(match kind {
            EncoderKind::Transformer => self.encoder()? as Arc<dyn TextEncoder>,
            EncoderKind::Static => self.static_encoder()? as Arc<dyn TextEncoder>,
        })
    }

    /// The taxonomy file found on this machine (its directory looked up like
    /// the lexicon's).
    pub fn taxonomy_file(&self) -> Result<PathBuf, BootstrapError> {
        let key = "embeddings.taxonomy_file";
        let name = self
            .taxonomy_file
            .file_name()
            .ok_or_else(|| BootstrapError::invalid(key, "names no file"))?;
        let parent = self
            .taxonomy_file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let file = resolve_data_dir(key, parent)?.join(name);
        if !file.is_file() {
            return Err(BootstrapError::invalid(
                key,
                format!("{} is not a file", file.display()),
            ));
        }
        Ok(file)
    }

    /// The linker of the `semantic` strategy: the encoder of `kind`, and the
    /// skill index of this taxonomy file's content and that encoder (built
    /// and cached on first use).
    pub fn linker(&self, kind: EncoderKind) -> Result<Arc<SemanticLinker>, BootstrapError> {
        let encoder = self.encoder_of(kind)?;
        let taxonomy = self.taxonomy_file()?;
        let version = taxonomy_version(&taxonomy)?;
        tracing::info!(
            cache_dir = %self.cache_dir.display(),
            encoder = kind.as_str(),
            "loading the ESCO skill index (built and cached on first use: minutes with the transformer)"
        );
        let started = std::time::Instant::now();
        let (index, built) = SkillIndex::load_or_build(
            &self.cache_dir,
            encoder.as_ref(),
            || load_esco_skills(&taxonomy),
            &version,
        )
        .map_err(|e| BootstrapError::invalid("embeddings.taxonomy_file", e.to_string()))?;
        if built {
            tracing::info!(
                concepts = index.concepts(),
                labels = index.rows(),
                seconds = started.elapsed().as_secs_f64(),
                model = encoder.model_id(),
                "built the ESCO skill index"
            );
        }
        let mut linker = SemanticLinker::new(encoder, Arc::new(index), self.link_top_k)
            .map_err(|e| BootstrapError::invalid("embeddings.link_top_k", e.to_string()))?;
        if self.keep_phrase_ranks {
            let path = linker.rank_log_path(&self.cache_dir);
            // Only a cache: a store we cannot write to costs speed, not results.
            match linker.attach_rank_log(&path) {
                Ok(phrases) => {
                    tracing::info!(path = %path.display(), phrases, "phrase ranks kept from earlier runs")
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "phrase ranks are not kept (set embeddings.keep_phrase_ranks = false to silence this)")
                }
            }
        }
        Ok(Arc::new(linker))
    }

    /// [`Self::encoder_of`] for the services, loaded when an `embeddings`
    /// model version first needs it.
    pub fn encoder_source(&self) -> EncoderSource {
        let settings = self.clone();
        Arc::new(move |kind| settings.encoder_of(kind).map_err(|e| e.to_string()))
    }

    /// [`Self::linker`] for the services, built when a model version first
    /// asks for it.
    pub fn linker_source(&self) -> LinkerSource {
        let settings = self.clone();
        Arc::new(move |kind| settings.linker(kind).map_err(|e| e.to_string()))
    }
}

/// `esco-<first 16 hex digits of the file's SHA-256>`: a changed file gets a
/// new index.
fn taxonomy_version(path: &Path) -> Result<String, BootstrapError> {
    let bytes = std::fs::read(path).map_err(|e| {
        BootstrapError::invalid(
            "embeddings.taxonomy_file",
            format!("reading {}: {e}", path.display()),
        )
    })?;
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Ok(format!("esco-{hex}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_settings_name_their_key() {
        let mut s = EmbeddingsSettings {
            max_tokens: 1,
            ..EmbeddingsSettings::default()
        };
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("embeddings.max_tokens"));
        s.max_tokens = 256;
        s.link_top_k = 0;
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("embeddings.link_top_k"));
        s.link_top_k = 5;
        assert!(s.validate().is_ok());
    }

    #[test]
    fn the_linker_keeps_phrase_ranks_for_the_next_process_unless_told_not_to() {
        let dir = tempfile::tempdir().unwrap();
        let taxonomy = dir.path().join("skills_en.csv");
        std::fs::write(
            &taxonomy,
            "preferredLabel,altLabels\nuse databases,\"SQL\nMySQL\"\nmanage budgets,budgeting\n",
        )
        .unwrap();
        let settings = |cache: &Path, keep: bool| EmbeddingsSettings {
            static_model_dir: PathBuf::from("../../models/encoders/minilm-static-128"),
            taxonomy_file: taxonomy.clone(),
            cache_dir: cache.to_path_buf(),
            keep_phrase_ranks: keep,
            ..EmbeddingsSettings::default()
        };
        let kept = dir.path().join("kept");
        let linker = settings(&kept, true).linker(EncoderKind::Static).unwrap();
        let first = linker.candidates(&["postgres", "budget"]).unwrap();
        let log = linker.rank_log_path(&kept);
        drop(linker);
        let written = std::fs::metadata(&log).unwrap().len();
        // Ranked again from the log, not the encoder: same candidates, no new record.
        let linker = settings(&kept, true).linker(EncoderKind::Static).unwrap();
        assert_eq!(linker.candidates(&["postgres", "budget"]).unwrap(), first);
        drop(linker);
        assert_eq!(std::fs::metadata(&log).unwrap().len(), written);
        let off = dir.path().join("off");
        let linker = settings(&off, false).linker(EncoderKind::Static).unwrap();
        linker.candidates(&["postgres"]).unwrap();
        assert!(!linker.rank_log_path(&off).exists());
    }

    #[test]
    fn a_missing_model_names_the_setting_and_the_setup_script() {
        let s = EmbeddingsSettings {
            model_dir: PathBuf::from("/nonexistent/jobenrich-model"),
            ..EmbeddingsSettings::default()
        };
        let err = s.encoder().unwrap_err().to_string();
        assert!(
            err.contains("embeddings.model_dir") && err.contains("setup-models.sh"),
            "{err}"
        );
    }

    #[test]
    fn the_static_encoder_is_chosen_by_kind_and_a_missing_one_names_its_setting() {
        // Tests run in the package directory.
        let shipped = PathBuf::from("../../models/encoders/minilm-static-128");
        let s = EmbeddingsSettings {
            static_model_dir: shipped,
            ..EmbeddingsSettings::default()
        };
        let enc = s.encoder_of(EncoderKind::Static).unwrap();
        assert_eq!((enc.model_id(), enc.dim()), ("minilm-static-128", 128));
        let s = EmbeddingsSettings {
            static_model_dir: PathBuf::from("/nonexistent/jobenrich-static"),
            ..EmbeddingsSettings::default()
        };
        let err = s.encoder_source()(EncoderKind::Static).err().unwrap();
        assert!(err.contains("embeddings.static_model_dir"), "{err}");
    }

    #[test]
    fn the_taxonomy_version_follows_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("skills.csv");
        std::fs::write(&path, "preferredLabel,altLabels\na,b\n").unwrap();
        let v1 = taxonomy_version(&path).unwrap();
        std::fs::write(&path, "preferredLabel,altLabels\na,c\n").unwrap();
        let v2 = taxonomy_version(&path).unwrap();
        assert!(v1.starts_with("esco-") && v1.len() == 21, "{v1}");
        assert_ne!(v1, v2);
    }
}
