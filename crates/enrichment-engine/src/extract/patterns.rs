//! The pattern strategy: cue phrases (`experience with X`) and lists after
//! openers (`such as`, `e.g.`), and capitalized names with a version.

use super::*;

/// Compiled context patterns.
pub(crate) struct PatternSet {
    /// Cue phrases (`experience with X`, `knowledge of X`, `ability to X`…)
    /// then list openers (`such as`, `e.g.`, `including`), matched in one
    /// pass over the tokens the lexicon strategy already cut.
    pub(super) cues_and_lists: PhraseMatcher,
    /// A capitalized name followed by a dotted version (`Angular 12.2`).
    pub(super) versioned: Regex,
}

/// Cue phrases before a skill; `soft` cues announce abilities, not tools.
pub(super) const CUES: &[(&str, bool)] = &[
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
pub(super) const LIST_OPENERS: &[&str] = &[
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
pub(super) fn opener_end(text: &str, end: usize) -> Option<usize> {
    let spaces = text[end..]
        .char_indices()
        .find(|(_, c)| !c.is_whitespace())
        .map_or(text.len() - end, |(i, _)| i);
    (spaces > 0).then_some(end + spaces)
}

/// Filler words trimmed from the front of a pattern phrase (`strong`, `the`,
/// `at least one of`), compared ASCII case-insensitively.
pub(super) fn is_phrase_stop_word(word: &str) -> bool {
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

pub(super) const VERSION_NAME_STOPLIST: &[&str] = &[
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

impl Extractor<'_> {
    /// Splits the tail after a cue into list items, each `[start, end)` in
    /// bytes. The list runs from `from` to the first stop (sentence
    /// punctuation or a line break, at most 240 bytes); items are split at
    /// the separators of `separator_at`. Stops and separators are found by walking the
    /// text's `tokens` (every stop byte and every separator starts at a
    /// token or the space before one), not its bytes.
    pub(super) fn list_items(
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
    pub(super) fn push_item(
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
    pub(super) fn trim_item(text: &str, cursor: usize, end: usize) -> Option<(usize, usize)> {
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

    pub(super) fn looks_like_tech_name(item: &str) -> bool {
        let words = item.split_whitespace().count();
        words <= 3
            && item.chars().any(|c| c.is_alphabetic())
            && (item
                .chars()
                .any(|c| c.is_uppercase() || c.is_ascii_digit() || "+#.".contains(c)))
    }

    /// `openers` are the cue and list-opener matches, `(phrase, end of the
    /// whitespace after it)`, in text order.
    pub(super) fn pattern_mentions(
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
}
