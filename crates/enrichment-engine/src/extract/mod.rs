//! Skills extraction: lexicon, alias and pattern strategies produce mentions;
//! ambiguity rules adjust them; fusion folds them into one `FoundSkill` per
//! canonical skill with a confidence in [0,1].
//!
//! Matching works on byte offsets of the UTF-8 text; every offset in the
//! output is converted to Unicode scalar values.

mod ambiguity;
mod boundaries;
mod fusion;
mod patterns;

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
use boundaries::*;
use jobenrich_domain::{ExtractionStrategy, SkillCategory};
pub(crate) use patterns::PatternSet;
use patterns::*;
use regex::Regex;

/// A mention span `[start, end)` in Unicode scalar values (the domain's type,
/// stored as is in `job_skills.mention_spans`).
pub use jobenrich_domain::MentionSpan;

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
    /// Every mention, sorted and non-overlapping (`MentionSpan::normalize`):
    /// what the store keeps and what evaluation scores.
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
