//! Token features of the tagger, hashed straight into weight rows (the
//! "hashing trick": no vocabulary to store or look up, one multiply-xor per
//! feature). Each token gets exactly `FEATURES` row indices, so a sequence's
//! features are one flat `Vec<u32>`.
//!
//! Word identity comes from the engine tokenizer's lowercase token hash;
//! shape and affixes from the original bytes; the lexicon/alias/pattern
//! signals from the rule strategies' mentions; section type and relevance
//! from the section classifier.

// Small fixed-size tag loops index several arrays by the same tag.
#![allow(clippy::needless_range_loop)]

use crate::extract::{Mention, SkillRef, ALIAS, LEXICON, PATTERN};
use crate::lexicon::Lexicon;
use crate::sections::Section;
use crate::tokenizer::{mix, token_hash, Token};
use serde::{Deserialize, Serialize};

/// Feature rows per token (the templates below, in order).
pub(crate) const FEATURES: usize = 32;

/// Which feature groups a model uses (stored in the artifact, so a model
/// is always fed the features it was trained with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// log2 of the number of weight rows.
    pub hash_bits: u32,
    /// Lexicon, alias and pattern signals of the rule strategies.
    pub lexicon: bool,
    /// Section type and relevance.
    pub sections: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            hash_bits: 18,
            lexicon: true,
            sections: true,
        }
    }
}

/// Per-token facts the templates combine.
#[derive(Clone, Copy, Default)]
struct TokenInfo {
    word: u64,
    shape: u64,
    prefix: u64,
    suffix: u64,
    /// Rule-strategy signal code (0: nothing).
    lex: u64,
    section: u64,
    capitalized: bool,
}

const BOS: u64 = 0x5151_5151;
const EOS: u64 = 0x7373_7373;
/// Padding tokens on each side of a line (the widest template looks 3 away).
const PAD: usize = 3;

/// Lines of `tokens`: `[first, last)` token ranges; a line break between
/// two tokens ends a sequence (SkillSpan puts one sentence per line).
pub(crate) fn lines(text: &str, tokens: &[Token]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    lines_into(text, tokens, &mut out);
    out
}

/// `lines` into a reused buffer.
pub(crate) fn lines_into(text: &str, tokens: &[Token], out: &mut Vec<(usize, usize)>) {
    let bytes = text.as_bytes();
    out.clear();
    let mut first = 0usize;
    for i in 1..tokens.len() {
        let gap = &bytes[tokens[i - 1].end as usize..tokens[i].start as usize];
        if memchr::memchr(b'\n', gap).is_some() {
            out.push((first, i));
            first = i;
        }
    }
    if first < tokens.len() {
        out.push((first, tokens.len()));
    }
}

/// Buffers `token_features` reuses from call to call (a posting's worth
/// of per-token facts; allocating them anew cost more than filling them).
#[derive(Default)]
pub(crate) struct FeatureScratch {
    info: Vec<TokenInfo>,
    framed: Vec<TokenInfo>,
    /// The text's lines, as `lines` returns them (valid after `token_features`).
    pub lines: Vec<(usize, usize)>,
}

/// Word-shape class of a byte: `X`, `x`, `d` or the byte itself.
fn shape_class(b: u8) -> u8 {
    match b {
        b'A'..=b'Z' => b'X',
        b'a'..=b'z' => b'x',
        b'0'..=b'9' => b'd',
        128.. => b'u',
        other => other,
    }
}

/// Shape with runs collapsed (`Kubernetes` → `Xx`, `CI/CD` → `X/X`), at most 6 classes.
fn shape(token: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let (mut last, mut n) = (0u8, 0);
    for &b in token {
        let c = shape_class(b);
        if c != last {
            h = (h ^ u64::from(c)).wrapping_mul(0x0100_0000_01b3);
            last = c;
            n += 1;
            if n == 6 {
                break;
            }
        }
    }
    h
}

fn category_index(
    skill: &SkillRef,
    lexicon: &Lexicon,
    aliases: &[crate::extract::AliasTarget],
) -> u64 {
    let category = match skill {
        SkillRef::Entry(e) => lexicon.entry(*e).category,
        SkillRef::Alias(a) => aliases[*a as usize].category,
        SkillRef::Phrase { category } | SkillRef::Tagged { category } => *category,
    };
    jobenrich_domain::SkillCategory::ALL
        .iter()
        .position(|c| *c == category)
        .unwrap_or(0) as u64
}

/// Row of a (template, value) pair: one multiply (Fibonacci hashing); the
/// values are token hashes or small codes spread by `pair`.
#[inline]
fn row(template: u64, value: u64, bits: u32) -> u32 {
    ((value ^ template.wrapping_mul(0xd6e8_feb8_6659_fd93)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        >> (64 - bits)) as u32
}

/// Combines two values into one (order matters).
#[inline]
fn pair(a: u64, b: u64) -> u64 {
    a.rotate_left(23).wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ b
}

/// Appends `FEATURES` weight rows per token of `tokens` to `out`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn token_features(
    text: &str,
    lower: &str,
    tokens: &[Token],
    mentions: &[Mention],
    sections: &[Section],
    lexicon: &Lexicon,
    aliases: &[crate::extract::AliasTarget],
    config: FeatureConfig,
    scratch: &mut FeatureScratch,
    out: &mut Vec<u32>,
) {
    let n = tokens.len();
    let bytes = text.as_bytes();
    let lbytes = lower.as_bytes();
    let FeatureScratch {
        info,
        framed,
        lines: line_ranges,
    } = scratch;
    info.clear();
    info.extend(tokens.iter().map(|t| {
        let (s, e) = (t.start as usize, t.end as usize);
        let tok = &bytes[s..e];
        let len = e - s;
        TokenInfo {
            word: t.hash,
            shape: shape(tok),
            prefix: token_hash(lbytes, s, s + len.min(3)),
            suffix: token_hash(lbytes, e - len.min(3), e),
            lex: 0,
            section: 0,
            capitalized: tok.first().is_some_and(u8::is_ascii_uppercase),
        }
    }));
    if config.lexicon && n > 0 {
        // Mentions are sorted by start; each marks the tokens it covers
        // (B on the first, I on the rest) with its strategies and category.
        let mut t0 = 0usize;
        for m in mentions {
            while t0 < n && (tokens[t0].end as usize) <= m.start {
                t0 += 1;
            }
            let category = category_index(&m.skill, lexicon, aliases);
            let source = match m.skill {
                SkillRef::Entry(e) => lexicon.entry(e).source as u64 + 1,
                _ => 0,
            };
            let strategies = u64::from(m.strategies & (LEXICON | ALIAS | PATTERN));
            let words = {
                let mut k = t0;
                while k < n && (tokens[k].start as usize) < m.end {
                    k += 1;
                }
                (k - t0).min(4) as u64
            };
            let mut t = t0;
            while t < n && (tokens[t].start as usize) < m.end {
                let begin = u64::from(t == t0);
                let code = 1
                    + (begin
                        | strategies << 1
                        | category << 4
                        | source << 8
                        | words << 11
                        | u64::from(m.penalized) << 14);
                // Several mentions over one token: the combination.
                info[t].lex = if info[t].lex == 0 {
                    code
                } else {
                    mix(info[t].lex ^ code)
                };
                t += 1;
            }
        }
    }
    if config.sections && !sections.is_empty() {
        let code = |sec: &Section| {
            let bucket = (sec.relevance * 4.0).clamp(0.0, 4.0) as u64;
            token_hash(sec.section_type.as_bytes(), 0, sec.section_type.len()) ^ bucket ^ 1
        };
        let mut s = 0usize;
        let mut section = code(&sections[0]);
        for (i, t) in tokens.iter().enumerate() {
            let before = s;
            while s + 1 < sections.len() && sections[s].byte_end <= t.start as usize {
                s += 1;
            }
            if s != before {
                section = code(&sections[s]);
            }
            info[i].section = section;
        }
    }
    let bits = config.hash_bits;
    // Each line is framed by padding tokens (what a template sees past the
    // line's ends), so the templates index without bounds branches.
    let left = TokenInfo {
        word: BOS,
        shape: BOS,
        suffix: BOS,
        lex: 7,
        ..TokenInfo::default()
    };
    let right = TokenInfo {
        word: EOS,
        shape: BOS,
        suffix: EOS,
        lex: 7,
        ..TokenInfo::default()
    };
    let base = out.len();
    out.resize(base + n * FEATURES, 0);
    lines_into(text, tokens, line_ranges);
    for &(first, last) in line_ranges.iter() {
        let len_bucket = match last - first {
            0..=3 => 1u64,
            4..=8 => 2,
            9..=20 => 3,
            _ => 4,
        };
        framed.clear();
        framed.extend([left; PAD]);
        framed.extend_from_slice(&info[first..last]);
        framed.extend([right; PAD]);
        for i in first..last {
            let c = i - first + PAD;
            let at = |k: isize| &framed[(c as isize + k) as usize];
            let word = |k: isize| at(k).word;
            let lex = |k: isize| at(k).lex;
            let shape_at = |k: isize| at(k).shape;
            let me = &framed[c];
            let position = u64::from(i == first) | u64::from(i + 1 == last) << 1 | len_bucket << 2;
            let glue = u64::from(tokens[i].glued) | u64::from(tokens[i].after_word) << 1;
            let values: [u64; FEATURES] = [
                1,
                me.word,
                word(-1),
                word(1),
                word(-2),
                word(2),
                pair(word(-1), me.word),
                pair(me.word, word(1)),
                me.shape,
                me.prefix,
                me.suffix,
                pair(pair(shape_at(-1), me.shape), shape_at(1)),
                me.lex,
                lex(-1),
                lex(1),
                pair(me.lex, me.section),
                me.section,
                pair(me.section, position),
                position,
                glue | u64::from(me.capitalized) << 2 | u64::from(i == first) << 3,
                pair(word(-1), me.lex),
                pair(word(1), word(2)),
                pair(word(-2), word(-1)),
                pair(me.shape, word(-1)),
                word(-3),
                word(3),
                at(-1).suffix,
                at(1).suffix,
                pair(me.word, (i - first).min(3) as u64),
                shape_at(-1),
                shape_at(1),
                pair(pair(lex(-1), me.lex), lex(1)),
            ];
            let slot = &mut out[base + i * FEATURES..base + (i + 1) * FEATURES];
            for (k, (v, r)) in values.iter().zip(slot.iter_mut()).enumerate() {
                *r = row(k as u64 + 1, *v, bits);
            }
        }
    }
}
