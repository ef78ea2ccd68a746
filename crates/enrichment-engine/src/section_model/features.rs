//! Features of one section for the section model: the rule classifier's
//! type and relevance, header words, bullet density, line count, length,
//! position in the posting and cue-word counts. Hashed into a small weight
//! table (sparse `(row, value)` pairs), so header and cue vocabularies need
//! no stored dictionary.

use crate::sections::Section;
use crate::tokenizer::{mix, token_hash};
use serde::{Deserialize, Serialize};

/// What the model reads (stored in the artifact, so a model is always fed
/// the features it was trained with).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionFeatureConfig {
    /// log2 of the number of weight rows.
    pub hash_bits: u32,
    /// Cue words or phrases (lowercase), counted in the section body.
    pub cue_words: Vec<String>,
    /// Hashed words of the body's first lines as well (a bag of words).
    pub body_words: bool,
}

/// Cues of skills prose and of prose that is not (company, benefits,
/// metadata, legal); the model learns their weights.
const DEFAULT_CUES: &[&str] = &[
    "experience",
    "knowledge",
    "skills",
    "ability",
    "able to",
    "proficien",
    "familiar",
    "understanding",
    "degree",
    "years",
    "strong",
    "excellent",
    "required",
    "must",
    "you have",
    "you will",
    "you are",
    "responsib",
    "work with",
    "develop",
    "design",
    "manage",
    "communicat",
    "team",
    "support",
    "ensure",
    "benefit",
    "salary",
    "insurance",
    "vacation",
    "pension",
    "equal opportunit",
    "regardless of",
    "apply",
    "we offer",
    "founded",
    "our mission",
    "our company",
    "we are",
    "<organization>",
    "<location>",
    "<address>",
    "date posted",
    "full-time",
    "http",
    "@",
];

impl Default for SectionFeatureConfig {
    fn default() -> Self {
        SectionFeatureConfig {
            hash_bits: 12,
            cue_words: DEFAULT_CUES.iter().map(|s| s.to_string()).collect(),
            body_words: false,
        }
    }
}

/// Feature groups, hashed apart from each other.
#[derive(Clone, Copy)]
enum Group {
    Bias = 1,
    Type,
    HasHeader,
    HeaderWord,
    Bullets,
    Lines,
    Length,
    Position,
    Cue,
    RuleLogit,
    BodyWord,
    TypePosition,
}

fn row(group: Group, value: u64, bits: u32) -> u32 {
    (mix(value ^ (group as u64).wrapping_mul(0xd6e8_feb8_6659_fd93))
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        >> (64 - bits)) as u32
}

fn word_hash(s: &str) -> u64 {
    token_hash(s.as_bytes(), 0, s.len())
}

/// Bytes of a body scanned for cue words and body words: the head decides.
const HEAD_BYTES: usize = 4096;

/// Appends the sparse features of `sections[index]` to `out`. `lower` is
/// `text` ASCII-lowercased; `cues` finds `config.cue_words` (indices).
pub(crate) fn section_features(
    sections: &[Section],
    index: usize,
    lower: &str,
    config: &SectionFeatureConfig,
    cues: Option<&aho_corasick::AhoCorasick>,
    out: &mut Vec<(u32, f32)>,
) {
    let bits = config.hash_bits;
    let s = &sections[index];
    let body = &lower[s.byte_start..s.byte_end];
    let mut push = |g: Group, v: u64, x: f32| out.push((row(g, v, bits), x));
    push(Group::Bias, 0, 1.0);
    let type_hash = word_hash(&s.section_type);
    push(Group::Type, type_hash, 1.0);
    push(Group::HasHeader, u64::from(s.header.is_some()), 1.0);
    if let Some(header) = &s.header {
        for w in header
            .split(|c: char| !c.is_alphanumeric() && c != '\'')
            .filter(|w| !w.is_empty())
            .take(8)
        {
            push(Group::HeaderWord, word_hash(&w.to_lowercase()), 1.0);
        }
    }
    let (mut lines, mut bullets) = (0usize, 0usize);
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        lines += 1;
        bullets += usize::from(crate::sections::is_bullet(line));
    }
    // Body lines exclude a header line.
    let body_lines = lines.saturating_sub(usize::from(s.header.is_some()));
    let density = if body_lines == 0 {
        0.0
    } else {
        bullets as f32 / body_lines as f32
    };
    let density_bucket = match density {
        d if d <= 0.0 => 0,
        d if d < 0.5 => 1,
        d if d < 1.0 => 2,
        _ => 3,
    };
    push(Group::Bullets, density_bucket, 1.0);
    let lines_bucket = match body_lines {
        0 => 0u64,
        1 => 1,
        2..=3 => 2,
        4..=10 => 3,
        _ => 4,
    };
    push(Group::Lines, lines_bucket, 1.0);
    let chars = (s.char_end - s.char_start).max(1);
    push(Group::Length, u64::from(chars.ilog2().min(14)), 1.0);
    let n = sections.len();
    let position = if index == 0 {
        0u64
    } else if index + 1 == n {
        1
    } else {
        2 + (5 * index / n.max(1)) as u64
    };
    push(Group::Position, position, 1.0);
    push(
        Group::TypePosition,
        type_hash ^ position.wrapping_mul(0x9e37),
        1.0,
    );
    // The rule classifier's own score, as log-odds (stacking: the model can
    // keep what the rules know and correct it).
    let p = s.relevance.clamp(0.001, 0.999);
    push(Group::RuleLogit, 0, ((p / (1.0 - p)).ln() / 4.0) as f32);
    let head = &body[..crate::text::floor_boundary(body, HEAD_BYTES)];
    if let Some(cues) = cues {
        let mut counts = vec![0u8; config.cue_words.len()];
        for m in cues.find_iter(head) {
            let k = m.pattern().as_usize();
            counts[k] = counts[k].saturating_add(1);
        }
        for (k, c) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            push(Group::Cue, k as u64, f32::from((*c).min(3)) / 3.0);
        }
    }
    if config.body_words {
        let words: Vec<&str> = head
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 2)
            .take(200)
            .collect();
        let x = 1.0 / (words.len().max(1) as f32).sqrt();
        for w in words {
            push(Group::BodyWord, word_hash(w), x);
        }
    }
}
