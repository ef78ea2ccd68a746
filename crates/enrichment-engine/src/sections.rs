//! Rule-based section classification: splits a posting into sections at
//! header lines (`Requirements:`, `## What you'll bring`, ALL-CAPS lines,
//! `About us`, `**bold**`, short lines ending with a colon), and into
//! paragraphs and bullet blocks where there is no header; then scores each
//! section's skills relevance from its type and body keywords.

use crate::section_model::{SectionModel, ML_CLASSIFIER_VERSION};
use crate::text::CharOffsets;
use crate::EngineConfig;
use jobenrich_domain::ClassificationMethod;
use std::sync::Arc;

/// Version of these rules; bump when the splitting or typing changes.
pub const CLASSIFIER_VERSION: &str = "rule_based-v1";

/// Sections kept per posting. A posting of repeated header lines would
/// otherwise store one row per line (a 4.4 MB posting gave 299,000 section
/// rows, a 70 MB database); past the cap the last section runs to the end of
/// the text, so the sections still cover it. Sections do not overlap, so the
/// text they store is at most the description (itself at most the engine's
/// `max_input_bytes`): a posting stores at most its own bytes plus this many
/// rows' fixed fields.
pub const MAX_SECTIONS_PER_POSTING: usize = 200;

/// Header phrases (lowercase, matched as a prefix or substring of the header
/// label) and the section type they announce. First match wins, so more
/// specific phrases come first.
const HEADER_TYPES: &[(&str, &str)] = &[
    ("nice to have", "nice_to_have"),
    ("nice-to-have", "nice_to_have"),
    ("bonus", "nice_to_have"),
    ("preferred", "nice_to_have"),
    ("plus", "nice_to_have"),
    ("equal opportunit", "eeo"),
    ("eeo", "eeo"),
    ("diversity", "eeo"),
    ("how to apply", "how_to_apply"),
    ("apply", "how_to_apply"),
    ("application process", "how_to_apply"),
    ("salary", "salary"),
    ("compensation", "salary"),
    ("pay range", "salary"),
    ("benefit", "benefits"),
    ("perks", "benefits"),
    ("what we offer", "benefits"),
    ("we offer", "benefits"),
    ("why join", "benefits"),
    ("why work", "benefits"),
    ("what's in it for you", "benefits"),
    ("tech stack", "tech_stack"),
    ("technolog", "tech_stack"),
    ("our stack", "tech_stack"),
    ("tools", "tech_stack"),
    ("skill", "skills"),
    ("qualification", "qualifications"),
    ("requirement", "requirements"),
    ("what you'll bring", "requirements"),
    ("what you bring", "requirements"),
    ("what you will bring", "requirements"),
    ("looking for", "requirements"),
    ("who you are", "requirements"),
    ("about you", "requirements"),
    ("your profile", "requirements"),
    ("profile", "requirements"),
    ("must have", "requirements"),
    ("you have", "requirements"),
    ("you should have", "requirements"),
    ("experience", "requirements"),
    ("responsibilit", "responsibilities"),
    ("what you'll do", "responsibilities"),
    ("what you will do", "responsibilities"),
    ("your role", "responsibilities"),
    ("the role", "responsibilities"),
    ("duties", "responsibilities"),
    ("tasks", "responsibilities"),
    ("day to day", "responsibilities"),
    ("you will", "responsibilities"),
    ("your mission", "responsibilities"),
    ("about us", "about_company"),
    ("about the company", "about_company"),
    ("who we are", "about_company"),
    ("our company", "about_company"),
    ("our team", "about_company"),
    ("company", "about_company"),
    ("about", "about_company"),
    ("location", "location"),
    ("where", "location"),
    ("job description", "role"),
    ("description", "role"),
    ("overview", "role"),
    ("summary", "role"),
    ("the job", "role"),
    ("position", "role"),
];

/// One section, with byte offsets for internal use and char offsets for output.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub index: u32,
    /// The header line as written, trimmed.
    pub header: Option<String>,
    pub section_type: String,
    pub byte_start: usize,
    pub byte_end: usize,
    /// `[char_start, char_end)` in Unicode scalar values.
    pub char_start: u32,
    pub char_end: u32,
    pub relevance: f64,
    pub is_skills_relevant: bool,
}

/// Splits and scores sections by rules and configurable keyword weights.
#[derive(Debug, Clone)]
pub struct SectionClassifier {
    /// Prior relevance per section type, and for types without one (`other`).
    type_relevance: crate::phrase_matcher::FastMap<String, f64>,
    default_relevance: f64,
    /// Weight of the i-th keyword of `keyword_matcher`.
    keyword_weights: Vec<f64>,
    keyword_matcher: Option<KeywordMatcher>,
    relevance_threshold: f64,
    /// A trained model that replaces the rule relevance (`ml_model`).
    model: Option<Arc<SectionModel>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum LineKind {
    Blank,
    Bullet,
    Text,
}

pub(crate) fn is_bullet(trimmed: &str) -> bool {
    let mut chars = trimmed.chars();
    match chars.next() {
        Some('-' | '*' | '•' | '·' | '–' | '▪' | '◦' | '+') => {
            chars.next().is_some_and(char::is_whitespace)
        }
        Some(c) if c.is_ascii_digit() => {
            let rest = trimmed.trim_start_matches(|c: char| c.is_ascii_digit());
            (rest.starts_with(". ") || rest.starts_with(") ")) && trimmed.len() - rest.len() <= 3
        }
        _ => false,
    }
}

/// The header label (decorations stripped, lowercase) if `line` is a header.
fn header_label(line: &str) -> Option<String> {
    let t = line.trim();
    // A char is at most 4 bytes: only long lines need counting.
    if t.is_empty() || (t.len() > 80 && (t.is_ascii() || t.chars().count() > 80)) {
        return None;
    }
    let strip = |s: &str| {
        s.trim_matches(|c: char| {
            matches!(c, '#' | '*' | '_' | ':' | '=' | '-') || c.is_whitespace()
        })
        .to_lowercase()
    };
    // Word counts are needed by most rules but only for short lines.
    let words = || t.split_whitespace().count();
    if t.starts_with('#') {
        let label = strip(t);
        return (!label.is_empty()).then_some(label);
    }
    let bold = (t.starts_with("**") && (t.ends_with("**") || t.ends_with("**:")))
        || (t.starts_with("__") && (t.ends_with("__") || t.ends_with("__:")));
    if bold && t.len() > 4 && words() <= 10 {
        let label = strip(t);
        return (!label.is_empty()).then_some(label);
    }
    if is_bullet(t) {
        return None;
    }
    if t.ends_with(':') && words() <= 8 {
        let label = strip(t);
        return (!label.is_empty()).then_some(label);
    }
    // ALL-CAPS: any ASCII lowercase letter rules it out without decoding.
    if !t.bytes().any(|b| b.is_ascii_lowercase()) {
        let letters = t.chars().filter(|c| c.is_alphabetic()).count();
        let all_caps = letters >= 3
            && t.chars()
                .filter(|c| c.is_alphabetic())
                .all(char::is_uppercase)
            && !t.contains('<')
            && words() <= 8;
        if all_caps {
            return Some(strip(t));
        }
    }
    // A short line that is exactly a known header phrase (`About us`, `Benefits`).
    if t.len() <= 60 && !t.ends_with('.') && !t.contains(',') && words() <= 5 {
        let label = strip(t);
        if is_known_header_phrase(&label) {
            return Some(label);
        }
    }
    None
}

/// Leading words that may precede a header phrase (`Key responsibilities`).
const HEADER_PREFIX_WORDS: &[&str] = &[
    "key",
    "our",
    "the",
    "your",
    "main",
    "additional",
    "desired",
    "required",
    "minimum",
    "basic",
    "preferred",
    "job",
    "technical",
    "core",
    "general",
];

/// Whether a short line is exactly a header phrase, allowing an inflected last
/// word (`benefit` → `Benefits`) and a qualifying first word.
fn is_known_header_phrase(label: &str) -> bool {
    let mut rest = label;
    while let Some((first, tail)) = rest.split_once(' ') {
        if HEADER_PREFIX_WORDS.contains(&first) {
            rest = tail;
        } else {
            break;
        }
    }
    // Phrases that are prefixes of `rest`: the overlapping matches at 0.
    header_phrases()
        .find_overlapping_iter(rest)
        .filter(|m| m.start() == 0)
        .any(|m| {
            rest[m.end()..]
                .chars()
                .all(|c| c.is_alphabetic() || c == '\'')
        })
}

/// The type of the first phrase in `HEADER_TYPES` order the label contains.
fn type_of_label(label: &str) -> &'static str {
    header_phrases()
        .find_overlapping_iter(label)
        .map(|m| m.pattern().as_usize())
        .min()
        .map_or("other", |i| HEADER_TYPES[i].1)
}

/// One automaton over the header phrases (80 substring tests per header
/// line were a tenth of sectioning time).
fn header_phrases() -> &'static aho_corasick::AhoCorasick {
    static PHRASES: std::sync::LazyLock<aho_corasick::AhoCorasick> =
        std::sync::LazyLock::new(|| {
            aho_corasick::AhoCorasick::new(HEADER_TYPES.iter().map(|(p, _)| *p))
                .expect("static header phrases compile")
        });
    &PHRASES
}

/// Body keywords (lowercase), searched over the ASCII-lowercased body: the
/// SIMD (Teddy) searcher of the aho-corasick crate where the CPU has it, its
/// automaton otherwise. Case-insensitive search would lose the SIMD path and
/// cost a quarter of sectioning time.
#[derive(Debug, Clone)]
enum KeywordMatcher {
    Packed(aho_corasick::packed::Searcher),
    Automaton(aho_corasick::AhoCorasick),
}

impl KeywordMatcher {
    fn new(keywords: Vec<String>) -> Option<Self> {
        if keywords.is_empty() {
            return None;
        }
        let packed = aho_corasick::packed::Config::new()
            .match_kind(aho_corasick::packed::MatchKind::LeftmostLongest)
            .builder()
            .extend(&keywords)
            .build();
        match packed {
            Some(searcher) => Some(KeywordMatcher::Packed(searcher)),
            None => aho_corasick::AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                .build(&keywords)
                .ok()
                .map(KeywordMatcher::Automaton),
        }
    }

    /// Calls `f` with the keyword index of each non-overlapping match in
    /// `haystack`, leftmost-longest.
    fn for_each_match(&self, haystack: &str, mut f: impl FnMut(usize)) {
        match self {
            KeywordMatcher::Packed(s) => s
                .find_iter(haystack)
                .for_each(|m| f(m.pattern().as_usize())),
            KeywordMatcher::Automaton(a) => a
                .find_iter(haystack)
                .for_each(|m| f(m.pattern().as_usize())),
        }
    }
}

struct OpenSection {
    header: Option<String>,
    label: Option<String>,
    start: usize,
    end: usize,
    last_kind: LineKind,
}

impl SectionClassifier {
    pub fn new(config: &EngineConfig) -> Self {
        let (keywords, keyword_weights): (Vec<String>, Vec<f64>) = config
            .section_keyword_weights
            .iter()
            .filter(|(k, _)| !k.is_empty())
            .map(|(k, v)| (k.to_ascii_lowercase(), *v))
            .unzip();
        SectionClassifier {
            type_relevance: config
                .section_type_relevance
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            default_relevance: config
                .section_type_relevance
                .get("other")
                .copied()
                .unwrap_or(0.5),
            keyword_matcher: KeywordMatcher::new(keywords),
            keyword_weights,
            relevance_threshold: config.relevance_threshold,
            model: None,
        }
    }

    /// The same splitting, with relevance scored by a trained model.
    pub fn with_model(mut self, model: Arc<SectionModel>) -> Self {
        self.model = Some(model);
        self
    }

    pub fn model(&self) -> Option<&SectionModel> {
        self.model.as_deref()
    }

    pub fn classifier_version(&self) -> &str {
        if self.model.is_some() {
            ML_CLASSIFIER_VERSION
        } else {
            CLASSIFIER_VERSION
        }
    }

    pub fn classification_method(&self) -> ClassificationMethod {
        if self.model.is_some() {
            ClassificationMethod::MlModel
        } else {
            ClassificationMethod::RuleBased
        }
    }

    /// Splits `text` into sections covering every non-blank line, in order.
    pub fn classify(&self, text: &str) -> Vec<Section> {
        let offsets = CharOffsets::new(text);
        self.classify_with(text, &text.to_ascii_lowercase(), &offsets)
    }

    /// `lower` is `text` ASCII-lowercased (same byte offsets).
    pub(crate) fn classify_with(
        &self,
        text: &str,
        lower: &str,
        offsets: &CharOffsets,
    ) -> Vec<Section> {
        let mut sections = Vec::new();
        let mut open: Option<OpenSection> = None;
        let mut line_start = 0usize;
        while line_start <= text.len() {
            let line_end = memchr::memchr(b'\n', &text.as_bytes()[line_start..])
                .map_or(text.len(), |p| line_start + p);
            let line = &text[line_start..line_end];
            let trimmed = line.trim();
            let kind = if trimmed.is_empty() {
                LineKind::Blank
            } else if is_bullet(trimmed) {
                LineKind::Bullet
            } else {
                LineKind::Text
            };
            let content_end = line_start + line.trim_end().len();
            if kind != LineKind::Blank {
                if let Some(label) = header_label(trimmed) {
                    self.close(text, lower, offsets, open.take(), &mut sections);
                    open = Some(OpenSection {
                        header: Some(trimmed.to_string()),
                        label: Some(label),
                        start: line_start + (line.len() - line.trim_start().len()),
                        end: content_end,
                        last_kind: LineKind::Blank,
                    });
                } else {
                    // Without a header, a paragraph and a bullet block are separate sections.
                    let breaks = open.as_ref().is_some_and(|s| {
                        s.header.is_none() && s.last_kind != LineKind::Blank && s.last_kind != kind
                    });
                    if breaks {
                        self.close(text, lower, offsets, open.take(), &mut sections);
                    }
                    match open.as_mut() {
                        Some(s) => {
                            s.end = content_end;
                            s.last_kind = kind;
                        }
                        None => {
                            open = Some(OpenSection {
                                header: None,
                                label: None,
                                start: line_start + (line.len() - line.trim_start().len()),
                                end: content_end,
                                last_kind: kind,
                            })
                        }
                    }
                }
            } else if open.as_ref().is_some_and(|s| s.header.is_none()) {
                self.close(text, lower, offsets, open.take(), &mut sections);
            }
            line_start = line_end + 1;
        }
        self.close(text, lower, offsets, open.take(), &mut sections);
        if sections.len() > MAX_SECTIONS_PER_POSTING {
            let end = sections.last().map(|s| (s.byte_end, s.char_end));
            sections.truncate(MAX_SECTIONS_PER_POSTING);
            if let (Some(tail), Some((byte_end, char_end))) = (sections.last_mut(), end) {
                tail.byte_end = byte_end;
                tail.char_end = char_end;
                let relevance =
                    self.relevance(&tail.section_type, &lower[tail.byte_start..byte_end]);
                tail.relevance = relevance;
                tail.is_skills_relevant = relevance >= self.relevance_threshold;
            }
        }
        if let Some(model) = &self.model {
            model.score(&mut sections, lower, self.relevance_threshold);
        }
        sections
    }

    fn close(
        &self,
        text: &str,
        lower: &str,
        offsets: &CharOffsets,
        open: Option<OpenSection>,
        sections: &mut Vec<Section>,
    ) {
        let Some(open) = open else { return };
        let body = &text[open.start..open.end];
        if body.trim().is_empty() {
            return;
        }
        let section_type = open
            .label
            .as_deref()
            .map(type_of_label)
            .unwrap_or("other")
            .to_string();
        let relevance = self.relevance(&section_type, &lower[open.start..open.end]);
        sections.push(Section {
            index: sections.len() as u32,
            header: open.header,
            is_skills_relevant: relevance >= self.relevance_threshold,
            section_type,
            byte_start: open.start,
            byte_end: open.end,
            char_start: offsets.char_at(open.start),
            char_end: offsets.char_at(open.end),
            relevance,
        });
    }

    /// `sigmoid(logit(prior(type)) + Σ weight(keyword) · min(count, 3))`.
    /// `body_lower` is the ASCII-lowercased body.
    fn relevance(&self, section_type: &str, body_lower: &str) -> f64 {
        let prior = self
            .type_relevance
            .get(section_type)
            .copied()
            .unwrap_or(self.default_relevance)
            .clamp(0.001, 0.999);
        let mut logit = (prior / (1.0 - prior)).ln();
        // Long sections are scored on their first 4 KB: keywords there decide.
        let head = &body_lower[..crate::text::floor_boundary(body_lower, 4096)];
        if let Some(matcher) = &self.keyword_matcher {
            // Counts per keyword; on the stack for up to 64 keywords.
            let mut stack = [0u8; 64];
            let mut heap = Vec::new();
            let counts: &mut [u8] = if self.keyword_weights.len() <= stack.len() {
                &mut stack[..self.keyword_weights.len()]
            } else {
                heap.resize(self.keyword_weights.len(), 0u8);
                &mut heap
            };
            // Non-overlapping, longest first: of two keywords where one
            // contains the other (none of the defaults do), the text counts
            // for the longer. Several times faster than overlapping search.
            matcher.for_each_match(head, |k| {
                if counts[k] < 3 {
                    counts[k] += 1;
                    logit += self.keyword_weights[k];
                }
            });
        }
        let p = 1.0 / (1.0 + (-logit).exp());
        if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            0.5
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(text: &str) -> Vec<Section> {
        SectionClassifier::new(&EngineConfig::default()).classify(text)
    }

    fn headers(text: &str) -> Vec<(Option<String>, String)> {
        classify(text)
            .into_iter()
            .map(|s| (s.header, s.section_type))
            .collect()
    }

    #[test]
    fn sections_per_posting_are_capped_and_still_cover_the_text() {
        let text = "Requirements:\nRust\n".repeat(5_000);
        let sections = classify(&text);
        assert_eq!(sections.len(), MAX_SECTIONS_PER_POSTING);
        let last = sections.last().unwrap();
        assert_eq!(last.byte_end, text.trim_end().len());
        assert_eq!(last.char_end as usize, text.trim_end().chars().count());
        // Stored section text never exceeds the input: amplification is bounded.
        let stored: usize = sections.iter().map(|s| s.byte_end - s.byte_start).sum();
        assert!(stored <= text.len(), "{stored} > {}", text.len());
    }

    #[test]
    fn colon_header() {
        let h = headers("We build things.\nRequirements:\n- Rust\n- SQL\n");
        assert_eq!(h[1], (Some("Requirements:".into()), "requirements".into()));
    }

    #[test]
    fn markdown_header() {
        let h = headers("## What you'll bring\n- Python\n\n## Benefits\nLots of vacation.");
        assert_eq!(h[0].1, "requirements");
        assert_eq!(h[1], (Some("## Benefits".into()), "benefits".into()));
    }

    #[test]
    fn all_caps_header() {
        let h = headers("RESPONSIBILITIES\nShip features.\nWHAT WE OFFER\nA desk.");
        assert_eq!(h[0].1, "responsibilities");
        assert_eq!(h[1].1, "benefits");
    }

    #[test]
    fn plain_known_header() {
        let h = headers("About us\nWe were founded in 1999.\nQualifications\nA degree.");
        assert_eq!(h[0], (Some("About us".into()), "about_company".into()));
        assert_eq!(h[1].1, "qualifications");
    }

    #[test]
    fn bold_markdown_header() {
        let h =
            headers("**Nice to have**\n- Kafka\n**Equal Opportunity Employer**\nWe welcome all.");
        assert_eq!(h[0].1, "nice_to_have");
        assert_eq!(h[1].1, "eeo");
    }

    #[test]
    fn other_line_ending_with_colon_is_a_header() {
        let h = headers("Our tech stack includes:\nRust, Postgres");
        assert_eq!(h[0].1, "tech_stack");
    }

    #[test]
    fn paragraphs_and_bullet_blocks_split_without_headers() {
        let s = classify("First paragraph here.\nStill first.\n\nSecond paragraph.\n- bullet one\n- bullet two\n");
        assert_eq!(s.len(), 3);
        assert!(s.iter().all(|x| x.header.is_none()));
    }

    #[test]
    fn offsets_are_chars_and_cover_the_text() {
        let text = "Über uns\n\nRequirements:\n- Rüst\n";
        for s in classify(text) {
            let by_chars: String = text
                .chars()
                .skip(s.char_start as usize)
                .take((s.char_end - s.char_start) as usize)
                .collect();
            assert_eq!(by_chars, &text[s.byte_start..s.byte_end]);
        }
    }

    #[test]
    fn requirements_are_relevant_and_benefits_are_not() {
        let s = classify("Requirements:\n- 3+ years of experience with Rust\n\nBenefits:\n- Health insurance and vacation\n");
        assert!(
            s[0].is_skills_relevant && s[0].relevance > 0.9,
            "{:?}",
            s[0]
        );
        assert!(
            !s[1].is_skills_relevant && s[1].relevance < 0.1,
            "{:?}",
            s[1]
        );
    }

    #[test]
    fn keyword_weights_are_configurable() {
        let mut config = EngineConfig::default();
        config.section_keyword_weights.insert("widgets".into(), 5.0);
        let s = SectionClassifier::new(&config).classify("About us\nWe make widgets.");
        assert!(s[0].relevance > 0.9);
    }
}
