//! Training of the averaged structured perceptron: one Viterbi decode per
//! sequence, additive updates where the decode differs from the gold tags,
//! weights averaged over every step (the lazy "w - u/c" form). Single
//! threaded and seeded, so the same data and seed give the same weights.

// Small fixed-size tag loops index several arrays by the same tag.
#![allow(clippy::needless_range_loop)]

use super::crf::{train_crf, CrfConfig};
use super::features::{lines, token_features, FeatureConfig, FeatureScratch, FEATURES};
use super::{tag_of, viterbi, ModelClass, SpanLabel, Tagger, TrainingMetadata, B, I, L, TAGS};
use crate::tokenizer::tokenize;
use crate::SkillsEngine;

/// A gold span, `[start, end)` in Unicode scalar values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabeledSpan {
    pub start: u32,
    pub end: u32,
    pub label: SpanLabel,
}

/// One labeled posting.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledPosting {
    pub text: String,
    pub spans: Vec<LabeledSpan>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub seed: u64,
    pub epochs: u32,
    pub features: FeatureConfig,
    /// Divides scores before the marginals' softmax (see `Tagger`).
    pub temperature: f32,
    /// `Some`: a linear-chain CRF by SGD (the default); `None`: the
    /// averaged perceptron (80 epochs were its setting).
    pub crf: Option<CrfConfig>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 42,
            epochs: 100,
            features: FeatureConfig::default(),
            temperature: 1.0,
            crf: Some(CrfConfig::default()),
        }
    }
}

/// What training saw, and its progress per epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    pub sequences: usize,
    pub tokens: usize,
    pub gold_spans: usize,
    /// The perceptron's training-set mistakes, or the CRF's mean loss per
    /// sequence in thousandths.
    pub mistakes_per_epoch: Vec<usize>,
}

/// splitmix64: the seeded shuffle needs nothing stronger.
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

pub(crate) struct Sequence {
    pub(crate) feats: Vec<u32>,
    pub(crate) gold: Vec<usize>,
}

/// BILO tags of `tokens` from gold spans given in chars. A token belongs
/// to a span when it starts inside it; where spans overlap, the first (by
/// start, then end) keeps its tokens and the later one only those left
/// over, if they are contiguous.
fn gold_tags(text: &str, tokens: &[crate::tokenizer::Token], spans: &[LabeledSpan]) -> Vec<usize> {
    let char_to_byte: Vec<usize> = text
        .char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(text.len()))
        .collect();
    let byte = |c: u32| char_to_byte.get(c as usize).copied().unwrap_or(text.len());
    let mut tags = vec![0usize; tokens.len()];
    let mut sorted: Vec<&LabeledSpan> = spans.iter().collect();
    sorted.sort_by_key(|s| (s.start, s.end));
    for s in sorted {
        let (start, end) = (byte(s.start), byte(s.end));
        // Tokens are sorted: the span's are one run of them.
        let first = tokens.partition_point(|t| (t.start as usize) < start);
        let last = tokens.partition_point(|t| (t.start as usize) < end);
        let free: Vec<usize> = (first..last).filter(|&k| tags[k] == 0).collect();
        let (Some(&a), Some(&z)) = (free.first(), free.last()) else {
            continue;
        };
        if z - a + 1 != free.len() {
            continue;
        }
        for k in a..=z {
            let role = if k == a {
                B
            } else if k == z {
                L
            } else {
                I
            };
            tags[k] = tag_of(s.label, role);
        }
    }
    tags
}

/// Trains a tagger on `postings`, with the rule-strategy features that
/// `engine` (its lexicon, aliases and config; no tagger) computes.
pub fn train_tagger(
    engine: &SkillsEngine,
    postings: &[LabeledPosting],
    config: &TrainConfig,
    dataset: &str,
    dataset_sha256: &str,
) -> (Tagger, TrainReport) {
    let rows = 1usize << config.features.hash_bits;
    let mut sequences: Vec<Sequence> = Vec::new();
    let (mut tokens_total, mut gold_spans) = (0usize, 0usize);
    let extractor = engine.rule_extractor();
    for p in postings {
        let text = p.text.as_str();
        let lower = text.to_ascii_lowercase();
        let sections = engine.sections(text);
        let tokens = tokenize(&lower);
        let mentions = extractor.rule_mentions(text, &lower, &tokens);
        let mut feats = Vec::new();
        token_features(
            text,
            &lower,
            &tokens,
            &mentions,
            &sections,
            extractor.lexicon,
            extractor.aliases,
            config.features,
            &mut FeatureScratch::default(),
            &mut feats,
        );
        let gold = gold_tags(text, &tokens, &p.spans);
        gold_spans += p.spans.len();
        tokens_total += tokens.len();
        for (first, last) in lines(text, &tokens) {
            sequences.push(Sequence {
                feats: feats[first * FEATURES..last * FEATURES].to_vec(),
                gold: gold[first..last].to_vec(),
            });
        }
    }
    let (weights, transitions, mistakes_per_epoch) = match config.crf {
        Some(crf) => {
            let (weights, transitions, losses) =
                train_crf(&sequences, rows, config.epochs, config.seed, crf);
            // The CRF's progress is its mean loss (in thousandths).
            let losses = losses.iter().map(|l| (l * 1000.0) as usize).collect();
            (weights, transitions, losses)
        }
        None => train_perceptron(&sequences, rows, config),
    };
    let report = TrainReport {
        sequences: sequences.len(),
        tokens: tokens_total,
        gold_spans,
        mistakes_per_epoch,
    };
    let metadata = TrainingMetadata {
        dataset: dataset.to_string(),
        dataset_sha256: dataset_sha256.to_string(),
        seed: config.seed,
        epochs: config.epochs,
        postings: postings.len(),
        sequences: report.sequences,
        tokens: report.tokens,
        gold_spans,
        c2: config.crf.map(|c| c.c2),
        eta0: config.crf.map(|c| c.eta0),
    };
    let class = match config.crf {
        Some(_) => ModelClass::Crf,
        None => ModelClass::AveragedPerceptron,
    };
    (
        Tagger::from_trained(
            class,
            config.features,
            weights,
            transitions,
            config.temperature,
            metadata,
        ),
        report,
    )
}

type Trained = (Vec<f32>, [[f32; TAGS]; TAGS + 1], Vec<usize>);

/// The averaged perceptron; returns the mistakes of every epoch.
fn train_perceptron(sequences: &[Sequence], rows: usize, config: &TrainConfig) -> Trained {
    let mut w = vec![0f64; rows * TAGS];
    let mut u = vec![0f64; rows * TAGS];
    let mut tw = [[0f64; TAGS]; TAGS + 1];
    let mut tu = [[0f64; TAGS]; TAGS + 1];
    let mut c = 1f64;
    let mut rng = SplitMix(config.seed);
    let mut order: Vec<usize> = (0..sequences.len()).collect();
    let mut mistakes_per_epoch = Vec::new();
    let mut em: Vec<[f32; TAGS]> = Vec::new();
    let mut path = Vec::new();
    let mut trf = [[0f32; TAGS]; TAGS + 1];
    for _ in 0..config.epochs {
        for i in (1..order.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let mut mistakes = 0usize;
        for &s in &order {
            let seq = &sequences[s];
            em.clear();
            for tf in seq.feats.chunks_exact(FEATURES) {
                let mut e = [0f32; TAGS];
                for &r in tf {
                    let base = r as usize * TAGS;
                    for t in 0..TAGS {
                        e[t] += w[base + t] as f32;
                    }
                }
                em.push(e);
            }
            for p in 0..=TAGS {
                for t in 0..TAGS {
                    trf[p][t] = tw[p][t] as f32;
                }
            }
            viterbi(&em, &trf, &mut path);
            if path != seq.gold {
                for (i, (&g, &p)) in seq.gold.iter().zip(path.iter()).enumerate() {
                    if g != p {
                        mistakes += 1;
                        for &r in &seq.feats[i * FEATURES..(i + 1) * FEATURES] {
                            let base = r as usize * TAGS;
                            w[base + g] += 1.0;
                            u[base + g] += c;
                            w[base + p] -= 1.0;
                            u[base + p] -= c;
                        }
                    }
                    let gp = if i == 0 { TAGS } else { seq.gold[i - 1] };
                    let pp = if i == 0 { TAGS } else { path[i - 1] };
                    if (gp, g) != (pp, p) {
                        tw[gp][g] += 1.0;
                        tu[gp][g] += c;
                        tw[pp][p] -= 1.0;
                        tu[pp][p] -= c;
                    }
                }
            }
            c += 1.0;
        }
        mistakes_per_epoch.push(mistakes);
    }
    let weights: Vec<f32> = w
        .iter()
        .zip(u.iter())
        .map(|(w, u)| (w - u / c) as f32)
        .collect();
    let mut transitions = [[0f32; TAGS]; TAGS + 1];
    for p in 0..=TAGS {
        for t in 0..TAGS {
            transitions[p][t] = (tw[p][t] - tu[p][t] / c) as f32;
        }
    }
    (weights, transitions, mistakes_per_epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gold_tags_follow_char_offsets() {
        let text = "Know Python and team work";
        let tokens = tokenize(&text.to_ascii_lowercase());
        let spans = [
            LabeledSpan {
                start: 5,
                end: 11,
                label: SpanLabel::Knowledge,
            },
            LabeledSpan {
                start: 16,
                end: 25,
                label: SpanLabel::Skill,
            },
        ];
        assert_eq!(gold_tags(text, &tokens, &spans), vec![0, 4, 0, 1, 3]);
    }

    #[test]
    fn long_spans_end_on_l_and_overlaps_keep_the_first() {
        let text = "stay focused on goals";
        let tokens = tokenize(text);
        let span = |start, end, label| LabeledSpan { start, end, label };
        let whole = span(0, 21, SpanLabel::Skill);
        assert_eq!(gold_tags(text, &tokens, &[whole]), vec![1, 2, 2, 3]);
        // "focused on" overlaps the whole span: it gets no tokens.
        let inner = span(5, 15, SpanLabel::Knowledge);
        assert_eq!(gold_tags(text, &tokens, &[inner, whole]), vec![1, 2, 2, 3]);
        // A later span keeps the tokens left over when they are contiguous.
        let head = span(0, 4, SpanLabel::Skill);
        let rest = span(0, 21, SpanLabel::Knowledge);
        assert_eq!(gold_tags(text, &tokens, &[rest, head]), vec![1, 4, 5, 6]);
    }
}
