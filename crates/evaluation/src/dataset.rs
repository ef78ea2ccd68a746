//! The labeled dataset format: JSON Lines, one posting (or sentence) per line.
//!
//! ```json
//! {"id": "p1", "text": "Python and SQL.",
//!  "gold_skills": [{"name": "Python", "category": "programming_languages"}, {"name": "SQL"}],
//!  "gold_spans": [{"start": 0, "end": 6, "label": "KNOWLEDGE"}],
//!  "gold_sections": [{"start": 0, "end": 15, "section_type": "requirements"}],
//!  "meta": {"source": "tech"}}
//! ```
//!
//! A missing (or `null`) gold field means "not annotated at that level" and
//! the record is skipped by the metrics of that level; an empty list means
//! "annotated: there is none". Offsets count Unicode scalar values (`char`s),
//! `[start, end)`, like the domain's offsets and Python's string indices.
//! `dataset_version` is the SHA-256 of the file's bytes unless given.

use crate::DatasetError;
use jobenrich_domain::SkillCategory;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// Span labels that mark a real skill mention with no linkable gold skill
/// (ESCO-linked rows `LABEL NOT PRESENT` / `UNDERSPECIFIED`). Predictions that
/// fall entirely inside such spans are neither counted right nor wrong.
pub const UNLINKED_SPAN_LABELS: [&str; 2] = ["LABEL_NOT_PRESENT", "UNDERSPECIFIED"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldSkill {
    /// Canonical skill name; compared case-insensitively with collapsed spaces.
    pub name: String,
    /// `None` when the source does not say (ESCO-linked labels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<SkillCategory>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldSpan {
    pub start: u32,
    pub end: u32,
    /// `SKILL` / `KNOWLEDGE` (SkillSpan), `SKILL` or an unlinked label (ESCO-linked).
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldSection {
    pub start: u32,
    pub end: u32,
    /// The classifier's section type (`requirements`, `benefits`, `other`, …).
    pub section_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabeledRecord {
    pub id: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gold_skills: Option<Vec<GoldSkill>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gold_spans: Option<Vec<GoldSpan>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gold_sections: Option<Vec<GoldSection>>,
    /// Free provenance (source file, split, original index).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, serde_json::Value>,
}

impl LabeledRecord {
    /// Checks the rules JSON cannot express; the message names the field.
    pub fn check(&self) -> Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("id: must not be empty".into());
        }
        if self.text.is_empty() {
            return Err(format!("text of {:?}: must not be empty", self.id));
        }
        let len = self.text.chars().count() as u32;
        let in_text = |field: &str, i: usize, start: u32, end: u32| {
            if start >= end || end > len {
                Err(format!(
                    "{field}[{i}] of {:?}: need start < end <= text length {len} (chars), got [{start}, {end})",
                    self.id
                ))
            } else {
                Ok(())
            }
        };
        for (i, s) in self.gold_spans.iter().flatten().enumerate() {
            in_text("gold_spans", i, s.start, s.end)?;
        }
        for (i, s) in self.gold_sections.iter().flatten().enumerate() {
            in_text("gold_sections", i, s.start, s.end)?;
            if s.section_type.trim().is_empty() {
                return Err(format!(
                    "gold_sections[{i}] of {:?}: section_type must not be empty",
                    self.id
                ));
            }
        }
        for (i, s) in self.gold_skills.iter().flatten().enumerate() {
            if s.name.trim().is_empty() {
                return Err(format!(
                    "gold_skills[{i}] of {:?}: name must not be empty",
                    self.id
                ));
            }
        }
        Ok(())
    }
}

/// A loaded dataset with its version and origin.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledDataset {
    pub records: Vec<LabeledRecord>,
    /// `sha256:<first 16 hex digits of the content hash>` unless given.
    pub dataset_version: String,
    pub dataset_path: Option<String>,
}

/// `sha256:` + the first 16 hex digits of SHA-256 over the bytes: stable
/// across machines, changes whenever a label changes.
pub fn content_version(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

impl LabeledDataset {
    /// Parses JSONL text; errors name `source_name` and the 1-based line.
    /// Blank lines are skipped; ids must be unique.
    pub fn parse(
        text: &str,
        source_name: &str,
        dataset_version: Option<String>,
    ) -> Result<Self, DatasetError> {
        let mut records = Vec::new();
        let mut seen = HashSet::new();
        for (n, line) in text.lines().enumerate() {
            let line_no = n + 1;
            if line.trim().is_empty() {
                continue;
            }
            let record: LabeledRecord = serde_json::from_str(line)
                .map_err(|e| DatasetError::record(source_name, line_no, e.to_string()))?;
            record
                .check()
                .map_err(|m| DatasetError::record(source_name, line_no, m))?;
            if !seen.insert(record.id.clone()) {
                return Err(DatasetError::record(
                    source_name,
                    line_no,
                    format!("id {:?} appears twice", record.id),
                ));
            }
            records.push(record);
        }
        if records.is_empty() {
            return Err(DatasetError::invalid(source_name, "no records"));
        }
        Ok(Self {
            records,
            dataset_version: dataset_version.unwrap_or_else(|| content_version(text.as_bytes())),
            dataset_path: Some(source_name.to_string()),
        })
    }

    /// Reads and parses a JSONL file.
    pub fn load(path: &Path, dataset_version: Option<String>) -> Result<Self, DatasetError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| DatasetError::Io {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown, dataset_version)
    }

    /// The JSONL text of these records (one compact object per line).
    pub fn to_jsonl(records: &[LabeledRecord]) -> String {
        let mut out = String::new();
        for r in records {
            out.push_str(&serde_json::to_string(r).expect("records serialize"));
            out.push('\n');
        }
        out
    }

    pub fn has_gold_skills(&self) -> bool {
        self.records.iter().any(|r| r.gold_skills.is_some())
    }

    pub fn has_gold_spans(&self) -> bool {
        self.records.iter().any(|r| r.gold_spans.is_some())
    }

    pub fn has_gold_sections(&self) -> bool {
        self.records.iter().any(|r| r.gold_sections.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example_and_hashes_content() {
        let text = r#"{"id":"p1","text":"Python and SQL.","gold_skills":[{"name":"Python","category":"programming_languages"},{"name":"SQL"}],"gold_spans":[{"start":0,"end":6,"label":"KNOWLEDGE"}]}

{"id":"p2","text":"Nothing here.","gold_skills":[]}
"#;
        let d = LabeledDataset::parse(text, "s.jsonl", None).unwrap();
        assert_eq!(d.records.len(), 2);
        assert_eq!(
            d.records[0].gold_skills.as_ref().unwrap()[0].category,
            Some(SkillCategory::ProgrammingLanguages)
        );
        assert!(d.records[1].gold_spans.is_none());
        assert!(d.dataset_version.starts_with("sha256:"));
        assert_eq!(d.dataset_version.len(), "sha256:".len() + 16);
        let again = LabeledDataset::parse(text, "other name", None).unwrap();
        assert_eq!(d.dataset_version, again.dataset_version);
        let changed = LabeledDataset::parse(&text.replace("SQL\"}", "SQL2\"}"), "x", None).unwrap();
        assert_ne!(d.dataset_version, changed.dataset_version);
        let given = LabeledDataset::parse(text, "x", Some("gold-v1".into())).unwrap();
        assert_eq!(given.dataset_version, "gold-v1");
        // Round trip through the writer.
        let back = LabeledDataset::parse(&LabeledDataset::to_jsonl(&d.records), "w", None).unwrap();
        assert_eq!(back.records, d.records);
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let bad_category =
            r#"{"id":"a","text":"x","gold_skills":[{"name":"X","category":"cobol"}]}"#;
        let e = LabeledDataset::parse(bad_category, "f.jsonl", None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("f.jsonl:1:") && e.contains("cobol"), "{e}");

        let span_out_of_text = "{\"id\":\"a\",\"text\":\"ok\"}\n{\"id\":\"b\",\"text\":\"héllo\",\"gold_spans\":[{\"start\":2,\"end\":6,\"label\":\"SKILL\"}]}";
        let e = LabeledDataset::parse(span_out_of_text, "f.jsonl", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("f.jsonl:2:") && e.contains("gold_spans[0]"),
            "{e}"
        );

        let dup = "{\"id\":\"a\",\"text\":\"x\"}\n{\"id\":\"a\",\"text\":\"y\"}";
        let e = LabeledDataset::parse(dup, "f", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("f:2") && e.contains("twice"), "{e}");

        let unknown_field = r#"{"id":"a","text":"x","gold":[]}"#;
        assert!(LabeledDataset::parse(unknown_field, "f", None).is_err());
        assert!(LabeledDataset::parse("\n\n", "f", None)
            .unwrap_err()
            .to_string()
            .contains("no records"));
    }
}
