//! A small hand-made lexicon and engine for behaviour tests.

#![allow(dead_code)]

use chrono::{TimeZone, Utc};
use jobenrich_domain::{AliasSource, SkillAlias, SkillCategory};
use jobenrich_enrichment_engine::{
    EngineConfig, FoundSkill, Lexicon, LexiconEntry, LexiconSource, SkillsEngine, SurfaceForm,
};
use std::sync::Arc;

pub fn entry(
    canonical: &str,
    category: SkillCategory,
    weight: f64,
    surfaces: &[&str],
) -> LexiconEntry {
    LexiconEntry {
        canonical: canonical.into(),
        category,
        source: LexiconSource::Curated,
        weight,
        taxonomy_ref: None,
        surfaces: surfaces.iter().map(|s| SurfaceForm::parse(s)).collect(),
    }
}

pub fn small_lexicon() -> Arc<Lexicon> {
    use SkillCategory::*;
    Arc::new(Lexicon::from_entries(vec![
        entry("Python", ProgrammingLanguages, 0.95, &["Python"]),
        entry("Java", ProgrammingLanguages, 0.9, &["Java"]),
        entry("JavaScript", ProgrammingLanguages, 0.95, &["JavaScript"]),
        entry("C++", ProgrammingLanguages, 0.95, &["C++"]),
        entry("C#", ProgrammingLanguages, 0.95, &["C#"]),
        entry("C", ProgrammingLanguages, 0.7, &["=C"]),
        entry("R", ProgrammingLanguages, 0.75, &["=R"]),
        entry("Go", ProgrammingLanguages, 0.8, &["=Go", "Golang"]),
        entry("Rust", ProgrammingLanguages, 0.8, &["Rust"]),
        entry("Swift", ProgrammingLanguages, 0.8, &["Swift"]),
        entry(".NET", FrameworksLibraries, 0.95, &[".NET"]),
        entry("ASP.NET", FrameworksLibraries, 0.95, &["ASP.NET"]),
        entry("Node.js", FrameworksLibraries, 0.95, &["Node.js"]),
        entry("CI/CD", DevopsTools, 0.92, &["CI/CD"]),
        entry("Kubernetes", DevopsTools, 0.95, &["Kubernetes"]),
        entry("Docker", DevopsTools, 0.95, &["Docker"]),
        entry("PostgreSQL", Databases, 0.95, &["PostgreSQL"]),
        entry("Apache Spark", DataMl, 0.85, &["=Spark", "Apache Spark"]),
        entry("Microsoft Excel", SoftwareTools, 0.85, &["Excel"]),
        entry("Microsoft Access", SoftwareTools, 0.7, &["=Access"]),
        entry("Communication", SoftSkills, 0.6, &["communication"]),
        entry("Machine Learning", DataMl, 0.9, &["machine learning"]),
        entry(
            "Google Cloud Platform",
            CloudPlatforms,
            0.95,
            &["Google Cloud Platform"],
        ),
        entry(
            "Project management",
            Methodologies,
            0.8,
            &["project management"],
        ),
    ]))
}

pub fn alias(
    text: &str,
    canonical: &str,
    category: SkillCategory,
    confidence: f64,
    active: bool,
) -> SkillAlias {
    let t = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    SkillAlias {
        alias_id: jobenrich_domain::Uuid::new_v4(),
        alias_text: text.into(),
        canonical_name: canonical.into(),
        skill_category: category,
        confidence,
        source: AliasSource::Manual,
        is_active: active,
        created_at: t,
        created_by: "cli:test".into(),
        updated_at: t,
    }
}

pub fn default_aliases() -> Vec<SkillAlias> {
    use SkillCategory::*;
    vec![
        alias("K8s", "Kubernetes", DevopsTools, 0.95, true),
        alias("GCP", "Google Cloud Platform", CloudPlatforms, 0.95, true),
        alias("JS", "JavaScript", ProgrammingLanguages, 0.9, true),
        alias("Postgres", "PostgreSQL", Databases, 0.95, true),
        alias("ML", "Machine Learning", DataMl, 0.85, true),
        alias("Kube", "Kubernetes", DevopsTools, 0.9, false),
    ]
}

pub fn engine() -> SkillsEngine {
    engine_with(EngineConfig::default())
}

pub fn engine_with(config: EngineConfig) -> SkillsEngine {
    SkillsEngine::new(small_lexicon(), &default_aliases(), config).unwrap()
}

pub fn names(found: &[FoundSkill]) -> Vec<&str> {
    found.iter().map(|f| f.canonical.as_str()).collect()
}

pub fn get(found: &[FoundSkill], name: &str) -> Option<FoundSkill> {
    found.iter().find(|f| f.canonical == name).cloned()
}
