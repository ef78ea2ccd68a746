//! The trained skills tagger (`ml_tagger` strategy): BILO labels over the
//! engine's tokens, SKILL and KNOWLEDGE kept apart, first-order Viterbi
//! decoding, span confidence from forward-backward marginals.
//!
//! Model class: an averaged structured perceptron (Collins 2002) over hashed
//! sparse features. Written here rather than taken from a crate: `crfs`
//! (pure-Rust CRFsuite port) and `rucrf` exist, but both key features by
//! strings or attribute ids built per token, which alone would cost more
//! than the 200 µs per posting the engine may spend; hashing the tokenizer's
//! own token hashes into a fixed weight table keeps tagging allocation-light
//! and the model a flat array. The artifact format names its model class so
//! other classes (a CRF, a neural tagger) can be added as further versions.

// Small fixed-size tag loops index several arrays by the same tag.
#![allow(clippy::needless_range_loop)]

mod crf;
mod features;
mod fusion;
mod posterior;
mod train;

pub use crf::CrfConfig;
pub use features::FeatureConfig;
pub(crate) use fusion::fuse;
pub use train::{train_tagger, LabeledPosting, LabeledSpan, TrainConfig, TrainReport};

use crate::extract::{Extractor, Mention};
use crate::sections::Section;
use crate::tokenizer::Token;
use crate::{EngineConfig, EngineError};
use features::{token_features, FeatureScratch, FEATURES};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::path::Path;

/// A SkillSpan span label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SpanLabel {
    #[serde(rename = "SKILL")]
    Skill,
    #[serde(rename = "KNOWLEDGE")]
    Knowledge,
}

impl SpanLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            SpanLabel::Skill => "SKILL",
            SpanLabel::Knowledge => "KNOWLEDGE",
        }
    }

    pub fn parse(s: &str) -> Option<SpanLabel> {
        match s.trim().to_ascii_uppercase().as_str() {
            "SKILL" => Some(SpanLabel::Skill),
            "KNOWLEDGE" => Some(SpanLabel::Knowledge),
            _ => None,
        }
    }
}

/// Tags (BILO): O, and per label B (a span's first token, or its only
/// one), I (inside, more follows) and L (the last of two or more). The L
/// tags let the model learn where a phrase ends, which BIO's I cannot say:
/// +0.010 exact-boundary F1 in 5-fold cross-validation on train, 3 seeds
/// (docs/quality.md). BILOU's U tags (+0.004 more, within the seeds'
/// spread) would need 9 lanes, one more than a packed row holds.
pub(crate) const TAGS: usize = 7;
pub(crate) const TAG_NAMES: [&str; TAGS] = [
    "O",
    "B-SKILL",
    "I-SKILL",
    "L-SKILL",
    "B-KNOWLEDGE",
    "I-KNOWLEDGE",
    "L-KNOWLEDGE",
];
/// The tags of format 1 artifacts (BIO), read through `BIO_SOURCE`.
const BIO_TAG_NAMES: [&str; 5] = ["O", "B-SKILL", "I-SKILL", "B-KNOWLEDGE", "I-KNOWLEDGE"];

/// For each tag (and the start row), the BIO tag of a format 1 artifact
/// that stands for it. A BIO path maps to exactly one BILO path (a span's
/// last I becomes L) with the same score, so decoding and marginals are
/// unchanged: a BIO model is a BILO model whose L weights equal its I ones.
const BIO_SOURCE: [usize; TAGS + 1] = [0, 1, 2, 2, 3, 4, 4, 5];

const B: usize = 0;
const I: usize = 1;
const L: usize = 2;

/// The tag of `label` in `role` (`B`, `I` or `L`).
pub(crate) fn tag_of(label: SpanLabel, role: usize) -> usize {
    1 + role
        + 3 * match label {
            SpanLabel::Skill => 0,
            SpanLabel::Knowledge => 1,
        }
}

/// `B`, `I` or `L` (meaningless for O).
fn role(tag: usize) -> usize {
    (tag.max(1) - 1) % 3
}

fn tag_label(tag: usize) -> Option<SpanLabel> {
    match tag {
        1..=3 => Some(SpanLabel::Skill),
        4..=6 => Some(SpanLabel::Knowledge),
        _ => None,
    }
}

/// I or L: continues the span before it.
fn is_inside(tag: usize) -> bool {
    tag != 0 && role(tag) != B
}

/// The tags each tag may follow (what `allowed` admits), in order: the
/// decoder's loops skip the illegal pairs, whose scores are minus infinity
/// and whose `exp` is 0 (23 pairs of 49; half the decoding time).
const PREDECESSORS: [&[usize]; TAGS] = [
    &[0, 1, 3, 4, 6],
    &[0, 1, 3, 4, 6],
    &[1, 2],
    &[1, 2],
    &[0, 1, 3, 4, 6],
    &[4, 5],
    &[4, 5],
];

/// The tags each tag may precede (the transposed `PREDECESSORS`).
const SUCCESSORS: [&[usize]; TAGS] = [
    &[0, 1, 4],
    &[0, 1, 2, 3, 4],
    &[2, 3],
    &[0, 1, 4],
    &[0, 1, 4, 5, 6],
    &[5, 6],
    &[0, 1, 4],
];

/// A line may end on any tag but I (a span ends on L, or is one B).
fn can_end(tag: usize) -> bool {
    tag == 0 || role(tag) != I
}

/// `I-X`/`L-X` only right after `B-X` or `I-X`, and `I-X` only before
/// `I-X`/`L-X`: the decoder never outputs a broken span.
pub(crate) fn allowed(prev: Option<usize>, tag: usize) -> bool {
    let continues = |p: usize| p != 0 && role(p) != L && tag_label(p) == tag_label(tag);
    match prev {
        Some(p) if p != 0 && role(p) == I => is_inside(tag) && continues(p),
        Some(p) if is_inside(tag) => continues(p),
        None if is_inside(tag) => false,
        _ => true,
    }
}

const FORMAT: &str = "jobenrich-tagger";
/// 2: BILO tags; 1: BIO tags (still read, see `BIO_SOURCE`).
const FORMAT_VERSION: u32 = 2;
pub const TAGGER_FILE: &str = "tagger.json";
pub const WEIGHTS_FILE: &str = "weights.bin";

/// What was trained on and how (stored in the artifact; no wall-clock
/// date, so the same seed and data give the same bytes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingMetadata {
    pub dataset: String,
    /// SHA-256 of the training file's bytes.
    pub dataset_sha256: String,
    pub seed: u64,
    pub epochs: u32,
    pub postings: usize,
    pub sequences: usize,
    pub tokens: usize,
    pub gold_spans: usize,
    /// The CRF's L2 coefficient and first learning rate (absent for the perceptron).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c2: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta0: Option<f64>,
}

/// How the weights were trained; decoding is the same for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelClass {
    AveragedPerceptron,
    /// A linear-chain CRF: its scores are log-probabilities, so span
    /// posteriors (`tagger_span_threshold`) are meaningful.
    Crf,
}

impl ModelClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelClass::AveragedPerceptron => "averaged_perceptron",
            ModelClass::Crf => "crf",
        }
    }

    fn parse(s: &str) -> Option<ModelClass> {
        [ModelClass::AveragedPerceptron, ModelClass::Crf]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// `tagger.json`: everything but the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    format: String,
    format_version: u32,
    model_class: String,
    tags: Vec<String>,
    features: FeatureConfig,
    /// Scores are divided by this before the marginals' softmax.
    temperature: f32,
    /// `transitions[p][t]`, row `TAGS` is the sequence start.
    transitions: Vec<Vec<f32>>,
    weights_file: String,
    weights_sha256: String,
    weight_rows: usize,
    training: TrainingMetadata,
}

/// A trained tagger, immutable and shared by engine threads.
#[derive(Clone)]
pub struct Tagger {
    header: Header,
    /// One row of `TAGS` weights per hashed feature (the artifact's f32).
    weights: Vec<[f32; TAGS]>,
    /// The same rows quantized to i16 (times `scale`), 16-byte aligned, so
    /// one feature costs one cache line: tagging is bound by these loads.
    packed: Vec<PackedRow>,
    /// `weight ≈ packed / scale`.
    scale: f32,
    /// Transitions with illegal ones at minus infinity (decoding needs no checks).
    transitions: [[f32; TAGS]; TAGS + 1],
    /// `exp(transition / temperature)`, 0 where illegal (for the marginals).
    exp_transitions: [[f32; TAGS]; TAGS + 1],
}

impl std::fmt::Debug for Tagger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tagger")
            .field("model_class", &self.header.model_class)
            .field("features", &self.header.features)
            .field("weight_rows", &self.header.weight_rows)
            .finish()
    }
}

#[derive(Clone, Copy, Default)]
#[repr(align(16))]
struct PackedRow([i16; 8]);

fn pack(weights: &[[f32; TAGS]]) -> (Vec<PackedRow>, f32) {
    let max = weights
        .iter()
        .flat_map(|r| r.iter())
        .fold(0f32, |m, x| m.max(x.abs()));
    // Sums of up to FEATURES rows stay far inside i32.
    let scale = if max > 0.0 { 32_000.0 / max } else { 1.0 };
    let packed = weights
        .iter()
        .map(|r| {
            let mut p = [0i16; 8];
            for t in 0..TAGS {
                p[t] = (r[t] * scale).round() as i16;
            }
            PackedRow(p)
        })
        .collect();
    (packed, scale)
}

/// A hint to load `row` into the cache (the workspace's second unsafe site).
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[inline(always)]
fn prefetch(row: &PackedRow) {
    // SAFETY: a prefetch never faults, and the pointer comes from a live reference.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (row as *const PackedRow).cast::<i8>(),
        )
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn prefetch(_row: &PackedRow) {}

/// A tagged span, `[start, end)` in bytes, with the mean marginal
/// probability of its tags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TaggedSpan {
    pub start: usize,
    pub end: usize,
    pub label: SpanLabel,
    pub marginal: f64,
}

/// Characters `normalize_phrase` trims from both ends.
fn phrase_edge(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '.' | ',' | ';' | ':' | '!' | '?' | '(' | ')' | '"' | '\'' | '-' | '*' | '•'
        )
}

/// Leading determiners `normalize_phrase` strips.
const DETERMINERS: [&str; 7] = ["the ", "a ", "an ", "our ", "your ", "any ", "some "];

/// Lower-cased, trimmed, leading determiners and trailing punctuation removed.
pub fn normalize_phrase(phrase: &str) -> String {
    // Lower-cased and trimmed in place where it can be: a lower-case copy
    // and a trimmed copy were ~1.6 % of a linked `run` in `malloc`.
    let mut out = crate::text::collapse_whitespace(phrase);
    if out.is_ascii() {
        out.make_ascii_lowercase();
    } else {
        out = out.to_lowercase();
    }
    let (from, to) = phrase_core(&out);
    // Nothing left: the collapsed text itself (it has no edge whitespace).
    if from < to {
        out.truncate(to);
        out.drain(..from);
    }
    out
}

/// The byte range of `collapsed` left once edges and determiners are
/// stripped (empty when nothing is left).
fn phrase_core(collapsed: &str) -> (usize, usize) {
    let mut s = collapsed;
    loop {
        let before = s;
        s = s.trim_matches(phrase_edge);
        for det in DETERMINERS {
            if let Some(rest) = s.strip_prefix(det) {
                s = rest;
            }
        }
        if s == before {
            break;
        }
    }
    // `s` is a slice of `collapsed`: its offsets are where it lies.
    let from = s.as_ptr() as usize - collapsed.as_ptr() as usize;
    (from, from + s.len())
}

impl Tagger {
    pub(crate) fn from_trained(
        class: ModelClass,
        features: FeatureConfig,
        weights: Vec<f32>,
        transitions: [[f32; TAGS]; TAGS + 1],
        temperature: f32,
        training: TrainingMetadata,
    ) -> Tagger {
        let rows = weights.len() / TAGS;
        let weights = weights
            .chunks_exact(TAGS)
            .map(|c| std::array::from_fn(|t| c[t]))
            .collect();
        // The header keeps the learned (unmasked) transitions; decoding masks them.
        let raw = transitions;
        let (transitions, exp_transitions) = decoding_tables(&raw, temperature);
        let mut tagger = Tagger {
            header: Header {
                format: FORMAT.into(),
                format_version: FORMAT_VERSION,
                model_class: class.as_str().into(),
                tags: TAG_NAMES.iter().map(|s| s.to_string()).collect(),
                features,
                temperature,
                transitions: raw.iter().map(|r| r.to_vec()).collect(),
                weights_file: WEIGHTS_FILE.into(),
                weights_sha256: String::new(),
                weight_rows: rows,
                training,
            },
            packed: Vec::new(),
            scale: 1.0,
            weights,
            transitions,
            exp_transitions,
        };
        (tagger.packed, tagger.scale) = pack(&tagger.weights);
        tagger.header.weights_sha256 = hex(&Sha256::digest(tagger.weights_bytes()));
        tagger
    }

    pub fn features(&self) -> FeatureConfig {
        self.header.features
    }

    pub fn training(&self) -> &TrainingMetadata {
        &self.header.training
    }

    pub fn model_class(&self) -> &str {
        &self.header.model_class
    }

    /// Whether `config` can decode with this tagger: span probabilities
    /// (`tagger_span_threshold` above 0) need a CRF, whose scores are
    /// log-probabilities; a perceptron's are not, and decoding its spans by
    /// probability reports almost nothing (docs/quality.md).
    pub fn check_decoding(&self, config: &EngineConfig) -> Result<(), String> {
        if config.tagger_span_threshold > 0.0 && self.header.model_class != ModelClass::Crf.as_str()
        {
            return Err(format!(
                "tagger_span_threshold {} needs a CRF tagger (model_class {}); this artifact is {}: set tagger_span_threshold to 0",
                config.tagger_span_threshold,
                ModelClass::Crf.as_str(),
                self.header.model_class
            ));
        }
        Ok(())
    }

    /// SHA-256 of the weights file.
    pub fn checksum(&self) -> &str {
        &self.header.weights_sha256
    }

    /// The weights file: rows with any non-zero weight, each as a
    /// little-endian u32 row index and `TAGS` f32 weights (sparse: most
    /// hashed rows are never touched in training).
    pub fn weights_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (r, w) in self.weights.iter().enumerate() {
            if w.iter().any(|x| *x != 0.0) {
                out.extend_from_slice(&(r as u32).to_le_bytes());
                for x in w {
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
        }
        out
    }

    /// `tagger.json`, pretty-printed.
    pub fn header_json(&self) -> String {
        serde_json::to_string_pretty(&self.header).unwrap_or_default() + "\n"
    }

    /// Writes `tagger.json` and `weights.bin` into `dir` (created if absent).
    /// A tagger read from a format 1 (BIO) artifact is refused: its header
    /// would not describe the BILO rows written here.
    pub fn save(&self, dir: &Path) -> Result<(), EngineError> {
        if self.header.format_version != FORMAT_VERSION {
            return Err(EngineError::Artifact {
                path: dir.to_path_buf(),
                message: format!(
                    "a format v{} tagger is only read, not written: retrain it",
                    self.header.format_version
                ),
            });
        }
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
        for (name, bytes) in [
            (WEIGHTS_FILE, self.weights_bytes()),
            (TAGGER_FILE, self.header_json().into_bytes()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, bytes).map_err(|e| EngineError::io(&path, e))?;
        }
        Ok(())
    }

    /// Reads an artifact directory written by `save`, checking its format,
    /// tags and checksum.
    pub fn load(dir: &Path) -> Result<Tagger, EngineError> {
        let header_path = dir.join(TAGGER_FILE);
        let json =
            std::fs::read_to_string(&header_path).map_err(|e| EngineError::io(&header_path, e))?;
        let header: Header = serde_json::from_str(&json).map_err(|e| EngineError::Artifact {
            path: header_path.clone(),
            message: format!("not a tagger header: {e}"),
        })?;
        let weights_path = dir.join(&header.weights_file);
        let bytes = std::fs::read(&weights_path).map_err(|e| EngineError::io(&weights_path, e))?;
        Tagger::from_parts(header, &bytes).map_err(|message| EngineError::Artifact {
            path: dir.to_path_buf(),
            message,
        })
    }

    fn from_parts(header: Header, bytes: &[u8]) -> Result<Tagger, String> {
        // Which stored tag each of ours reads: BILO as stored; a format 1
        // (BIO) artifact's I stands for both I and L.
        let (names, source): (&[&str], [usize; TAGS + 1]) = match header.format_version {
            FORMAT_VERSION => (&TAG_NAMES, [0, 1, 2, 3, 4, 5, 6, 7]),
            1 => (&BIO_TAG_NAMES, BIO_SOURCE),
            v => {
                return Err(format!(
                    "format {} v{v} (expected {FORMAT} v1 or v{FORMAT_VERSION})",
                    header.format
                ))
            }
        };
        if header.format != FORMAT {
            return Err(format!("format {} (expected {FORMAT})", header.format));
        }
        if ModelClass::parse(&header.model_class).is_none() {
            return Err(format!(
                "model class {} is not supported",
                header.model_class
            ));
        }
        if header.tags != names {
            return Err(format!(
                "tags {:?} (expected {names:?} in format v{})",
                header.tags, header.format_version
            ));
        }
        if !(8..=24).contains(&header.features.hash_bits) {
            return Err(format!(
                "hash_bits {} outside 8..=24",
                header.features.hash_bits
            ));
        }
        let sum = hex(&Sha256::digest(bytes));
        if sum != header.weights_sha256 {
            return Err(format!(
                "{} checksum {sum} differs from the recorded {}",
                header.weights_file, header.weights_sha256
            ));
        }
        let stored = names.len();
        let rows = 1usize << header.features.hash_bits;
        let mut weights = vec![[0f32; TAGS]; rows];
        let record = 4 + 4 * stored;
        if !bytes.len().is_multiple_of(record) {
            return Err(format!("{} has a truncated record", header.weights_file));
        }
        for rec in bytes.chunks_exact(record) {
            let r = u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]) as usize;
            if r >= rows {
                return Err(format!("weight row {r} outside the table of {rows}"));
            }
            for t in 0..TAGS {
                let o = 4 + 4 * source[t];
                let x = f32::from_le_bytes([rec[o], rec[o + 1], rec[o + 2], rec[o + 3]]);
                if !x.is_finite() {
                    return Err(format!("weight of row {r} is not finite"));
                }
                weights[r][t] = x;
            }
        }
        if header.transitions.len() != stored + 1
            || header.transitions.iter().any(|r| r.len() != stored)
        {
            return Err(format!(
                "transitions must be {} rows of {stored}",
                stored + 1
            ));
        }
        if header.transitions.iter().flatten().any(|x| !x.is_finite()) {
            return Err("a transition weight is not finite".into());
        }
        let mut transitions = [[0f32; TAGS]; TAGS + 1];
        for p in 0..=TAGS {
            for t in 0..TAGS {
                transitions[p][t] = header.transitions[source[p]][source[t]];
            }
        }
        if !(header.temperature.is_finite() && header.temperature > 0.0) {
            return Err("temperature must be positive".into());
        }
        let (transitions, exp_transitions) = decoding_tables(&transitions, header.temperature);
        let (packed, scale) = pack(&weights);
        Ok(Tagger {
            header,
            packed,
            scale,
            weights,
            transitions,
            exp_transitions,
        })
    }

    /// Emission scores of each token (`TAGS` per token) from its feature rows.
    fn emissions(&self, feats: &[u32], out: &mut Vec<[f32; TAGS]>) {
        out.clear();
        out.reserve(feats.len() / FEATURES);
        let zero = PackedRow::default();
        let inv = 1.0 / self.scale;
        // All 8 lanes (the last unused): whole-vector adds, no lane tail.
        let load = |r: u32| {
            self.packed
                .get(r as usize)
                .unwrap_or(&zero)
                .0
                .map(i32::from)
        };
        // Tagging is bound by these row loads (32 random rows per token in a
        // table of megabytes): asking for the rows of the token two ahead
        // overlaps their cache misses with this token's sums (+20 % postings/s).
        let mut ahead = feats.chunks_exact(FEATURES).skip(2);
        for tf in feats.chunks_exact(FEATURES) {
            if let Some(next) = ahead.next() {
                for &r in next {
                    if let Some(w) = self.packed.get(r as usize) {
                        prefetch(w);
                    }
                }
            }
            // Two independent sums, so the row loads (cache misses in a
            // table of megabytes) are not chained through one accumulator.
            let (mut a, mut b) = ([0i32; 8], [0i32; 8]);
            for pair in tf.chunks_exact(2) {
                let (x, y) = (load(pair[0]), load(pair[1]));
                for t in 0..8 {
                    a[t] += x[t];
                    b[t] += y[t];
                }
            }
            let mut e = [0f32; TAGS];
            for t in 0..TAGS {
                e[t] = (a[t] + b[t]) as f32 * inv;
            }
            out.push(e);
        }
    }

    /// Spans over `tokens` (the engine's tokenization of `text`).
    pub(crate) fn tag(
        &self,
        text: &str,
        lower: &str,
        tokens: &[Token],
        mentions: &[Mention],
        sections: &[Section],
        extractor: &Extractor<'_>,
    ) -> Vec<TaggedSpan> {
        BUFFERS.with(|buffers| {
            let mut buffers = buffers.borrow_mut();
            let TagBuffers {
                features,
                feats,
                em,
                path,
                marg,
                scratch,
            } = &mut *buffers;
            feats.clear();
            token_features(
                text,
                lower,
                tokens,
                mentions,
                sections,
                extractor.lexicon,
                extractor.aliases,
                self.header.features,
                features,
                feats,
            );
            self.emissions(feats, em);
            // A lower score for `O` trades precision for recall (the perceptron
            // is conservative on long SKILL phrases).
            let penalty = extractor.config.tagger_o_penalty as f32;
            if penalty != 0.0 {
                em.iter_mut().for_each(|e| e[0] -= penalty);
            }
            let mut spans = Vec::new();
            let inv = 1.0 / self.header.temperature;
            let threshold = extractor.config.tagger_span_threshold;
            if threshold > 0.0 {
                // By span probability (`posterior`), every line.
                for &(first, last) in &features.lines {
                    posterior::decode(
                        &em[first..last],
                        &self.exp_transitions,
                        inv,
                        threshold,
                        &mut scratch.posterior,
                        &mut scratch.decoded,
                    );
                    for c in &scratch.decoded {
                        spans.push(TaggedSpan {
                            start: tokens[first + c.first].start as usize,
                            end: tokens[first + c.last].end as usize,
                            label: c.label,
                            marginal: c.probability,
                        });
                    }
                }
            }
            // Else the best path's spans (Viterbi).
            let best_path_lines = if threshold > 0.0 {
                &[][..]
            } else {
                &features.lines[..]
            };
            for &(first, last) in best_path_lines {
                let em = &em[first..last];
                viterbi_with(em, &self.transitions, path, &mut scratch.back);
                // A line without a span reports nothing: its marginals are not needed.
                if path.iter().all(|&t| t == 0) {
                    continue;
                }
                marginals(em, &self.exp_transitions, inv, path, marg, scratch);
                let mut i = 0;
                while i < path.len() {
                    match tag_label(path[i]) {
                        Some(label) => {
                            let mut j = i + 1;
                            // B (I)* L, or a lone B.
                            while j < path.len()
                                && is_inside(path[j])
                                && tag_label(path[j]) == Some(label)
                                && role(path[j - 1]) != L
                            {
                                j += 1;
                            }
                            let m: f64 = marg[i..j].iter().map(|&x| f64::from(x)).sum::<f64>()
                                / (j - i) as f64;
                            spans.push(TaggedSpan {
                                start: tokens[first + i].start as usize,
                                end: tokens[first + j - 1].end as usize,
                                label,
                                marginal: m,
                            });
                            i = j;
                        }
                        None => i += 1,
                    }
                }
            }
            // An outsized posting does not pin its buffers to the thread.
            if feats.len() > KEEP_FEATURE_ROWS {
                *buffers = TagBuffers::default();
            }
            spans
        })
    }
}

/// Legal-only transitions (illegal at minus infinity) and their
/// `exp(t / temperature)` (illegal at 0).
fn decoding_tables(
    raw: &[[f32; TAGS]; TAGS + 1],
    temperature: f32,
) -> ([[f32; TAGS]; TAGS + 1], [[f32; TAGS]; TAGS + 1]) {
    let mut masked = *raw;
    let mut exp = [[0f32; TAGS]; TAGS + 1];
    for p in 0..=TAGS {
        let prev = (p < TAGS).then_some(p);
        for t in 0..TAGS {
            if allowed(prev, t) {
                exp[p][t] = (raw[p][t] / temperature).exp();
            } else {
                masked[p][t] = f32::NEG_INFINITY;
            }
        }
    }
    (masked, exp)
}

/// Everything one `tag` call fills, kept per thread between calls (a
/// posting's features are ~70 KB: allocating and zeroing them anew showed
/// in profiles).
#[derive(Default)]
struct TagBuffers {
    features: FeatureScratch,
    feats: Vec<u32>,
    em: Vec<[f32; TAGS]>,
    path: Vec<usize>,
    marg: Vec<f32>,
    scratch: Scratch,
}

/// Feature rows (4 bytes each) a thread keeps between calls: postings of
/// up to ~32,000 tokens, far above the usual few hundred.
const KEEP_FEATURE_ROWS: usize = 1 << 20;

// The emission sums take feature rows two at a time.
const _: () = assert!(FEATURES.is_multiple_of(2));

thread_local! {
    static BUFFERS: RefCell<TagBuffers> = RefCell::new(TagBuffers::default());
}

/// Buffers reused across the lines of one text.
#[derive(Default)]
struct Scratch {
    posterior: posterior::PosteriorScratch,
    decoded: Vec<posterior::PosteriorSpan>,
    back: Vec<[u8; TAGS]>,
    eem: Vec<[f32; TAGS]>,
    alpha: Vec<[f32; TAGS]>,
}

/// Best tag sequence under emission and transition scores; illegal
/// transitions (`O → I-X`) are never taken.
pub(crate) fn viterbi(em: &[[f32; TAGS]], tr: &[[f32; TAGS]; TAGS + 1], path: &mut Vec<usize>) {
    let (masked, _) = decoding_tables(tr, 1.0);
    viterbi_with(em, &masked, path, &mut Vec::new());
}

/// `viterbi` over transitions already masked by `decoding_tables`.
fn viterbi_with(
    em: &[[f32; TAGS]],
    tr: &[[f32; TAGS]; TAGS + 1],
    path: &mut Vec<usize>,
    back: &mut Vec<[u8; TAGS]>,
) {
    path.clear();
    let n = em.len();
    if n == 0 {
        return;
    }
    back.clear();
    back.resize(n, [0; TAGS]);
    let mut score = [0f32; TAGS];
    for t in 0..TAGS {
        score[t] = tr[TAGS][t] + em[0][t];
    }
    for i in 1..n {
        let mut next = [0f32; TAGS];
        for t in 0..TAGS {
            let preds = PREDECESSORS[t];
            let (mut best, mut arg) = (score[preds[0]] + tr[preds[0]][t], preds[0] as u8);
            for &p in &preds[1..] {
                let s = score[p] + tr[p][t];
                if s > best {
                    best = s;
                    arg = p as u8;
                }
            }
            next[t] = best + em[i][t];
            back[i][t] = arg;
        }
        score = next;
    }
    let mut t = (0..TAGS)
        .filter(|&t| can_end(t))
        .max_by(|&a, &b| score[a].total_cmp(&score[b]).then(b.cmp(&a)))
        .unwrap_or(0);
    path.resize(n, 0);
    for i in (0..n).rev() {
        path[i] = t;
        t = back[i][t] as usize;
    }
}

/// Marginal probability of each token's tag on `path`, by forward-backward
/// over `exp(score / temperature)` with per-token scaling (no logs needed).
fn marginals(
    em: &[[f32; TAGS]],
    etr: &[[f32; TAGS]; TAGS + 1],
    inv: f32,
    path: &[usize],
    out: &mut Vec<f32>,
    scratch: &mut Scratch,
) {
    let n = em.len();
    out.clear();
    if n == 0 {
        return;
    }
    let eem = &mut scratch.eem;
    eem.clear();
    for e in em {
        let max = e.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut x = [0f32; TAGS];
        for t in 0..TAGS {
            // Clamped above expf's underflow: libm takes a slow path for
            // results below f32's normal range (2 % of `bench extract`'s
            // samples in `perf`), and e^-80 beside the max term's 1 is 0 in
            // every sum anyway.
            x[t] = ((e[t] - max) * inv).max(-80.0).exp();
        }
        eem.push(x);
    }
    let normalize = |v: &mut [f32; TAGS]| {
        let s: f32 = v.iter().sum();
        if s > 0.0 && s.is_finite() {
            v.iter_mut().for_each(|x| *x /= s);
        } else {
            *v = [1.0 / TAGS as f32; TAGS];
        }
    };
    let alpha = &mut scratch.alpha;
    alpha.clear();
    alpha.resize(n, [0.0; TAGS]);
    for t in 0..TAGS {
        alpha[0][t] = etr[TAGS][t] * eem[0][t];
    }
    normalize(&mut alpha[0]);
    for i in 1..n {
        for t in 0..TAGS {
            let mut s = 0.0;
            for &p in PREDECESSORS[t] {
                s += alpha[i - 1][p] * etr[p][t];
            }
            alpha[i][t] = s * eem[i][t];
        }
        normalize(&mut alpha[i]);
    }
    // Only paths that may end count (see `can_end`).
    let mut beta: [f32; TAGS] = std::array::from_fn(|t| if can_end(t) { 1.0 } else { 0.0 });
    out.resize(n, 0.0);
    for i in (0..n).rev() {
        let mut g = [0f32; TAGS];
        for t in 0..TAGS {
            g[t] = alpha[i][t] * beta[t];
        }
        normalize(&mut g);
        out[i] = g[path[i]];
        if i > 0 {
            let mut nb = [0f32; TAGS];
            for p in 0..TAGS {
                let mut s = 0.0;
                for &t in SUCCESSORS[p] {
                    s += etr[p][t] * eem[i][t] * beta[t];
                }
                nb[p] = s;
            }
            normalize(&mut nb);
            beta = nb;
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_phrases_drop_determiners_and_punctuation() {
        assert_eq!(normalize_phrase("  The  Agile methods. "), "agile methods");
        assert_eq!(
            normalize_phrase("a strong sense of ownership;"),
            "strong sense of ownership"
        );
        assert_eq!(normalize_phrase("..."), "...");
    }

    #[test]
    fn normalized_phrases_are_trimmed_in_place_on_ascii_and_unicode() {
        for (phrase, want) in [
            ("", ""),
            ("   ", ""),
            ("Rust", "rust"),
            ("the the a An Our team-work!!", "team-work"),
            ("(\"Python\")", "python"),
            ("- * ;", "- * ;"),
            ("a ", "a"),
            ("THE\tDATA\x0bPIPELINES;", "data pipelines"),
            ("Some  C++,", "c++"),
            ("  ΣΊΣΥΦΟΣ  ", "σίσυφος"),
            ("The\u{a0}Café.", "café"),
            ("• our\u{2003}Übung •", "übung"),
            ("\u{3000}—\u{3000}", "—"),
        ] {
            assert_eq!(normalize_phrase(phrase), want, "{phrase:?}");
        }
    }

    #[test]
    fn viterbi_never_starts_a_span_inside() {
        let tr = [[0f32; TAGS]; TAGS + 1];
        // I-SKILL scores best everywhere, but may neither open a span nor
        // end one: B I L.
        let em = vec![[0.0, 0.5, 3.0, 0.0, 0.0, 0.0, 0.0]; 3];
        let mut path = Vec::new();
        viterbi(&em, &tr, &mut path);
        assert_eq!(path, vec![1, 2, 3]);
    }

    #[test]
    fn marginals_are_probabilities() {
        let tr = [[0f32; TAGS]; TAGS + 1];
        let em = vec![
            [2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 5.0, 0.0, 0.0],
        ];
        let mut path = Vec::new();
        viterbi(&em, &tr, &mut path);
        assert_eq!(path, vec![0, 4]);
        let mut m = Vec::new();
        let (_, etr) = decoding_tables(&tr, 1.0);
        marginals(&em, &etr, 1.0, &path, &mut m, &mut Scratch::default());
        assert!(m.iter().all(|x| *x > 0.5 && *x <= 1.0), "{m:?}");
    }

    #[test]
    fn bilo_spans_are_well_formed() {
        let (b, i, l) = (
            tag_of(SpanLabel::Skill, B),
            tag_of(SpanLabel::Skill, I),
            tag_of(SpanLabel::Skill, L),
        );
        let lk = tag_of(SpanLabel::Knowledge, L);
        assert!(allowed(Some(b), l) && allowed(Some(b), i) && allowed(Some(i), l));
        assert!(allowed(Some(b), 0) && allowed(Some(l), 0) && allowed(Some(l), b));
        // I must go on; L and I need an open span of their label.
        assert!(!allowed(Some(i), 0) && !allowed(Some(i), b));
        assert!(!allowed(Some(0), l) && !allowed(None, i) && !allowed(Some(l), i));
        assert!(!allowed(Some(b), lk));
        assert!(!can_end(i) && can_end(l) && can_end(b) && can_end(0));
        for t in 0..TAGS {
            let before: Vec<usize> = (0..TAGS).filter(|&p| allowed(Some(p), t)).collect();
            assert_eq!(PREDECESSORS[t], before, "predecessors of {t}");
            let after: Vec<usize> = (0..TAGS).filter(|&n| allowed(Some(t), n)).collect();
            assert_eq!(SUCCESSORS[t], after, "successors of {t}");
        }
    }

    /// Best path of a format 1 (BIO) model by brute force, as spans.
    fn bio_best_spans(em: &[[f32; 5]], tr: &[[f32; 5]; 6]) -> Vec<(usize, usize, usize)> {
        let bio_allowed = |p: Option<usize>, t: usize| match t {
            2 => p == Some(1) || p == Some(2),
            4 => p == Some(3) || p == Some(4),
            _ => true,
        };
        let n = em.len();
        let (mut best, mut best_path) = (f32::NEG_INFINITY, Vec::new());
        for code in 0..5usize.pow(n as u32) {
            let path: Vec<usize> = (0..n).map(|k| code / 5usize.pow(k as u32) % 5).collect();
            let mut score = 0.0;
            for k in 0..n {
                let prev = (k > 0).then(|| path[k - 1]);
                if !bio_allowed(prev, path[k]) {
                    score = f32::NEG_INFINITY;
                    break;
                }
                score += tr[prev.unwrap_or(5)][path[k]] + em[k][path[k]];
            }
            if score > best {
                (best, best_path) = (score, path);
            }
        }
        let mut spans = Vec::new();
        for (k, &t) in best_path.iter().enumerate() {
            match t {
                1 | 3 => spans.push((k, k + 1, t)),
                _ if t != 0 => spans.last_mut().expect("I after B").1 = k + 1,
                _ => {}
            }
        }
        spans
    }

    #[test]
    fn a_bio_artifact_decodes_as_before() {
        // Random BIO scores, expanded as `from_parts` expands a format 1
        // artifact: the same spans as the BIO model's own best path.
        let mut state = 0x1234_5678_9abc_def1u64;
        let mut rand = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 2000) as f32 / 1000.0 - 1.0
        };
        for _ in 0..200 {
            let em5: Vec<[f32; 5]> = (0..5)
                .map(|_| std::array::from_fn(|_| rand() * 3.0))
                .collect();
            let tr5: [[f32; 5]; 6] = std::array::from_fn(|_| std::array::from_fn(|_| rand()));
            let em7: Vec<[f32; TAGS]> = em5
                .iter()
                .map(|e| std::array::from_fn(|t| e[BIO_SOURCE[t]]))
                .collect();
            let tr7: [[f32; TAGS]; TAGS + 1] =
                std::array::from_fn(|p| std::array::from_fn(|t| tr5[BIO_SOURCE[p]][BIO_SOURCE[t]]));
            let mut path = Vec::new();
            viterbi(&em7, &tr7, &mut path);
            let mut spans = Vec::new();
            for (k, &t) in path.iter().enumerate() {
                if t != 0 && role(t) == B {
                    spans.push((k, k + 1, if t == 1 { 1 } else { 3 }));
                } else if t != 0 {
                    spans.last_mut().expect("I/L after B").1 = k + 1;
                }
            }
            assert_eq!(spans, bio_best_spans(&em5, &tr5), "{em5:?} {tr5:?}");
        }
    }

    #[test]
    fn a_bio_artifact_is_read_as_bilo_and_never_written_back() {
        // Row 3 of a format 1 artifact: O, B-S, I-S, B-K, I-K.
        let mut bytes = 3u32.to_le_bytes().to_vec();
        for x in [0.5f32, 1.0, 2.0, 3.0, 4.0] {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        let header = Header {
            format: FORMAT.into(),
            format_version: 1,
            model_class: "averaged_perceptron".into(),
            tags: BIO_TAG_NAMES.iter().map(|s| s.to_string()).collect(),
            features: FeatureConfig {
                hash_bits: 8,
                lexicon: false,
                sections: false,
            },
            temperature: 1.0,
            transitions: vec![vec![0.0; 5]; 6],
            weights_file: WEIGHTS_FILE.into(),
            weights_sha256: hex(&Sha256::digest(&bytes)),
            weight_rows: 256,
            training: TrainingMetadata {
                dataset: "fixture".into(),
                dataset_sha256: String::new(),
                seed: 1,
                epochs: 1,
                postings: 1,
                sequences: 1,
                tokens: 1,
                gold_spans: 0,
                c2: None,
                eta0: None,
            },
        };
        let tagger = Tagger::from_parts(header.clone(), &bytes).expect("format 1 loads");
        // I's weight stands for L too.
        assert_eq!(tagger.weights[3], [0.5, 1.0, 2.0, 2.0, 3.0, 4.0, 4.0]);
        assert_eq!(tagger.checksum(), header.weights_sha256);
        let dir = std::env::temp_dir().join(format!("bio-save-{}", std::process::id()));
        let err = tagger.save(&dir).expect_err("a BIO tagger is not written");
        assert!(err.to_string().contains("retrain"), "{err}");
        assert!(!dir.exists());
        // A format 1 header with BILO tags is refused, naming what it expected.
        let wrong = Header {
            tags: TAG_NAMES.iter().map(|s| s.to_string()).collect(),
            ..header
        };
        let err = Tagger::from_parts(wrong, &bytes).expect_err("tags must match the format");
        assert!(err.contains("format v1"), "{err}");
    }

    #[test]
    fn span_probabilities_need_a_crf() {
        let tagger = |class| {
            let training = TrainingMetadata {
                dataset: "none".into(),
                dataset_sha256: String::new(),
                seed: 1,
                epochs: 1,
                postings: 0,
                sequences: 0,
                tokens: 0,
                gold_spans: 0,
                c2: None,
                eta0: None,
            };
            let features = FeatureConfig {
                hash_bits: 8,
                lexicon: false,
                sections: false,
            };
            Tagger::from_trained(
                class,
                features,
                vec![0.0; 256 * TAGS],
                [[0.0; TAGS]; TAGS + 1],
                1.0,
                training,
            )
        };
        let by_probability = EngineConfig {
            tagger_span_threshold: 0.15,
            ..EngineConfig::default()
        };
        let perceptron = tagger(ModelClass::AveragedPerceptron);
        let err = perceptron.check_decoding(&by_probability).unwrap_err();
        assert!(err.contains("averaged_perceptron"), "{err}");
        assert!(perceptron.check_decoding(&EngineConfig::default()).is_ok());
        let crf = tagger(ModelClass::Crf);
        assert!(crf.check_decoding(&by_probability).is_ok());
        assert!(crf.check_decoding(&EngineConfig::default()).is_ok());
    }
}
