//! Behaviour of each extraction strategy, the ambiguity rules, fusion and the
//! `enrich` output, on a small hand-made lexicon.

mod common;

use chrono::Utc;
use common::small::*;
use jobenrich_domain::validation::Validate;
use jobenrich_domain::{EnrichmentVersion, ExtractionStrategy, JobId, JobPosting};
use jobenrich_enrichment_engine::EngineConfig;

#[test]
fn lexicon_matches_are_case_insensitive_and_word_bounded() {
    let found =
        engine().extract_text("We use PYTHON and postgresql, not Pythonic tricks or JavaScripts.");
    assert_eq!(names(&found), ["Python", "PostgreSQL"]);
    let py = get(&found, "Python").unwrap();
    assert_eq!(py.strategies, [ExtractionStrategy::Lexicon]);
    assert_eq!((py.char_offset, py.char_len), (7, 6));
}

#[test]
fn lexicon_is_leftmost_longest() {
    let found = engine().extract_text("Frontend: JavaScript and Java.");
    assert_eq!(names(&found), ["JavaScript", "Java"]);
    let found = engine().extract_text("Backend: ASP.NET services.");
    assert_eq!(names(&found), ["ASP.NET"]);
}

#[test]
fn lexicon_handles_symbol_tokens() {
    let found = engine().extract_text("Skills: C++, C#, .NET, Node.js and CI/CD pipelines.");
    assert_eq!(names(&found), ["C++", "C#", ".NET", "Node.js", "CI/CD"]);
    let cpp = get(&found, "C++").unwrap();
    assert_eq!((cpp.char_offset, cpp.char_len), (8, 3));
}

#[test]
fn case_sensitive_surfaces_need_their_casing() {
    let e = engine();
    assert!(get(&e.extract_text("Statistics in R and Python."), "R").is_some());
    assert!(get(&e.extract_text("Statistics in r and Python."), "R").is_none());
}

#[test]
fn alias_strategy_normalizes_to_the_canonical_skill() {
    let found = engine().extract_text("Run K8s on GCP with Postgres; JS frontend; ML models.");
    for (name, category) in [
        ("Kubernetes", "devops_tools"),
        ("Google Cloud Platform", "cloud_platforms"),
        ("PostgreSQL", "databases"),
        ("JavaScript", "programming_languages"),
        ("Machine Learning", "data_ml"),
    ] {
        let f = get(&found, name).unwrap_or_else(|| panic!("{name} in {found:?}"));
        assert_eq!(f.strategies, [ExtractionStrategy::Alias], "{name}");
        assert_eq!(f.category.as_str(), category);
    }
}

#[test]
fn inactive_aliases_are_ignored_and_alias_confidence_feeds_the_score() {
    let e = engine();
    assert!(get(&e.extract_text("Deploy to Kube clusters."), "Kubernetes").is_none());
    use jobenrich_domain::SkillCategory::DevopsTools;
    let low = jobenrich_enrichment_engine::SkillsEngine::new(
        small_lexicon(),
        &[alias("K8s", "Kubernetes", DevopsTools, 0.5, true)],
        EngineConfig::default(),
    )
    .unwrap();
    let high = get(&e.extract_text("K8s"), "Kubernetes")
        .unwrap()
        .confidence;
    let lower = get(&low.extract_text("K8s"), "Kubernetes")
        .unwrap()
        .confidence;
    assert!(lower < high, "{lower} < {high}");
}

#[test]
fn lowercase_short_aliases_do_not_fire() {
    // `ml` is millilitres, not machine learning.
    assert!(get(
        &engine().extract_text("Add 5 ml of water."),
        "Machine Learning"
    )
    .is_none());
}

#[test]
fn pattern_supports_known_skills_and_raises_confidence() {
    let e = engine();
    let plain = get(&e.extract_text("Docker is used here."), "Docker")
        .unwrap()
        .confidence;
    let found = e.extract_text("Experience with Docker is required.");
    let docker = get(&found, "Docker").unwrap();
    assert_eq!(
        docker.strategies,
        [ExtractionStrategy::Lexicon, ExtractionStrategy::Pattern]
    );
    assert!(docker.confidence > plain);
}

#[test]
fn patterns_catch_phrases_the_lexicon_misses() {
    let e = engine();
    for (text, phrase) in [
        ("Proficient in Terraform.", "Terraform"),
        ("Knowledge of distributed tracing.", "distributed tracing"),
        ("Experience with event sourcing, please.", "event sourcing"),
        (
            "You have the ability to work independently.",
            "work independently",
        ),
    ] {
        let found = e.extract_text(text);
        let f = get(&found, phrase).unwrap_or_else(|| panic!("{phrase} in {found:?}"));
        assert_eq!(f.strategies, [ExtractionStrategy::Pattern], "{text}");
    }
}

#[test]
fn pattern_splits_lists_after_such_as() {
    let found = engine().extract_text("Cloud tools such as Pulumi, Crossplane and Kubernetes.");
    assert!(get(&found, "Pulumi").is_some(), "{found:?}");
    assert!(get(&found, "Crossplane").is_some(), "{found:?}");
    let k = get(&found, "Kubernetes").unwrap();
    assert!(k.strategies.contains(&ExtractionStrategy::Pattern));
}

#[test]
fn pattern_recognizes_version_suffixes() {
    let found = engine().extract_text("Our services run Python 3.11 and Quarkus 3.2.1.");
    let py = get(&found, "Python").unwrap();
    assert_eq!(
        py.strategies,
        [ExtractionStrategy::Lexicon, ExtractionStrategy::Pattern]
    );
    assert!(get(&found, "Quarkus").is_some(), "{found:?}");
    assert!(get(
        &engine().extract_text("See Section 2.1 for details."),
        "Section"
    )
    .is_none());
}

/// Each ambiguous term: without context it is penalized (dropped at the
/// default threshold, kept but flagged with no threshold); with context it
/// is accepted at full weight.
#[test]
fn ambiguity_rules_require_context() {
    let cases = [
        (
            "Go",
            "Let's Go to the park.",
            "Backend services in Go and Python.",
        ),
        (
            "R",
            "Please R.S.V.P. Item R is blue.",
            "Statistical modelling in R.",
        ),
        (
            "C",
            "Grade C students welcome. Plan C is fine.",
            "Embedded firmware in C.",
        ),
        (
            "Swift",
            "A Swift response to customers.",
            "Native iOS apps in Swift.",
        ),
        (
            "Rust",
            "Rust on old bikes is common.",
            "Systems programming in Rust.",
        ),
        (
            "Apache Spark",
            "Spark joy in the office.",
            "Spark jobs on Hadoop clusters.",
        ),
        (
            "Microsoft Excel",
            "We Excel at customer happiness.",
            "Reports in Excel spreadsheets and VBA.",
        ),
        (
            "Microsoft Access",
            "Access to the building is 24/7.",
            "Maintain the MS Access database.",
        ),
        (
            "Communication",
            "Communication with the office happens by mail.",
            "Excellent written communication skills.",
        ),
    ];
    let strict = engine();
    let lenient = engine_with(EngineConfig {
        min_confidence: 0.0,
        ..EngineConfig::default()
    });
    for (name, without, with) in cases {
        let supported = get(&strict.extract_text(with), name)
            .unwrap_or_else(|| panic!("{name} with context: {with}"));
        assert!(!supported.ambiguity_penalized, "{name}");
        assert!(
            get(&strict.extract_text(without), name).is_none(),
            "{name} without context: {without}"
        );
        if let Some(weak) = get(&lenient.extract_text(without), name) {
            assert!(weak.ambiguity_penalized, "{name}");
            assert!(weak.confidence < supported.confidence, "{name}");
        }
    }
}

#[test]
fn ambiguity_is_resolved_by_patterns() {
    let found = engine().extract_text("Experience with Go is a plus.");
    assert!(get(&found, "Go").is_some());
}

#[test]
fn lowercase_go_is_never_the_language_without_a_pattern() {
    let lenient = engine_with(EngineConfig {
        min_confidence: 0.0,
        ..EngineConfig::default()
    });
    assert!(get(&lenient.extract_text("ready to go with python"), "Go").is_none());
    let strict = engine();
    assert!(get(
        &strict.extract_text("we love rust and python programming"),
        "Rust"
    )
    .is_none());
}

#[test]
fn fusion_gives_one_skill_with_all_mentions_and_a_bounded_confidence() {
    let text =
        "Requirements:\n- Python\n- more Python\n- python scripts\n\nBenefits:\n- Python stickers";
    let found = engine().extract_text(text);
    assert_eq!(names(&found), ["Python"]);
    let py = &found[0];
    assert_eq!(py.mentions.len(), 4);
    assert!(py.confidence > 0.0 && py.confidence <= 1.0);
    assert_eq!(py.section_type.as_deref(), Some("requirements"));
    let once = get(
        &engine().extract_text("Benefits:\n- Python stickers"),
        "Python",
    )
    .map(|f| f.confidence);
    assert!(once.is_none_or(|c| c < py.confidence));
}

#[test]
fn section_relevance_scales_confidence() {
    let e = engine();
    let req = get(&e.extract_text("Requirements:\n- Docker"), "Docker").unwrap();
    let ben = get(&e.extract_text("Benefits:\n- Docker"), "Docker").unwrap();
    assert!(req.confidence > ben.confidence);
    assert!(req.section_relevance.unwrap() > ben.section_relevance.unwrap());
}

#[test]
fn weights_come_from_config_overrides() {
    let overrides = serde_json::json!({"min_confidence": 0.99})
        .as_object()
        .unwrap()
        .clone();
    let strict = engine_with(EngineConfig::from_overrides(&overrides).unwrap());
    assert!(strict.extract_text("Docker and Python").is_empty());
    let no_patterns = engine_with(EngineConfig {
        use_patterns: false,
        ..EngineConfig::default()
    });
    assert!(get(
        &no_patterns.extract_text("Proficient in Terraform."),
        "Terraform"
    )
    .is_none());
}

#[test]
fn output_order_is_deterministic() {
    let text = "Python, Docker, Kubernetes, Java, K8s, Go and Rust programming. Python again.";
    let e = engine();
    let first = e.extract_text(text);
    for _ in 0..5 {
        assert_eq!(e.extract_text(text), first);
    }
    assert!(first
        .windows(2)
        .all(|w| w[0].char_offset <= w[1].char_offset));
}

#[test]
fn offsets_and_snippets_are_in_chars() {
    let text = "Über-cool café needs Kubernetes™ skills — and Python.";
    let found = engine().extract_text(text);
    for f in &found {
        for m in &f.mentions {
            let s: String = text
                .chars()
                .skip(m.start as usize)
                .take((m.end - m.start) as usize)
                .collect();
            assert!(
                s.eq_ignore_ascii_case(&f.canonical),
                "{s} vs {}",
                f.canonical
            );
        }
        assert!(f.snippet.contains(
            &text
                .chars()
                .skip(f.char_offset as usize)
                .take(f.char_len as usize)
                .collect::<String>()
        ));
    }
    assert_eq!(get(&found, "Kubernetes").unwrap().char_offset, 21);
}

#[test]
fn enrich_returns_valid_rows_with_provenance() {
    let now = Utc::now();
    let job = JobPosting {
        job_posting_id: JobId::parse("job-1").unwrap(),
        title: "Backend engineer".into(),
        company: None,
        location: None,
        description: "About us\nWe ship.\n\n## Requirements\n- 3+ years of experience with Kubernetes\n- Python 3.11\n\nBenefits:\n- Free lunch".into(),
        posted_at: None,
        source: None,
        url: None,
        ingested_at: now,
    };
    let version = EnrichmentVersion::parse("skills_extractor@v1.0").unwrap();
    let out = engine().enrich(&job, &version, now).unwrap();
    assert_eq!(out.sections.len(), 3);
    for s in &out.sections {
        s.validate().unwrap();
        assert_eq!(s.classifier_version, "rule_based-v1");
        let by_chars: String = job
            .description
            .chars()
            .skip(s.start_offset as usize)
            .take((s.end_offset - s.start_offset) as usize)
            .collect();
        assert_eq!(by_chars, s.section_text);
    }
    assert!(out.sections[1].is_skills_relevant && !out.sections[2].is_skills_relevant);
    let k = out
        .skills
        .iter()
        .find(|s| s.skill_name == "Kubernetes")
        .unwrap();
    k.validate().unwrap();
    assert_eq!(k.extracted_from_section.as_deref(), Some("requirements"));
    assert_eq!(
        k.position_in_text,
        Some(job.description.find("Kubernetes").unwrap() as u32)
    );
    assert!(k
        .context_snippet
        .as_deref()
        .unwrap()
        .contains("experience with Kubernetes"));
    assert_eq!(k.enrichment_version, version);
    assert_eq!(k.mention_count, 1);
    for s in &out.skills {
        s.validate().unwrap();
    }
}

#[test]
fn enrich_stores_every_mention_in_char_offsets() {
    let now = Utc::now();
    // Multi-byte text before and between the mentions: offsets are chars.
    let description = "Équipe à Zürich — Kubernetes et K8s; encore Kubernetes, Python.";
    let job = JobPosting {
        job_posting_id: JobId::parse("job-spans").unwrap(),
        title: "Ops".into(),
        company: None,
        location: None,
        description: description.into(),
        posted_at: None,
        source: None,
        url: None,
        ingested_at: now,
    };
    let version = EnrichmentVersion::parse("skills_extractor@v1.0").unwrap();
    let out = engine().enrich(&job, &version, now).unwrap();
    let k = out
        .skills
        .iter()
        .find(|s| s.skill_name == "Kubernetes")
        .unwrap();
    let texts: Vec<String> = k
        .mention_spans
        .iter()
        .map(|m| {
            description
                .chars()
                .skip(m.start as usize)
                .take((m.end - m.start) as usize)
                .collect()
        })
        .collect();
    assert_eq!(texts, ["Kubernetes", "K8s", "Kubernetes"], "{k:?}");
    assert_eq!(k.mention_count, 3);
    assert_eq!(k.position_in_text, Some(k.mention_spans[0].start));
    for s in &out.skills {
        s.validate().unwrap();
        s.check_mentions_within(description.chars().count())
            .unwrap();
        assert_eq!(s.mention_spans.len() as u32, s.mention_count, "{s:?}");
    }
}

#[test]
fn enrich_refuses_inputs_above_the_configured_size() {
    let now = Utc::now();
    let e = engine_with(EngineConfig {
        max_input_bytes: 100,
        ..EngineConfig::default()
    });
    let job = JobPosting {
        job_posting_id: JobId::parse("big").unwrap(),
        title: "t".into(),
        company: None,
        location: None,
        description: "Python ".repeat(100),
        posted_at: None,
        source: None,
        url: None,
        ingested_at: now,
    };
    let err = e
        .enrich(&job, &EnrichmentVersion::legacy(), now)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("big") && err.contains("max_input_bytes"),
        "{err}"
    );
}

#[test]
fn engine_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<jobenrich_enrichment_engine::SkillsEngine>();
}
