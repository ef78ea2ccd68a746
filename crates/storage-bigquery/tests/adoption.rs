//! Adopting a pre-extension dataset (the seed's `brightdata_jobs` tables) and
//! upgrading a dataset of the previous release, on the emulator: every row is
//! kept, old rows get the documented defaults, and the project works on top.

mod common;

use jobenrich_domain::{
    AliasRepository, ClaimRequest, ClusterRepository, ClusteringRun, EnrichmentKey,
    EnrichmentRepository, EnrichmentStatus, EnrichmentType, EnrichmentVersion,
    EvaluationRepository, JobId, JobPostingRepository, ModelConfigRepository, ModelId,
    ModelVersion, NewClusterAssignment, SchemaMigrator, SectionRepository, SkillRepository,
};
use jobenrich_storage_bigquery::{schema, BigQueryStore};

async fn run(store: &BigQueryStore, sql: &str) {
    store
        .select_text(sql, &[], &[])
        .await
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
}

async fn count(store: &BigQueryStore, sql: &str) -> i64 {
    let rows = store.select_text(sql, &[], &[]).await.unwrap();
    rows[0][0].as_deref().unwrap().parse().unwrap()
}

fn legacy_key(job: &str) -> EnrichmentKey {
    EnrichmentKey {
        job_posting_id: JobId::parse(job).unwrap(),
        enrichment_type: EnrichmentType::SkillsExtraction,
        enrichment_version: EnrichmentVersion::legacy(),
    }
}

const SEED_TABLES: &[&str] = &[
    "CREATE TABLE job_postings (job_posting_id STRING NOT NULL, title STRING NOT NULL,
        company STRING, location STRING, description STRING NOT NULL, posted_at TIMESTAMP,
        source STRING, url STRING, ingested_at TIMESTAMP NOT NULL)",
    "CREATE TABLE job_enrichments (enrichment_id STRING NOT NULL, job_posting_id STRING NOT NULL,
        enrichment_type STRING NOT NULL, status STRING NOT NULL, metadata JSON,
        error_message STRING, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)",
    "CREATE TABLE job_skills (skill_id STRING NOT NULL, job_posting_id STRING NOT NULL,
        enrichment_id STRING, skill_name STRING NOT NULL, skill_category STRING NOT NULL,
        confidence_score FLOAT64 NOT NULL, context_snippet STRING, created_at TIMESTAMP NOT NULL)",
    "CREATE TABLE job_clusters (cluster_assignment_id STRING NOT NULL,
        job_posting_id STRING NOT NULL, enrichment_id STRING, cluster_id INT64 NOT NULL,
        cluster_name STRING NOT NULL, cluster_keywords JSON, cluster_size INT64 NOT NULL,
        created_at TIMESTAMP NOT NULL)",
    "INSERT INTO job_postings (job_posting_id, title, company, description, source, ingested_at)
     VALUES ('b1', 'Rust Engineer', 'Acme', 'Rust and SQL', 'brightdata', TIMESTAMP_MICROS(1)),
            ('b2', 'Analyst', NULL, 'Excel and SQL', NULL, TIMESTAMP_MICROS(2))",
    "INSERT INTO job_enrichments (enrichment_id, job_posting_id, enrichment_type, status, metadata,
        error_message, created_at, updated_at)
     VALUES ('6f1c1a52-0000-4000-8000-000000000001', 'b1', 'skills_extraction', 'success',
             PARSE_JSON('{\"source\":\"v0\"}'), NULL, TIMESTAMP_MICROS(10), TIMESTAMP_MICROS(20)),
            ('6f1c1a52-0000-4000-8000-000000000002', 'b2', 'skills_extraction', 'pending',
             NULL, NULL, TIMESTAMP_MICROS(10), TIMESTAMP_MICROS(10))",
    "INSERT INTO job_skills (skill_id, job_posting_id, enrichment_id, skill_name, skill_category,
        confidence_score, context_snippet, created_at)
     VALUES ('6f1c1a52-0000-4000-8000-0000000000a1', 'b1', '6f1c1a52-0000-4000-8000-000000000001',
             'Rust', 'programming_languages', 0.9, 'Rust and', TIMESTAMP_MICROS(20))",
    "INSERT INTO job_clusters (cluster_assignment_id, job_posting_id, enrichment_id, cluster_id,
        cluster_name, cluster_keywords, cluster_size, created_at)
     VALUES ('6f1c1a52-0000-4000-8000-0000000000c1', 'b1', '6f1c1a52-0000-4000-8000-000000000001',
             4, 'systems', PARSE_JSON('[\"rust\",\"sql\"]'), 12, TIMESTAMP_MICROS(30))",
];

#[tokio::test]
async fn a_brightdata_jobs_dataset_is_adopted_with_alters_and_backfills_only() {
    let url = common::emulator_url();
    let dataset = common::fresh_dataset("brightdata_jobs");
    let _guard = common::DatasetGuard::new(&url, &dataset);
    let store = common::store_at(&url, &dataset).await;
    store.create_dataset_if_absent().await.unwrap();
    for sql in SEED_TABLES {
        run(&store, sql).await;
    }

    // The plan touches the existing tables with ALTERs and backfills only.
    let plan = store.pending_migration_plan().await.unwrap();
    let new_tables = [
        "schema_migrations",
        "skill_aliases",
        "section_classifications",
        "evaluation_results",
        "model_config",
        "_staging",
        "queue_coordinator",
        "queue_requests",
        "queue_replies",
    ];
    for statement in plan.split(";\n\n").map(str::trim) {
        let sql: String = statement
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        let sql = sql.trim();
        if sql.is_empty() {
            continue;
        }
        let ok = sql.starts_with("ALTER TABLE ")
            || sql.starts_with("UPDATE ")
            || sql.starts_with("MERGE schema_migrations")
            // The coordinator row of the table migration 8 creates.
            || sql.starts_with("MERGE queue_coordinator")
            || new_tables
                .iter()
                .any(|t| sql.starts_with(&format!("CREATE TABLE IF NOT EXISTS {t}")))
            || new_tables
                .iter()
                .any(|t| sql.starts_with(&format!("ALTER TABLE {t} ")));
        assert!(
            ok,
            "only ALTERs and backfills for an adopted dataset, got:\n{sql}"
        );
        for table in [
            "job_postings",
            "job_enrichments",
            "job_skills",
            "job_clusters",
        ] {
            assert!(
                !sql.starts_with(&format!("ALTER TABLE {table} RENAME")),
                "{table} already has the seed's names:\n{sql}"
            );
        }
    }

    store.migrate().await.unwrap();
    assert_eq!(count(&store, "SELECT COUNT(*) FROM job_postings").await, 2);
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM job_enrichments").await,
        2
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM job_enrichments WHERE enrichment_version IS NULL"
        )
        .await,
        0,
        "enrichment_version is never NULL after migration"
    );
    let done = store
        .get_enrichment(&legacy_key("b1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        done.enrichment_id.to_string(),
        "6f1c1a52-0000-4000-8000-000000000001"
    );
    assert_eq!((done.status, done.attempts), (EnrichmentStatus::Success, 1));
    assert_eq!(done.metadata["source"], "v0");
    let b1 = JobId::parse("b1").unwrap();
    let skills = store
        .skills_for_job(&b1, Some(EnrichmentVersion::legacy()))
        .await
        .unwrap();
    assert_eq!(skills.len(), 1);
    assert_eq!(
        (skills[0].mention_count, skills[0].enrichment_id),
        (1, Some(done.enrichment_id))
    );
    let cluster = store.active_assignment(&b1).await.unwrap().unwrap();
    assert_eq!(
        (
            cluster.cluster_id,
            cluster.cluster_version,
            cluster.cluster_run_id.as_str(),
            cluster.cluster_keywords[1].term.as_str()
        ),
        (4, 1, "legacy", "sql")
    );

    // The project works on top: claims, re-enrichment, a new cluster version.
    let claimed = store
        .claim_enrichments(&ClaimRequest {
            enrichment_type: EnrichmentType::SkillsExtraction,
            enrichment_version: None,
            owner: "w1".into(),
            lease: chrono::Duration::seconds(60),
            limit: 10,
            max_attempts: 3,
            now: chrono::Utc::now(),
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].job_posting_id.as_str(), "b2");
    let v1 = EnrichmentVersion::parse("skills_extractor@v1.0").unwrap();
    assert_eq!(
        store
            .find_jobs_needing_enrichment(EnrichmentType::SkillsExtraction, &v1, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    let run = ClusteringRun {
        cluster_run_id: "run-1".into(),
        cluster_model_id: ModelId::parse("job_clusterer").unwrap(),
        cluster_model_version: ModelVersion::parse("v1.0").unwrap(),
        assigned_at: chrono::Utc::now(),
        assignments: vec![NewClusterAssignment {
            enrichment_id: None,
            job_posting_id: b1.clone(),
            cluster_id: 2,
            cluster_name: "c".into(),
            cluster_keywords: vec![],
            cluster_size: 1,
        }],
    };
    assert_eq!(
        store.record_clustering_run(&run).await.unwrap().deactivated,
        1
    );
    let history = store.assignment_history(&b1).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|a| (a.cluster_version, a.is_active))
            .collect::<Vec<_>>(),
        [(1, false), (2, true)]
    );
}

/// Rows in every table as the previous release (schema version 3) wrote them.
const V3_ROWS: &[&str] = &[
    "INSERT INTO job_postings (id, title, company, description, url, ingested_at)
     VALUES ('p1', 'Rust Engineer', 'Acme', 'Rust and SQL', 'https://x/1', TIMESTAMP_MICROS(5))",
    "INSERT INTO job_enrichments (job_id, enrichment_type, enrichment_version, status, model_id,
        model_version, attempts, created_at, updated_at, completed_at)
     VALUES ('p1', 'skills_extraction', 'skills_extractor@v1.0', 'success', 'skills_extractor',
             'v1.0', 1, TIMESTAMP_MICROS(10), TIMESTAMP_MICROS(20), TIMESTAMP_MICROS(20))",
    "INSERT INTO job_skills (job_id, skill_name, skill_category, confidence_score,
        source_strategies, mention_count, taxonomy_ref, enrichment_version, created_at)
     VALUES ('p1', 'Rust', 'programming_languages', 0.9, ['lexicon', 'pattern'], 2, 'esco:1',
             'skills_extractor@v1.0', TIMESTAMP_MICROS(20))",
    "INSERT INTO section_classifications (job_id, classifier_version, section_index, section_type,
        section_text, start_offset, end_offset, is_skills_relevant, relevance_probability,
        classification_method, created_at)
     VALUES ('p1', 'section_classifier@v1.0', 0, 'requirements', 'Rust and SQL', 0, 12, TRUE,
             0.75, 'rule_based', TIMESTAMP_MICROS(20))",
    "INSERT INTO job_clusters (job_id, cluster_id, cluster_name, cluster_keywords, cluster_size,
        cluster_run_id, cluster_model_id, cluster_model_version, cluster_version, is_active,
        assigned_at)
     VALUES ('p1', 3, 'systems', PARSE_JSON('[{\"term\":\"rust\",\"score\":0.5}]'), 7, 'run-a',
             'job_clusterer', 'v1.0', 1, TRUE, TIMESTAMP_MICROS(40))",
    "INSERT INTO skill_aliases (alias_key, alias_text, canonical_name, category, confidence, source,
        is_active, created_at, updated_at)
     VALUES ('k8s', 'K8s', 'Kubernetes', 'devops_tools', 0.95, 'manual', TRUE,
             TIMESTAMP_MICROS(50), TIMESTAMP_MICROS(51))",
    "INSERT INTO model_config (model_id, version, model_type, is_active, config_overrides,
        performance_metrics, created_at, updated_at, activated_by)
     VALUES ('skills_extractor', 'v1.0', 'skills_extraction', TRUE, PARSE_JSON('{}'),
             PARSE_JSON('{\"f1_score\":0.5}'), TIMESTAMP_MICROS(60), TIMESTAMP_MICROS(61), 'ops')",
    "INSERT INTO evaluation_results (evaluation_id, model_id, model_version, dataset_version,
        precision, recall, f1_score, category_metrics, additional_metrics, sample_count,
        execution_time_seconds, is_ci_run, evaluated_at)
     VALUES ('ev1', 'skills_extractor', 'v1.0', 'd1', 0.75, 0.5, 0.6, PARSE_JSON('{}'),
             PARSE_JSON('{}'), 58, 1.5, FALSE, TIMESTAMP_MICROS(70))",
];

#[tokio::test]
async fn a_dataset_of_the_previous_release_keeps_every_row_under_the_seed_names() {
    let url = common::emulator_url();
    let dataset = common::fresh_dataset("upgrade");
    let _guard = common::DatasetGuard::new(&url, &dataset);
    let store = common::store_at(&url, &dataset).await;
    store.create_dataset_if_absent().await.unwrap();
    run(&store, schema::CREATE_SCHEMA_TABLE).await;
    for m in schema::MIGRATIONS.iter().filter(|m| m.version <= 3) {
        for sql in m.statements {
            run(&store, sql).await;
        }
        run(
            &store,
            &format!(
                "INSERT INTO schema_migrations (version, name, applied_at)
                 VALUES ({}, '{}', CURRENT_TIMESTAMP())",
                m.version, m.name
            ),
        )
        .await;
    }
    for sql in V3_ROWS {
        run(&store, sql).await;
    }
    let report = store.migrate().await.unwrap();
    assert_eq!(
        report.applied,
        vec![
            "0004_seed_names",
            "0005_mention_spans",
            "0006_job_embeddings",
            "0007_taxonomy_links",
            "0008_queue_coordination"
        ]
    );

    let p1 = JobId::parse("p1").unwrap();
    let posting = store.get_posting(&p1).await.unwrap().unwrap();
    assert_eq!(posting.url.as_deref(), Some("https://x/1"));
    let v = EnrichmentVersion::parse("skills_extractor@v1.0").unwrap();
    let e1 = store
        .get_enrichment(&EnrichmentKey {
            job_posting_id: p1.clone(),
            enrichment_type: EnrichmentType::SkillsExtraction,
            enrichment_version: v.clone(),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!((e1.status, e1.attempts), (EnrichmentStatus::Success, 1));
    let skills = store.skills_for_job(&p1, Some(v)).await.unwrap();
    assert_eq!(
        (
            skills.len(),
            skills[0].mention_count,
            skills[0].enrichment_id
        ),
        (1, 2, Some(e1.enrichment_id))
    );
    assert!(
        skills[0].mention_spans.is_empty(),
        "a row from before mention_spans reads with none"
    );
    let sections = store.sections_for_job(&p1, None).await.unwrap();
    assert_eq!(sections[0].section_text, "Rust and SQL");
    let cluster = store.active_assignment(&p1).await.unwrap().unwrap();
    assert_eq!(
        (cluster.cluster_id, cluster.created_at.timestamp_micros()),
        (3, 40)
    );
    let alias = store.get_alias("k8s").await.unwrap().unwrap();
    assert_eq!(
        (alias.skill_category.as_str(), alias.created_by.as_str()),
        ("devops_tools", "legacy")
    );
    let model = store
        .get_model(
            &ModelId::parse("skills_extractor").unwrap(),
            &ModelVersion::parse("v1.0").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(model.activated_by.as_deref(), Some("ops"));
    let eval = store
        .latest_evaluation(&ModelId::parse("skills_extractor").unwrap(), None, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            eval.overall_precision,
            eval.overall_f1,
            eval.evaluation_date.timestamp_micros()
        ),
        (0.75, 0.6, 70)
    );
    for (table, id) in [
        ("job_enrichments", "enrichment_id"),
        ("job_skills", "skill_id"),
        ("section_classifications", "classification_id"),
        ("job_clusters", "cluster_assignment_id"),
        ("skill_aliases", "alias_id"),
    ] {
        assert_eq!(
            count(
                &store,
                &format!("SELECT COUNT(*) FROM {table} WHERE {id} IS NULL")
            )
            .await,
            0,
            "{table}.{id} is filled"
        );
    }
}
