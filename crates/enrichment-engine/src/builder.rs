//! The lexicon builder behind `jobenrich lexicon build`: compiles ESCO v1.1.1
//! (all skills with alternative labels, collection groups), O*NET Technology
//! Skills (commodity class, Hot Technology) and the curated tech list into the
//! one shipped lexicon file. Categories come from the reviewed mapping table
//! (`data/lexicon/category_mapping.csv`), never from code.
//!
//! Files read, relative to `taxonomy_dir`:
//! `esco-v1.1.1-all-skills/skills_en.csv`, `esco-v1.1.1/{digital,transversal,
//! language}SkillsCollection_en.csv`, `onet/technology_skills.tsv`. Files read
//! beside the mapping: `tech_core.csv` (curated canonical tech skills) and
//! `common_words.txt` (single words too generic to be a skill on their own).

use crate::lexicon::{write_entries, LexiconEntry, LexiconSource, SurfaceForm};
use crate::EngineError;
use chrono::{DateTime, Utc};
use jobenrich_domain::{AliasSource, SkillAlias, SkillCategory};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

pub const SHIPPED_MAPPING_FILE: &str = "category_mapping.csv";
/// The files `build_lexicon` reads from its taxonomy folder.
pub const TAXONOMY_FILES: [&str; 5] = [
    "onet/technology_skills.tsv",
    "esco-v1.1.1/languageSkillsCollection_en.csv",
    "esco-v1.1.1/transversalSkillsCollection_en.csv",
    "esco-v1.1.1/digitalSkillsCollection_en.csv",
    "esco-v1.1.1-all-skills/skills_en.csv",
];
pub const SHIPPED_ALIASES_FILE: &str = "aliases.csv";
const TECH_CORE_FILE: &str = "tech_core.csv";
const COMMON_WORDS_FILE: &str = "common_words.txt";

/// What a build produced, for the CLI to print.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct LexiconBuildReport {
    pub curated_entries: usize,
    pub onet_products: usize,
    pub esco_skills: usize,
    /// ESCO skills merged into a curated or O*NET entry (same skill).
    pub esco_linked: usize,
    pub entries_written: usize,
    pub surfaces_written: usize,
    /// Surface forms dropped as too generic, too short or too long.
    pub surfaces_dropped: usize,
    /// O*NET commodity titles missing from the mapping (mapped to software_tools).
    pub unmapped_commodities: Vec<String>,
    pub bytes_written: u64,
    pub entries_per_category: BTreeMap<String, usize>,
}

struct CategoryMapping {
    rows: HashMap<(String, String), SkillCategory>,
}

impl CategoryMapping {
    fn load(path: &Path) -> Result<Self, EngineError> {
        let mut reader = csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .from_path(path)
            .map_err(|e| EngineError::format(path, 0, "file", e.to_string()))?;
        let mut rows = HashMap::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                EngineError::format(
                    path,
                    e.position().map_or(0, |p| p.line() as usize),
                    "row",
                    e.to_string(),
                )
            })?;
            let line = record.position().map_or(0, |p| p.line() as usize);
            let (Some(source), Some(key), Some(category)) =
                (record.get(0), record.get(1), record.get(2))
            else {
                return Err(EngineError::format(
                    path,
                    line,
                    "row",
                    "expected source,key,category",
                ));
            };
            if !matches!(
                source,
                "esco_collection" | "esco_group" | "esco_skill_type" | "onet_commodity"
            ) {
                return Err(EngineError::format(
                    path,
                    line,
                    "source",
                    format!("unknown source {source:?} (esco_collection, esco_group, esco_skill_type, onet_commodity)"),
                ));
            }
            let category: SkillCategory =
                category
                    .parse()
                    .map_err(|e: jobenrich_domain::DomainError| {
                        EngineError::format(path, line, "category", e.to_string())
                    })?;
            rows.insert((source.to_string(), key.to_lowercase()), category);
        }
        Ok(CategoryMapping { rows })
    }

    fn get(&self, source: &str, key: &str) -> Option<SkillCategory> {
        self.rows
            .get(&(source.to_string(), key.to_lowercase()))
            .copied()
    }
}

fn read(path: &Path) -> Result<String, EngineError> {
    std::fs::read_to_string(path).map_err(|e| EngineError::io(path, e))
}

fn csv_records(
    path: &Path,
    delimiter: u8,
) -> Result<(csv::StringRecord, Vec<csv::StringRecord>), EngineError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .quoting(delimiter == b',')
        .from_path(path)
        .map_err(|e| EngineError::format(path, 0, "file", e.to_string()))?;
    let headers = reader
        .headers()
        .map_err(|e| EngineError::format(path, 1, "header", e.to_string()))?
        .clone();
    let mut out = Vec::new();
    for r in reader.records() {
        out.push(r.map_err(|e| {
            EngineError::format(
                path,
                e.position().map_or(0, |p| p.line() as usize),
                "row",
                e.to_string(),
            )
        })?);
    }
    Ok((headers, out))
}

fn column(path: &Path, headers: &csv::StringRecord, name: &str) -> Result<usize, EngineError> {
    headers
        .iter()
        .position(|h| h.trim_start_matches('\u{feff}') == name)
        .ok_or_else(|| EngineError::format(path, 1, name, "missing column"))
}

/// Strips a trailing qualifier: `Python (computer programming)` → `Python`.
fn strip_qualifier(label: &str) -> &str {
    match label.find(" (") {
        Some(p) if label.ends_with(')') => label[..p].trim(),
        _ => label.trim(),
    }
}

/// Vendor products whose short name is an ordinary word but is still used
/// alone in postings; matched case-sensitively.
const COMMON_WORD_PRODUCTS: &[&str] =
    &["Excel", "Word", "Access", "Outlook", "Visio", "PowerPoint"];

/// One-word leftovers of vendor-prefixed O*NET products that are ordinary
/// words in postings (checked on the SkillSpan train split: `World`, `Cloud`,
/// `Drive` and `software` were the commonest false positives).
const GENERIC_LEFTOVERS: &[&str] = &[
    "Ads",
    "AIR",
    "Analytics",
    "Calendar",
    "Checkout",
    "Chrome",
    "Classroom",
    "Clinical",
    "Cloud",
    "Combustion",
    "Connect",
    "Continuum",
    "Contribute",
    "Database",
    "Designer",
    "Director",
    "Docs",
    "Drive",
    "Dynamics",
    "Exchange",
    "Flex",
    "Inventory",
    "IQ",
    "Maintenance",
    "Mechanical",
    "Meet",
    "Middleware",
    "Money",
    "Notes",
    "Paint",
    "Persuasion",
    "Presenter",
    "Project",
    "Publisher",
    "Rational",
    "Reports",
    "Scholar",
    "Sheets",
    "Sites",
    "Slides",
    "Smoke",
    "Teams",
    "Video",
    "Works",
    "World",
    "software",
];

const VENDOR_PREFIXES: &[&str] = &[
    "Microsoft ",
    "Oracle ",
    "Adobe ",
    "IBM ",
    "Google ",
    "Apache ",
    "Amazon ",
    "SAP ",
    "Autodesk ",
    "Atlassian ",
    "Salesforce ",
    "The MathWorks ",
    "Apple ",
    "Red Hat ",
];

/// A taxonomy label whose first word is one of these is a fragment of a
/// longer label (ESCO ships `and control supplies`, `to guarantee customer
/// satisfaction`, `be a driving force`), not a way a posting names a skill;
/// matched, they fire on every `and`/`the`/`to` of a posting.
const FUNCTION_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "if", "in", "into", "is",
    "its", "not", "of", "on", "or", "our", "such", "that", "the", "their", "these", "this", "to",
    "we", "with", "you", "your",
];

struct SurfaceFilter {
    common: HashSet<String>,
    dropped: usize,
}

impl SurfaceFilter {
    /// A cleaned surface, or None when it is too short, too long, too generic.
    fn accept(&mut self, raw: &str, max_words: usize) -> Option<SurfaceForm> {
        let text = raw.trim().replace(['\t', '|'], " ");
        let text = text.trim();
        let words = text.split_whitespace().count();
        let chars = text.chars().count();
        let lower = text.to_lowercase();
        let too_generic = words == 1 && self.common.contains(&lower);
        if !(2..=80).contains(&chars)
            || words > max_words
            || too_generic
            || !text.chars().any(char::is_alphabetic)
        {
            self.dropped += 1;
            return None;
        }
        // Short capitalized names are matched with their casing so they do
        // not fire on ordinary words (`SAP` vs `sap`, `Go` vs `go`).
        let case_sensitive = chars <= 2 && text.chars().any(char::is_uppercase);
        Some(SurfaceForm::new(text.to_string(), case_sensitive))
    }

    /// `accept` for ESCO alternative labels, which also drops label
    /// fragments (preferred labels such as `be at ease in unsafe
    /// environments` and O*NET names such as `The Foundry Nuke` are kept).
    fn accept_alt_label(&mut self, raw: &str, max_words: usize) -> Option<SurfaceForm> {
        let mut words = raw.split_whitespace();
        let first = words.next().unwrap_or("").to_lowercase();
        if words.next().is_some() && FUNCTION_WORDS.contains(&first.as_str()) {
            self.dropped += 1;
            return None;
        }
        self.accept(raw, max_words)
    }
}

fn push_surface(entry: &mut LexiconEntry, surface: SurfaceForm) {
    if !entry
        .surfaces
        .iter()
        .any(|s| s.text.eq_ignore_ascii_case(&surface.text))
    {
        entry.surfaces.push(surface);
    }
}

/// Builds the lexicon file; see the module docs for the inputs.
pub fn build_lexicon(
    taxonomy_dir: &Path,
    mapping: &Path,
    out: &Path,
) -> Result<LexiconBuildReport, EngineError> {
    let mapping_dir = mapping.parent().unwrap_or(Path::new("."));
    let categories = CategoryMapping::load(mapping)?;
    let common: HashSet<String> = read(&mapping_dir.join(COMMON_WORDS_FILE))?
        .lines()
        .map(|l| l.trim().to_lowercase())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let mut filter = SurfaceFilter { common, dropped: 0 };
    let mut report = LexiconBuildReport::default();
    let mut entries: Vec<LexiconEntry> = Vec::new();
    // lowercase canonical or surface → entry index, for linking sources.
    let mut index: HashMap<String, usize> = HashMap::new();

    // 1. Curated tech skills: canonical names users expect (`Kubernetes`).
    let core_path = mapping_dir.join(TECH_CORE_FILE);
    for mut entry in crate::user_lexicon::load_user_lexicon(&core_path)? {
        entry.source = LexiconSource::Curated;
        for s in &entry.surfaces {
            index.entry(s.text.to_lowercase()).or_insert(entries.len());
        }
        entries.push(entry);
        report.curated_entries += 1;
    }

    // 2. O*NET Technology Skills: one entry per product.
    let onet_path = taxonomy_dir.join("onet/technology_skills.tsv");
    let (headers, rows) = csv_records(&onet_path, b'\t')?;
    let (c_example, c_code, c_title, c_hot) = (
        column(&onet_path, &headers, "Example")?,
        column(&onet_path, &headers, "Commodity Code")?,
        column(&onet_path, &headers, "Commodity Title")?,
        column(&onet_path, &headers, "Hot Technology")?,
    );
    let mut products: BTreeMap<String, (String, String, bool)> = BTreeMap::new();
    for r in &rows {
        let example = r.get(c_example).unwrap_or("").trim().to_string();
        if example.is_empty() {
            continue;
        }
        let hot = r.get(c_hot) == Some("Y");
        let slot = products.entry(example).or_insert_with(|| {
            (
                r.get(c_code).unwrap_or("").to_string(),
                r.get(c_title).unwrap_or("").to_string(),
                hot,
            )
        });
        slot.2 |= hot;
    }
    let mut unmapped = std::collections::BTreeSet::new();
    for (example, (code, title, hot)) in products {
        let stripped = VENDOR_PREFIXES
            .iter()
            .find_map(|p| example.strip_prefix(p))
            .map(str::to_string);
        let linked = index
            .get(&example.to_lowercase())
            .or_else(|| stripped.as_ref().and_then(|s| index.get(&s.to_lowercase())))
            .copied();
        if let Some(i) = linked {
            let e = &mut entries[i];
            if e.taxonomy_ref.is_none() {
                e.taxonomy_ref = Some(format!("onet:{code}"));
            }
            if let Some(s) = filter.accept(&example, 8) {
                push_surface(e, s);
            }
            continue;
        }
        let category = categories.get("onet_commodity", &title).unwrap_or_else(|| {
            unmapped.insert(title.clone());
            SkillCategory::SoftwareTools
        });
        let Some(surface) = filter.accept(&example, 8) else {
            continue;
        };
        let mut entry = LexiconEntry {
            canonical: example.clone(),
            category,
            source: LexiconSource::Onet,
            weight: if hot { 0.85 } else { 0.75 },
            taxonomy_ref: Some(format!("onet:{code}")),
            surfaces: vec![surface],
        };
        if let Some(short) = stripped {
            // `Microsoft Excel` is also written `Excel`; one-word leftovers
            // that are ordinary words keep their capital (`=Word`).
            let short_lower = short.to_lowercase();
            if GENERIC_LEFTOVERS.contains(&short.as_str()) {
                // `IBM Cloud` is not written `Cloud`: the bare word is no evidence.
            } else if short.split_whitespace().count() == 1 && filter.common.contains(&short_lower)
            {
                // Most such leftovers are plain words (`Autodesk World` -> `World`,
                // `IBM Cloud` -> `Cloud`): keep only well-known product names.
                if COMMON_WORD_PRODUCTS.contains(&short.as_str()) {
                    push_surface(&mut entry, SurfaceForm::new(short.clone(), true));
                }
            } else if let Some(s) = filter.accept(&short, 8) {
                push_surface(&mut entry, s);
            }
        }
        for s in &entry.surfaces {
            index.entry(s.text.to_lowercase()).or_insert(entries.len());
        }
        entries.push(entry);
        report.onet_products += 1;
    }
    report.unmapped_commodities = unmapped.into_iter().collect();

    // 3. ESCO: collection groups for categories, then every skill.
    let esco_dir = taxonomy_dir.join("esco-v1.1.1");
    let mut collection_of: HashMap<String, (&'static str, Vec<String>)> = HashMap::new();
    for (file, collection) in [
        ("languageSkillsCollection_en.csv", "language"),
        ("transversalSkillsCollection_en.csv", "transversal"),
        ("digitalSkillsCollection_en.csv", "digital"),
    ] {
        let path = esco_dir.join(file);
        let (headers, rows) = csv_records(&path, b',')?;
        let c_label = column(&path, &headers, "preferredLabel")?;
        let c_group = column(&path, &headers, "broaderConceptPT")?;
        for r in rows {
            let label = r.get(c_label).unwrap_or("").trim().to_lowercase();
            let groups = r
                .get(c_group)
                .unwrap_or("")
                .split('|')
                .map(|g| g.trim().to_string())
                .filter(|g| !g.is_empty())
                .collect();
            collection_of.entry(label).or_insert((collection, groups));
        }
    }
    let esco_path = taxonomy_dir.join("esco-v1.1.1-all-skills/skills_en.csv");
    let (headers, rows) = csv_records(&esco_path, b',')?;
    let (c_pref, c_alt, c_type) = (
        column(&esco_path, &headers, "preferredLabel")?,
        column(&esco_path, &headers, "altLabels")?,
        column(&esco_path, &headers, "skillType")?,
    );
    for r in &rows {
        let pref = r.get(c_pref).unwrap_or("").trim();
        if pref.is_empty() {
            continue;
        }
        let skill_type = r.get(c_type).unwrap_or("").trim();
        let collection = collection_of.get(&pref.to_lowercase());
        let category = collection
            .and_then(|(name, groups)| {
                groups
                    .iter()
                    .find_map(|g| categories.get("esco_group", g))
                    .or_else(|| categories.get("esco_collection", name))
            })
            .or_else(|| categories.get("esco_skill_type", skill_type))
            .unwrap_or(SkillCategory::DomainKnowledge);
        let short = strip_qualifier(pref);
        let linked = index
            .get(&short.to_lowercase())
            .or_else(|| index.get(&pref.to_lowercase()))
            .copied();
        let mut surfaces = Vec::new();
        for raw in [pref, short] {
            if let Some(s) = filter.accept(raw, 7) {
                surfaces.push(s);
            }
        }
        for raw in r.get(c_alt).unwrap_or("").lines() {
            // A surface form names its own skill: an alternative label that
            // already names another entry (`tensorflow` under ESCO's
            // `computer vision`) is that entry's, not an alias of this one.
            let owner = index.get(&raw.trim().to_lowercase()).copied();
            if owner.is_some() && owner != linked {
                filter.dropped += 1;
                continue;
            }
            if let Some(s) = filter.accept_alt_label(raw, 7) {
                surfaces.push(s);
            }
        }
        if let Some(i) = linked {
            let e = &mut entries[i];
            e.taxonomy_ref = Some(format!("esco:{pref}"));
            for s in surfaces {
                push_surface(e, s);
            }
            report.esco_linked += 1;
            continue;
        }
        if surfaces.is_empty() {
            continue;
        }
        let digital = collection.is_some_and(|(n, _)| *n == "digital");
        let base = if skill_type == "knowledge" { 0.7 } else { 0.65 };
        let mut entry = LexiconEntry {
            canonical: pref.to_string(),
            category,
            source: LexiconSource::Esco,
            weight: if digital { base + 0.1 } else { base },
            taxonomy_ref: Some(format!("esco:{pref}")),
            surfaces: Vec::new(),
        };
        for s in surfaces {
            push_surface(&mut entry, s);
        }
        for s in &entry.surfaces {
            index.entry(s.text.to_lowercase()).or_insert(entries.len());
        }
        entries.push(entry);
        report.esco_skills += 1;
    }

    report.entries_written = entries.len();
    report.surfaces_written = entries.iter().map(|e| e.surfaces.len()).sum();
    report.surfaces_dropped = filter.dropped;
    for e in &entries {
        *report
            .entries_per_category
            .entry(e.category.as_str().to_string())
            .or_default() += 1;
    }
    write_entries(out, &entries)?;
    report.bytes_written = std::fs::metadata(out)
        .map_err(|e| EngineError::io(out, e))?
        .len();
    Ok(report)
}

/// Reads an alias table CSV (`alias_text,canonical_name,category,confidence`)
/// as active, manual `SkillAlias` rows stamped `now`; errors name the line.
pub fn load_alias_csv(path: &Path, now: DateTime<Utc>) -> Result<Vec<SkillAlias>, EngineError> {
    // Who added them, as docs/data-model.md decides for CSV imports.
    let created_by = format!(
        "import:{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let (headers, rows) = csv_records(path, b',')?;
    let c_alias = column(path, &headers, "alias_text")?;
    let c_canonical = column(path, &headers, "canonical_name")?;
    let c_category = column(path, &headers, "category")?;
    let c_confidence = column(path, &headers, "confidence")?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let line = r.position().map_or(0, |p| p.line() as usize);
        let get = |c: usize| r.get(c).unwrap_or("").trim().to_string();
        let category: SkillCategory =
            get(c_category)
                .parse()
                .map_err(|e: jobenrich_domain::DomainError| {
                    EngineError::format(path, line, "category", e.to_string())
                })?;
        let confidence: f64 = get(c_confidence)
            .parse()
            .ok()
            .filter(|c| (0.0..=1.0).contains(c))
            .ok_or_else(|| {
                EngineError::format(path, line, "confidence", "must be a number in [0,1]")
            })?;
        let alias_text = get(c_alias);
        let canonical_name = get(c_canonical);
        if alias_text.is_empty() {
            return Err(EngineError::format(path, line, "alias_text", "is empty"));
        }
        if canonical_name.is_empty() {
            return Err(EngineError::format(
                path,
                line,
                "canonical_name",
                "is empty",
            ));
        }
        out.push(SkillAlias {
            alias_id: jobenrich_domain::Uuid::new_v4(),
            alias_text,
            canonical_name,
            skill_category: category,
            confidence,
            source: AliasSource::Manual,
            is_active: true,
            created_at: now,
            created_by: created_by.clone(),
            updated_at: now,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifiers_are_stripped() {
        assert_eq!(strip_qualifier("Python (computer programming)"), "Python");
        assert_eq!(strip_qualifier("JavaScript"), "JavaScript");
    }
}
