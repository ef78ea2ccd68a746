//! User lexicon files (CSV or YAML) layered on top of the shipped lexicon.
//!
//! CSV: a header row with `canonical,category,surfaces` and optionally
//! `weight`; surfaces are `|`-separated (`=Go` is case-sensitive); the
//! canonical name itself is always a surface.
//!
//! YAML: a list of mappings with the same keys; `surfaces` is a flow list
//! (`[K8s, kube]`), a block list, or a `|`-separated string:
//! ```yaml
//! - canonical: Kubernetes
//!   category: devops_tools
//!   surfaces: [K8s, kube]
//!   weight: 0.9
//! ```
//! Only this subset of YAML is read; anything else is an error naming the line.

use crate::lexicon::{LexiconEntry, LexiconSource, SurfaceForm};
use crate::EngineError;
use jobenrich_domain::SkillCategory;
use std::path::Path;

const DEFAULT_USER_WEIGHT: f64 = 0.9;

/// Reads a user lexicon; `.yaml`/`.yml` files are YAML, anything else CSV.
pub fn load_user_lexicon(path: &Path) -> Result<Vec<LexiconEntry>, EngineError> {
    let text = std::fs::read_to_string(path).map_err(|e| EngineError::io(path, e))?;
    let is_yaml = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    if is_yaml {
        parse_yaml(path, &text)
    } else {
        parse_csv(path, &text)
    }
}

#[derive(Default)]
struct RawEntry {
    line: usize,
    canonical: Option<String>,
    category: Option<String>,
    surfaces: Vec<String>,
    weight: Option<String>,
}

fn finish(path: &Path, raw: RawEntry) -> Result<LexiconEntry, EngineError> {
    let line = raw.line;
    let canonical = raw
        .canonical
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| EngineError::format(path, line, "canonical", "is missing or empty"))?;
    let category_text = raw
        .category
        .ok_or_else(|| EngineError::format(path, line, "category", "is missing"))?;
    let category: SkillCategory =
        category_text
            .trim()
            .parse()
            .map_err(|e: jobenrich_domain::DomainError| {
                EngineError::format(path, line, "category", e.to_string())
            })?;
    let weight = match raw
        .weight
        .as_deref()
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        None => DEFAULT_USER_WEIGHT,
        Some(w) => w
            .parse::<f64>()
            .ok()
            .filter(|w| (0.0..=1.0).contains(w))
            .ok_or_else(|| {
                EngineError::format(
                    path,
                    line,
                    "weight",
                    format!("{w:?} is not a number in [0,1]"),
                )
            })?,
    };
    // The canonical name is a surface unless listed with its own casing rule (`=R`).
    let listed = raw
        .surfaces
        .iter()
        .any(|s| SurfaceForm::parse(s).text.eq_ignore_ascii_case(&canonical));
    let mut surfaces = if listed {
        Vec::new()
    } else {
        vec![SurfaceForm::new(canonical.clone(), false)]
    };
    for s in raw.surfaces.iter().filter(|s| !s.trim().is_empty()) {
        let form = SurfaceForm::parse(s);
        if form.text.chars().count() > 200 {
            return Err(EngineError::format(
                path,
                line,
                "surfaces",
                format!("{:?} is longer than 200 characters", form.text),
            ));
        }
        surfaces.push(form);
    }
    Ok(LexiconEntry {
        canonical,
        category,
        source: LexiconSource::User,
        weight,
        taxonomy_ref: None,
        surfaces,
    })
}

fn parse_csv(path: &Path, text: &str) -> Result<Vec<LexiconEntry>, EngineError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| EngineError::format(path, 1, "header", e.to_string()))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let canonical_col = col("canonical").ok_or_else(|| {
        EngineError::format(path, 1, "canonical", "header has no `canonical` column")
    })?;
    let category_col = col("category").ok_or_else(|| {
        EngineError::format(path, 1, "category", "header has no `category` column")
    })?;
    let surfaces_col = col("surfaces");
    let weight_col = col("weight");
    let mut entries = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
            EngineError::format(path, line, "row", e.to_string())
        })?;
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        let raw = RawEntry {
            line,
            canonical: record.get(canonical_col).map(str::to_string),
            category: record.get(category_col).map(str::to_string),
            surfaces: surfaces_col
                .and_then(|c| record.get(c))
                .map(|s| s.split('|').map(str::to_string).collect())
                .unwrap_or_default(),
            weight: weight_col.and_then(|c| record.get(c)).map(str::to_string),
        };
        entries.push(finish(path, raw)?);
    }
    Ok(entries)
}

fn unquote(value: &str) -> String {
    let v = value.trim();
    let stripped = v
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')));
    stripped.unwrap_or(v).to_string()
}

fn parse_yaml(path: &Path, text: &str) -> Result<Vec<LexiconEntry>, EngineError> {
    let mut entries = Vec::new();
    let mut current: Option<RawEntry> = None;
    let mut in_surface_block = false;
    for (i, raw_line) in text.lines().enumerate() {
        let line_no = i + 1;
        let without_comment = match raw_line.find(" #") {
            Some(p) => &raw_line[..p],
            None => raw_line,
        };
        if without_comment.trim().is_empty()
            || without_comment.trim_start().starts_with('#')
            || without_comment.trim() == "---"
        {
            continue;
        }
        let indent = without_comment.len() - without_comment.trim_start().len();
        let mut body = without_comment.trim();
        if indent == 0 {
            let Some(rest) = body.strip_prefix('-') else {
                return Err(EngineError::format(
                    path,
                    line_no,
                    "entry",
                    "expected a list item starting with `- `",
                ));
            };
            if let Some(done) = current.take() {
                entries.push(finish(path, done)?);
            }
            current = Some(RawEntry {
                line: line_no,
                ..RawEntry::default()
            });
            in_surface_block = false;
            body = rest.trim();
            if body.is_empty() {
                continue;
            }
        } else if in_surface_block {
            if let Some(item) = body.strip_prefix("- ") {
                if let Some(c) = current.as_mut() {
                    c.surfaces.push(unquote(item));
                }
                continue;
            }
            in_surface_block = false;
        }
        let Some(entry) = current.as_mut() else {
            return Err(EngineError::format(
                path,
                line_no,
                "entry",
                "key outside a list item",
            ));
        };
        let Some((key, value)) = body.split_once(':') else {
            return Err(EngineError::format(
                path,
                line_no,
                "entry",
                format!("expected `key: value`, got {body:?}"),
            ));
        };
        let key = key.trim();
        let value = value.trim();
        match key {
            "canonical" => entry.canonical = Some(unquote(value)),
            "category" => entry.category = Some(unquote(value)),
            "weight" => entry.weight = Some(unquote(value)),
            "surfaces" => {
                if value.is_empty() {
                    in_surface_block = true;
                } else if let Some(list) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']'))
                {
                    entry.surfaces.extend(list.split(',').map(unquote));
                } else {
                    entry
                        .surfaces
                        .extend(unquote(value).split('|').map(str::to_string));
                }
            }
            other => {
                return Err(EngineError::format(
                    path,
                    line_no,
                    other,
                    "unknown key (canonical, category, surfaces, weight)",
                ))
            }
        }
    }
    if let Some(done) = current.take() {
        entries.push(finish(path, done)?);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_become_entries_and_errors_name_the_line() {
        let p = Path::new("mine.csv");
        let ok = parse_csv(
            p,
            "canonical,category,surfaces,weight\nKubernetes,devops_tools,K8s|=Kube,0.8\n",
        )
        .unwrap();
        assert_eq!(ok[0].surfaces.len(), 3);
        assert!(ok[0].surfaces[2].case_sensitive);
        assert_eq!(ok[0].weight, 0.8);
        let err = parse_csv(p, "canonical,category\nA,devops_tools\nB,cobol\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mine.csv:3") && err.contains("`category`"),
            "{err}"
        );
    }

    #[test]
    fn yaml_subset_reads_flow_and_block_lists() {
        let p = Path::new("mine.yaml");
        let text = "# mine\n- canonical: Kubernetes\n  category: devops_tools\n  surfaces: [K8s, \"kube\"]\n- canonical: Go\n  category: programming_languages\n  surfaces:\n    - =Golang\n  weight: 0.7\n";
        let got = parse_yaml(p, text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].surfaces[1].text, "K8s");
        assert_eq!(got[1].surfaces[1], SurfaceForm::new("Golang", true));
        let err = parse_yaml(p, "- canonical: X\n  colour: red\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mine.yaml:2") && err.contains("`colour`"),
            "{err}"
        );
        let err = parse_yaml(p, "- canonical: X\n  category: devops_tools\n  weight: 2\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`weight`"), "{err}");
    }
}
