//! The trained section classifier (`classification_method = ml_model`): a
//! logistic regression over section features that replaces the rule
//! classifier's skills relevance. Sections are still split by the rules
//! (`sections.rs`); the model scores each one.
//!
//! Artifact: one JSON file (`section_model.json`) with the feature config,
//! the sparse weights, their SHA-256 and the training metadata; no
//! wall-clock date, so the same seed and data give the same bytes.

mod features;
mod train;

pub use features::SectionFeatureConfig;
pub use train::{
    relevance_counts, section_holds_gold, train_section_model, RelevanceCounts, SectionTrainConfig,
    SectionTrainReport,
};

use crate::sections::Section;
use crate::EngineError;
use features::section_features;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

const FORMAT: &str = "jobenrich-section-model";
const FORMAT_VERSION: u32 = 1;
const MODEL_CLASS: &str = "logistic_regression";
pub const SECTION_MODEL_FILE: &str = "section_model.json";
/// `classifier_version` of sections the model scored.
pub const ML_CLASSIFIER_VERSION: &str = "ml_model-lr1";

/// What was trained on and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionTrainingMetadata {
    pub dataset: String,
    pub dataset_sha256: String,
    pub seed: u64,
    pub epochs: u32,
    pub l2: f64,
    pub postings: usize,
    pub sections: usize,
    /// Sections holding at least one gold span (the positive label).
    pub relevant_sections: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ModelFile {
    format: String,
    format_version: u32,
    model_class: String,
    features: SectionFeatureConfig,
    /// Non-zero weights as `(row, weight)`, rows ascending.
    weights: Vec<(u32, f32)>,
    weights_sha256: String,
    training: SectionTrainingMetadata,
}

/// A trained section model, immutable and shared by engine threads.
#[derive(Debug, Clone)]
pub struct SectionModel {
    file: ModelFile,
    dense: Vec<f32>,
    cues: Option<aho_corasick::AhoCorasick>,
}

fn checksum(weights: &[(u32, f32)]) -> String {
    let mut h = Sha256::new();
    for (r, w) in weights {
        h.update(r.to_le_bytes());
        h.update(w.to_le_bytes());
    }
    crate::tagger::hex(&h.finalize())
}

fn cue_matcher(config: &SectionFeatureConfig) -> Result<Option<aho_corasick::AhoCorasick>, String> {
    if config.cue_words.is_empty() {
        return Ok(None);
    }
    aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .build(&config.cue_words)
        .map(Some)
        .map_err(|e| format!("cue words do not compile: {e}"))
}

impl SectionModel {
    pub(crate) fn from_trained(
        features: SectionFeatureConfig,
        dense: Vec<f32>,
        training: SectionTrainingMetadata,
    ) -> Result<SectionModel, EngineError> {
        let weights: Vec<(u32, f32)> = dense
            .iter()
            .enumerate()
            .filter(|(_, w)| **w != 0.0)
            .map(|(r, w)| (r as u32, *w))
            .collect();
        let file = ModelFile {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            model_class: MODEL_CLASS.into(),
            weights_sha256: checksum(&weights),
            features,
            weights,
            training,
        };
        SectionModel::from_file(file).map_err(|message| EngineError::Artifact {
            path: SECTION_MODEL_FILE.into(),
            message,
        })
    }

    fn from_file(file: ModelFile) -> Result<SectionModel, String> {
        if file.format != FORMAT || file.format_version != FORMAT_VERSION {
            return Err(format!(
                "format {} v{} (expected {FORMAT} v{FORMAT_VERSION})",
                file.format, file.format_version
            ));
        }
        if file.model_class != MODEL_CLASS {
            return Err(format!("model class {} is not supported", file.model_class));
        }
        if !(4..=20).contains(&file.features.hash_bits) {
            return Err(format!(
                "features.hash_bits {} outside 4..=20",
                file.features.hash_bits
            ));
        }
        let sum = checksum(&file.weights);
        if sum != file.weights_sha256 {
            return Err(format!(
                "weights checksum {sum} differs from the recorded {}",
                file.weights_sha256
            ));
        }
        let rows = 1usize << file.features.hash_bits;
        let mut dense = vec![0f32; rows];
        for &(r, w) in &file.weights {
            let slot = dense
                .get_mut(r as usize)
                .ok_or_else(|| format!("weight row {r} outside the table of {rows}"))?;
            if !w.is_finite() {
                return Err(format!("weight of row {r} is not finite"));
            }
            *slot = w;
        }
        let cues = cue_matcher(&file.features)?;
        Ok(SectionModel { file, dense, cues })
    }

    /// Reads `section_model.json` from an artifact directory, checking its
    /// format and checksum.
    pub fn load(dir: &Path) -> Result<SectionModel, EngineError> {
        let path = dir.join(SECTION_MODEL_FILE);
        let json = std::fs::read_to_string(&path).map_err(|e| EngineError::io(&path, e))?;
        let file: ModelFile = serde_json::from_str(&json).map_err(|e| EngineError::Artifact {
            path: path.clone(),
            message: format!("not a section model: {e}"),
        })?;
        SectionModel::from_file(file).map_err(|message| EngineError::Artifact { path, message })
    }

    /// The artifact file, pretty-printed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.file).unwrap_or_default() + "\n"
    }

    /// Writes `section_model.json` into `dir` (created if absent).
    pub fn save(&self, dir: &Path) -> Result<(), EngineError> {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
        let path = dir.join(SECTION_MODEL_FILE);
        std::fs::write(&path, self.to_json()).map_err(|e| EngineError::io(&path, e))
    }

    pub fn checksum(&self) -> &str {
        &self.file.weights_sha256
    }

    pub fn training(&self) -> &SectionTrainingMetadata {
        &self.file.training
    }

    pub fn features(&self) -> &SectionFeatureConfig {
        &self.file.features
    }

    /// Probability that `sections[index]` is skills-relevant.
    fn probability(
        &self,
        sections: &[Section],
        index: usize,
        lower: &str,
        buf: &mut Vec<(u32, f32)>,
    ) -> f64 {
        buf.clear();
        section_features(
            sections,
            index,
            lower,
            &self.file.features,
            self.cues.as_ref(),
            buf,
        );
        let z: f32 = buf.iter().map(|&(r, x)| self.dense[r as usize] * x).sum();
        sigmoid(f64::from(z))
    }

    /// Replaces the rule relevance of `sections` (split by the rules over
    /// `lower`, the ASCII-lowercased text) with the model's probability.
    pub(crate) fn score(&self, sections: &mut [Section], lower: &str, threshold: f64) {
        let mut buf = Vec::new();
        let probabilities: Vec<f64> = (0..sections.len())
            .map(|i| self.probability(sections, i, lower, &mut buf))
            .collect();
        for (s, p) in sections.iter_mut().zip(probabilities) {
            s.relevance = p;
            s.is_skills_relevant = p >= threshold;
        }
    }
}

pub(crate) fn sigmoid(z: f64) -> f64 {
    let p = 1.0 / (1.0 + (-z).exp());
    if p.is_finite() {
        p.clamp(0.0, 1.0)
    } else {
        0.5
    }
}
