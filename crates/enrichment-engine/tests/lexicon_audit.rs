//! Audit of the shipped lexicon (issue 14): a surface form names its own
//! skill, never a distinct well-known technology or the members of a broader
//! field. ESCO's `computer vision` once claimed `tensorflow`, `keras`, `cuda`,
//! `openCV` and `OCR`; the curated `Kubernetes` claimed `Helm` and `OpenShift`.

mod common;

use common::quality::*;
use jobenrich_enrichment_engine::{load_alias_csv, load_user_lexicon, EngineConfig, LexiconSource};
use std::collections::HashMap;

/// No surface of one entry is the name of another curated or O*NET entry
/// (those are the well-known technologies: the curated list and O*NET's
/// product names).
#[test]
fn no_well_known_technology_is_a_surface_of_another_skill() {
    let lexicon = shipped_lexicon();
    let named: HashMap<String, &str> = lexicon
        .entries()
        .iter()
        .filter(|e| matches!(e.source, LexiconSource::Curated | LexiconSource::Onet))
        .map(|e| (e.canonical.to_lowercase(), e.canonical.as_str()))
        .collect();
    assert!(named.contains_key("keras") && named.contains_key("helm"));
    let mut violations = Vec::new();
    for entry in lexicon.entries() {
        for surface in &entry.surfaces {
            if let Some(&other) = named.get(&surface.text.to_lowercase()) {
                if !other.eq_ignore_ascii_case(&entry.canonical) {
                    violations.push(format!(
                        "{:?} ({}) lists {:?}, the name of {other:?}",
                        entry.canonical,
                        entry.source.as_str(),
                        surface.text
                    ));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "{} surfaces name another skill:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

/// A surface listed by two curated rows silently goes to the first one when
/// the lexicon is built; each curated surface belongs to exactly one row.
#[test]
fn each_curated_surface_belongs_to_one_row() {
    let rows = load_user_lexicon(&shipped_lexicon_dir().join("tech_core.csv")).expect("tech_core");
    let mut owner: HashMap<String, &str> = HashMap::new();
    let mut clashes = Vec::new();
    for row in &rows {
        for surface in &row.surfaces {
            let key = surface.text.to_lowercase();
            match owner.get(&key) {
                Some(&first) if first != row.canonical => clashes.push(format!(
                    "{:?} is listed by {first:?} and {:?}",
                    surface.text, row.canonical
                )),
                _ => {
                    owner.insert(key, &row.canonical);
                }
            }
        }
    }
    assert!(clashes.is_empty(), "{}", clashes.join("\n"));
}

/// A shipped alias whose text a curated entry lists points to that entry
/// (`RHEL` is Red Hat Enterprise Linux, not Linux). Aliases may override
/// taxonomy entries (`ML` is machine learning, not ESCO's ML language), not
/// the reviewed curated list.
#[test]
fn shipped_aliases_agree_with_the_curated_list() {
    let lexicon = shipped_lexicon();
    let owner: HashMap<String, &str> = lexicon
        .entries()
        .iter()
        .filter(|e| e.source == LexiconSource::Curated)
        .flat_map(|e| {
            e.surfaces
                .iter()
                .map(|s| (s.text.to_lowercase(), e.canonical.as_str()))
        })
        .collect();
    let aliases = load_alias_csv(
        &shipped_lexicon_dir().join("aliases.csv"),
        chrono::Utc::now(),
    )
    .expect("aliases");
    let disagreements: Vec<String> = aliases
        .iter()
        .filter_map(|a| {
            let known = owner.get(&a.alias_text.to_lowercase())?;
            (!known.eq_ignore_ascii_case(&a.canonical_name)).then(|| {
                format!(
                    "alias {:?} -> {:?}, lexicon says {known:?}",
                    a.alias_text, a.canonical_name
                )
            })
        })
        .collect();
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// The sentence of issue 14 finds each technology under its own name.
#[test]
fn each_technology_of_a_list_is_found_under_its_own_name() {
    let engine = engine_with(shipped_lexicon(), EngineConfig::default(), true);
    let found = engine.extract_text(
        "Requirements: TensorFlow, Keras, MATLAB, CUDA, OpenCV and OCR; Kubernetes with Helm on \
         OpenShift; GitHub and Git; Ubuntu or another Linux; Spring Boot; PL/SQL.",
    );
    let names: Vec<&str> = found.iter().map(|f| f.canonical.as_str()).collect();
    for expected in [
        "TensorFlow",
        "Keras",
        "MATLAB",
        "CUDA",
        "OpenCV",
        "Optical character recognition",
        "Kubernetes",
        "Helm",
        "OpenShift",
        "GitHub",
        "Git",
        "Ubuntu",
        "Linux",
        "Spring Boot",
        "PL/SQL",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        !names.contains(&"Computer Vision"),
        "a list of tools is not computer vision: {names:?}"
    );
}

/// Issue 17's wrong-sense links: everyday words that ESCO lists as one-word
/// alternative labels of an unrelated skill are not that skill in a posting,
/// while the skill's own wording still is.
#[test]
fn everyday_words_do_not_stand_for_an_unrelated_esco_skill() {
    let engine = engine_with(shipped_lexicon(), EngineConfig::default(), true);
    let found = engine.extract_text(
        "We work in the fintech space at global scale. You balance speed and quality, delight \
         our customers, guide juniors and keep to a schedule. Our office has great light and \
         new equipment. Experience with highlighting code and with processor design.",
    );
    let names: Vec<&str> = found.iter().map(|f| f.canonical.as_str()).collect();
    for wrong in [
        "design principles",
        "compile airport certification manuals",
        "hair colouring",
        "security panels",
        "entertain people",
        "advise others",
        "manage time",
    ] {
        assert!(
            !names.iter().any(|n| n.eq_ignore_ascii_case(wrong)),
            "{wrong} found in {names:?}"
        );
    }
    let kept = engine.extract_text("Knowledge of design principles and of time management.");
    let kept: Vec<&str> = kept.iter().map(|f| f.canonical.as_str()).collect();
    assert!(
        kept.iter()
            .any(|n| n.eq_ignore_ascii_case("design principles")),
        "the skill's own wording is still found: {kept:?}"
    );
}
