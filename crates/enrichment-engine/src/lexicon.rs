//! The compiled skills lexicon: canonical skills with their category, source,
//! prior precision and surface forms, plus one phrase matcher over all surface
//! forms, built once and shared (`Arc<Lexicon>`) by every engine.
//!
//! File format (`data/lexicon/lexicon.tsv`, UTF-8, one skill per line, `#`
//! comments): `canonical \t category \t source \t weight \t taxonomy_ref \t
//! surfaces`, where surfaces are `|`-separated and a leading `=` marks a
//! surface matched case-sensitively (`=R`, `=Go`).

use crate::phrase_matcher::{FastMap, PhraseMatcher};
use crate::EngineError;
use jobenrich_domain::SkillCategory;
use std::collections::HashMap;
use std::path::Path;

/// File name of the shipped lexicon inside `data/lexicon/`.
pub const SHIPPED_LEXICON_FILE: &str = "lexicon.tsv";

/// Where a lexicon entry came from; decides which entry owns a surface form
/// claimed by several (user > curated > O*NET > ESCO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LexiconSource {
    Esco,
    Onet,
    Curated,
    User,
}

impl LexiconSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LexiconSource::Esco => "esco",
            LexiconSource::Onet => "onet",
            LexiconSource::Curated => "curated",
            LexiconSource::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "esco" => LexiconSource::Esco,
            "onet" => LexiconSource::Onet,
            "curated" => LexiconSource::Curated,
            "user" => LexiconSource::User,
            _ => return None,
        })
    }
}

/// One way a skill is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurfaceForm {
    pub text: String,
    /// Matched only with exactly this casing (`R`, `Go`, `SAP`).
    pub case_sensitive: bool,
}

impl SurfaceForm {
    pub fn new(text: impl Into<String>, case_sensitive: bool) -> Self {
        Self {
            text: text.into(),
            case_sensitive,
        }
    }

    /// Parses the file notation (`=Go` is case-sensitive).
    pub fn parse(notation: &str) -> Self {
        match notation.strip_prefix('=') {
            Some(rest) => Self::new(rest.trim(), true),
            None => Self::new(notation.trim(), false),
        }
    }

    fn notation(&self) -> String {
        if self.case_sensitive {
            format!("={}", self.text)
        } else {
            self.text.clone()
        }
    }
}

/// A canonical skill with everything needed to find and describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct LexiconEntry {
    pub canonical: String,
    pub category: SkillCategory,
    pub source: LexiconSource,
    /// Prior precision of a bare lexicon match, in [0,1].
    pub weight: f64,
    /// `esco:<preferred label>` or `onet:<commodity code>` when known.
    pub taxonomy_ref: Option<String>,
    pub surfaces: Vec<SurfaceForm>,
}

impl LexiconEntry {
    /// The ESCO preferred label this skill is linked to, if any.
    pub fn esco_label(&self) -> Option<&str> {
        self.taxonomy_ref.as_deref()?.strip_prefix("esco:")
    }

    pub(crate) fn to_line(&self) -> String {
        let surfaces: Vec<String> = self.surfaces.iter().map(SurfaceForm::notation).collect();
        format!(
            "{}\t{}\t{}\t{:.2}\t{}\t{}",
            self.canonical,
            self.category.as_str(),
            self.source.as_str(),
            self.weight,
            self.taxonomy_ref.as_deref().unwrap_or(""),
            surfaces.join("|")
        )
    }
}

/// The entry a surface form resolves to.
#[derive(Debug, Clone)]
pub(crate) struct SurfaceTarget {
    pub entry: u32,
    pub text: String,
    pub case_sensitive: bool,
}

/// Compiled, immutable lexicon.
pub struct Lexicon {
    entries: Vec<LexiconEntry>,
    targets: Vec<SurfaceTarget>,
    matcher: PhraseMatcher,
    /// Per entry: its skill group (entries with the same canonical name,
    /// case-insensitively, are one skill in the output).
    entry_group: Vec<u32>,
    group_by_name: FastMap<String, u32>,
    /// First entry of each group (index = group id).
    group_first_entry: Vec<u32>,
}

impl std::fmt::Debug for Lexicon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lexicon")
            .field("entries", &self.entries.len())
            .field("surfaces", &self.targets.len())
            .finish()
    }
}

impl Lexicon {
    /// Loads a lexicon file in the shipped format.
    pub fn load(path: &Path) -> Result<Lexicon, EngineError> {
        let text = std::fs::read_to_string(path).map_err(|e| EngineError::io(path, e))?;
        let entries = parse_lexicon_text(path, &text)?;
        Ok(Lexicon::from_entries(entries))
    }

    /// Loads `lexicon.tsv` of a lexicon directory (the `engine.lexicon_dir`
    /// setting; the repository ships `data/lexicon`).
    pub fn load_dir(dir: &Path) -> Result<Lexicon, EngineError> {
        Lexicon::load(&dir.join(SHIPPED_LEXICON_FILE))
    }

    /// Compiles entries; a surface claimed by several entries goes to the
    /// highest-priority source, then the first one listed.
    pub fn from_entries(entries: Vec<LexiconEntry>) -> Lexicon {
        let mut owner: HashMap<String, usize> = HashMap::new();
        let mut targets: Vec<SurfaceTarget> = Vec::new();
        for (idx, entry) in entries.iter().enumerate() {
            for surface in &entry.surfaces {
                let text = surface.text.trim();
                if text.is_empty() {
                    continue;
                }
                let key = text.to_lowercase();
                match owner.get(&key) {
                    Some(&t) => {
                        let current = &entries[targets[t].entry as usize];
                        if entry.source > current.source {
                            targets[t] = SurfaceTarget {
                                entry: idx as u32,
                                text: text.to_string(),
                                case_sensitive: surface.case_sensitive,
                            };
                        }
                    }
                    None => {
                        owner.insert(key, targets.len());
                        targets.push(SurfaceTarget {
                            entry: idx as u32,
                            text: text.to_string(),
                            case_sensitive: surface.case_sensitive,
                        });
                    }
                }
            }
        }
        let matcher = PhraseMatcher::new(targets.iter().map(|t| t.text.as_str()));
        let mut group_by_name: FastMap<String, u32> = FastMap::default();
        let mut group_first_entry: Vec<u32> = Vec::new();
        let entry_group = entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let next = group_by_name.len() as u32;
                let g = *group_by_name
                    .entry(e.canonical.to_lowercase())
                    .or_insert(next);
                if g == next {
                    group_first_entry.push(i as u32);
                }
                g
            })
            .collect();
        Lexicon {
            entries,
            targets,
            matcher,
            entry_group,
            group_by_name,
            group_first_entry,
        }
    }

    /// Adds user lexicon entries on top; their surfaces win over shipped ones.
    pub fn with_user_entries(self, entries: Vec<LexiconEntry>) -> Lexicon {
        if entries.is_empty() {
            return self;
        }
        let mut all = self.entries;
        all.extend(entries.into_iter().map(|mut e| {
            e.source = LexiconSource::User;
            e
        }));
        Lexicon::from_entries(all)
    }

    /// Number of canonical skills.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of distinct surface forms in the matcher.
    pub fn surface_count(&self) -> usize {
        self.targets.len()
    }

    pub fn entries(&self) -> &[LexiconEntry] {
        &self.entries
    }

    /// Finds an entry by canonical name (case-insensitive).
    pub fn find_canonical(&self, name: &str) -> Option<&LexiconEntry> {
        self.entries
            .iter()
            .find(|e| e.canonical.eq_ignore_ascii_case(name))
    }

    pub(crate) fn matcher(&self) -> &PhraseMatcher {
        &self.matcher
    }

    pub(crate) fn entry_group(&self, entry: u32) -> u32 {
        self.entry_group[entry as usize]
    }

    /// The group of a lowercase canonical name, if a lexicon entry has it.
    pub(crate) fn group_named(&self, lower: &str) -> Option<u32> {
        self.group_by_name.get(lower).copied()
    }

    /// The first entry whose lowercase canonical name is `lower`.
    pub(crate) fn entry_named(&self, lower: &str) -> Option<u32> {
        self.group_named(lower)
            .and_then(|g| self.group_first_entry.get(g as usize).copied())
    }

    /// Number of skill groups; ids at or above it belong to alias-only skills.
    pub(crate) fn group_count(&self) -> u32 {
        self.group_by_name.len() as u32
    }

    pub(crate) fn target(&self, pattern: usize) -> &SurfaceTarget {
        &self.targets[pattern]
    }

    pub(crate) fn entry(&self, idx: u32) -> &LexiconEntry {
        &self.entries[idx as usize]
    }

    /// Writes the lexicon in the shipped format.
    pub fn write(&self, path: &Path) -> Result<(), EngineError> {
        write_entries(path, &self.entries)
    }
}

pub(crate) fn write_entries(path: &Path, entries: &[LexiconEntry]) -> Result<(), EngineError> {
    let mut out = String::with_capacity(entries.len() * 64);
    out.push_str("# jobenrich skills lexicon. Built by `jobenrich lexicon build`; see data/lexicon/NOTICE.md.\n");
    out.push_str("# canonical\tcategory\tsource\tweight\ttaxonomy_ref\tsurfaces (| separated, leading = is case-sensitive)\n");
    for e in entries {
        out.push_str(&e.to_line());
        out.push('\n');
    }
    std::fs::write(path, out).map_err(|e| EngineError::io(path, e))
}

/// Parses the shipped lexicon format; errors name the file, line and field.
pub(crate) fn parse_lexicon_text(
    path: &Path,
    text: &str,
) -> Result<Vec<LexiconEntry>, EngineError> {
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 6 {
            return Err(EngineError::format(
                path,
                line_no,
                "columns",
                format!("expected 6 tab-separated columns, found {}", cols.len()),
            ));
        }
        let canonical = cols[0].trim();
        if canonical.is_empty() {
            return Err(EngineError::format(path, line_no, "canonical", "is empty"));
        }
        let category: SkillCategory =
            cols[1]
                .trim()
                .parse()
                .map_err(|e: jobenrich_domain::DomainError| {
                    EngineError::format(path, line_no, "category", e.to_string())
                })?;
        let source = LexiconSource::parse(cols[2].trim()).ok_or_else(|| {
            EngineError::format(
                path,
                line_no,
                "source",
                format!("unknown source {:?} (esco, onet, curated, user)", cols[2]),
            )
        })?;
        let weight: f64 = cols[3]
            .trim()
            .parse()
            .ok()
            .filter(|w: &f64| (0.0..=1.0).contains(w))
            .ok_or_else(|| {
                EngineError::format(
                    path,
                    line_no,
                    "weight",
                    format!("{:?} is not in [0,1]", cols[3]),
                )
            })?;
        let taxonomy_ref = Some(cols[4].trim())
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let surfaces: Vec<SurfaceForm> = cols[5]
            .split('|')
            .filter(|s| !s.trim().is_empty())
            .map(SurfaceForm::parse)
            .collect();
        if surfaces.is_empty() {
            return Err(EngineError::format(
                path,
                line_no,
                "surfaces",
                "no surface form",
            ));
        }
        entries.push(LexiconEntry {
            canonical: canonical.to_string(),
            category,
            source,
            weight,
            taxonomy_ref,
            surfaces,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_line_and_field() {
        let p = Path::new("lex.tsv");
        let err = parse_lexicon_text(
            p,
            "# c\nRust\tprogramming_languages\tcurated\t0.9\t\t=Rust\nX\tnope\tesco\t0.5\t\tx\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("lex.tsv:3") && err.contains("`category`"),
            "{err}"
        );
        let err = parse_lexicon_text(p, "X\tsoft_skills\tesco\t1.5\t\tx\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`weight`"), "{err}");
    }

    #[test]
    fn surfaces_go_to_the_highest_priority_source() {
        let e = |name: &str, source, surface: &str| LexiconEntry {
            canonical: name.into(),
            category: SkillCategory::SoftwareTools,
            source,
            weight: 0.8,
            taxonomy_ref: None,
            surfaces: vec![SurfaceForm::new(surface, false)],
        };
        let lex = Lexicon::from_entries(vec![
            e("Esco Thing", LexiconSource::Esco, "thing"),
            e("Curated Thing", LexiconSource::Curated, "Thing"),
        ]);
        assert_eq!(lex.surface_count(), 1);
        assert_eq!(lex.entry(lex.target(0).entry).canonical, "Curated Thing");
        let lex = lex.with_user_entries(vec![e("Mine", LexiconSource::Esco, "THING")]);
        assert_eq!(lex.entry(lex.target(0).entry).canonical, "Mine");
        assert_eq!(lex.len(), 3);
    }
}
