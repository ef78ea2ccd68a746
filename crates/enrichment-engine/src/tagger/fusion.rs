//! Fusion of tagger spans with the rule strategies' mentions: the tagger
//! decides where skills are; the lexicon and aliases name them.
//!
//! - A span that a lexicon/alias mention covers exactly, or whose normalized
//!   phrase is a lexicon canonical name, takes that skill (canonical name,
//!   category, taxonomy reference) and its strategies plus `ml_tagger`.
//! - Any other span is kept under its normalized phrase, with the category
//!   of the longest known mention inside it, else the one its label implies.
//! - Confidence: the span's marginal times `tagger_weight`, plus
//!   `tagger_evidence_bonus` when a known skill names the span.
//! - Rule mentions outside every span are dropped unless
//!   `tagger_keep_rule_mentions` (the tagger saw them as features already).

use super::{SpanLabel, TaggedSpan};
use crate::extract::{Extractor, Mention, SkillRef, ALIAS, LEXICON, ML_TAGGER};
use jobenrich_domain::SkillCategory;

/// The category a tagger label implies when no known skill says otherwise.
pub(crate) fn label_category(label: SpanLabel) -> SkillCategory {
    match label {
        SpanLabel::Skill => SkillCategory::SoftSkills,
        SpanLabel::Knowledge => SkillCategory::DomainKnowledge,
    }
}

fn known(m: &Mention) -> bool {
    m.strategies & (LEXICON | ALIAS) != 0
        && matches!(m.skill, SkillRef::Entry(_) | SkillRef::Alias(_))
}

pub(crate) fn fuse(
    ex: &Extractor<'_>,
    text: &str,
    rule: Vec<Mention>,
    spans: &[TaggedSpan],
) -> Vec<Mention> {
    let config = ex.config;
    let mut covered = vec![false; rule.len()];
    let mut out: Vec<Mention> = Vec::with_capacity(spans.len());
    // Rule mentions are sorted by start and short; a span's overlapping
    // mentions start at most this far before it.
    const LOOKBACK: usize = 512;
    for s in spans {
        let from = rule.partition_point(|m| m.start + LOOKBACK < s.start);
        let phrase = super::normalize_phrase(&text[s.start..s.end]);
        let mut exact: Option<usize> = None;
        let mut inner: Option<usize> = None;
        for (k, m) in rule.iter().enumerate().skip(from) {
            if m.start >= s.end {
                break;
            }
            if m.end <= s.start {
                continue;
            }
            covered[k] = true;
            if !known(m) {
                continue;
            }
            let same = (m.start == s.start && m.end == s.end)
                || super::normalize_phrase(&text[m.start..m.end]) == phrase;
            if same && exact.is_none() {
                exact = Some(k);
            }
            if m.start >= s.start
                && m.end <= s.end
                && inner.is_none_or(|i| rule[i].end - rule[i].start < m.end - m.start)
            {
                inner = Some(k);
            }
        }
        let base = s.marginal * config.tagger_weight;
        let mention = match exact {
            Some(k) => Mention {
                start: s.start,
                end: s.end,
                skill: rule[k].skill.clone(),
                strategies: rule[k].strategies | ML_TAGGER,
                weight: base + config.tagger_evidence_bonus,
                penalized: rule[k].penalized,
                label: Some(s.label),
            },
            None => match ex.lexicon.entry_named(&phrase) {
                Some(e) => Mention {
                    start: s.start,
                    end: s.end,
                    skill: SkillRef::Entry(e),
                    strategies: ML_TAGGER | LEXICON,
                    weight: base + config.tagger_evidence_bonus,
                    penalized: false,
                    label: Some(s.label),
                },
                None => Mention {
                    start: s.start,
                    end: s.end,
                    skill: SkillRef::Tagged {
                        category: inner
                            .map(|i| ex.category_of(&rule[i].skill))
                            .unwrap_or_else(|| label_category(s.label)),
                    },
                    strategies: ML_TAGGER,
                    weight: base,
                    penalized: false,
                    label: Some(s.label),
                },
            },
        };
        out.push(mention);
    }
    if config.tagger_keep_rule_mentions {
        out.extend(
            rule.into_iter()
                .zip(covered)
                .filter(|(_, c)| !c)
                .map(|(m, _)| m),
        );
        out.sort_by_key(|m| (m.start, m.end));
    }
    out
}
