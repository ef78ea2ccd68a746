//! Builders of valid entities for tests: every optional field filled
//! (`posting`, `skill`, …) or absent (`*_minimal`). Timestamps carry
//! microseconds, the precision every store keeps.

use chrono::{DateTime, Duration, TimeZone, Utc};
use jobenrich_domain::Uuid;
use jobenrich_domain::{
    AliasSource, CategoryMetrics, ClassificationMethod, ClusterKeyword, ClusteringRun,
    EnrichmentKey, EnrichmentType, EnrichmentVersion, EvaluationResult, ExtractedSkill,
    ExtractionStrategy, JobEmbedding, JobId, JobPosting, MentionSpan, ModelConfig, ModelId,
    ModelVersion, NewClusterAssignment, SectionClassification, SkillAlias, SkillCategory,
    TaxonomyLink,
};
use std::collections::BTreeMap;

/// A fixed instant with microseconds, plus `seconds`.
pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 14, 15, 9, 26).unwrap()
        + Duration::microseconds(535_897)
        + Duration::seconds(seconds)
}

pub fn job_posting_id(id: &str) -> JobId {
    JobId::parse(id).expect("fixture job id is valid")
}

/// `job-00042` style ids that sort in numeric order.
pub fn numbered_job_id(n: usize) -> JobId {
    job_posting_id(&format!("job-{n:05}"))
}

pub fn model_id(id: &str) -> ModelId {
    ModelId::parse(id).expect("fixture model id is valid")
}

pub fn model_version(v: &str) -> ModelVersion {
    ModelVersion::parse(v).expect("fixture model version is valid")
}

/// The enrichment version the fixtures write at: `skills_extractor@v1.0`.
pub fn version() -> EnrichmentVersion {
    EnrichmentVersion::for_model(&model_id("skills_extractor"), &model_version("v1.0"))
}

pub fn enrichment_version(v: &str) -> EnrichmentVersion {
    EnrichmentVersion::parse(v).expect("fixture enrichment version is valid")
}

pub fn key(job: &str, enrichment_type: EnrichmentType, v: &EnrichmentVersion) -> EnrichmentKey {
    EnrichmentKey {
        job_posting_id: job_posting_id(job),
        enrichment_type,
        enrichment_version: v.clone(),
    }
}

/// A fixed id for a fixture, derived from its key: building the same fixture
/// twice gives the same entity (FNV-1a over the parts).
pub fn fixture_id(parts: &[&str]) -> Uuid {
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    for part in parts {
        for b in part.bytes().chain([0u8]) {
            h ^= u128::from(b);
            h = h.wrapping_mul(0x0000000001000000000000000000013B);
        }
    }
    Uuid::from_u128(h)
}

/// A posting with every optional field present.
pub fn posting(id: &str) -> JobPosting {
    JobPosting {
        job_posting_id: job_posting_id(id),
        title: format!("Senior Rust Engineer {id}"),
        company: Some("Ferris & Co".to_string()),
        location: Some("Berlin, DE".to_string()),
        description: "We need Rust, PostgreSQL and Kubernetes.\nRequirements:\n- 5 years".into(),
        posted_at: Some(at(-86_400)),
        source: Some("linkedin".to_string()),
        url: Some(format!("https://jobs.example.com/{id}")),
        ingested_at: at(0),
    }
}

/// A posting with every optional field absent.
pub fn posting_minimal(id: &str) -> JobPosting {
    JobPosting {
        job_posting_id: job_posting_id(id),
        title: "Data Analyst".to_string(),
        company: None,
        location: None,
        description: "SQL and Excel.".to_string(),
        posted_at: None,
        source: None,
        url: None,
        ingested_at: at(1),
    }
}

/// The embeddings version the fixtures write vectors at: `job_embedder@v1.0`.
pub fn embedding_version() -> EnrichmentVersion {
    EnrichmentVersion::for_model(&model_id("job_embedder"), &model_version("v1.0"))
}

/// A vector of `job` at `v`, not yet stamped with an enrichment id.
pub fn embedding(job: &str, v: &EnrichmentVersion, vector: Vec<f32>) -> JobEmbedding {
    JobEmbedding {
        job_posting_id: job_posting_id(job),
        enrichment_id: None,
        enrichment_version: v.clone(),
        model_id: model_id("job_embedder"),
        model_version: model_version("v1.0"),
        vector,
        source_chars: 1234,
        created_at: at(20),
    }
}

/// A skill at [`version`] with every optional field present.
pub fn skill(job: &str, name: &str) -> ExtractedSkill {
    ExtractedSkill {
        skill_id: fixture_id(&["skill", job, name]),
        enrichment_id: Some(fixture_id(&["enrichment", job])),
        job_posting_id: job_posting_id(job),
        skill_name: name.to_string(),
        skill_category: SkillCategory::ProgrammingLanguages,
        confidence_score: 0.875,
        source_strategies: vec![ExtractionStrategy::Lexicon, ExtractionStrategy::Pattern],
        section_relevance_score: Some(0.625),
        extracted_from_section: Some("requirements".to_string()),
        context_snippet: Some(format!("experience with {name} required")),
        position_in_text: Some(17),
        mention_count: 2,
        mention_spans: vec![MentionSpan::from((17, 21)), MentionSpan::from((40, 44))],
        taxonomy_ref: Some("http://data.europa.eu/esco/skill/abc".to_string()),
        taxonomy_links: vec![
            TaxonomyLink {
                label: format!("{name} (computer programming)").into(),
                score: 1.0,
                exact: true,
            },
            TaxonomyLink {
                label: "use scripting programming".into(),
                score: 0.6875,
                exact: false,
            },
        ],
        enrichment_version: version(),
        created_at: at(10),
    }
}

/// A skill at [`version`] with every optional field absent.
pub fn skill_minimal(job: &str, name: &str) -> ExtractedSkill {
    ExtractedSkill {
        skill_id: fixture_id(&["skill", job, name]),
        enrichment_id: None,
        job_posting_id: job_posting_id(job),
        skill_name: name.to_string(),
        skill_category: SkillCategory::Databases,
        confidence_score: 0.5,
        source_strategies: vec![ExtractionStrategy::Alias],
        section_relevance_score: None,
        extracted_from_section: None,
        context_snippet: None,
        position_in_text: None,
        mention_count: 1,
        mention_spans: vec![],
        taxonomy_ref: None,
        taxonomy_links: Vec::new(),
        enrichment_version: version(),
        created_at: at(11),
    }
}

pub fn section(job: &str, index: u32, classifier_version: &str) -> SectionClassification {
    SectionClassification {
        classification_id: fixture_id(&["section", job, &index.to_string(), classifier_version]),
        job_posting_id: job_posting_id(job),
        section_index: index,
        section_header: Some("Requirements:".to_string()),
        section_type: "requirements".to_string(),
        section_text: format!("- Rust and SQL (section {index})"),
        start_offset: index * 100,
        end_offset: index * 100 + 40,
        is_skills_relevant: true,
        relevance_probability: 0.9375,
        classification_method: ClassificationMethod::RuleBased,
        classifier_version: classifier_version.to_string(),
        created_at: at(12),
    }
}

pub fn section_minimal(job: &str, index: u32, classifier_version: &str) -> SectionClassification {
    SectionClassification {
        section_header: None,
        section_type: "other".to_string(),
        is_skills_relevant: false,
        relevance_probability: 0.0,
        classification_method: ClassificationMethod::MlModel,
        ..section(job, index, classifier_version)
    }
}

pub fn alias(text: &str, canonical: &str) -> SkillAlias {
    SkillAlias {
        alias_id: fixture_id(&["alias", text]),
        alias_text: text.to_string(),
        canonical_name: canonical.to_string(),
        skill_category: SkillCategory::DevopsTools,
        confidence: 0.95,
        source: AliasSource::Manual,
        is_active: true,
        created_at: at(20),
        created_by: "cli:contract".to_string(),
        updated_at: at(21),
    }
}

/// A model config with description, overrides and metrics present.
pub fn model(id: &str, v: &str, model_type: EnrichmentType) -> ModelConfig {
    let mut m = ModelConfig::new(model_id(id), model_type, model_version(v), at(30));
    m.description = Some(format!("{id} {v}"));
    m.config_overrides = serde_json::json!({
        "weights": {"lexicon": 0.5, "alias": 0.3, "pattern": 0.2},
        "min_confidence": 0.35,
        "sections": ["requirements", "skills"],
        "enabled": true,
        "note": null
    })
    .as_object()
    .cloned()
    .expect("object literal");
    m.performance_metrics = BTreeMap::from([("f1_score".to_string(), 0.8125)]);
    m.training_data_version = Some("skillspan-train@3f2a9c".to_string());
    m.training_date = Some(at(29));
    m.updated_at = at(31);
    m
}

/// A model config with every optional field absent and empty maps.
pub fn model_minimal(id: &str, v: &str, model_type: EnrichmentType) -> ModelConfig {
    ModelConfig::new(model_id(id), model_type, model_version(v), at(32))
}

pub fn evaluation(
    evaluation_id: &str,
    model: &str,
    v: &str,
    dataset_version: &str,
    evaluated_at: DateTime<Utc>,
) -> EvaluationResult {
    EvaluationResult {
        evaluation_id: evaluation_id.to_string(),
        model_id: model_id(model),
        model_version: model_version(v),
        dataset_version: dataset_version.to_string(),
        dataset_path: Some("data/eval/skillspan.jsonl".to_string()),
        overall_precision: 0.75,
        overall_recall: 0.5,
        overall_f1: 0.6,
        category_metrics: BTreeMap::from([
            (
                "programming_languages".to_string(),
                CategoryMetrics {
                    precision: 0.875,
                    recall: 0.625,
                    f1: 0.7291666666666666,
                    support: 40,
                },
            ),
            (
                "databases".to_string(),
                CategoryMetrics {
                    precision: 1.0,
                    recall: 0.0,
                    f1: 0.0,
                    support: 3,
                },
            ),
        ]),
        additional_metrics: BTreeMap::from([("micro_f1".to_string(), 0.123456789)]),
        sample_count: 198,
        execution_time_seconds: 1.5,
        is_ci_run: true,
        ci_build_id: Some("build-17".to_string()),
        threshold_passed: Some(false),
        evaluation_date: evaluated_at,
    }
}

pub fn evaluation_minimal(
    evaluation_id: &str,
    model: &str,
    v: &str,
    dataset_version: &str,
    evaluated_at: DateTime<Utc>,
) -> EvaluationResult {
    EvaluationResult {
        dataset_path: None,
        category_metrics: BTreeMap::new(),
        additional_metrics: BTreeMap::new(),
        is_ci_run: false,
        ci_build_id: None,
        threshold_passed: None,
        ..evaluation(evaluation_id, model, v, dataset_version, evaluated_at)
    }
}

/// A clustering run assigning each `(job, cluster id)`.
pub fn cluster_run(
    run_id: &str,
    assigned_at: DateTime<Utc>,
    jobs: &[(&str, u32)],
) -> ClusteringRun {
    ClusteringRun {
        cluster_run_id: run_id.to_string(),
        cluster_model_id: model_id("kmeans_clusterer"),
        cluster_model_version: model_version("v1.0"),
        assigned_at,
        assignments: jobs
            .iter()
            .map(|(job, cluster)| NewClusterAssignment {
                // Present on even cluster ids, absent on odd ones: both round-trip.
                enrichment_id: (cluster % 2 == 0).then(Uuid::new_v4),
                job_posting_id: job_posting_id(job),
                cluster_id: *cluster,
                cluster_name: format!("cluster {cluster}"),
                cluster_keywords: vec![
                    ClusterKeyword {
                        term: "rust".to_string(),
                        score: 0.4375,
                    },
                    ClusterKeyword {
                        term: format!("term{cluster}"),
                        score: 0.1,
                    },
                ],
                cluster_size: 7,
            })
            .collect(),
    }
}

/// The description of [`planned_posting`]: plain single-spaced text around
/// each mention, so a snippet can be a window of it.
pub const PLANNED_DESCRIPTION: &str =
    "About us: we ship tools.\nWe need Rust and SQL every single day here.\nAlso Kubernetes, café and Ünïcode.";

/// A posting with [`PLANNED_DESCRIPTION`] (completion-plan cases).
pub fn planned_posting(id: &str) -> JobPosting {
    JobPosting {
        description: PLANNED_DESCRIPTION.to_string(),
        ..posting_minimal(id)
    }
}

/// Characters `[start, end)` of `text` (offsets count characters).
fn chars(text: &str, start: u32, end: u32) -> String {
    text.chars()
        .skip(start as usize)
        .take(end.saturating_sub(start) as usize)
        .collect()
}

/// Results of a job with [`PLANNED_DESCRIPTION`] whose text a store may keep
/// as offsets: snippets that are windows of the description and one that is
/// not, a skill with no snippet, a section that is its slice and one that
/// is not.
pub fn planned_results(job: &str) -> (Vec<ExtractedSkill>, Vec<SectionClassification>) {
    let at_char = |needle: &str| {
        let byte = PLANNED_DESCRIPTION.find(needle).unwrap_or(0);
        PLANNED_DESCRIPTION[..byte].chars().count() as u32
    };
    let mentioned = |name: &str, snippet: Option<String>| {
        let start = at_char(name);
        let end = start + name.chars().count() as u32;
        ExtractedSkill {
            mention_spans: vec![MentionSpan::from((start, end))],
            mention_count: 1,
            position_in_text: Some(start),
            context_snippet: snippet,
            ..skill(job, name)
        }
    };
    let window = |name: &str, radius: u32| {
        let start = at_char(name);
        chars(
            PLANNED_DESCRIPTION,
            start.saturating_sub(radius),
            start + name.chars().count() as u32 + radius,
        )
    };
    let skills = vec![
        mentioned("Rust", Some(window("Rust", 8))),
        mentioned("SQL", Some(window("SQL", 60))),
        mentioned("Kubernetes", Some("Kubernetes, said in other words".into())),
        mentioned("café", None),
    ];
    let line = |needle: &str| {
        let start = at_char(needle);
        let end = start + needle.chars().count() as u32;
        (start, end)
    };
    let (s0, e0) = line("We need Rust and SQL every single day here.");
    let (s1, e1) = line("Also Kubernetes, café and Ünïcode.");
    let sections = vec![
        SectionClassification {
            section_text: chars(PLANNED_DESCRIPTION, s0, e0),
            start_offset: s0,
            end_offset: e0,
            ..section(job, 0, "sections@v1.0")
        },
        SectionClassification {
            section_text: "Also Kubernetes, rewritten".into(),
            start_offset: s1,
            end_offset: e1,
            ..section(job, 1, "sections@v1.0")
        },
    ];
    (skills, sections)
}
