//! The evaluation flow against mockall mocks of the ports: which model is
//! evaluated, what is stored, how the baseline and thresholds decide the gate,
//! and the registry views (history, diff).

use chrono::{DateTime, Duration, TimeZone, Utc};
use jobenrich_domain::{
    CategoryMetrics, EnrichmentType, EvaluationResult, MockAliasRepository,
    MockEvaluationRepository, MockModelConfigRepository, ModelConfig, ModelId, ModelVersion,
    SkillAlias, SkillCategory,
};
use jobenrich_evaluation::gate::CheckStatus;
use jobenrich_evaluation::{
    CharSpan, GatePolicy, LabeledDataset, PredictedSkill, Prediction, ZeroDivision,
};
use jobenrich_services::evaluation_flow::{
    evaluate_model, model_diff, model_history, EvaluateRequest, EvaluationFlowError,
    EvaluationPorts, Predictor, PredictorFactory,
};
use mockall::predicate::{always, eq};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const DATASET: &str = r#"{"id":"a","text":"Rust and Postgres","gold_skills":[{"name":"Rust","category":"programming_languages"},{"name":"PostgreSQL","category":"databases"}]}
{"id":"b","text":"Rust and Kubernetes","gold_skills":[{"name":"Rust","category":"programming_languages"},{"name":"Kubernetes","category":"devops_tools"}]}
"#;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn mid() -> ModelId {
    ModelId::parse("skills_extractor").unwrap()
}

fn ver(v: &str) -> ModelVersion {
    ModelVersion::parse(v).unwrap()
}

fn model(version: &str, active: bool) -> ModelConfig {
    let mut m = ModelConfig::new(mid(), EnrichmentType::SkillsExtraction, ver(version), now());
    m.is_active = active;
    m
}

fn dataset() -> LabeledDataset {
    LabeledDataset::parse(DATASET, "gold.jsonl", None).unwrap()
}

/// Finds "Rust" and "Postgres" by keyword; fails on texts containing "FAIL".
struct KeywordPredictor;

impl Predictor for KeywordPredictor {
    fn predict(&self, text: &str) -> Result<Prediction, String> {
        if text.contains("FAIL") {
            return Err("engine exploded".into());
        }
        let mut skills = Vec::new();
        for (word, name, category) in [
            ("Rust", "Rust", SkillCategory::ProgrammingLanguages),
            ("Postgres", "PostgreSQL", SkillCategory::Databases),
        ] {
            if let Some(at) = text.find(word) {
                skills.push(PredictedSkill {
                    name: name.into(),
                    category,
                    confidence: 0.9,
                    mentions: vec![CharSpan {
                        start: at as u32,
                        end: (at + word.len()) as u32,
                    }],
                    also_known_as: vec![],
                    links: vec![],
                });
            }
        }
        Ok(Prediction {
            skills,
            sections: vec![],
        })
    }

    fn category_of(&self, skill_name: &str) -> Option<SkillCategory> {
        (skill_name == "Kubernetes").then_some(SkillCategory::DevopsTools)
    }
}

/// Records which model version it was built for.
#[derive(Default)]
struct RecordingFactory {
    built_for: Mutex<Vec<String>>,
}

impl PredictorFactory for RecordingFactory {
    fn build(
        &self,
        model: &ModelConfig,
        _companion: Option<&ModelConfig>,
        _aliases: &[SkillAlias],
    ) -> Result<Arc<dyn Predictor>, String> {
        self.built_for
            .lock()
            .unwrap()
            .push(model.version.to_string());
        Ok(Arc::new(KeywordPredictor))
    }
}

fn baseline_result(version: &str, f1: f64) -> EvaluationResult {
    EvaluationResult {
        evaluation_id: format!("eval-{version}"),
        model_id: mid(),
        model_version: ver(version),
        dataset_version: dataset().dataset_version,
        dataset_path: None,
        overall_precision: f1,
        overall_recall: f1,
        overall_f1: f1,
        category_metrics: BTreeMap::from([(
            "databases".to_string(),
            CategoryMetrics {
                precision: 1.0,
                recall: 1.0,
                f1: 1.0,
                support: 1,
            },
        )]),
        additional_metrics: BTreeMap::new(),
        sample_count: 2,
        execution_time_seconds: 0.1,
        is_ci_run: false,
        ci_build_id: None,
        threshold_passed: None,
        evaluation_date: now() - Duration::days(1),
    }
}

fn aliases() -> MockAliasRepository {
    let mut a = MockAliasRepository::new();
    a.expect_list_aliases()
        .with(eq(true))
        .returning(|_| Ok(vec![]));
    a
}

fn ports(
    models: MockModelConfigRepository,
    evaluations: MockEvaluationRepository,
) -> EvaluationPorts {
    EvaluationPorts {
        models: Arc::new(models),
        evaluations: Arc::new(evaluations),
        aliases: Arc::new(aliases()),
    }
}

fn request(version: Option<&str>, thresholds: GatePolicy) -> EvaluateRequest {
    EvaluateRequest {
        model_id: mid(),
        version: version.map(ver),
        dataset: dataset(),
        thresholds,
        is_ci_run: true,
        ci_build_id: Some("build-42".into()),
        zero_division: ZeroDivision::Zero,
    }
}

#[tokio::test]
async fn candidate_version_is_scored_stored_and_gated_against_the_active_baseline() {
    // Candidate v1.1 with a per-category threshold in its config; v1.0 is active.
    let mut candidate = model("v1.1", false);
    candidate.config_overrides = json!({"evaluation": {"min_category_f1": {"devops_tools": 0.5}}})
        .as_object()
        .unwrap()
        .clone();
    let mut models = MockModelConfigRepository::new();
    // No active section classifier: the engine's section rules apply.
    models
        .expect_active_model_for_type()
        .returning(|_| Ok(None));
    let c = candidate.clone();
    models
        .expect_get_model()
        .with(eq(mid()), eq(ver("v1.1")))
        .times(1)
        .returning(move |_, _| Ok(Some(c.clone())));
    models
        .expect_active_model()
        .with(eq(mid()))
        .times(1)
        .returning(|_| Ok(Some(model("v1.0", true))));
    let stored_metrics = Arc::new(Mutex::new(BTreeMap::new()));
    let sm = stored_metrics.clone();
    let c = candidate.clone();
    models
        .expect_update_performance_metrics()
        .with(eq(mid()), eq(ver("v1.1")), always(), eq(now()))
        .times(1)
        .returning(move |_, _, metrics, _| {
            *sm.lock().unwrap() = metrics.clone();
            let mut m = c.clone();
            m.performance_metrics = metrics.clone();
            Ok(m)
        });

    let mut evaluations = MockEvaluationRepository::new();
    let dv = dataset().dataset_version;
    evaluations
        .expect_latest_evaluation()
        .with(eq(mid()), eq(Some(ver("v1.0"))), eq(Some(dv)))
        .times(1)
        .returning(|_, _, _| Ok(Some(baseline_result("v1.0", 0.9))));
    let stored = Arc::new(Mutex::new(None));
    let st = stored.clone();
    evaluations
        .expect_insert_evaluation()
        .times(1)
        .returning(move |r| {
            *st.lock().unwrap() = Some(r.clone());
            Ok(())
        });

    let factory = Arc::new(RecordingFactory::default());
    let thresholds = GatePolicy {
        min_f1: Some(0.5),
        max_regression: Some(0.02),
        ..Default::default()
    };
    let run = evaluate_model(
        &ports(models, evaluations),
        factory.clone(),
        request(Some("v1.1"), thresholds),
        now(),
    )
    .await
    .unwrap();

    assert_eq!(*factory.built_for.lock().unwrap(), ["v1.1"]);
    // Per category: programming_languages 2/2, databases 1/1, devops_tools 0/1.
    let m = &run.metrics;
    assert_eq!(m.category_metrics["programming_languages"].f1, 1.0);
    assert_eq!(m.category_metrics["databases"].f1, 1.0);
    assert_eq!(m.category_metrics["devops_tools"].recall, 0.0);
    let macro_f1 = 2.0 / 3.0;
    assert!((run.result.overall_f1 - macro_f1).abs() < 1e-12);
    assert_eq!(run.result.sample_count, 2);

    // Gate: min_f1 passes, devops_tools (from the model config) and the
    // regression against v1.0's 0.90 fail.
    let status: BTreeMap<&str, CheckStatus> = run
        .gate
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.status))
        .collect();
    assert_eq!(status["min_f1"], CheckStatus::Passed);
    assert_eq!(status["min_category_f1.devops_tools"], CheckStatus::Failed);
    assert_eq!(status["max_regression"], CheckStatus::Failed);
    assert_eq!(run.baseline.as_ref().unwrap().model_version, "v1.0");

    let stored = stored.lock().unwrap().clone().unwrap();
    assert_eq!(stored.threshold_passed, Some(false));
    assert!(stored.is_ci_run);
    assert_eq!(stored.ci_build_id.as_deref(), Some("build-42"));
    assert_eq!(stored.model_version, ver("v1.1"));
    assert_eq!(stored.dataset_path.as_deref(), Some("gold.jsonl"));
    assert!(stored.execution_time_seconds >= 0.0);
    let figures = stored_metrics.lock().unwrap().clone();
    assert!((figures["f1_score"] - macro_f1).abs() < 1e-12);
    assert!(figures.contains_key("micro_f1") && figures.contains_key("rp_at_5"));
    assert_eq!(run.model.performance_metrics, figures);
}

#[tokio::test]
async fn active_version_is_evaluated_when_none_is_given_and_no_thresholds_mean_no_verdict() {
    let mut models = MockModelConfigRepository::new();
    // No active section classifier: the engine's section rules apply.
    models
        .expect_active_model_for_type()
        .returning(|_| Ok(None));
    models
        .expect_active_model()
        .times(2)
        .returning(|_| Ok(Some(model("v2.0", true))));
    models
        .expect_update_performance_metrics()
        .returning(|_, _, _, _| Ok(model("v2.0", true)));
    let mut evaluations = MockEvaluationRepository::new();
    evaluations
        .expect_latest_evaluation()
        .returning(|_, _, _| Ok(None));
    evaluations
        .expect_insert_evaluation()
        .withf(|r| r.threshold_passed.is_none() && r.model_version.as_str() == "v2.0")
        .times(1)
        .returning(|_| Ok(()));
    let run = evaluate_model(
        &ports(models, evaluations),
        Arc::new(RecordingFactory::default()),
        request(None, GatePolicy::default()),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(run.gate.passed(), None);
    assert!(run.baseline.is_none());
}

#[tokio::test]
async fn missing_model_or_engine_failure_stores_nothing() {
    let mut models = MockModelConfigRepository::new();
    // No active section classifier: the engine's section rules apply.
    models
        .expect_active_model_for_type()
        .returning(|_| Ok(None));
    models.expect_active_model().returning(|_| Ok(None));
    models.expect_get_model().returning(|_, _| Ok(None));
    let evaluations = MockEvaluationRepository::new(); // any call would panic
    let p = ports(models, evaluations);
    let e = evaluate_model(
        &p,
        Arc::new(RecordingFactory::default()),
        request(None, GatePolicy::default()),
        now(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, EvaluationFlowError::NoActiveVersion(_)), "{e}");
    let e = evaluate_model(
        &p,
        Arc::new(RecordingFactory::default()),
        request(Some("v9.9"), GatePolicy::default()),
        now(),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("v9.9"), "{e}");

    let mut models = MockModelConfigRepository::new();
    // No active section classifier: the engine's section rules apply.
    models
        .expect_active_model_for_type()
        .returning(|_| Ok(None));
    models
        .expect_active_model()
        .returning(|_| Ok(Some(model("v1.0", true))));
    let mut req = request(None, GatePolicy::default());
    req.dataset = LabeledDataset::parse(
        r#"{"id":"boom","text":"FAIL here","gold_skills":[]}"#,
        "x",
        None,
    )
    .unwrap();
    let e = evaluate_model(
        &ports(models, MockEvaluationRepository::new()),
        Arc::new(RecordingFactory::default()),
        req,
        now(),
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string().contains("\"boom\"") && e.to_string().contains("exploded"),
        "{e}"
    );
}

#[tokio::test]
async fn invalid_thresholds_in_the_model_config_are_reported() {
    let mut models = MockModelConfigRepository::new();
    // No active section classifier: the engine's section rules apply.
    models
        .expect_active_model_for_type()
        .returning(|_| Ok(None));
    models.expect_active_model().returning(|_| {
        let mut m = model("v1.0", true);
        m.config_overrides = json!({"evaluation": {"min_f1": 7}})
            .as_object()
            .unwrap()
            .clone();
        Ok(Some(m))
    });
    let e = evaluate_model(
        &ports(models, MockEvaluationRepository::new()),
        Arc::new(RecordingFactory::default()),
        request(None, GatePolicy::default()),
        now(),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("min_f1"), "{e}");
}

#[tokio::test]
async fn history_lists_versions_in_order_with_their_latest_evaluation() {
    let mut models = MockModelConfigRepository::new();
    // No active section classifier: the engine's section rules apply.
    models
        .expect_active_model_for_type()
        .returning(|_| Ok(None));
    models
        .expect_list_models()
        .with(eq(Some(mid())))
        .returning(|_| {
            Ok(vec![
                model("v1.10", false),
                model("v1.9", true),
                model("v2.0-rc-1", false),
            ])
        });
    let mut evaluations = MockEvaluationRepository::new();
    evaluations.expect_list_evaluations().returning(|_| {
        let mut newer = baseline_result("v1.9", 0.8);
        newer.evaluation_id = "newest".into();
        newer.evaluation_date = now();
        Ok(vec![
            newer,
            baseline_result("v1.9", 0.7),
            baseline_result("v1.10", 0.75),
        ])
    });
    let h = model_history(&ports(models, evaluations), &mid())
        .await
        .unwrap();
    let order: Vec<&str> = h.iter().map(|v| v.model.version.as_str()).collect();
    assert_eq!(order, ["v1.9", "v1.10", "v2.0-rc-1"]);
    assert_eq!(
        h[0].latest_evaluation.as_ref().unwrap().evaluation_id,
        "newest"
    );
    assert_eq!(h[0].evaluation_count, 2);
    assert!(h[2].latest_evaluation.is_none());
}

#[tokio::test]
async fn diff_puts_overrides_and_metrics_side_by_side() {
    let mut models = MockModelConfigRepository::new();
    // No active section classifier: the engine's section rules apply.
    models
        .expect_active_model_for_type()
        .returning(|_| Ok(None));
    models.expect_get_model().returning(|_, v| {
        let mut m = model(v.as_str(), v.as_str() == "v1.0");
        if v.as_str() == "v1.0" {
            m.config_overrides = json!({"weights": {"lexicon": 0.6}, "min_confidence": 0.3})
                .as_object()
                .unwrap()
                .clone();
            m.performance_metrics = BTreeMap::from([("f1_score".to_string(), 0.61)]);
        } else {
            m.config_overrides = json!({"weights": {"lexicon": 0.7}})
                .as_object()
                .unwrap()
                .clone();
            m.performance_metrics = BTreeMap::from([("f1_score".to_string(), 0.65)]);
        }
        Ok(Some(m))
    });
    let d = model_diff(
        &ports(models, MockEvaluationRepository::new()),
        &mid(),
        &ver("v1.0"),
        &ver("v1.1"),
    )
    .await
    .unwrap();
    let row = |rows: &[jobenrich_services::evaluation_flow::DiffRow], k: &str| {
        rows.iter().find(|r| r.key == k).cloned().unwrap()
    };
    let lexicon = row(&d.overrides, "weights.lexicon");
    assert_eq!(
        (lexicon.a.as_deref(), lexicon.b.as_deref()),
        (Some("0.6"), Some("0.7"))
    );
    let min_conf = row(&d.overrides, "min_confidence");
    assert_eq!((min_conf.a.as_deref(), min_conf.b), (Some("0.3"), None));
    let f1 = row(&d.metrics, "f1_score");
    assert_eq!(
        (f1.a.as_deref(), f1.b.as_deref()),
        (Some("0.6100"), Some("0.6500"))
    );
    assert!(row(&d.registry, "is_active").differs());
}

#[tokio::test]
async fn gold_without_category_takes_the_category_the_model_gives_the_name() {
    let mut models = MockModelConfigRepository::new();
    // No active section classifier: the engine's section rules apply.
    models
        .expect_active_model_for_type()
        .returning(|_| Ok(None));
    models
        .expect_active_model()
        .returning(|_| Ok(Some(model("v1.0", true))));
    models
        .expect_update_performance_metrics()
        .returning(|_, _, _, _| Ok(model("v1.0", true)));
    let mut evaluations = MockEvaluationRepository::new();
    evaluations
        .expect_latest_evaluation()
        .returning(|_, _, _| Ok(None));
    evaluations.expect_insert_evaluation().returning(|_| Ok(()));
    let mut req = request(None, GatePolicy::default());
    req.dataset = LabeledDataset::parse(
        r#"{"id":"e","text":"Kubernetes and Cobol","gold_skills":[{"name":"Kubernetes"},{"name":"COBOL"}]}"#,
        "esco.jsonl",
        None,
    )
    .unwrap();
    let run = evaluate_model(
        &ports(models, evaluations),
        Arc::new(RecordingFactory::default()),
        req,
        now(),
    )
    .await
    .unwrap();
    let counts = &run.metrics.category_counts;
    assert_eq!(counts["devops_tools"].fn_, 1);
    assert_eq!(counts["uncategorized"].fn_, 1);
}

mod from_store {
    use super::*;
    use jobenrich_domain::{
        EnrichmentStatus, EnrichmentVersion, ExtractedSkill, ExtractionStrategy, JobEnrichment,
        JobId, JobPosting, MentionSpan, MockEnrichmentRepository, MockJobPostingRepository,
        MockSkillRepository,
    };
    use jobenrich_services::evaluation_flow::{evaluate_stored, StoredResultPorts};

    fn version() -> EnrichmentVersion {
        model("v1.0", true).enrichment_version()
    }

    fn posting(id: &str, text: &str) -> JobPosting {
        JobPosting {
            job_posting_id: JobId::parse(id).unwrap(),
            title: "t".into(),
            company: None,
            location: None,
            description: text.into(),
            posted_at: None,
            source: None,
            url: None,
            ingested_at: now(),
        }
    }

    fn stored_skill(
        job: &str,
        name: &str,
        category: SkillCategory,
        spans: &[(u32, u32)],
    ) -> ExtractedSkill {
        ExtractedSkill {
            skill_id: jobenrich_domain::Uuid::new_v4(),
            job_posting_id: JobId::parse(job).unwrap(),
            enrichment_id: None,
            skill_name: name.into(),
            skill_category: category,
            confidence_score: 0.9,
            source_strategies: vec![ExtractionStrategy::Lexicon],
            section_relevance_score: None,
            extracted_from_section: None,
            context_snippet: None,
            position_in_text: spans.first().map(|s| s.0),
            mention_count: spans.len() as u32,
            mention_spans: spans.iter().copied().map(MentionSpan::from).collect(),
            taxonomy_ref: None,
            taxonomy_links: Vec::new(),
            enrichment_version: version(),
            created_at: now(),
        }
    }

    /// The store as `jobenrich run` leaves it for the dataset: the postings,
    /// `b`'s extraction in `b_status`, and the skills KeywordPredictor finds.
    fn stored(b_status: EnrichmentStatus, a_text: &str) -> StoredResultPorts {
        let mut postings = MockJobPostingRepository::new();
        let a_text = a_text.to_string();
        postings
            .expect_get_postings()
            .times(1)
            .returning(move |ids| {
                assert_eq!(ids.len(), 2, "one read for the whole dataset");
                Ok(vec![
                    posting("a", &a_text),
                    posting("b", "Rust and Kubernetes"),
                ])
            });
        let mut enrichments = MockEnrichmentRepository::new();
        enrichments
            .expect_get_enrichments()
            .times(1)
            .returning(move |keys| {
                Ok(keys
                    .iter()
                    .map(|k| {
                        let mut e = JobEnrichment::pending(
                            k.job_posting_id.clone(),
                            k.enrichment_type,
                            k.enrichment_version.clone(),
                            now(),
                        );
                        e.status = if k.job_posting_id.as_str() == "b" {
                            b_status
                        } else {
                            EnrichmentStatus::Success
                        };
                        e
                    })
                    .collect())
            });
        let mut skills = MockSkillRepository::new();
        skills
            .expect_skills_for_jobs()
            .with(always(), eq(version()))
            .times(1)
            .returning(|_, _| {
                Ok(vec![
                    stored_skill("a", "Rust", SkillCategory::ProgrammingLanguages, &[(0, 4)]),
                    stored_skill("a", "PostgreSQL", SkillCategory::Databases, &[(9, 17)]),
                    stored_skill("b", "Rust", SkillCategory::ProgrammingLanguages, &[(0, 4)]),
                ])
            });
        StoredResultPorts {
            postings: Arc::new(postings),
            enrichments: Arc::new(enrichments),
            skills: Arc::new(skills),
        }
    }

    /// v1.0 is active; no evaluation is stored and no metrics are updated
    /// (the mocks have no such expectation, so a call would fail the test).
    fn read_only_ports() -> EvaluationPorts {
        let mut models = MockModelConfigRepository::new();
        // The in-memory run builds its engine with the active section model.
        models
            .expect_active_model_for_type()
            .returning(|_| Ok(None));
        models
            .expect_active_model()
            .returning(|_| Ok(Some(model("v1.0", true))));
        let mut evaluations = MockEvaluationRepository::new();
        evaluations
            .expect_latest_evaluation()
            .returning(|_, _, _| Ok(None));
        ports(models, evaluations)
    }

    #[tokio::test]
    async fn stored_skills_are_scored_like_the_engine_s_and_nothing_is_recorded() {
        let ports = read_only_ports();
        let run = evaluate_stored(
            &ports,
            &stored(EnrichmentStatus::Success, "Rust and Postgres"),
            Arc::new(RecordingFactory::default()),
            request(None, GatePolicy::default()),
            now(),
        )
        .await
        .unwrap();
        assert!(!run.recorded);
        // The keyword predictor finds the same three skills: Kubernetes is
        // the only miss (its gold category from the predictor's taxonomy).
        let c = &run.metrics.category_counts;
        assert_eq!((c["programming_languages"].tp, c["databases"].tp), (2, 1));
        assert_eq!(c["devops_tools"].fn_, 1);
        assert_eq!(run.result.sample_count, 2);
    }

    #[tokio::test]
    async fn records_the_store_cannot_answer_for_are_errors_naming_them() {
        for (b_status, a_text, record, says) in [
            (
                EnrichmentStatus::Pending,
                "Rust and Postgres",
                "b",
                "status: pending",
            ),
            (
                EnrichmentStatus::Success,
                "Rust and Postgres!",
                "a",
                "differs",
            ),
        ] {
            let err = evaluate_stored(
                &read_only_ports(),
                &stored(b_status, a_text),
                Arc::new(RecordingFactory::default()),
                request(None, GatePolicy::default()),
                now(),
            )
            .await
            .unwrap_err();
            match &err {
                EvaluationFlowError::StoredResult { record_id, reason } => {
                    assert_eq!(record_id, record);
                    assert!(reason.contains(says), "{reason}");
                }
                other => panic!("expected a stored-result error, got {other:?}"),
            }
        }
    }
}
