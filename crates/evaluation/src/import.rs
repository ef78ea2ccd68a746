//! Importers from public labeled data into the JSONL format of `dataset`.
//!
//! - SkillSpan (`postings.jsonl`: `split, source, idx, text, spans[{start, end,
//!   label, text}]`): one record per posting with its `SKILL` / `KNOWLEDGE`
//!   spans as `gold_spans`; no `gold_skills` (SkillSpan names no skills).
//! - ESCO-linked (`sentence, span, sub_span, label` CSV, Decorte et al. 2022):
//!   one record per distinct sentence. A row with an ESCO preferred label adds
//!   that label to `gold_skills` (no category: ESCO does not use ours) and its
//!   span to `gold_spans` as `SKILL`. Rows labelled `LABEL NOT PRESENT` (a
//!   skill ESCO lacks) or `UNDERSPECIFIED` (too vague to link) add no gold
//!   skill; their span is kept with the label `LABEL_NOT_PRESENT` /
//!   `UNDERSPECIFIED`, so span recall still counts it and set metrics ignore
//!   predictions lying inside it. A sentence whose rows are all unlinked
//!   gets an empty gold set. Repeated rows count once.

use crate::dataset::{GoldSkill, GoldSpan, LabeledRecord};
use crate::DatasetError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What an import read and produced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportStats {
    pub rows_read: u64,
    pub records: u64,
    pub gold_skills: u64,
    pub gold_spans: u64,
    pub label_not_present: u64,
    pub underspecified: u64,
    pub duplicate_rows: u64,
    /// Spans whose text does not occur in their sentence (their skill is kept).
    pub unlocated_spans: u64,
    /// Postings left out by the split filter.
    pub filtered_out: u64,
}

#[derive(Deserialize)]
struct SkillSpanPosting {
    split: String,
    source: String,
    idx: u64,
    text: String,
    spans: Vec<SkillSpanSpan>,
}

#[derive(Deserialize)]
struct SkillSpanSpan {
    start: u32,
    end: u32,
    label: String,
    #[serde(default)]
    text: Option<String>,
}

fn char_slice(text: &str, start: u32, end: u32) -> Option<String> {
    let len = text.chars().count() as u32;
    (start < end && end <= len).then(|| {
        text.chars()
            .skip(start as usize)
            .take((end - start) as usize)
            .collect()
    })
}

/// Converts SkillSpan postings; `split` keeps only that split (`dev`, `train`).
pub fn import_skillspan(
    jsonl: &str,
    source_name: &str,
    split: Option<&str>,
) -> Result<(Vec<LabeledRecord>, ImportStats), DatasetError> {
    let mut stats = ImportStats::default();
    let mut records = Vec::new();
    for (n, line) in jsonl.lines().enumerate() {
        let line_no = n + 1;
        if line.trim().is_empty() {
            continue;
        }
        stats.rows_read += 1;
        let posting: SkillSpanPosting = serde_json::from_str(line)
            .map_err(|e| DatasetError::record(source_name, line_no, e.to_string()))?;
        if split.is_some_and(|s| s != posting.split) {
            stats.filtered_out += 1;
            continue;
        }
        let mut spans = Vec::with_capacity(posting.spans.len());
        for (i, s) in posting.spans.iter().enumerate() {
            let Some(covered) = char_slice(&posting.text, s.start, s.end) else {
                return Err(DatasetError::record(
                    source_name,
                    line_no,
                    format!("spans[{i}]: [{}, {}) is outside the text", s.start, s.end),
                ));
            };
            if let Some(expected) = &s.text {
                if *expected != covered {
                    return Err(DatasetError::record(
                        source_name,
                        line_no,
                        format!(
                            "spans[{i}]: text {expected:?} differs from the text at [{}, {}): {covered:?}",
                            s.start, s.end
                        ),
                    ));
                }
            }
            spans.push(GoldSpan {
                start: s.start,
                end: s.end,
                label: s.label.clone(),
            });
        }
        stats.gold_spans += spans.len() as u64;
        let mut meta = BTreeMap::new();
        meta.insert("dataset".into(), "skillspan".into());
        meta.insert("split".into(), posting.split.clone().into());
        meta.insert("source".into(), posting.source.clone().into());
        meta.insert("idx".into(), posting.idx.into());
        records.push(LabeledRecord {
            id: format!(
                "skillspan-{}-{}-{}",
                posting.source, posting.split, posting.idx
            ),
            text: posting.text,
            gold_skills: None,
            gold_spans: Some(spans),
            gold_sections: None,
            meta,
        });
    }
    stats.records = records.len() as u64;
    if records.is_empty() {
        return Err(DatasetError::invalid(
            source_name,
            match split {
                Some(s) => format!("no postings of split {s:?}"),
                None => "no postings".to_string(),
            },
        ));
    }
    Ok((records, stats))
}

/// The first whole-word occurrence of `needle` in `hay` (else the first
/// occurrence), in chars: exact case first, then case-insensitive.
fn find_chars(hay: &str, needle: &str) -> Option<(u32, u32)> {
    let n = needle.chars().count() as u32;
    if n == 0 {
        return None;
    }
    let best = |h: &str, nd: &str| -> Option<usize> {
        let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
        let mut first = None;
        for (b, m) in h.match_indices(nd) {
            first.get_or_insert(b);
            let before = h[..b].chars().next_back();
            let after = h[b + m.len()..].chars().next();
            if !is_word(before) && !is_word(after) {
                return Some(b);
            }
        }
        first
    };
    let to_chars = |byte: usize, s: &str| s[..byte].chars().count() as u32;
    if let Some(b) = best(hay, needle) {
        let start = to_chars(b, hay);
        return Some((start, start + n));
    }
    let (lh, ln) = (hay.to_lowercase(), needle.to_lowercase());
    // Only trust a case-insensitive hit when lower-casing kept the lengths.
    if lh.chars().count() == hay.chars().count() && ln.chars().count() as u32 == n {
        if let Some(b) = best(&lh, &ln) {
            let start = to_chars(b, &lh);
            return Some((start, start + n));
        }
    }
    None
}

pub const LABEL_NOT_PRESENT: &str = "LABEL NOT PRESENT";
pub const UNDERSPECIFIED: &str = "UNDERSPECIFIED";

struct SentenceDraft {
    sentence: String,
    first_line: u64,
    skills: Vec<String>,
    spans: Vec<GoldSpan>,
    rows: Vec<(String, String, String)>,
}

/// Converts an ESCO-linked annotation CSV; ids are `<id_prefix>-<n>` in order
/// of first appearance. Two layouts: span-level `sentence,span,sub_span,label`
/// (Decorte et al.'s validation sets; `sub_span` optional) and sentence-level
/// `sentence,label` (as in the TechWolf set), whose records carry gold skills
/// but no gold spans.
pub fn import_esco_linked(
    csv_text: &str,
    source_name: &str,
    id_prefix: &str,
) -> Result<(Vec<LabeledRecord>, ImportStats), DatasetError> {
    let mut stats = ImportStats::default();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(csv_text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| DatasetError::record(source_name, 1, e.to_string()))?
        .clone();
    let find = |name: &str| headers.iter().position(|h| h.trim() == name);
    let column = |name: &str| {
        find(name).ok_or_else(|| {
            DatasetError::record(
                source_name,
                1,
                format!(
                    "missing column {name:?} (expected sentence,label or \
                     sentence,span,sub_span,label)"
                ),
            )
        })
    };
    let (c_sentence, c_label) = (column("sentence")?, column("label")?);
    // Sentence-level files have no span columns: no gold spans are made up.
    let (c_span, c_sub) = (find("span"), find("sub_span"));
    if c_span.is_none() && c_sub.is_some() {
        return Err(DatasetError::record(
            source_name,
            1,
            "column \"sub_span\" without \"span\"",
        ));
    }

    let mut drafts: Vec<SentenceDraft> = Vec::new();
    let mut by_sentence: BTreeMap<String, usize> = BTreeMap::new();
    for row in reader.records() {
        let row = row.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
            DatasetError::record(source_name, line, e.to_string())
        })?;
        let line = row.position().map(|p| p.line()).unwrap_or(0);
        stats.rows_read += 1;
        let get = |i: usize| row.get(i).unwrap_or("").trim().to_string();
        let opt = |c: Option<usize>| c.map(get).unwrap_or_default();
        let (sentence, span, sub_span, label) =
            (get(c_sentence), opt(c_span), opt(c_sub), get(c_label));
        if sentence.is_empty() || label.is_empty() {
            return Err(DatasetError::record(
                source_name,
                line as usize,
                "sentence and label must not be empty",
            ));
        }
        let index = *by_sentence.entry(sentence.clone()).or_insert_with(|| {
            drafts.push(SentenceDraft {
                sentence: sentence.clone(),
                first_line: line,
                skills: Vec::new(),
                spans: Vec::new(),
                rows: Vec::new(),
            });
            drafts.len() - 1
        });
        let draft = &mut drafts[index];
        let key = (span.clone(), sub_span, label.clone());
        if draft.rows.contains(&key) {
            stats.duplicate_rows += 1;
            continue;
        }
        draft.rows.push(key);

        let span_label = match label.as_str() {
            LABEL_NOT_PRESENT => {
                stats.label_not_present += 1;
                "LABEL_NOT_PRESENT"
            }
            UNDERSPECIFIED => {
                stats.underspecified += 1;
                "UNDERSPECIFIED"
            }
            _ => {
                if !draft.skills.contains(&label) {
                    draft.skills.push(label.clone());
                }
                "SKILL"
            }
        };
        if span.is_empty() {
            continue;
        }
        match find_chars(&draft.sentence, &span) {
            None => stats.unlocated_spans += 1,
            Some((start, end)) => {
                match draft
                    .spans
                    .iter_mut()
                    .find(|s| (s.start, s.end) == (start, end))
                {
                    // A linked label on the same interval wins over an unlinked one.
                    Some(existing) => {
                        if span_label == "SKILL" {
                            existing.label = "SKILL".into();
                        }
                    }
                    None => draft.spans.push(GoldSpan {
                        start,
                        end,
                        label: span_label.into(),
                    }),
                }
            }
        }
    }

    let records: Vec<LabeledRecord> = drafts
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            stats.gold_skills += d.skills.len() as u64;
            stats.gold_spans += d.spans.len() as u64;
            let mut meta = BTreeMap::new();
            meta.insert("dataset".into(), "esco-linked".into());
            meta.insert("source_file".into(), source_name.into());
            meta.insert("first_line".into(), d.first_line.into());
            LabeledRecord {
                id: format!("{id_prefix}-{:04}", i + 1),
                text: d.sentence,
                gold_skills: Some(
                    d.skills
                        .into_iter()
                        .map(|name| GoldSkill {
                            name,
                            category: None,
                        })
                        .collect(),
                ),
                gold_spans: c_span.map(|_| d.spans),
                gold_sections: None,
                meta,
            }
        })
        .collect();
    stats.records = records.len() as u64;
    if records.is_empty() {
        return Err(DatasetError::invalid(source_name, "no annotation rows"));
    }
    Ok((records, stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LabeledDataset;

    fn gold_names(r: &LabeledRecord) -> Vec<&str> {
        r.gold_skills
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|s| s.name.as_str())
            .collect()
    }

    #[test]
    fn skillspan_postings_become_span_records() {
        let jsonl = r#"{"split":"dev","source":"tech","idx":3,"n_sentences":1,"text":"Ünïcode docker agile","spans":[{"start":8,"end":14,"label":"KNOWLEDGE","text":"docker"}]}
{"split":"train","source":"house","idx":1,"text":"x","spans":[]}"#;
        let (records, stats) = import_skillspan(jsonl, "p.jsonl", Some("dev")).unwrap();
        assert_eq!(
            (stats.records, stats.filtered_out, stats.gold_spans),
            (1, 1, 1)
        );
        let r = &records[0];
        assert_eq!(r.id, "skillspan-tech-dev-3");
        assert!(r.gold_skills.is_none());
        assert_eq!(
            r.gold_spans.as_ref().unwrap()[0],
            GoldSpan {
                start: 8,
                end: 14,
                label: "KNOWLEDGE".into()
            }
        );
        // The output is a valid dataset.
        LabeledDataset::parse(&LabeledDataset::to_jsonl(&records), "out", None).unwrap();

        let wrong = r#"{"split":"dev","source":"tech","idx":3,"text":"abc","spans":[{"start":0,"end":2,"label":"SKILL","text":"bc"}]}"#;
        let e = import_skillspan(wrong, "p.jsonl", None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("p.jsonl:1:") && e.contains("spans[0]"), "{e}");
        assert!(import_skillspan(jsonl, "p.jsonl", Some("test"))
            .unwrap_err()
            .to_string()
            .contains("test"));
    }

    #[test]
    fn esco_rows_group_by_sentence_with_unlinked_labels_explicit() {
        let csv = "sentence,span,sub_span,label
javascript reactjs java,javascript,,JavaScript
javascript reactjs java,reactjs,,LABEL NOT PRESENT
javascript reactjs java,java,,Java (computer programming)
javascript reactjs java,javascript,,JavaScript
\"Apply your knowledge, daily\",apply your knowledge,,UNDERSPECIFIED
Teamwork matters,teamwork,,work in teams
Teamwork matters,not in sentence,,LABEL NOT PRESENT
";
        let (records, stats) = import_esco_linked(csv, "tech.csv", "esco-tech").unwrap();
        assert_eq!(stats.rows_read, 7);
        assert_eq!((stats.records, stats.duplicate_rows), (3, 1));
        assert_eq!(
            (
                stats.label_not_present,
                stats.underspecified,
                stats.unlocated_spans
            ),
            (2, 1, 1)
        );
        let first = &records[0];
        assert_eq!(first.id, "esco-tech-0001");
        let names = gold_names(first);
        assert_eq!(names, ["JavaScript", "Java (computer programming)"]);
        let spans = first.gold_spans.as_ref().unwrap();
        assert_eq!(
            spans[1],
            GoldSpan {
                start: 11,
                end: 18,
                label: "LABEL_NOT_PRESENT".into()
            }
        );
        // "java" first occurs inside "javascript": the whole word is preferred.
        assert_eq!((spans[2].start, spans[2].end), (19, 23));
        // all-unlinked sentence: annotated, empty gold set; case-insensitive span found
        let second = &records[1];
        assert_eq!(second.gold_skills.as_deref(), Some(&[][..]));
        assert_eq!(
            second.gold_spans.as_ref().unwrap()[0].label,
            "UNDERSPECIFIED"
        );
        assert_eq!(second.gold_spans.as_ref().unwrap()[0].start, 0);
        // third: the teamwork span located case-insensitively
        assert_eq!(records[2].gold_spans.as_ref().unwrap().len(), 1);
        LabeledDataset::parse(&LabeledDataset::to_jsonl(&records), "out", None).unwrap();

        let e = import_esco_linked("sentence,skill\nx,y\n", "bad.csv", "p")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.csv:1") && e.contains("\"label\""), "{e}");
        let e = import_esco_linked("sentence,sub_span,label\nx,y,z\n", "bad.csv", "p")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.csv:1") && e.contains("sub_span"), "{e}");
    }

    #[test]
    fn sentence_level_rows_give_gold_skills_and_no_gold_spans() {
        let csv = "sentence,label
Experience with SQL databases,use databases
Experience with SQL databases,SQL
Experience with SQL databases,use databases
Friendly and helpful,LABEL NOT PRESENT
Owns the roadmap,
";
        let e = import_esco_linked(csv, "s.csv", "esco-s")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.csv:6:") && e.contains("label"), "{e}");

        let csv = &csv[..csv.len() - "Owns the roadmap,\n".len()];
        let (records, stats) = import_esco_linked(csv, "s.csv", "esco-s").unwrap();
        assert_eq!((stats.rows_read, stats.records), (4, 2));
        assert_eq!((stats.duplicate_rows, stats.label_not_present), (1, 1));
        assert_eq!(stats.gold_spans, 0);
        let names = gold_names(&records[0]);
        assert_eq!(names, ["use databases", "SQL"]);
        assert!(records.iter().all(|r| r.gold_spans.is_none()));
        assert_eq!(records[1].gold_skills.as_deref(), Some(&[][..]));
        LabeledDataset::parse(&LabeledDataset::to_jsonl(&records), "out", None).unwrap();
    }
}
