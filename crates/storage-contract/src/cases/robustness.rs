//! Hostile input stored verbatim, and invalid input rejected atomically.

use super::enrichments::{claimed_job, seed_jobs, success};
use super::{expect_validation, ok};
use crate::fixtures::{
    alias, at, cluster_run, evaluation, job_posting_id, model, model_minimal, posting, section,
    skill, version,
};
use jobenrich_domain::{EnrichmentStatus, EnrichmentType, Store};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Strings that break naive quoting, escaping, LIKE matching or encodings.
/// Each is at most 50 characters (the alias text limit) and free of NUL.
pub const HOSTILE_STRINGS: &[&str] = &[
    "O'Brien said \"hi\"",
    "'; DROP TABLE job_postings; --",
    "\"; DELETE FROM job_skills WHERE \"1\"=\"1",
    "crab 🦀 rocket 🚀 family 👩‍👩‍👧 flag 🇩🇪",
    "RTL: مرحبا بالعالم שלום עולם",
    "ctl \u{1}\u{7}\u{8}\t\r\n\u{b}\u{c}\u{1b}[31m\u{7f}",
    "back\\slash \\n \\\\ \\' \\\"",
    "100%_off LIKE '%' AND _x_",
    "  padded  ",
    "zero\u{200b}width\u{feff}joiner\u{200d}",
];

pub async fn hostile_strings_are_stored_verbatim(store: Arc<dyn Store>) {
    let s = &*store;
    for (i, text) in HOSTILE_STRINGS.iter().enumerate() {
        let id = format!("hostile-{i}-{text}");
        let mut p = posting(&id);
        p.title = text.to_string();
        p.company = Some(text.to_string());
        p.location = Some(text.to_string());
        p.description = format!("{text}\n{text}");
        p.source = Some(text.to_string());
        p.url = Some(text.to_string());
        ok(
            s,
            store.insert_postings(&[p.clone()]).await,
            "insert_postings stores hostile text",
        );
        let got = ok(s, store.get_posting(&p.job_posting_id).await, "get_posting");
        promise_eq!(
            s,
            got,
            Some(p),
            "every text field of a posting is stored verbatim ({text:?})"
        );

        let mut k = skill(&id, text);
        k.context_snippet = Some(text.to_string());
        k.extracted_from_section = Some(text.to_string());
        k.taxonomy_ref = Some(text.to_string());
        ok(
            s,
            store.upsert_skills(&[k.clone()]).await,
            "upsert_skills stores hostile text",
        );
        let skills = ok(
            s,
            store.skills_for_job(&job_posting_id(&id), None).await,
            "skills_for_job",
        );
        promise_eq!(
            s,
            skills,
            vec![k],
            "every text field of a skill is stored verbatim ({text:?})"
        );

        let mut sec = section(&id, 0, text);
        sec.section_header = Some(text.to_string());
        sec.section_type = text.to_string();
        sec.section_text = text.to_string();
        ok(
            s,
            store.upsert_sections(&[sec.clone()]).await,
            "upsert_sections stores hostile text",
        );
        let sections = ok(
            s,
            store
                .sections_for_job(&job_posting_id(&id), Some(text.to_string()))
                .await,
            "sections_for_job",
        );
        promise_eq!(
            s,
            sections,
            vec![sec],
            "every text field of a section is stored verbatim ({text:?})"
        );

        let a = alias(text, text);
        ok(
            s,
            store.add_alias(&a).await,
            "add_alias stores hostile text",
        );
        let got = ok(s, store.get_alias(text).await, "get_alias");
        promise_eq!(
            s,
            got,
            Some(a),
            "alias text and canonical name are stored verbatim ({text:?})"
        );

        let mut m = model_minimal(
            "hostile_model",
            &format!("v1.{i}"),
            EnrichmentType::Clustering,
        );
        m.description = Some(text.to_string());
        m.config_overrides.insert(
            text.to_string(),
            serde_json::Value::String(text.to_string()),
        );
        m.performance_metrics.insert(text.to_string(), 0.5);
        ok(
            s,
            store.register_model(&m).await,
            "register_model stores hostile text",
        );
        let activated = ok(
            s,
            store
                .activate_model(&m.model_id, &m.version, text, at(40 + i as i64))
                .await,
            "activate_model records a hostile activated_by",
        );
        promise_eq!(
            s,
            activated.activated_by.as_deref(),
            Some(*text),
            "activated_by is stored verbatim ({text:?})"
        );
        let got = ok(
            s,
            store.get_model(&m.model_id, &m.version).await,
            "get_model",
        )
        .map(|g| (g.description, g.config_overrides, g.performance_metrics));
        promise_eq!(
            s,
            got,
            Some((m.description, m.config_overrides, m.performance_metrics)),
            "model description and map keys and values are stored verbatim ({text:?})"
        );

        let mut e = evaluation(
            &format!("eval-{i}-{text}"),
            "hostile_model",
            "v1.0",
            text,
            at(i as i64),
        );
        e.dataset_path = Some(text.to_string());
        e.ci_build_id = Some(text.to_string());
        ok(
            s,
            store.insert_evaluation(&e).await,
            "insert_evaluation stores hostile text",
        );
        let got = ok(
            s,
            store
                .latest_evaluation(&e.model_id, None, Some(text.to_string()))
                .await,
            "latest_evaluation",
        );
        promise_eq!(
            s,
            got,
            Some(e),
            "evaluation text fields are stored verbatim ({text:?})"
        );
    }
    promise_eq!(
        s,
        ok(s, store.count_postings().await, "count_postings"),
        HOSTILE_STRINGS.len() as u64,
        "hostile text never alters other rows or tables"
    );
    for pattern in ["%", "_", "100%", "%DROP%"] {
        let got = ok(s, store.get_alias(pattern).await, "get_alias");
        promise_eq!(
            s,
            got,
            None,
            "lookups never treat text as a LIKE pattern ({pattern:?})"
        );
        let posting = ok(
            s,
            store.get_posting(&job_posting_id(pattern)).await,
            "get_posting",
        );
        promise_eq!(
            s,
            posting,
            None,
            "id lookups never treat text as a LIKE pattern ({pattern:?})"
        );
    }
    promise_eq!(
        s,
        ok(s, store.list_aliases(false).await, "list_aliases").len(),
        HOSTILE_STRINGS.len(),
        "every hostile alias is stored once"
    );
}

pub async fn invalid_entities_are_rejected_and_nothing_of_the_batch_is_stored(
    store: Arc<dyn Store>,
) {
    let s = &*store;
    let mut bad_posting = posting("job-bad");
    bad_posting.title = " ".to_string();
    expect_validation(
        s,
        store
            .insert_postings(&[posting("job-ok"), bad_posting])
            .await,
        "JobPosting",
        "title",
        "an invalid posting fails insert_postings",
    );
    promise_eq!(
        s,
        ok(s, store.count_postings().await, "count_postings"),
        0,
        "nothing of a rejected posting batch is stored"
    );

    seed_jobs(s, &["job-a"]).await;
    let mut bad_skill = skill("job-a", "Bad");
    bad_skill.confidence_score = 1.5;
    expect_validation(
        s,
        store
            .upsert_skills(&[skill("job-a", "Rust"), bad_skill.clone()])
            .await,
        "ExtractedSkill",
        "confidence_score",
        "an invalid skill fails upsert_skills",
    );
    let mut no_strategy = skill("job-a", "None");
    no_strategy.source_strategies.clear();
    expect_validation(
        s,
        store.upsert_skills(&[no_strategy]).await,
        "ExtractedSkill",
        "source_strategies",
        "a skill without strategy fails upsert_skills",
    );
    promise!(
        s,
        ok(
            s,
            store.skills_for_job(&job_posting_id("job-a"), None).await,
            "skills_for_job"
        )
        .is_empty(),
        "nothing of a rejected skill batch is stored"
    );

    let mut bad_section = section("job-a", 1, "c1");
    bad_section.relevance_probability = -0.5;
    expect_validation(
        s,
        store
            .upsert_sections(&[section("job-a", 0, "c1"), bad_section])
            .await,
        "SectionClassification",
        "relevance_probability",
        "an invalid section fails upsert_sections",
    );
    promise!(
        s,
        ok(
            s,
            store.sections_for_job(&job_posting_id("job-a"), None).await,
            "sections_for_job"
        )
        .is_empty(),
        "nothing of a rejected section batch is stored"
    );

    let long_alias = alias(&"x".repeat(51), "X");
    expect_validation(
        s,
        store
            .upsert_aliases(&[alias("ok", "OK"), long_alias.clone()])
            .await,
        "SkillAlias",
        "alias_text",
        "an alias over 50 characters fails upsert_aliases",
    );
    expect_validation(
        s,
        store.add_alias(&long_alias).await,
        "SkillAlias",
        "alias_text",
        "an invalid alias fails add_alias",
    );
    let mut bad_confidence = alias("conf", "Conf");
    bad_confidence.confidence = 2.0;
    expect_validation(
        s,
        store.add_alias(&bad_confidence).await,
        "SkillAlias",
        "confidence",
        "confidence must be in [0, 1]",
    );
    promise!(
        s,
        ok(s, store.list_aliases(false).await, "list_aliases").is_empty(),
        "nothing of a rejected alias batch is stored"
    );

    let mut bad_model = model("skills_extractor", "v1.0", EnrichmentType::SkillsExtraction);
    bad_model.updated_at = at(-1000);
    expect_validation(
        s,
        store.register_model(&bad_model).await,
        "ModelConfig",
        "updated_at",
        "created_at <= updated_at",
    );
    promise!(
        s,
        ok(s, store.list_models(None).await, "list_models").is_empty(),
        "a rejected model is not stored"
    );
    let good_model = model("skills_extractor", "v1.0", EnrichmentType::SkillsExtraction);
    ok(s, store.register_model(&good_model).await, "register_model");
    let negative = BTreeMap::from([("f1_score".to_string(), -1.0)]);
    expect_validation(
        s,
        store
            .update_performance_metrics(
                &good_model.model_id,
                &good_model.version,
                &negative,
                at(100),
            )
            .await,
        "ModelConfig",
        "performance_metrics",
        "negative performance metrics are rejected",
    );
    let stored = ok(
        s,
        store
            .get_model(&good_model.model_id, &good_model.version)
            .await,
        "get_model",
    )
    .expect("model exists");
    promise_eq!(
        s,
        stored.performance_metrics,
        good_model.performance_metrics,
        "a rejected metrics update changes nothing"
    );

    let mut bad_eval = evaluation("e1", "skills_extractor", "v1.0", "ds", at(1));
    bad_eval.sample_count = 0;
    expect_validation(
        s,
        store.insert_evaluation(&bad_eval).await,
        "EvaluationResult",
        "sample_count",
        "sample_count > 0",
    );
    promise!(
        s,
        ok(
            s,
            store.list_evaluations(&good_model.model_id).await,
            "list_evaluations"
        )
        .is_empty(),
        "a rejected evaluation is not stored"
    );

    let mut bad_run = cluster_run("r1", at(1), &[("job-a", 0)]);
    bad_run.assignments[0].cluster_keywords[0].score = f64::NAN;
    expect_validation(
        s,
        store.record_clustering_run(&bad_run).await,
        "ClusterAssignment",
        "cluster_keywords",
        "keyword scores must be finite",
    );

    // A completion batch with one invalid result writes nothing at all.
    seed_jobs(s, &["job-b"]).await;
    let key_a = claimed_job(s, "job-a", "w", at(0)).await;
    let key_b = claimed_job(s, "job-b", "w", at(0)).await;
    let mut bad_b = skill("job-b", "Bad");
    bad_b.confidence_score = f64::NAN;
    expect_validation(
        s,
        store
            .complete_enrichments(
                &[
                    success(&key_a, "w", vec![skill("job-a", "Rust")], vec![]),
                    success(&key_b, "w", vec![bad_b], vec![]),
                ],
                at(5),
            )
            .await,
        "ExtractedSkill",
        "confidence_score",
        "an invalid result fails the whole completion batch",
    );
    for key in [&key_a, &key_b] {
        let e =
            ok(s, store.get_enrichment(key).await, "get_enrichment").expect("enrichment exists");
        promise_eq!(
            s,
            e.status,
            EnrichmentStatus::Processing,
            "nothing of a rejected completion batch is written"
        );
    }
    promise!(
        s,
        ok(
            s,
            store
                .skills_for_job(&job_posting_id("job-a"), Some(version()))
                .await,
            "skills_for_job"
        )
        .is_empty(),
        "no skill of a rejected completion batch is written"
    );
}
