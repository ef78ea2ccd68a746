//! Skills extraction: lexicon, alias and pattern strategies produce mentions;
//! ambiguity rules adjust them; fusion folds them into one `FoundSkill` per
//! canonical skill with a confidence in [0,1].
//!
//! Matching works on byte offsets of the UTF-8 text; every offset in the
//! output is converted to Unicode scalar values.

use crate::ambiguity::{has_cue, is_technical, rule_for};
use crate::lexicon::{Lexicon, LexiconEntry};
use crate::phrase_matcher::{candidate_starts, FastMap, PhraseMatcher};
use crate::sections::Section;
use crate::tagger::SpanLabel;
use crate::text::{
    ceil_boundary, char_after, char_before, collapse_whitespace, floor_boundary, is_space_byte,
    is_word_char, snippet, CharOffsets,
};
use crate::tokenizer::{tokenize, Token};
use crate::EngineConfig;
use jobenrich_domain::{ExtractionStrategy, SkillCategory};
use regex::Regex;

/// A mention span `[start, end)` in Unicode scalar values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MentionSpan {
    pub start: u32,
    pub end: u32,
}

/// One skill found in a text, fused over strategies and mentions.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundSkill {
    pub canonical: String,
    pub category: SkillCategory,
    pub confidence: f64,
    /// Sorted, without repeats.
    pub strategies: Vec<ExtractionStrategy>,
    /// First mention, in chars.
    pub char_offset: u32,
    pub char_len: u32,
    /// Every mention, in text order.
    pub mentions: Vec<MentionSpan>,
    pub taxonomy_ref: Option<String>,
    /// The section with the highest relevance among those mentioning it.
    pub section_index: Option<u32>,
    pub section_type: Option<String>,
    pub section_relevance: Option<f64>,
    /// Text around the first mention.
    pub snippet: String,
    /// True when an ambiguity rule applied and no mention had supporting context.
    pub ambiguity_penalized: bool,
    /// SkillSpan label (SKILL or KNOWLEDGE) when the trained tagger found it.
    pub label: Option<SpanLabel>,
}

pub(crate) const LEXICON: u8 = 1;
pub(crate) const ALIAS: u8 = 2;
pub(crate) const PATTERN: u8 = 4;
/// Found by the trained sequence tagger (`ml_tagger`).
pub(crate) const ML_TAGGER: u8 = 8;

/// Where a mention's skill is described.
#[derive(Debug, Clone)]
pub(crate) enum SkillRef {
    Entry(u32),
    Alias(u32),
    /// A phrase caught by a pattern only; the text is the canonical name.
    Phrase {
        category: SkillCategory,
    },
    /// A span of the trained tagger that no lexicon entry or alias names:
    /// its normalized phrase is the canonical name.
    Tagged {
        category: SkillCategory,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Mention {
    pub start: usize,
    pub end: usize,
    pub skill: SkillRef,
    pub strategies: u8,
    pub weight: f64,
    /// An ambiguity rule applies and no support was found.
    pub penalized: bool,
    /// The tagger's label of the span (`None` for rule mentions).
    pub label: Option<SpanLabel>,
}

/// An active alias, compiled.
#[derive(Debug, Clone)]
pub(crate) struct AliasTarget {
    pub text: String,
    pub canonical: String,
    pub category: SkillCategory,
    pub confidence: f64,
    pub case_sensitive: bool,
    /// The lexicon entry with the same canonical name, if any.
    pub entry: Option<u32>,
    /// Skill group (see `Lexicon::entry_group`); aliases of one canonical
    /// name that the lexicon lacks share a group past the lexicon's.
    pub group: u32,
}

/// Compiled context patterns.
pub(crate) struct PatternSet {
    /// Cue phrases (`experience with X`, `knowledge of X`, `ability to X`…)
    /// then list openers (`such as`, `e.g.`, `including`), matched in one
    /// pass over the tokens the lexicon strategy already cut.
    cues_and_lists: PhraseMatcher,
    /// A capitalized name followed by a dotted version (`Angular 12.2`).
    versioned: Regex,
}

/// Cue phrases before a skill; `soft` cues announce abilities, not tools.
const CUES: &[(&str, bool)] = &[
    ("experience with", false),
    ("experience in", false),
    ("experience using", false),
    ("experience of", false),
    ("experienced with", false),
    ("experienced in", false),
    ("proficient in", false),
    ("proficient with", false),
    ("proficient at", false),
    ("proficiency in", false),
    ("proficiency with", false),
    ("proficiency at", false),
    ("knowledge of", false),
    ("knowledge in", false),
    ("knowledgeable of", false),
    ("knowledgeable in", false),
    ("knowledgeable about", false),
    ("familiar with", false),
    ("familiarity with", false),
    ("expertise in", false),
    ("expertise with", false),
    ("expert in", false),
    ("skilled in", false),
    ("skilled with", false),
    ("skilled at", false),
    ("understanding of", false),
    ("background in", false),
    ("skill in", false),
    ("skill with", false),
    ("skills in", false),
    ("skills with", false),
    ("competent in", false),
    ("competent with", false),
    ("competence in", false),
    ("competence with", false),
    ("competency in", false),
    ("competency with", false),
    ("fluent in", false),
    ("fluency in", false),
    ("ability to", true),
    ("able to", true),
    ("exposure to", false),
    ("command of", false),
    ("hands-on experience with", false),
    ("hands-on experience in", false),
    ("track record of", false),
    ("track record in", false),
    ("capable of", true),
    ("comfortable with", false),
    ("comfortable using", false),
    ("mastery of", false),
    ("responsible for", true),
    ("passionate about", false),
    ("passion for", false),
    ("interest in", false),
    ("degree in", false),
    ("focus on", false),
    ("required to", true),
    ("you will", true),
    ("you'll", true),
    ("as well as", false),
    ("good at", false),
    ("excel at", false),
    ("excellent at", false),
    ("work with", false),
    ("working with", false),
];

/// Phrases that open a list of examples.
const LIST_OPENERS: &[&str] = &[
    "such as",
    "e.g.",
    "e.g.,",
    "e.g .",
    "e.g .,",
    "including",
    "i.e.",
    "i.e.,",
    "i.e .",
    "i.e .,",
    "like",
];

/// A cue or list opener matched at `[start, end)` counts when whitespace
/// follows; returns the end of that whitespace (where the list starts).
fn opener_end(text: &str, end: usize) -> Option<usize> {
    let spaces = text[end..]
        .char_indices()
        .find(|(_, c)| !c.is_whitespace())
        .map_or(text.len() - end, |(i, _)| i);
    (spaces > 0).then_some(end + spaces)
}

/// Filler words trimmed from the front of a pattern phrase (`strong`, `the`,
/// `at least one of`), compared ASCII case-insensitively.
fn is_phrase_stop_word(word: &str) -> bool {
    let bytes = word.as_bytes();
    if bytes.len() > 12 {
        return false;
    }
    let mut buf = [0u8; 12];
    for (d, s) in buf.iter_mut().zip(bytes) {
        *d = s.to_ascii_lowercase();
    }
    matches!(
        &buf[..bytes.len()],
        b"the"
            | b"a"
            | b"an"
            | b"strong"
            | b"good"
            | b"solid"
            | b"excellent"
            | b"proven"
            | b"deep"
            | b"great"
            | b"some"
            | b"any"
            | b"basic"
            | b"advanced"
            | b"working"
            | b"practical"
            | b"demonstrated"
            | b"modern"
            | b"relevant"
            | b"extensive"
            | b"hands-on"
            | b"in-depth"
            | b"thorough"
            | b"sound"
            | b"at"
            | b"least"
            | b"one"
            | b"or"
            | b"more"
            | b"of"
            | b"with"
            | b"in"
            | b"using"
            | b"other"
            | b"similar"
            | b"and"
    )
}

const VERSION_NAME_STOPLIST: &[&str] = &[
    "section", "chapter", "version", "level", "step", "table", "figure", "tier", "phase", "grade",
    "room", "suite", "floor", "article", "page", "part", "year", "years", "top", "over", "band",
    "rev", "no", "nr", "number", "q", "pay",
];

impl PatternSet {
    pub fn new() -> Self {
        let versioned = Regex::new(r"(?-u:\b)[A-Z][A-Za-z+#]{1,24} ?v?\d+\.\d+(?:\.\d+)?(?-u:\b)")
            .expect("static regex");
        PatternSet {
            cues_and_lists: PhraseMatcher::new(
                CUES.iter()
                    .map(|(p, _)| *p)
                    .chain(LIST_OPENERS.iter().copied()),
            ),
            versioned,
        }
    }
}

/// Everything extraction needs, borrowed from the engine.
pub(crate) struct Extractor<'a> {
    pub lexicon: &'a Lexicon,
    pub aliases: &'a [AliasTarget],
    pub alias_matcher: Option<&'a PhraseMatcher>,
    /// Lowercase canonical name → group, for alias-only skills.
    pub alias_groups: &'a FastMap<String, u32>,
    pub patterns: &'a PatternSet,
    pub config: &'a EngineConfig,
    /// The trained tagger of an `ml_tagger` model version.
    pub tagger: Option<&'a crate::tagger::Tagger>,
}

/// Word-boundary check that understands tokens like `C++`, `.NET`, `CI/CD`:
/// an edge that is a word character must not touch another word character.
fn boundaries_ok(text: &str, start: usize, end: usize) -> bool {
    let matched = &text[start..end];
    let first = matched.chars().next();
    let last = matched.chars().next_back();
    if first.is_some_and(is_word_char) && char_before(text, start).is_some_and(is_word_char) {
        return false;
    }
    if last.is_some_and(is_word_char) && char_after(text, end).is_some_and(is_word_char) {
        return false;
    }
    // `.NET` must not be the tail of another dotted word (`ASP.NET` is its own entry).
    if first == Some('.') && char_before(text, start).is_some_and(is_word_char) {
        return false;
    }
    // `C++` should not match the first characters of `C+++`-like noise, and a
    // single letter must not be part of `C-level`, `R&D`, `C'est`, `e.g.`.
    if matched.chars().count() == 1 {
        let before = char_before(text, start);
        let after = char_after(text, end);
        if matches!(after, Some('-' | '&' | '\'' | '’' | '.' | '+' | '#' | '@'))
            && !matches!(after, Some('.') if text[end + 1..].chars().next().is_none_or(char::is_whitespace))
        {
            return false;
        }
        if matches!(before, Some('-' | '&' | '\'' | '’' | '.' | '@' | '/'))
            && !matches!(before, Some('/'))
        {
            return false;
        }
    }
    true
}

/// Byte offset of the first whitespace char (`char::is_whitespace`).
fn first_whitespace(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    match bytes.iter().position(|&b| is_space_byte(b) || b >= 0x80) {
        Some(p) if bytes[p] >= 0x80 => s[p..].find(char::is_whitespace).map(|q| p + q),
        found => found,
    }
}

/// The list separator starting `rest`, the longest one: `, and `, `, or `,
/// `, `, ` and/or `, ` and `, ` or `, ` & `, ` / `, `/`. Its length.
fn separator_at(rest: &[u8]) -> Option<usize> {
    const SEPARATORS: [&[u8]; 9] = [
        b" and/or ",
        b", and ",
        b", or ",
        b" and ",
        b" or ",
        b" & ",
        b" / ",
        b", ",
        b"/",
    ];
    SEPARATORS
        .iter()
        .find(|sep| rest.starts_with(sep))
        .map(|sep| sep.len())
}

/// Bytes that end a list (see `Extractor::list_items`).
const LIST_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let stops = b".;:()\n!?[]";
    let mut i = 0;
    while i < stops.len() {
        table[stops[i] as usize] = true;
        i += 1;
    }
    table
};

/// Indices of the mentions overlapping `[start, end)` in `sorted`, which is
/// ordered by start and free of overlaps (so ends are ordered too).
fn overlapping(sorted: &[Mention], start: usize, end: usize) -> std::ops::Range<usize> {
    let lo = sorted.partition_point(|m| m.end <= start);
    let hi = sorted.partition_point(|m| m.start < end);
    lo..hi.max(lo)
}

impl Extractor<'_> {
    pub(crate) fn category_of(&self, skill: &SkillRef) -> SkillCategory {
        match skill {
            SkillRef::Entry(e) => self.lexicon.entry(*e).category,
            SkillRef::Alias(a) => self.aliases[*a as usize].category,
            SkillRef::Phrase { category } | SkillRef::Tagged { category } => *category,
        }
    }

    /// The lexicon strategy's verdict on a surface matched at `[start, end)`.
    fn lexicon_mention(
        &self,
        text: &str,
        pattern: u32,
        start: usize,
        end: usize,
    ) -> Option<Mention> {
        let lexicon = self.lexicon;
        let target = lexicon.target(pattern as usize);
        if target.case_sensitive && text[start..end] != target.text {
            return None;
        }
        if !boundaries_ok(text, start, end) {
            return None;
        }
        let entry = lexicon.entry(target.entry);
        if entry.weight < self.config.min_lexicon_weight {
            return None;
        }
        Some(Mention {
            start,
            end,
            skill: SkillRef::Entry(target.entry),
            strategies: LEXICON,
            weight: entry.weight * self.config.lexicon_weight,
            penalized: false,
            label: None,
        })
    }

    /// The alias strategy's verdict on an alias matched at `[start, end)`.
    fn alias_mention(&self, text: &str, pattern: u32, start: usize, end: usize) -> Option<Mention> {
        let alias = &self.aliases[pattern as usize];
        if alias.case_sensitive && text[start..end] != alias.text {
            return None;
        }
        if !boundaries_ok(text, start, end) {
            return None;
        }
        Some(Mention {
            start,
            end,
            skill: match alias.entry {
                Some(e) => SkillRef::Entry(e),
                None => SkillRef::Alias(pattern),
            },
            strategies: ALIAS,
            weight: alias.confidence * self.config.alias_weight,
            penalized: false,
            label: None,
        })
    }

    /// Folds alias mentions (`found`, sorted) into the lexicon's (`out`).
    fn merge_alias_mentions(&self, out: &mut Vec<Mention>, mut found: Vec<Mention>) {
        if found.is_empty() {
            return;
        }
        // An alias overrides an overlapping lexicon mention (the alias table is
        // curated per deployment); the same span and skill found by both merges.
        // `out` and `found` are both sorted and overlap-free: one pass each.
        let mut keep = vec![true; out.len()];
        for a in &mut found {
            for i in overlapping(out, a.start, a.end) {
                let m = &out[i];
                if m.start == a.start && m.end == a.end && self.same_skill(&m.skill, &a.skill) {
                    a.strategies |= LEXICON;
                }
                keep[i] = false;
            }
        }
        let mut flags = keep.into_iter();
        out.retain(|_| flags.next().unwrap_or(true));
        out.extend(found);
        out.sort_by_key(|m| (m.start, m.end));
    }

    fn same_skill(&self, a: &SkillRef, b: &SkillRef) -> bool {
        let (ga, gb) = (self.group_id(a), self.group_id(b));
        ga.is_some() && ga == gb
    }

    /// The skill group of a known skill; `None` for pattern phrases.
    fn group_id(&self, skill: &SkillRef) -> Option<u32> {
        match skill {
            SkillRef::Entry(e) => Some(self.lexicon.entry_group(*e)),
            SkillRef::Alias(a) => Some(self.aliases[*a as usize].group),
            SkillRef::Phrase { .. } | SkillRef::Tagged { .. } => None,
        }
    }

    fn canonical_of(&self, skill: &SkillRef, phrase: &str) -> String {
        match skill {
            SkillRef::Entry(e) => self.lexicon.entry(*e).canonical.clone(),
            SkillRef::Alias(a) => self.aliases[*a as usize].canonical.clone(),
            SkillRef::Phrase { .. } => collapse_whitespace(phrase),
            SkillRef::Tagged { .. } => crate::tagger::normalize_phrase(phrase),
        }
    }

    /// Splits the tail after a cue into list items, each `[start, end)` in
    /// bytes. The list runs from `from` to the first stop (sentence
    /// punctuation or a line break, at most 240 bytes); items are split at
    /// the separators of `separator_at`. Stops and separators are found by walking the
    /// text's `tokens` (every stop byte and every separator starts at a
    /// token or the space before one), not its bytes.
    fn list_items(
        text: &str,
        tokens: &[Token],
        from: usize,
        max_words: usize,
    ) -> Vec<(usize, usize)> {
        let limit = floor_boundary(text, (from + 240).min(text.len()));
        let bytes = text.as_bytes();
        let mut items = Vec::new();
        let mut cursor = from;
        let mut prev_end = from;
        let mut stop = None;
        for t in &tokens[tokens.partition_point(|t| (t.start as usize) < from)..] {
            let (s, e) = (t.start as usize, t.end as usize);
            if s > prev_end && prev_end < limit {
                if let Some(p) = memchr::memchr(b'\n', &bytes[prev_end..s.min(limit)]) {
                    stop = Some(prev_end + p);
                    break;
                }
            }
            if s >= limit {
                break;
            }
            prev_end = e;
            // A token inside the last separator (`/`, `or` of ` and/or `).
            if s < cursor {
                continue;
            }
            let space_before = s > cursor && bytes[s - 1] == b' ';
            let separator = match &bytes[s..e] {
                // A dot before a word character (`.NET`, `Node.js`, `3.11`)
                // does not end the list; every other stop byte does.
                [b'.'] if text[s + 1..limit].chars().next().is_some_and(is_word_char) => continue,
                [b] if LIST_STOP[usize::from(*b)] => {
                    stop = Some(s);
                    break;
                }
                // ` / ` starts at the space, before `/` alone.
                [b'/'] => space_before
                    .then(|| separator_at(&bytes[s - 1..limit]).map(|len| (s - 1, len)))
                    .flatten()
                    .or(Some((s, 1))),
                [b','] => separator_at(&bytes[s..limit]).map(|len| (s, len)),
                [b'&'] | b"and" | b"or" if space_before => {
                    separator_at(&bytes[s - 1..limit]).map(|len| (s - 1, len))
                }
                _ => None,
            };
            let Some((sep_at, len)) = separator else {
                continue;
            };
            Self::push_item(text, tokens, cursor, sep_at, max_words, &mut items);
            // Long runs without separators end the list.
            if items.len() >= 12 {
                return items;
            }
            cursor = sep_at + len;
        }
        let stop = stop.unwrap_or_else(|| {
            let rest = &bytes[prev_end.min(limit)..limit];
            memchr::memchr(b'\n', rest).map_or(limit, |p| prev_end.min(limit) + p)
        });
        if cursor < stop {
            Self::push_item(text, tokens, cursor, stop, max_words, &mut items);
        }
        items
    }

    /// Trims `text[cursor..end]` (whitespace, leading filler words) and
    /// keeps it as an item if anything is left within `max_words` words
    /// (counted on `tokens`: a word is a run of glued tokens).
    fn push_item(
        text: &str,
        tokens: &[Token],
        cursor: usize,
        end: usize,
        max_words: usize,
        items: &mut Vec<(usize, usize)>,
    ) {
        let Some((start, trimmed_end)) = Self::trim_item(text, cursor, end) else {
            return;
        };
        // From the token holding `start`: it begins the first word, and
        // each token after it not glued to the one before begins another.
        let first = tokens.partition_point(|t| (t.end as usize) <= start);
        let mut words = 0;
        for (j, t) in tokens[first..].iter().enumerate() {
            if t.start as usize >= trimmed_end || words > max_words {
                break;
            }
            words += usize::from(j == 0 || !t.glued);
        }
        if words <= max_words {
            items.push((start, trimmed_end));
        }
    }

    /// `text[cursor..end]` without surrounding whitespace and leading filler
    /// words (`strong`, `the`, `at least one of`), if anything is left.
    fn trim_item(text: &str, cursor: usize, end: usize) -> Option<(usize, usize)> {
        let raw = &text[cursor..end];
        let mut start = cursor + (raw.len() - raw.trim_start().len());
        while let Some(we) = first_whitespace(&text[start..end]).map(|p| start + p) {
            if !is_phrase_stop_word(&text[start..we]) {
                break;
            }
            let after = &text[we..end];
            start = we + (after.len() - after.trim_start().len());
        }
        let trimmed_end = cursor + raw.trim_end().len();
        (start < trimmed_end).then_some((start, trimmed_end))
    }

    fn looks_like_tech_name(item: &str) -> bool {
        let words = item.split_whitespace().count();
        words <= 3
            && item.chars().any(|c| c.is_alphabetic())
            && (item
                .chars()
                .any(|c| c.is_uppercase() || c.is_ascii_digit() || "+#.".contains(c)))
    }

    /// `openers` are the cue and list-opener matches, `(phrase, end of the
    /// whitespace after it)`, in text order.
    fn pattern_mentions(
        &self,
        text: &str,
        tokens: &[Token],
        openers: &[(usize, usize)],
        out: &mut Vec<Mention>,
    ) {
        let max_words = self.config.pattern_phrase_max_words;
        let mut emitted: Vec<Mention> = Vec::new();
        let support = |out: &mut Vec<Mention>, start: usize, end: usize| -> bool {
            let mut any = false;
            let range = overlapping(out, start, end);
            for m in &mut out[range] {
                if m.start >= start && m.end <= end {
                    m.strategies |= PATTERN;
                    m.penalized = false;
                    any = true;
                }
            }
            any
        };
        for &(pattern, cue_end) in openers.iter().filter(|(p, _)| *p < CUES.len()) {
            let soft = CUES[pattern].1;
            for (start, end) in Self::list_items(text, tokens, cue_end, max_words) {
                if support(out, start, end) {
                    continue;
                }
                if self.config.emit_pattern_phrases
                    && text[start..end].chars().any(char::is_alphabetic)
                {
                    emitted.push(Mention {
                        start,
                        end,
                        skill: SkillRef::Phrase {
                            category: if soft {
                                SkillCategory::SoftSkills
                            } else {
                                SkillCategory::DomainKnowledge
                            },
                        },
                        strategies: PATTERN,
                        weight: self.config.pattern_weight,
                        penalized: false,
                        label: None,
                    });
                }
            }
        }
        for &(_, opener_end) in openers.iter().filter(|(p, _)| *p >= CUES.len()) {
            for (start, end) in Self::list_items(text, tokens, opener_end, 4) {
                if support(out, start, end) {
                    continue;
                }
                let item = &text[start..end];
                if self.config.emit_pattern_phrases && Self::looks_like_tech_name(item) {
                    emitted.push(Mention {
                        start,
                        end,
                        skill: SkillRef::Phrase {
                            category: SkillCategory::SoftwareTools,
                        },
                        strategies: PATTERN,
                        weight: self.config.pattern_weight * 0.9,
                        penalized: false,
                        label: None,
                    });
                }
            }
        }
        // Version suffixes: a known skill followed by a version supports it; an
        // unknown capitalized name followed by a dotted version is a tool.
        for m in out.iter_mut() {
            let after = &text[m.end..];
            let after = after.strip_prefix(' ').unwrap_or(after);
            let after = after.strip_prefix(['v', 'V']).unwrap_or(after);
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0
                && digits <= 4
                && !after[digits..].starts_with(|c: char| c.is_alphabetic())
            {
                m.strategies |= PATTERN;
                m.penalized = false;
            }
        }
        for found in self.patterns.versioned.find_iter(text) {
            // The name is the leading run of letters and `+#` before the version.
            let name_len = found
                .as_str()
                .find(|c: char| !(c.is_ascii_alphabetic() || c == '+' || c == '#'))
                .unwrap_or(found.len());
            let (name_start, name_end) = (found.start(), found.start() + name_len);
            let name = &text[name_start..name_end];
            let name = name
                .strip_suffix('v')
                .filter(|n| n.len() >= 2)
                .unwrap_or(name);
            let name_end = name_start + name.len();
            if VERSION_NAME_STOPLIST.contains(&name.to_ascii_lowercase().as_str()) {
                continue;
            }
            let covered = !overlapping(out, name_start, name_end).is_empty();
            if !covered && self.config.emit_pattern_phrases {
                emitted.push(Mention {
                    start: name_start,
                    end: name_end,
                    skill: SkillRef::Phrase {
                        category: SkillCategory::SoftwareTools,
                    },
                    strategies: PATTERN,
                    weight: self.config.pattern_weight * 0.9,
                    penalized: false,
                    label: None,
                });
            }
        }
        // Pattern-only phrases must not overlap each other or known mentions.
        emitted.sort_by_key(|m| (m.start, std::cmp::Reverse(m.end)));
        let mut last_end = 0usize;
        let mut accepted = Vec::new();
        for m in emitted {
            if m.start < last_end || !overlapping(out, m.start, m.end).is_empty() {
                continue;
            }
            last_end = m.end;
            accepted.push(m);
        }
        out.extend(accepted);
        out.sort_by_key(|m| (m.start, m.end));
    }

    fn apply_ambiguity_rules(&self, text: &str, mentions: &mut [Mention]) {
        let window = self.config.ambiguity_context_chars;
        let technical: Vec<(usize, usize)> = mentions
            .iter()
            .filter(|m| {
                is_technical(self.category_of(&m.skill))
                    && rule_for(&text[m.start..m.end]).is_none()
            })
            .map(|m| (m.start, m.end))
            .collect();
        for m in mentions.iter_mut() {
            let matched = &text[m.start..m.end];
            let Some(rule) = rule_for(matched) else {
                continue;
            };
            let lower = matched.to_lowercase();
            if m.strategies & PATTERN != 0 {
                continue;
            }
            let lo = floor_boundary(text, m.start.saturating_sub(window * 2));
            let lo = text[lo..m.start]
                .char_indices()
                .rev()
                .nth(window.saturating_sub(1))
                .map_or(lo, |(i, _)| lo + i);
            let hi = ceil_boundary(text, (m.end + window * 4).min(text.len()));
            let hi = text[m.end..hi]
                .char_indices()
                .nth(window)
                .map_or(hi, |(i, _)| m.end + i);
            let context = format!("{} {}", &text[lo..m.start], &text[m.end..hi]).to_lowercase();
            let cue = has_cue(rule, &context, &lower);
            let neighbour = rule.tech_neighbours_support && {
                // `technical` is sorted and overlap-free: scan only the window.
                let first = technical.partition_point(|(_, e)| e + window < m.start);
                technical[first..]
                    .iter()
                    .take_while(|(s, _)| *s <= m.end + window)
                    .any(|(s, e)| (*s, *e) != (m.start, m.end))
            };
            let capital_ok =
                !rule.needs_capital || matched.chars().next().is_some_and(char::is_uppercase);
            let supported = (cue || neighbour) && capital_ok;
            if !supported {
                m.penalized = true;
                m.weight *= self.config.ambiguity_penalty;
                if !capital_ok {
                    // `go`, `rust` in lowercase prose: almost never the skill.
                    m.weight *= self.config.ambiguity_penalty;
                }
            }
        }
    }

    /// All strategies and fusion over `text`, whose sections are given.
    /// With a trained tagger, its spans decide what is reported and the
    /// rule strategies' mentions become its evidence (`tagger::fuse`).
    pub fn extract(
        &self,
        text: &str,
        lower: &str,
        sections: &[Section],
        offsets: &CharOffsets,
    ) -> Vec<FoundSkill> {
        let tokens = tokenize(lower);
        let mut mentions = self.rule_mentions(text, lower, &tokens);
        if let Some(tagger) = self.tagger {
            let spans = tagger.tag(text, lower, &tokens, &mentions, sections, self);
            mentions = crate::tagger::fuse(self, text, mentions, &spans);
        }
        self.fuse(text, sections, offsets, mentions)
    }

    /// The lexicon, alias and pattern strategies' mentions (ambiguity rules
    /// applied), sorted by position.
    pub(crate) fn rule_mentions(&self, text: &str, lower: &str, tokens: &[Token]) -> Vec<Mention> {
        // About one mention per 20 tokens in postings; sized to skip most regrowth.
        let mut mentions: Vec<Mention> = Vec::with_capacity(tokens.len() / 8);
        let config = self.config;
        let lexicon = self.lexicon.matcher();
        let aliases = self.alias_matcher.filter(|_| config.use_aliases);
        let phrases = &self.patterns.cues_and_lists;
        // Where each matcher may match, in one pass over the tokens when
        // all three run (the default).
        let [lexicon_starts, alias_starts, phrase_starts] =
            match (config.use_lexicon, aliases, config.use_patterns) {
                (true, Some(a), true) => candidate_starts(tokens, [lexicon, a, phrases]),
                (l, a, p) => {
                    let starts = |m: Option<&PhraseMatcher>| {
                        m.map_or_else(Vec::new, |m| {
                            let [starts] = candidate_starts(tokens, [m]);
                            starts
                        })
                    };
                    [
                        starts(l.then_some(lexicon)),
                        starts(a),
                        starts(p.then_some(phrases)),
                    ]
                }
            };
        if config.use_lexicon {
            lexicon.scan_from(lower, tokens, lexicon_starts, |pattern, start, end| {
                self.lexicon_mention(text, pattern, start, end)
                    .map(|m| mentions.push(m))
                    .is_some()
            });
        }
        let mut alias_found: Vec<Mention> = Vec::new();
        if let Some(aliases) = aliases {
            aliases.scan_from(lower, tokens, alias_starts, |pattern, start, end| {
                self.alias_mention(text, pattern, start, end)
                    .map(|m| alias_found.push(m))
                    .is_some()
            });
        }
        let mut openers: Vec<(usize, usize)> = Vec::new();
        if config.use_patterns {
            phrases.scan_from(lower, tokens, phrase_starts, |pattern, _, end| {
                opener_end(text, end)
                    .map(|e| openers.push((pattern as usize, e)))
                    .is_some()
            });
        }
        self.merge_alias_mentions(&mut mentions, alias_found);
        if config.use_patterns {
            self.pattern_mentions(text, tokens, &openers, &mut mentions);
        }
        if self.config.ambiguity_rules {
            self.apply_ambiguity_rules(text, &mut mentions);
        }
        mentions.sort_by_key(|m| (m.start, m.end));
        mentions
    }

    fn fuse(
        &self,
        text: &str,
        sections: &[Section],
        offsets: &CharOffsets,
        mentions: Vec<Mention>,
    ) -> Vec<FoundSkill> {
        // Group mentions by skill: known skills by group id, pattern phrases
        // by their lowercase text (or the known skill that text names).
        // `None`: a phrase that is only whitespace, dropped.
        let mut group_of: Vec<Option<u32>> = Vec::with_capacity(mentions.len());
        let mut by_id: FastMap<u32, u32> =
            FastMap::with_capacity_and_hasher(mentions.len(), Default::default());
        let mut by_phrase: FastMap<String, u32> = FastMap::default();
        for m in &mentions {
            let next = (by_id.len() + by_phrase.len()) as u32;
            let known = self.group_id(&m.skill).map(Ok).or_else(|| {
                let key = match m.skill {
                    SkillRef::Tagged { .. } => {
                        crate::tagger::normalize_phrase(&text[m.start..m.end])
                    }
                    _ => collapse_whitespace(&text[m.start..m.end]).to_lowercase(),
                };
                (!key.is_empty()).then(|| {
                    self.lexicon
                        .group_named(&key)
                        .or_else(|| self.alias_groups.get(&key).copied())
                        .ok_or(key)
                })
            });
            group_of.push(known.map(|id| match id {
                Ok(id) => *by_id.entry(id).or_insert(next),
                Err(key) => *by_phrase.entry(key).or_insert(next),
            }));
        }
        // Mentions of each group together, groups in first-mention order,
        // mentions in text order.
        let mut order: Vec<(u32, u32)> = group_of
            .iter()
            .enumerate()
            .filter_map(|(i, g)| g.map(|g| (g, i as u32)))
            .collect();
        order.sort_unstable();
        let config = self.config;
        let mut found = Vec::with_capacity(by_id.len() + by_phrase.len());
        let mut g_mentions: Vec<&Mention> = Vec::new();
        for chunk in order.chunk_by(|a, b| a.0 == b.0) {
            g_mentions.clear();
            g_mentions.extend(chunk.iter().map(|&(_, i)| &mentions[i as usize]));
            let strategies_bits = g_mentions.iter().fold(0u8, |acc, m| acc | m.strategies);
            let mut strategies = Vec::with_capacity(3);
            for (bit, s) in [
                (LEXICON, ExtractionStrategy::Lexicon),
                (ALIAS, ExtractionStrategy::Alias),
                (PATTERN, ExtractionStrategy::Pattern),
                (ML_TAGGER, ExtractionStrategy::MlTagger),
            ] {
                if strategies_bits & bit != 0 {
                    strategies.push(s);
                }
            }
            strategies.sort();
            let mut base = g_mentions.iter().map(|m| m.weight).fold(0.0f64, f64::max);
            let known = strategies_bits & (LEXICON | ALIAS) != 0;
            if known && strategies_bits & PATTERN != 0 {
                base += config.pattern_boost;
            }
            base += config.multi_strategy_bonus * (strategies.len().saturating_sub(1)) as f64;
            let count = g_mentions.len();
            base += (config.mention_bonus * (count - 1) as f64).min(config.mention_bonus_cap);
            // Relevance: the best section any mention lies in.
            let mut best_section: Option<&Section> = None;
            for m in g_mentions.iter() {
                if let Some(s) = section_of(sections, m.start) {
                    if best_section.is_none_or(|b| s.relevance > b.relevance) {
                        best_section = Some(s);
                    }
                }
            }
            let relevance = best_section.map(|s| s.relevance);
            let w = config.section_relevance_weight;
            let scaled = base * ((1.0 - w) + w * relevance.unwrap_or(0.5));
            let confidence = if scaled.is_finite() {
                scaled.clamp(0.0, 1.0)
            } else {
                0.0
            };
            if confidence < config.min_confidence {
                continue;
            }
            let first = g_mentions[0];
            let skill = first.skill.clone();
            let best_entry: Option<&LexiconEntry> = g_mentions.iter().find_map(|m| match m.skill {
                SkillRef::Entry(e) => Some(self.lexicon.entry(e)),
                _ => None,
            });
            let category = best_entry.map_or_else(|| self.category_of(&skill), |e| e.category);
            let mentions: Vec<MentionSpan> = g_mentions
                .iter()
                .map(|m| MentionSpan {
                    start: offsets.char_at(m.start),
                    end: offsets.char_at(m.end),
                })
                .collect();
            found.push(FoundSkill {
                canonical: self.canonical_of(&first.skill, &text[first.start..first.end]),
                category,
                confidence,
                strategies,
                char_offset: mentions[0].start,
                char_len: mentions[0].end - mentions[0].start,
                mentions,
                taxonomy_ref: best_entry.and_then(|e| e.taxonomy_ref.clone()),
                section_index: best_section.map(|s| s.index),
                section_type: best_section.map(|s| s.section_type.clone()),
                section_relevance: relevance,
                snippet: snippet(text, first.start, first.end, config.snippet_chars),
                ambiguity_penalized: g_mentions.iter().all(|m| m.penalized),
                label: g_mentions.iter().find_map(|m| m.label),
            });
        }
        found.sort_by(|a, b| {
            a.char_offset
                .cmp(&b.char_offset)
                .then_with(|| a.canonical.cmp(&b.canonical))
        });
        found
    }
}

fn section_of(sections: &[Section], byte: usize) -> Option<&Section> {
    let idx = sections.partition_point(|s| s.byte_start <= byte);
    let s = sections.get(idx.checked_sub(1)?)?;
    (byte < s.byte_end.max(s.byte_start + 1)).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The byte-by-byte splitter `list_items` replaced: the reference.
    fn reference_list_items(text: &str, from: usize, max_words: usize) -> Vec<(usize, usize)> {
        let limit = floor_boundary(text, (from + 240).min(text.len()));
        let tail = &text[from..limit];
        let bytes = tail.as_bytes();
        let mut stop = tail.len();
        let mut at = 0usize;
        while let Some(p) = bytes[at..].iter().position(|b| LIST_STOP[usize::from(*b)]) {
            let p = at + p;
            if bytes[p] == b'.' && tail[p + 1..].chars().next().is_some_and(is_word_char) {
                at = p + 1;
                continue;
            }
            stop = p;
            break;
        }
        let body = &tail[..stop];
        let mut items = Vec::new();
        let mut cursor = 0usize;
        while cursor < body.len() {
            let next = (cursor..body.len())
                .find_map(|p| separator_at(&body.as_bytes()[p..]).map(|len| (p, len)));
            let (item_end, advance) = next.map_or((body.len(), body.len()), |(p, l)| (p, p + l));
            if let Some((start, end)) = Extractor::trim_item(text, from + cursor, from + item_end) {
                if text[start..end].split_whitespace().count() <= max_words {
                    items.push((start, end));
                }
            }
            if items.len() >= 12 {
                break;
            }
            cursor = advance;
        }
        items
    }

    fn check(text: &str) {
        let tokens = tokenize(&text.to_ascii_lowercase());
        // Every place a list can start: after each whitespace run.
        let mut starts = vec![0];
        starts.extend(
            text.char_indices()
                .filter(|(_, c)| c.is_whitespace())
                .map(|(i, c)| i + c.len_utf8())
                .filter(|&i| text[i..].chars().next().is_some_and(|c| !c.is_whitespace())),
        );
        for from in starts {
            for max_words in [1, 6] {
                assert_eq!(
                    Extractor::list_items(text, &tokens, from, max_words),
                    reference_list_items(text, from, max_words),
                    "{text:?} from {from}"
                );
            }
        }
    }

    #[test]
    fn list_items_agree_with_the_byte_reference() {
        check("Python, Java, and SQL; R");
        check("such as C++/C#, .NET and/or Node.js & Go / Rust or Scala.");
        check("x\nand y, or z");
        check("a,b , c ,d ,, and , or /  / and  and/or");
        check("the strong at least one of Kafka, the, Spark");
        check(&format!("{} and Rust, Go", "word ".repeat(50)));
        check(&format!("{}, and x", "y".repeat(236)));
        check(&format!("{} / x", "y".repeat(237)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn list_items_agree_with_the_byte_reference_on_any_text(
            pieces in proptest::collection::vec(
                prop::sample::select(vec![
                    " ", "  ", "\n", "\t", ",", ", ", ", and ", ", or ", " and ", " or ",
                    " and/or ", " & ", " / ", "/", ".", ". ", ".NET", "e.g.", "(", ";",
                    "and", "or", "the", "strong", "Python", "C++", "Node.js", "é", "\u{a0}",
                    "—", "x", "AND", "3.11",
                ]),
                0..60,
            )
        ) {
            check(&pieces.concat());
        }
    }
}
