//! One skill found in one job, fused over all strategies, with provenance.

use crate::validation::{blank, non_empty, unit_interval, Validate};
use crate::{EnrichmentVersion, ExtractionStrategy, JobId, SkillCategory, ValidationError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractedSkill {
    /// The seed's row id, a UUID.
    pub skill_id: Uuid,
    pub job_posting_id: JobId,
    /// The enrichment that wrote this skill (its `enrichment_id`); null only
    /// for rows older than enrichment ids that no enrichment matched.
    pub enrichment_id: Option<Uuid>,
    /// Canonical skill name; unique per (job, enrichment_version).
    pub skill_name: String,
    pub skill_category: SkillCategory,
    pub confidence_score: f64,
    /// Strategies that found it, sorted and without repeats.
    pub source_strategies: Vec<ExtractionStrategy>,
    pub section_relevance_score: Option<f64>,
    pub extracted_from_section: Option<String>,
    /// A window of text around the first mention.
    pub context_snippet: Option<String>,
    /// Offset of the first mention in the posting's description, in Unicode
    /// scalar values (Rust `char`s), not bytes.
    pub position_in_text: Option<u32>,
    pub mention_count: u32,
    /// Every mention, `[start, end)` in Unicode scalar values of the
    /// description: sorted and non-overlapping (`MentionSpan::normalize`).
    /// Empty for rows stored before the column existed.
    #[serde(default)]
    pub mention_spans: Vec<MentionSpan>,
    /// Taxonomy reference (e.g. an ESCO URI or O*NET commodity code) when known.
    pub taxonomy_ref: Option<String>,
    /// Ranked taxonomy candidates (`semantic` strategy): the exact lexicon
    /// link first when there is one, then the nearest ESCO skills by
    /// meaning, best first. Empty when the version does not link.
    #[serde(default)]
    pub taxonomy_links: Vec<TaxonomyLink>,
    pub enrichment_version: EnrichmentVersion,
    pub created_at: DateTime<Utc>,
}

/// Most ranked candidates a skill keeps.
pub const MAX_TAXONOMY_LINKS: usize = 50;

/// One ranked taxonomy candidate of a skill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaxonomyLink {
    /// The concept's preferred label (ESCO), shared with the taxonomy that
    /// named it: a posting carries ~150 links, and a string each was ~3 % of
    /// a linked run's profile samples (allocating, copying, freeing).
    pub label: Arc<str>,
    /// Cosine similarity of the skill and the concept, -1..1; 1 for the
    /// lexicon's exact link.
    pub score: f64,
    /// The lexicon's own link (the skill's `taxonomy_ref`), not a neighbour.
    pub exact: bool,
}

/// One mention of a skill: `[start, end)` in Unicode scalar values (Rust
/// `char`s, Python string indices), not bytes. Serialized as `[start, end]`,
/// the form both stores keep in `job_skills.mention_spans`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "(u32, u32)", into = "(u32, u32)")]
pub struct MentionSpan {
    pub start: u32,
    pub end: u32,
}

impl From<(u32, u32)> for MentionSpan {
    fn from((start, end): (u32, u32)) -> Self {
        Self { start, end }
    }
}

impl From<MentionSpan> for (u32, u32) {
    fn from(s: MentionSpan) -> Self {
        (s.start, s.end)
    }
}

impl MentionSpan {
    /// The stored form of a skill's mentions: sorted, overlapping or repeated
    /// spans merged into one (two strategies may find one mention with
    /// different boundaries), empty spans dropped.
    pub fn normalize(mut spans: Vec<MentionSpan>) -> Vec<MentionSpan> {
        spans.retain(|s| s.start < s.end);
        spans.sort_unstable();
        let mut out: Vec<MentionSpan> = Vec::with_capacity(spans.len());
        for s in spans {
            match out.last_mut() {
                Some(last) if s.start < last.end => last.end = last.end.max(s.end),
                _ => out.push(s),
            }
        }
        out
    }
}

impl ExtractedSkill {
    /// Every mention span lies within a description of `text_chars`
    /// characters (the rule that needs the posting, so it is not part of
    /// `validate`).
    pub fn check_mentions_within(&self, text_chars: usize) -> Result<(), ValidationError> {
        match self
            .mention_spans
            .iter()
            .find(|s| s.end as usize > text_chars)
        {
            Some(s) => Err(ValidationError::new(
                "ExtractedSkill",
                "mention_spans",
                format!(
                    "span [{}, {}) of {:?} ends past the description's {text_chars} characters",
                    s.start, s.end, self.skill_name
                ),
            )),
            None => Ok(()),
        }
    }
}

/// Spans are non-empty, sorted and do not overlap.
fn check_spans(spans: &[MentionSpan]) -> Result<(), ValidationError> {
    let bad = |rule: String| {
        Err(ValidationError::new(
            "ExtractedSkill",
            "mention_spans",
            rule,
        ))
    };
    for (i, s) in spans.iter().enumerate() {
        if s.start >= s.end {
            return bad(format!(
                "span [{}, {}) must have start < end",
                s.start, s.end
            ));
        }
        if let Some(prev) = i.checked_sub(1).map(|p| spans[p]) {
            if s.start < prev.end {
                return bad(format!(
                    "spans must be sorted and not overlap: [{}, {}) follows [{}, {})",
                    s.start, s.end, prev.start, prev.end
                ));
            }
        }
    }
    Ok(())
}

impl Validate for ExtractedSkill {
    fn validate(&self) -> Result<(), ValidationError> {
        non_empty("ExtractedSkill", "skill_name", &self.skill_name)?;
        unit_interval("ExtractedSkill", "confidence_score", self.confidence_score)?;
        if self.source_strategies.is_empty() {
            return Err(ValidationError::new(
                "ExtractedSkill",
                "source_strategies",
                "must name at least one known strategy",
            ));
        }
        if let Some(r) = self.section_relevance_score {
            unit_interval("ExtractedSkill", "section_relevance_score", r)?;
        }
        check_spans(&self.mention_spans)?;
        check_links(&self.taxonomy_links)
    }
}

/// At most `MAX_TAXONOMY_LINKS`, each with a label and a cosine score.
fn check_links(links: &[TaxonomyLink]) -> Result<(), ValidationError> {
    let bad = |rule: String| {
        Err(ValidationError::new(
            "ExtractedSkill",
            "taxonomy_links",
            rule,
        ))
    };
    if links.len() > MAX_TAXONOMY_LINKS {
        return bad(format!(
            "at most {MAX_TAXONOMY_LINKS} candidates, got {}",
            links.len()
        ));
    }
    for link in links {
        if blank(&link.label) {
            return bad("a candidate needs a label".into());
        }
        if !(link.score.is_finite() && (-1.0..=1.0).contains(&link.score)) {
            return bad(format!(
                "the score of {:?} must be from -1 to 1, got {}",
                link.label, link.score
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_a_strategy_and_scores_in_unit_interval() {
        let mut s = ExtractedSkill {
            skill_id: Uuid::new_v4(),
            enrichment_id: None,
            job_posting_id: JobId::parse("j").unwrap(),
            skill_name: "Rust".into(),
            skill_category: SkillCategory::ProgrammingLanguages,
            confidence_score: 0.8,
            source_strategies: vec![ExtractionStrategy::Lexicon],
            section_relevance_score: Some(0.9),
            extracted_from_section: None,
            context_snippet: None,
            position_in_text: Some(3),
            mention_count: 1,
            mention_spans: vec![MentionSpan::from((3, 7))],
            taxonomy_ref: None,
            taxonomy_links: Vec::new(),
            enrichment_version: EnrichmentVersion::legacy(),
            created_at: Utc::now(),
        };
        assert!(s.validate().is_ok());
        s.section_relevance_score = Some(-0.1);
        assert_eq!(s.validate().unwrap_err().field, "section_relevance_score");
        s.section_relevance_score = None;
        s.source_strategies.clear();
        assert_eq!(s.validate().unwrap_err().field, "source_strategies");
        assert!(serde_json::from_str::<ExtractionStrategy>("\"guess\"").is_err());
        s.source_strategies = vec![ExtractionStrategy::Semantic];
        // Blank is whitespace of any kind (an ideographic space too), not a
        // padded word.
        for (name, label, field) in [
            (" \u{3000}\t", "x", Some("skill_name")),
            ("Rust", " \n\u{a0}", Some("taxonomy_links")),
            (" Rust ", " use Rust ", None),
        ] {
            s.skill_name = name.into();
            s.taxonomy_links = vec![TaxonomyLink {
                label: label.into(),
                score: 0.5,
                exact: false,
            }];
            assert_eq!(
                s.validate().err().map(|e| e.field),
                field,
                "{name:?} {label:?}"
            );
        }
        // A shared label is written and read as a plain string.
        let json = serde_json::to_string(&s.taxonomy_links).unwrap();
        assert_eq!(
            json,
            r#"[{"label":" use Rust ","score":0.5,"exact":false}]"#
        );
        assert_eq!(
            serde_json::from_str::<Vec<TaxonomyLink>>(&json).unwrap(),
            s.taxonomy_links
        );
    }

    fn spans(pairs: &[(u32, u32)]) -> Vec<MentionSpan> {
        pairs.iter().copied().map(MentionSpan::from).collect()
    }

    #[test]
    fn mention_spans_are_sorted_non_overlapping_and_inside_the_text() {
        let mut s = ExtractedSkill {
            skill_id: Uuid::new_v4(),
            enrichment_id: None,
            job_posting_id: JobId::parse("j").unwrap(),
            skill_name: "Rust".into(),
            skill_category: SkillCategory::ProgrammingLanguages,
            confidence_score: 0.8,
            source_strategies: vec![ExtractionStrategy::Lexicon],
            section_relevance_score: None,
            extracted_from_section: None,
            context_snippet: None,
            position_in_text: Some(0),
            mention_count: 3,
            mention_spans: spans(&[(0, 4), (4, 8), (20, 24)]),
            taxonomy_ref: None,
            taxonomy_links: Vec::new(),
            enrichment_version: EnrichmentVersion::legacy(),
            created_at: Utc::now(),
        };
        assert!(s.validate().is_ok(), "touching spans do not overlap");
        assert!(s.check_mentions_within(24).is_ok());
        let past = s.check_mentions_within(23).unwrap_err();
        assert_eq!(past.field, "mention_spans");
        assert!(past.rule.contains("[20, 24)"), "{}", past.rule);
        for bad in [
            spans(&[(0, 4), (3, 8)]),
            spans(&[(20, 24), (0, 4)]),
            spans(&[(5, 5)]),
            spans(&[(6, 2)]),
        ] {
            s.mention_spans = bad.clone();
            assert_eq!(s.validate().unwrap_err().field, "mention_spans", "{bad:?}");
        }
        s.mention_spans.clear();
        assert!(s.validate().is_ok(), "no spans (a legacy row) is valid");
    }

    #[test]
    fn normalize_sorts_merges_overlaps_and_drops_empty_spans() {
        assert_eq!(
            MentionSpan::normalize(spans(&[(10, 14), (0, 6), (2, 4), (10, 14), (6, 9), (7, 7)])),
            spans(&[(0, 6), (6, 9), (10, 14)])
        );
        assert_eq!(
            MentionSpan::normalize(spans(&[(3, 8), (0, 5)])),
            spans(&[(0, 8)])
        );
    }

    #[test]
    fn spans_serialize_as_start_end_pairs() {
        let json = serde_json::to_string(&spans(&[(0, 6), (10, 14)])).unwrap();
        assert_eq!(json, "[[0,6],[10,14]]");
        assert_eq!(
            serde_json::from_str::<Vec<MentionSpan>>(&json).unwrap(),
            spans(&[(0, 6), (10, 14)])
        );
        assert!(serde_json::from_str::<Vec<MentionSpan>>("[[1]]").is_err());
    }
}
