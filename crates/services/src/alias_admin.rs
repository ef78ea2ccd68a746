//! Administration of skill aliases (K8s → Kubernetes): add, list, deactivate,
//! and CSV import / export.
//!
//! CSV columns (header row required, order free; `export` writes all of them,
//! so an export imports back unchanged):
//!
//! | column | required | values |
//! |---|---|---|
//! | `alias_text` | yes | 1–50 characters, unique case-insensitively |
//! | `canonical_name` | yes | 1–100 characters |
//! | `category` | yes | a skill category (`programming_languages`, `devops_tools`, …) |
//! | `confidence` | no (1.0) | a number in [0, 1] |
//! | `source` | no (`manual`) | `manual`, `user_feedback`, `auto_detected` |
//! | `is_active` | no (`true`) | `true` / `false` |
//!
//! Import is atomic: every row is checked first, and one bad row (named by
//! file, line and field) stores nothing. Existing aliases are updated.

use chrono::{DateTime, Utc};
use jobenrich_domain::validation::Validate;
use jobenrich_domain::{
    AliasRepository, AliasSource, AliasUpsertCounts, SkillAlias, SkillCategory, StoreError,
};
use serde::Serialize;
use std::collections::HashMap;
use std::io::{Read, Write};
use thiserror::Error;

/// Columns `export` writes, in order.
pub const ALIAS_CSV_COLUMNS: [&str; 6] = [
    "alias_text",
    "canonical_name",
    "category",
    "confidence",
    "source",
    "is_active",
];

#[derive(Debug, Error)]
pub enum AliasAdminError {
    /// A row (or the header, line 1) that cannot be imported.
    #[error("{input}:{line}: field {field}: {reason}")]
    InvalidRow {
        input: String,
        line: u64,
        field: String,
        reason: String,
    },
    #[error("{input}: {reason}")]
    Unreadable { input: String, reason: String },
    #[error("alias {field}: {reason}")]
    InvalidAlias { field: String, reason: String },
    #[error("writing {output}")]
    Write {
        output: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An alias as a user gives it; defaults fill the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlias {
    pub alias_text: String,
    pub canonical_name: String,
    pub category: SkillCategory,
    pub confidence: f64,
    pub source: AliasSource,
    /// Who adds it (`cli:<user>` from `aliases add`; see docs/data-model.md).
    pub created_by: String,
}

impl NewAlias {
    fn into_alias(self, now: DateTime<Utc>) -> SkillAlias {
        SkillAlias {
            alias_id: jobenrich_domain::Uuid::new_v4(),
            alias_text: self.alias_text.trim().to_string(),
            canonical_name: self.canonical_name.trim().to_string(),
            skill_category: self.category,
            confidence: self.confidence,
            source: self.source,
            is_active: true,
            created_at: now,
            created_by: self.created_by,
            updated_at: now,
        }
    }
}

/// Adds one alias; fails with `AlreadyExists` if its text exists (any case).
pub async fn add_alias(
    aliases: &dyn AliasRepository,
    alias: NewAlias,
    now: DateTime<Utc>,
) -> Result<SkillAlias, AliasAdminError> {
    let alias = alias.into_alias(now);
    alias
        .validate()
        .map_err(|e| AliasAdminError::InvalidAlias {
            field: e.field.to_string(),
            reason: e.rule,
        })?;
    aliases.add_alias(&alias).await?;
    Ok(alias)
}

pub async fn list_aliases(
    aliases: &dyn AliasRepository,
    include_inactive: bool,
) -> Result<Vec<SkillAlias>, AliasAdminError> {
    Ok(aliases.list_aliases(!include_inactive).await?)
}

pub async fn deactivate_alias(
    aliases: &dyn AliasRepository,
    alias_text: &str,
    now: DateTime<Utc>,
) -> Result<SkillAlias, AliasAdminError> {
    Ok(aliases.deactivate_alias(alias_text, now).await?)
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AliasImportReport {
    pub rows: u64,
    pub inserted: u64,
    pub updated: u64,
}

/// Parses and checks every row of an alias CSV (nothing is stored).
pub fn parse_alias_csv<R: Read>(
    reader: R,
    input: &str,
    now: DateTime<Utc>,
) -> Result<Vec<SkillAlias>, AliasAdminError> {
    // Who added them: the imported file (docs/data-model.md).
    let created_by = format!(
        "import:{}",
        std::path::Path::new(input)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| input.to_string())
    );
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(reader);
    let header_error = |reason: String| AliasAdminError::Unreadable {
        input: input.to_string(),
        reason: format!("line 1: {reason}"),
    };
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| header_error(format!("CSV header: {e}")))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    let column = |name: &str| headers.iter().position(|h| h == name);
    for h in &headers {
        if !ALIAS_CSV_COLUMNS.contains(&h.as_str()) {
            return Err(AliasAdminError::InvalidRow {
                input: input.to_string(),
                line: 1,
                field: h.clone(),
                reason: format!("unknown column (expected {})", ALIAS_CSV_COLUMNS.join(", ")),
            });
        }
    }
    for required in ["alias_text", "canonical_name", "category"] {
        if column(required).is_none() {
            return Err(AliasAdminError::InvalidRow {
                input: input.to_string(),
                line: 1,
                field: required.to_string(),
                reason: "required column missing from the header".to_string(),
            });
        }
    }

    let mut out = Vec::new();
    let mut first_line_of: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            AliasAdminError::InvalidRow {
                input: input.to_string(),
                line,
                field: "(row)".to_string(),
                reason: match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("expected {expected_len} fields like the header, got {len}"),
                    _ => e.to_string(),
                },
            }
        })?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let bad = |field: &str, reason: String| AliasAdminError::InvalidRow {
            input: input.to_string(),
            line,
            field: field.to_string(),
            reason,
        };
        let get = |name: &str| -> Option<&str> {
            column(name)
                .and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let required = |name: &str| get(name).ok_or_else(|| bad(name, "must not be empty".into()));
        let category: SkillCategory = required("category")?
            .parse()
            .map_err(|e: jobenrich_domain::DomainError| bad("category", e.to_string()))?;
        let confidence = match get("confidence") {
            Some(text) => text
                .parse::<f64>()
                .map_err(|_| bad("confidence", format!("{text:?} is not a number")))?,
            None => 1.0,
        };
        let source = match get("source") {
            Some(text) => text
                .parse::<AliasSource>()
                .map_err(|e| bad("source", e.to_string()))?,
            None => AliasSource::Manual,
        };
        let is_active = match get("is_active") {
            Some(text) => parse_bool(text)
                .ok_or_else(|| bad("is_active", format!("{text:?} is not true or false")))?,
            None => true,
        };
        let alias = SkillAlias {
            alias_id: jobenrich_domain::Uuid::new_v4(),
            alias_text: required("alias_text")?.to_string(),
            canonical_name: required("canonical_name")?.to_string(),
            skill_category: category,
            confidence,
            source,
            is_active,
            created_at: now,
            created_by: created_by.clone(),
            updated_at: now,
        };
        alias.validate().map_err(|e| bad(e.field, e.rule.clone()))?;
        let key = SkillAlias::normalized_key(&alias.alias_text);
        if let Some(first) = first_line_of.insert(key, line) {
            return Err(bad(
                "alias_text",
                format!(
                    "{:?} repeats the alias of line {first} (aliases are unique case-insensitively)",
                    alias.alias_text
                ),
            ));
        }
        out.push(alias);
    }
    Ok(out)
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// Imports an alias CSV atomically: all rows or none.
pub async fn import_aliases<R: Read>(
    aliases: &dyn AliasRepository,
    reader: R,
    input: &str,
    now: DateTime<Utc>,
) -> Result<AliasImportReport, AliasAdminError> {
    let parsed = parse_alias_csv(reader, input, now)?;
    if parsed.is_empty() {
        return Ok(AliasImportReport::default());
    }
    let AliasUpsertCounts { inserted, updated } = aliases.upsert_aliases(&parsed).await?;
    Ok(AliasImportReport {
        rows: parsed.len() as u64,
        inserted,
        updated,
    })
}

/// What seeding the shipped aliases did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AliasSeedReport {
    /// Shipped aliases stored now.
    pub added: u64,
    /// Shipped aliases whose text the store already holds (kept as they are).
    pub already_present: u64,
}

/// Stores each alias of the shipped alias CSV whose text the store does not
/// hold yet, with source `manual`. An alias already present — a user's own,
/// an edited or a deactivated one — is never overwritten, so seeding happens
/// once per alias and a later `migrate` undoes no change a user made.
pub async fn seed_shipped_aliases<R: Read>(
    aliases: &dyn AliasRepository,
    reader: R,
    input: &str,
    now: DateTime<Utc>,
) -> Result<AliasSeedReport, AliasAdminError> {
    let shipped = parse_alias_csv(reader, input, now)?;
    // Who added them: the release (docs/data-model.md), not a user's import.
    let created_by = format!(
        "shipped:{}",
        std::path::Path::new(input)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| input.to_string())
    );
    let existing: std::collections::HashSet<String> = aliases
        .list_aliases(false)
        .await?
        .iter()
        .map(|a| SkillAlias::normalized_key(&a.alias_text))
        .collect();
    let (present, missing): (Vec<SkillAlias>, Vec<SkillAlias>) = shipped
        .into_iter()
        .map(|mut a| {
            a.source = AliasSource::Manual;
            a.created_by = created_by.clone();
            a
        })
        .partition(|a| existing.contains(&SkillAlias::normalized_key(&a.alias_text)));
    if !missing.is_empty() {
        aliases.upsert_aliases(&missing).await?;
    }
    Ok(AliasSeedReport {
        added: missing.len() as u64,
        already_present: present.len() as u64,
    })
}

/// Writes every alias (active and inactive) as CSV; returns how many.
pub async fn export_aliases<W: Write>(
    aliases: &dyn AliasRepository,
    writer: W,
    output: &str,
) -> Result<u64, AliasAdminError> {
    let all = aliases.list_aliases(false).await?;
    let write_error = |e: csv::Error| AliasAdminError::Write {
        output: output.to_string(),
        source: std::io::Error::other(e.to_string()),
    };
    let mut csv_writer = csv::Writer::from_writer(writer);
    csv_writer
        .write_record(ALIAS_CSV_COLUMNS)
        .map_err(write_error)?;
    for alias in &all {
        csv_writer
            .write_record([
                alias.alias_text.as_str(),
                alias.canonical_name.as_str(),
                alias.skill_category.as_str(),
                &alias.confidence.to_string(),
                alias.source.as_str(),
                if alias.is_active { "true" } else { "false" },
            ])
            .map_err(write_error)?;
    }
    csv_writer
        .flush()
        .map_err(|source| AliasAdminError::Write {
            output: output.to_string(),
            source,
        })?;
    Ok(all.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<SkillAlias>, AliasAdminError> {
        parse_alias_csv(text.as_bytes(), "aliases.csv", Utc::now())
    }

    #[test]
    fn rows_with_defaults_parse() {
        let aliases = parse(
            "alias_text,canonical_name,category,confidence\nK8s,Kubernetes,devops_tools,0.95\nJS,JavaScript,programming_languages,\n",
        )
        .unwrap();
        assert_eq!(aliases.len(), 2);
        assert_eq!(aliases[0].confidence, 0.95);
        assert_eq!(aliases[1].confidence, 1.0);
        assert_eq!(aliases[1].source, AliasSource::Manual);
        assert!(aliases[1].is_active);
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let cases = [
            ("alias_text,canonical_name\nK8s,Kubernetes\n", "aliases.csv:1: field category"),
            ("alias_text,canonical_name,category,colour\n", "aliases.csv:1: field colour"),
            (
                "alias_text,canonical_name,category\nK8s,Kubernetes,devops_tools\nJS,JavaScript,cobol\n",
                "aliases.csv:3: field category",
            ),
            (
                "alias_text,canonical_name,category,confidence\nK8s,Kubernetes,devops_tools,1.5\n",
                "aliases.csv:2: field confidence",
            ),
            (
                "alias_text,canonical_name,category\nK8s,Kubernetes,devops_tools\nk8S,Kubernetes,devops_tools\n",
                "aliases.csv:3: field alias_text",
            ),
            (
                "alias_text,canonical_name,category\n,Kubernetes,devops_tools\n",
                "aliases.csv:2: field alias_text",
            ),
            (
                "alias_text,canonical_name,category\nK8s,Kubernetes\n",
                "aliases.csv:2: field (row)",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{text:?}: {err}");
        }
    }
}
