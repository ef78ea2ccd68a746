//! Scores predictions against a labeled dataset.
//!
//! Skills (`skills_extractor`):
//! - set metrics per record with `gold_skills`: a predicted skill matches a gold
//!   skill with the same normalized name (lower case, single spaces), its
//!   canonical name or one of its `also_known_as` names (the ESCO preferred
//!   label it is linked to, so ESCO-linked gold can be matched). A match
//!   is a TP of the gold category (the predicted one when gold has none), a
//!   missed gold skill an FN of its category (`uncategorized` when unknown), an
//!   unmatched prediction an FP of its predicted category. Predictions whose
//!   every mention lies inside an unlinked gold span (`LABEL_NOT_PRESENT`,
//!   `UNDERSPECIFIED`) are ignored: the annotators saw a skill there but could
//!   not name it, so neither right nor wrong can be said.
//! - `category_agreement`: among matches whose gold has a category, the share
//!   where the predicted category agrees (matching itself ignores categories).
//! - span metrics per record with `gold_spans`, over every mention span;
//! - RP@5 over the confidence ranking per record with a non-empty gold set;
//!   when predictions carry ranked taxonomy links, the ranking is of link
//!   labels, each scored confidence × link score (best per label).
//! - link recall@K: share of gold skills among the first K names (links, or
//!   canonical name and other names when a prediction has no links) of some
//!   prediction of the record.
//!
//! A dataset with spans but no gold skills (SkillSpan) has no categories: its
//! headline figures are the overlap span metrics, under the label `skill_span`.
//!
//! Sections (`section_classification`): every non-blank line of a record with
//! `gold_sections` is one sample; its true label is the gold section containing
//! the line's first character, its predicted label the predicted section
//! containing it (`none` when no section does); lines outside every gold
//! section are skipped. Multiclass precision/recall/F1 over those samples.

use crate::dataset::{LabeledRecord, UNLINKED_SPAN_LABELS};
use crate::metrics::{
    label_report, multiclass_counts, r_precision_at_k, Counts, Interval, Prf, SpanTally,
    ZeroDivision,
};
use crate::DatasetError;
use jobenrich_domain::SkillCategory;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Category name for gold skills whose category the dataset does not give.
pub const UNCATEGORIZED: &str = jobenrich_domain::EvaluationResult::UNCATEGORIZED;
/// Label of the headline figures of a span-only dataset.
pub const SPAN_LABEL: &str = jobenrich_domain::EvaluationResult::SKILL_SPAN;
/// K of the reported R-Precision@K.
pub const RP_K: usize = 5;
/// How many false positives / negatives the report lists.
pub const TOP_ERRORS: usize = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvaluationTarget {
    Skills,
    Sections,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharSpan {
    pub start: u32,
    pub end: u32,
}

/// One skill the engine found in one text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictedSkill {
    pub name: String,
    pub category: SkillCategory,
    pub confidence: f64,
    /// Every mention, in chars.
    pub mentions: Vec<CharSpan>,
    /// Other names gold data may use for this skill (its ESCO preferred label).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_known_as: Vec<String>,
    /// Ranked taxonomy links, best first (the `semantic` strategy's top
    /// candidates; an exact lexicon link first with score 1). Empty when the
    /// strategy is off.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<RankedLink>,
}

/// One candidate taxonomy concept of a predicted skill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedLink {
    pub label: String,
    pub score: f64,
}

/// K values of the reported link recall (`link_recall_at_1`, `link_recall_at_5`).
pub const LINK_RECALL_K: [usize; 2] = [1, 5];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictedSection {
    pub start: u32,
    pub end: u32,
    pub section_type: String,
}

/// What the engine produced for one record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub skills: Vec<PredictedSkill>,
    pub sections: Vec<PredictedSection>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    FalsePositive,
    FalseNegative,
}

/// One skill the engine got wrong most often, with an example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorExample {
    pub kind: ErrorKind,
    pub skill: String,
    pub category: String,
    /// Records where this error happened.
    pub count: u64,
    pub example_record_id: String,
    /// Text around the mention, the mention between « and ».
    pub snippet: String,
}

/// Everything one evaluation measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationMetrics {
    pub target: EvaluationTarget,
    /// Records that had gold data for the target.
    pub sample_count: u64,
    /// Per category (or section type / span label).
    pub category_metrics: BTreeMap<String, Prf>,
    pub category_counts: BTreeMap<String, Counts>,
    pub macro_avg: Prf,
    pub micro_avg: Prf,
    /// Further figures in [0, 1]: micro averages, span metrics, RP@5, ….
    pub additional_metrics: BTreeMap<String, f64>,
    /// Predictions left uncounted because they fell inside unlinked spans.
    pub ignored_predictions: u64,
    pub top_false_positives: Vec<ErrorExample>,
    pub top_false_negatives: Vec<ErrorExample>,
    /// What the headline figures mean for this dataset.
    pub notes: Vec<String>,
}

/// The comparison key of skill names.
pub fn normalize_name(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Scores `predictions[i]` against `records[i]`.
pub fn score(
    target: EvaluationTarget,
    records: &[LabeledRecord],
    predictions: &[Prediction],
    zd: ZeroDivision,
) -> Result<EvaluationMetrics, DatasetError> {
    assert_eq!(
        records.len(),
        predictions.len(),
        "one prediction per record"
    );
    match target {
        EvaluationTarget::Skills => score_skills(records, predictions, zd),
        EvaluationTarget::Sections => score_sections(records, predictions, zd),
    }
}

#[derive(Default)]
struct ErrorTally {
    by_skill: HashMap<(ErrorKind, String), ErrorExample>,
}

impl ErrorTally {
    fn add(&mut self, kind: ErrorKind, skill: &str, category: &str, record: &str, snippet: String) {
        self.by_skill
            .entry((kind, normalize_name(skill)))
            .and_modify(|e| e.count += 1)
            .or_insert_with(|| ErrorExample {
                kind,
                skill: skill.to_string(),
                category: category.to_string(),
                count: 1,
                example_record_id: record.to_string(),
                snippet,
            });
    }

    fn top(&self, kind: ErrorKind) -> Vec<ErrorExample> {
        let mut v: Vec<ErrorExample> = self
            .by_skill
            .values()
            .filter(|e| e.kind == kind)
            .cloned()
            .collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.skill.cmp(&b.skill)));
        v.truncate(TOP_ERRORS);
        v
    }
}

/// Up to 60 chars either side of `[start, end)`, the mention marked.
pub fn snippet(text: &str, start: u32, end: u32) -> String {
    const RADIUS: usize = 60;
    let chars: Vec<char> = text.chars().collect();
    let (s, e) = (
        (start as usize).min(chars.len()),
        (end as usize).min(chars.len()),
    );
    let from = s.saturating_sub(RADIUS);
    let to = (e + RADIUS).min(chars.len());
    let clean = |cs: &[char]| -> String {
        cs.iter()
            .map(|c| if c.is_whitespace() { ' ' } else { *c })
            .collect()
    };
    format!(
        "{}{}«{}»{}{}",
        if from > 0 { "…" } else { "" },
        clean(&chars[from..s]),
        clean(&chars[s..e]),
        clean(&chars[e..to]),
        if to < chars.len() { "…" } else { "" }
    )
}

/// Where a gold name first occurs in the text (case-insensitive), in chars.
fn locate(text: &str, name: &str) -> Option<(u32, u32)> {
    let hay: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let needle: Vec<char> = name.chars().flat_map(char::to_lowercase).collect();
    if needle.is_empty() || hay.len() != text.chars().count() {
        return None;
    }
    hay.windows(needle.len())
        .position(|w| w == needle.as_slice())
        .map(|p| (p as u32, (p + needle.len()) as u32))
}

fn score_skills(
    records: &[LabeledRecord],
    predictions: &[Prediction],
    zd: ZeroDivision,
) -> Result<EvaluationMetrics, DatasetError> {
    let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
    let mut spans = SpanTally::default();
    let mut spans_by_label: BTreeMap<String, SpanTally> = BTreeMap::new();
    let mut rp_sum = 0.0;
    let mut rp_n = 0u64;
    let mut link_hits = [0u64; LINK_RECALL_K.len()];
    let mut link_gold = 0u64;
    let (mut agree, mut agree_n) = (0u64, 0u64);
    let mut ignored = 0u64;
    let mut errors = ErrorTally::default();
    let (mut with_skills, mut with_spans, mut samples) = (0u64, 0u64, 0u64);

    for (record, prediction) in records.iter().zip(predictions) {
        if record.gold_skills.is_none() && record.gold_spans.is_none() {
            continue;
        }
        samples += 1;
        // One prediction per normalized name, the most confident.
        let mut predicted: BTreeMap<String, &PredictedSkill> = BTreeMap::new();
        for p in &prediction.skills {
            let key = normalize_name(&p.name);
            match predicted.get(&key) {
                Some(existing) if existing.confidence >= p.confidence => {}
                _ => {
                    predicted.insert(key, p);
                }
            }
        }

        if let Some(gold_spans) = &record.gold_spans {
            with_spans += 1;
            let predicted_spans: Vec<Interval> = predicted
                .values()
                .flat_map(|p| p.mentions.iter().map(|m| (m.start, m.end)))
                .collect();
            let gold: Vec<Interval> = gold_spans.iter().map(|g| (g.start, g.end)).collect();
            spans.add_document(&predicted_spans, &gold);
            let mut labels: BTreeMap<String, Vec<Interval>> = BTreeMap::new();
            for g in gold_spans {
                labels
                    .entry(g.label.to_lowercase())
                    .or_default()
                    .push((g.start, g.end));
            }
            for (label, gold) in labels {
                spans_by_label
                    .entry(label)
                    .or_default()
                    .add_document(&predicted_spans, &gold);
            }
        }

        let Some(gold_skills) = &record.gold_skills else {
            continue;
        };
        with_skills += 1;
        let mut gold: BTreeMap<String, (&str, Option<SkillCategory>)> = BTreeMap::new();
        for g in gold_skills {
            let entry = gold
                .entry(normalize_name(&g.name))
                .or_insert((g.name.as_str(), g.category));
            entry.1 = entry.1.or(g.category);
        }
        let unlinked: Vec<Interval> = record
            .gold_spans
            .iter()
            .flatten()
            .filter(|s| UNLINKED_SPAN_LABELS.contains(&s.label.as_str()))
            .map(|s| (s.start, s.end))
            .collect();

        let mut matched_gold: BTreeMap<&String, ()> = BTreeMap::new();
        let mut ranking: Vec<(&String, f64, bool)> = Vec::new();
        // Most confident first, so a gold skill goes to its best prediction.
        let mut ordered: Vec<(&String, &&PredictedSkill)> = predicted.iter().collect();
        ordered.sort_by(|a, b| {
            b.1.confidence
                .total_cmp(&a.1.confidence)
                .then_with(|| a.0.cmp(b.0))
        });
        for (key, p) in ordered {
            // Gold names this prediction answers to: its canonical name and
            // its other names (e.g. the ESCO preferred label it links to).
            let hits: Vec<&String> = std::iter::once(key.clone())
                .chain(p.also_known_as.iter().map(|n| normalize_name(n)))
                .filter_map(|k| gold.get_key_value(&k).map(|(g, _)| g))
                .collect();
            if !hits.is_empty() {
                // A prediction answering only to gold skills already matched
                // by a more confident one is a duplicate: neither TP nor FP.
                let mut new_match = false;
                for g in hits {
                    if matched_gold.insert(g, ()).is_some() {
                        continue;
                    }
                    new_match = true;
                    let gold_category = gold[g].1;
                    let category = gold_category.unwrap_or(p.category);
                    counts.entry(category.to_string()).or_default().tp += 1;
                    if let Some(gc) = gold_category {
                        agree_n += 1;
                        if gc == p.category {
                            agree += 1;
                        }
                    }
                }
                ranking.push((key, p.confidence, new_match));
                continue;
            }
            ranking.push((key, p.confidence, false));
            let inside_unlinked = !p.mentions.is_empty()
                && p.mentions
                    .iter()
                    .all(|m| unlinked.iter().any(|u| u.0 <= m.start && m.end <= u.1));
            if inside_unlinked {
                ignored += 1;
                continue;
            }
            let category = p.category.to_string();
            counts.entry(category.clone()).or_default().fp += 1;
            let (s, e) = p
                .mentions
                .first()
                .map(|m| (m.start, m.end))
                .unwrap_or((0, 0));
            errors.add(
                ErrorKind::FalsePositive,
                &p.name,
                &category,
                &record.id,
                snippet(&record.text, s, e),
            );
        }
        for (key, (name, category)) in &gold {
            if matched_gold.contains_key(key) {
                continue;
            }
            let category = category
                .map(|c| c.to_string())
                .unwrap_or_else(|| UNCATEGORIZED.to_string());
            counts.entry(category.clone()).or_default().fn_ += 1;
            let (s, e) = locate(&record.text, name).unwrap_or((0, 0));
            errors.add(
                ErrorKind::FalseNegative,
                name,
                &category,
                &record.id,
                snippet(&record.text, s, e),
            );
        }

        // Link recall@K: a gold skill among the first K names of a prediction.
        let names_of = |p: &PredictedSkill| -> Vec<String> {
            if p.links.is_empty() {
                std::iter::once(&p.name)
                    .chain(&p.also_known_as)
                    .map(|n| normalize_name(n))
                    .collect()
            } else {
                p.links.iter().map(|l| normalize_name(&l.label)).collect()
            }
        };
        // Without links a prediction's names all denote its one concept (rank 1).
        let named: Vec<(bool, Vec<String>)> = predicted
            .values()
            .map(|p| (p.links.is_empty(), names_of(p)))
            .collect();
        for g in gold.keys() {
            link_gold += 1;
            for (hit, k) in link_hits.iter_mut().zip(LINK_RECALL_K) {
                let within = |(plain, names): &(bool, Vec<String>)| {
                    let k = if *plain { names.len() } else { k };
                    names.iter().take(k).any(|x| x == g)
                };
                if named.iter().any(within) {
                    *hit += 1;
                }
            }
        }

        // With ranked links the ranking is of link labels (best score per label).
        let linked_ranking: Vec<(String, f64, bool)>;
        if predicted.values().any(|p| !p.links.is_empty()) {
            let mut best: BTreeMap<String, f64> = BTreeMap::new();
            for p in predicted.values() {
                let scored: Vec<(String, f64)> = if p.links.is_empty() {
                    names_of(p).into_iter().map(|n| (n, p.confidence)).collect()
                } else {
                    p.links
                        .iter()
                        .map(|l| (normalize_name(&l.label), p.confidence * l.score))
                        .collect()
                };
                for (name, score) in scored {
                    let e = best.entry(name).or_insert(f64::NEG_INFINITY);
                    *e = e.max(score);
                }
            }
            linked_ranking = best
                .into_iter()
                .map(|(n, s)| {
                    let relevant = gold.contains_key(&n);
                    (n, s, relevant)
                })
                .collect();
            ranking = linked_ranking.iter().map(|(n, s, r)| (n, *s, *r)).collect();
        }

        // RP@5 over the confidence ranking (ties by name for determinism).
        ranking.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let relevant: Vec<bool> = ranking.iter().map(|r| r.2).collect();
        if let Some(rp) = r_precision_at_k(&relevant, gold.len(), RP_K) {
            rp_sum += rp;
            rp_n += 1;
        }
    }

    if samples == 0 {
        return Err(DatasetError::invalid(
            "dataset",
            "no record has gold_skills or gold_spans: nothing to evaluate skills extraction against",
        ));
    }

    let mut additional = BTreeMap::new();
    let mut notes = Vec::new();
    if with_spans > 0 {
        let exact = spans.exact(zd);
        let overlap = spans.overlap(zd);
        for (name, prf) in [("span_exact", exact), ("span_overlap", overlap)] {
            additional.insert(format!("{name}_precision"), prf.precision);
            additional.insert(format!("{name}_recall"), prf.recall);
            additional.insert(format!("{name}_f1"), prf.f1);
        }
        for (label, tally) in &spans_by_label {
            let key: String = label
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            additional.insert(
                format!("span_overlap_recall_{key}"),
                tally.overlap(zd).recall,
            );
        }
        notes.push(format!(
            "span metrics over {with_spans} records with gold spans ({} gold, {} predicted mention spans)",
            spans.gold, spans.predicted
        ));
    }

    let report = if with_skills > 0 {
        notes.push(format!(
            "skill-set metrics over {with_skills} records with gold skills; matching by normalized canonical name"
        ));
        if rp_n > 0 {
            additional.insert(format!("rp_at_{RP_K}"), rp_sum / rp_n as f64);
            notes.push(format!(
                "RP@{RP_K} over {rp_n} records with at least one gold skill"
            ));
        }
        if link_gold > 0 {
            for (hit, k) in link_hits.iter().zip(LINK_RECALL_K) {
                additional.insert(
                    format!("link_recall_at_{k}"),
                    *hit as f64 / link_gold as f64,
                );
            }
        }
        if agree_n > 0 {
            additional.insert("category_agreement".into(), agree as f64 / agree_n as f64);
        }
        label_report(&counts, zd)
    } else {
        // Span-only data: the headline is overlap matching of mention spans.
        notes.push(format!(
            "no gold skills: headline precision/recall/F1 are overlap span metrics under the label {SPAN_LABEL:?}"
        ));
        let overlap = spans.overlap(zd);
        let mut only = label_report(&BTreeMap::new(), zd);
        only.per_label.insert(SPAN_LABEL.to_string(), overlap);
        only.macro_avg = overlap;
        only.micro_avg = overlap;
        only
    };
    additional.insert("micro_precision".into(), report.micro_avg.precision);
    additional.insert("micro_recall".into(), report.micro_avg.recall);
    additional.insert("micro_f1".into(), report.micro_avg.f1);

    Ok(EvaluationMetrics {
        target: EvaluationTarget::Skills,
        sample_count: samples,
        category_metrics: report.per_label,
        category_counts: report.counts,
        macro_avg: report.macro_avg,
        micro_avg: report.micro_avg,
        additional_metrics: additional,
        ignored_predictions: ignored,
        top_false_positives: errors.top(ErrorKind::FalsePositive),
        top_false_negatives: errors.top(ErrorKind::FalseNegative),
        notes,
    })
}

/// Section types must be usable as category names (`^[a-z][a-z0-9_]*$`).
fn section_label(raw: &str) -> String {
    let mut s: String = raw
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        s.insert(0, 's');
    }
    s
}

fn score_sections(
    records: &[LabeledRecord],
    predictions: &[Prediction],
    zd: ZeroDivision,
) -> Result<EvaluationMetrics, DatasetError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut samples = 0u64;
    for (record, prediction) in records.iter().zip(predictions) {
        let Some(gold) = &record.gold_sections else {
            continue;
        };
        samples += 1;
        let mut offset = 0u32;
        for line in record.text.split('\n') {
            let len = line.chars().count() as u32;
            if !line.trim().is_empty() {
                let first =
                    offset + (line.chars().take_while(|c| c.is_whitespace()).count() as u32);
                let within = |s: u32, e: u32| s <= first && first < e;
                if let Some(g) = gold.iter().find(|g| within(g.start, g.end)) {
                    let predicted = prediction
                        .sections
                        .iter()
                        .find(|p| within(p.start, p.end))
                        .map(|p| section_label(&p.section_type))
                        .unwrap_or_else(|| "none".to_string());
                    pairs.push((section_label(&g.section_type), predicted));
                }
            }
            offset += len + 1;
        }
    }
    if samples == 0 {
        return Err(DatasetError::invalid(
            "dataset",
            "no record has gold_sections: section_classification cannot be evaluated on it",
        ));
    }
    let counts = multiclass_counts(pairs.iter().map(|(t, p)| (t.as_str(), p.as_str())));
    let report = label_report(&counts, zd);
    let mut additional = BTreeMap::new();
    additional.insert("micro_precision".into(), report.micro_avg.precision);
    additional.insert("micro_recall".into(), report.micro_avg.recall);
    additional.insert("micro_f1".into(), report.micro_avg.f1);
    Ok(EvaluationMetrics {
        target: EvaluationTarget::Sections,
        sample_count: samples,
        category_metrics: report.per_label,
        category_counts: report.counts,
        macro_avg: report.macro_avg,
        micro_avg: report.micro_avg,
        additional_metrics: additional,
        ignored_predictions: 0,
        top_false_positives: Vec::new(),
        top_false_negatives: Vec::new(),
        notes: vec![format!(
            "line-level multiclass metrics over {} lines of {samples} records with gold sections",
            pairs.len()
        )],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{GoldSection, GoldSkill, GoldSpan};

    fn skill(
        name: &str,
        category: SkillCategory,
        confidence: f64,
        at: &[(u32, u32)],
    ) -> PredictedSkill {
        PredictedSkill {
            name: name.into(),
            category,
            confidence,
            mentions: at
                .iter()
                .map(|(s, e)| CharSpan { start: *s, end: *e })
                .collect(),
            also_known_as: vec![],
            links: vec![],
        }
    }

    fn gold(name: &str, category: Option<SkillCategory>) -> GoldSkill {
        GoldSkill {
            name: name.into(),
            category,
        }
    }

    fn record(id: &str, text: &str) -> LabeledRecord {
        LabeledRecord {
            id: id.into(),
            text: text.into(),
            gold_skills: None,
            gold_spans: None,
            gold_sections: None,
            meta: Default::default(),
        }
    }

    use SkillCategory::*;

    #[test]
    fn skill_sets_are_scored_per_gold_category_with_macro_and_micro() {
        let mut r1 = record("r1", "Python, PostgreSQL and Jira.");
        r1.gold_skills = Some(vec![
            gold("python", Some(ProgrammingLanguages)),
            gold("PostgreSQL", Some(Databases)),
            gold("Kubernetes", Some(DevopsTools)),
        ]);
        let p1 = Prediction {
            skills: vec![
                skill("Python", ProgrammingLanguages, 0.9, &[(0, 6)]),
                // right name, wrong category: counts for the gold category
                skill("PostgreSQL", SoftwareTools, 0.8, &[(8, 18)]),
                skill("Jira", SoftwareTools, 0.7, &[(23, 27)]),
            ],
            sections: vec![],
        };
        let m = score(EvaluationTarget::Skills, &[r1], &[p1], ZeroDivision::Zero).unwrap();
        // programming_languages tp1; databases tp1; devops_tools fn1; software_tools fp1
        let c = &m.category_metrics;
        assert_eq!(c["programming_languages"].f1, 1.0);
        assert_eq!(c["databases"].f1, 1.0);
        assert_eq!(
            (
                c["devops_tools"].precision,
                c["devops_tools"].recall,
                c["devops_tools"].support
            ),
            (0.0, 0.0, 1)
        );
        assert_eq!(
            (c["software_tools"].precision, c["software_tools"].support),
            (0.0, 0)
        );
        assert_eq!(m.macro_avg.f1, 0.5);
        assert_eq!(m.macro_avg.precision, 0.5);
        // micro: tp 2, fp 1, fn 1
        assert!((m.micro_avg.precision - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(m.additional_metrics["category_agreement"], 0.5);
        // ranking Python(hit) PostgreSQL(hit) Jira: 2 hits / min(5, 3)
        assert!((m.additional_metrics["rp_at_5"] - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(m.top_false_positives[0].skill, "Jira");
        assert!(m.top_false_positives[0].snippet.contains("«Jira»"));
        assert_eq!(m.top_false_negatives[0].skill, "Kubernetes");
        assert_eq!(m.sample_count, 1);
    }

    #[test]
    fn unlinked_spans_ignore_predictions_and_uncategorized_gold_is_kept() {
        let mut r = record("s1", "We use reactjs and solve problems daily.");
        r.gold_skills = Some(vec![gold("solve problems", None)]);
        r.gold_spans = Some(vec![
            GoldSpan {
                start: 7,
                end: 14,
                label: "LABEL_NOT_PRESENT".into(),
            },
            GoldSpan {
                start: 19,
                end: 33,
                label: "SKILL".into(),
            },
        ]);
        let p = Prediction {
            skills: vec![skill("React", FrameworksLibraries, 0.9, &[(7, 14)])],
            sections: vec![],
        };
        let m = score(EvaluationTarget::Skills, &[r], &[p], ZeroDivision::Zero).unwrap();
        assert_eq!(m.ignored_predictions, 1);
        assert!(!m.category_metrics.contains_key("frameworks_libraries"));
        assert_eq!(m.category_metrics[UNCATEGORIZED].support, 1);
        assert_eq!(m.additional_metrics["rp_at_5"], 0.0);
        // the span [7,14) is matched exactly, [19,33) missed
        assert_eq!(m.additional_metrics["span_exact_precision"], 1.0);
        assert_eq!(m.additional_metrics["span_exact_recall"], 0.5);
        assert_eq!(m.additional_metrics["span_overlap_recall_skill"], 0.0);
        assert_eq!(
            m.additional_metrics["span_overlap_recall_label_not_present"],
            1.0
        );
        assert!(m.top_false_negatives[0]
            .snippet
            .contains("«solve problems»"));
    }

    #[test]
    fn predictions_match_gold_through_their_other_names() {
        let mut r = record("j", "Java and Go");
        r.gold_skills = Some(vec![
            gold("Java (computer programming)", None),
            gold("Go", None),
        ]);
        let mut java = skill("Java", ProgrammingLanguages, 0.6, &[(0, 4)]);
        java.also_known_as = vec!["java (computer  programming)".into()];
        // Two predictions answering to the same gold name count once.
        let mut java2 = skill("Java SE", ProgrammingLanguages, 0.5, &[(0, 4)]);
        java2.also_known_as = vec!["Java (computer programming)".into()];
        let p = Prediction {
            skills: vec![java, java2],
            sections: vec![],
        };
        let m = score(EvaluationTarget::Skills, &[r], &[p], ZeroDivision::Zero).unwrap();
        // TP java -> programming_languages (predicted category, gold has none); Go missed.
        assert_eq!(m.category_counts["programming_languages"].tp, 1);
        assert_eq!(m.category_counts[UNCATEGORIZED].fn_, 1);
        assert!(!m.category_counts.values().any(|c| c.fp > 0));
        // ranking: Java (hit), Java SE (duplicate, no hit) -> 1 / min(5, 2)
        assert_eq!(m.additional_metrics["rp_at_5"], 0.5);
    }

    #[test]
    fn ranked_links_give_link_recall_at_k_and_rank_rp_at_5_by_link_label() {
        let mut r = record("s", "SQL and teamwork");
        r.gold_skills = Some(vec![
            gold("use databases", None),
            gold("work in teams", None),
        ]);
        let link = |label: &str, score: f64| RankedLink {
            label: label.into(),
            score,
        };
        let mut sql = skill("SQL", Databases, 0.9, &[(0, 3)]);
        sql.also_known_as = vec!["manage databases".into()];
        sql.links = vec![link("manage databases", 0.8), link("use databases", 0.7)];
        let mut team = skill("teamwork", SoftSkills, 0.5, &[(8, 16)]);
        team.links = vec![link("work in teams", 0.9)];
        let p = Prediction {
            skills: vec![sql, team],
            sections: vec![],
        };
        let m = score(
            EvaluationTarget::Skills,
            &[r.clone()],
            &[p],
            ZeroDivision::Zero,
        )
        .unwrap();
        // top-1 names: manage databases (miss), work in teams (hit)
        assert_eq!(m.additional_metrics["link_recall_at_1"], 0.5);
        assert_eq!(m.additional_metrics["link_recall_at_5"], 1.0);
        // ranking: manage databases .72, use databases .63, work in teams .45 -> 2 / 2
        assert_eq!(m.additional_metrics["rp_at_5"], 1.0);

        // Without links, recall@1 and @5 coincide and use the other names.
        let mut plain = skill("SQL", Databases, 0.9, &[(0, 3)]);
        plain.also_known_as = vec!["use databases".into()];
        let p = Prediction {
            skills: vec![plain],
            sections: vec![],
        };
        let m = score(EvaluationTarget::Skills, &[r], &[p], ZeroDivision::Zero).unwrap();
        assert_eq!(m.additional_metrics["link_recall_at_1"], 0.5);
        assert_eq!(m.additional_metrics["link_recall_at_5"], 0.5);
        assert_eq!(m.additional_metrics["rp_at_5"], 0.5);
    }

    #[test]
    fn span_only_datasets_headline_overlap_metrics() {
        let mut r = record("k", "docker agile selenium");
        r.gold_spans = Some(vec![
            GoldSpan {
                start: 0,
                end: 6,
                label: "KNOWLEDGE".into(),
            },
            GoldSpan {
                start: 13,
                end: 21,
                label: "KNOWLEDGE".into(),
            },
        ]);
        let p = Prediction {
            skills: vec![
                skill("Docker", DevopsTools, 0.9, &[(0, 6)]),
                skill("Agile", Methodologies, 0.8, &[(7, 12)]),
            ],
            sections: vec![],
        };
        let m = score(EvaluationTarget::Skills, &[r], &[p], ZeroDivision::Zero).unwrap();
        assert_eq!(m.category_metrics.keys().collect::<Vec<_>>(), [SPAN_LABEL]);
        assert_eq!(m.macro_avg.precision, 0.5);
        assert_eq!(m.macro_avg.recall, 0.5);
        assert!(!m.additional_metrics.contains_key("rp_at_5"));
        assert!(m.notes.iter().any(|n| n.contains("no gold skills")));
    }

    #[test]
    fn records_without_gold_are_skipped_and_no_gold_at_all_is_an_error() {
        let r = record("x", "text");
        let e = score(
            EvaluationTarget::Skills,
            std::slice::from_ref(&r),
            &[Prediction::default()],
            ZeroDivision::Zero,
        )
        .unwrap_err();
        assert!(e.to_string().contains("gold_skills"), "{e}");
        let e = score(
            EvaluationTarget::Sections,
            &[r],
            &[Prediction::default()],
            ZeroDivision::Zero,
        )
        .unwrap_err();
        assert!(e.to_string().contains("gold_sections"), "{e}");
    }

    #[test]
    fn empty_gold_set_makes_every_prediction_a_false_positive() {
        let mut r = record("e", "Rust");
        r.gold_skills = Some(vec![]);
        let p = Prediction {
            skills: vec![skill("Rust", ProgrammingLanguages, 0.9, &[(0, 4)])],
            sections: vec![],
        };
        let m = score(EvaluationTarget::Skills, &[r], &[p], ZeroDivision::Zero).unwrap();
        let c = m.category_metrics["programming_languages"];
        assert_eq!((c.precision, c.recall, c.f1, c.support), (0.0, 0.0, 0.0, 0));
        assert!(!m.additional_metrics.contains_key("rp_at_5"));
    }

    #[test]
    fn sections_are_scored_per_line() {
        let text = "About us\nWe build things.\nRequirements:\nRust\n\nBenefits\nCake";
        let mut r = record("s", text);
        // lines start at 0, 9, 26, 40, 45(blank), 46, 55
        r.gold_sections = Some(vec![
            GoldSection {
                start: 0,
                end: 26,
                section_type: "company".into(),
            },
            GoldSection {
                start: 26,
                end: 45,
                section_type: "requirements".into(),
            },
            GoldSection {
                start: 46,
                end: 59,
                section_type: "benefits".into(),
            },
        ]);
        let p = Prediction {
            skills: vec![],
            sections: vec![
                PredictedSection {
                    start: 0,
                    end: 40,
                    section_type: "company".into(),
                },
                PredictedSection {
                    start: 40,
                    end: 59,
                    section_type: "Requirements".into(),
                },
            ],
        };
        let m = score(EvaluationTarget::Sections, &[r], &[p], ZeroDivision::Zero).unwrap();
        // y_true = [co, co, req, req, ben, ben]; y_pred = [co, co, co, req, req, req]
        let c = &m.category_counts;
        assert_eq!(
            c["company"],
            Counts {
                tp: 2,
                fp: 1,
                fn_: 0
            }
        );
        assert_eq!(
            c["requirements"],
            Counts {
                tp: 1,
                fp: 2,
                fn_: 1
            }
        );
        assert_eq!(
            c["benefits"],
            Counts {
                tp: 0,
                fp: 0,
                fn_: 2
            }
        );
        assert!((m.micro_avg.precision - 0.5).abs() < 1e-12);
    }
}
