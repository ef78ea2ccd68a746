//! The seed's three query patterns, as the seed writes them, run on the
//! store's own tables: the re-enrichment anti-join, the latest evaluation and
//! cluster stability. Only the parameter syntax is adapted (`@name`, which
//! SQLite and BigQuery both read); tables are unqualified (SQLite has one
//! schema, BigQuery statements run with the store's dataset as default). Each
//! result is checked against the port method answering the same question.

use super::enrichments::{claim_request, enqueue, failure, seed_jobs, success};
use super::ok;
use crate::fixtures::{at, cluster_run, evaluation, key, model_id, version};
use crate::{SeedSql, SqlParam};
use jobenrich_domain::{EnrichmentType, EnrichmentVersion, Store};
use std::sync::Arc;

/// Jobs needing (re-)enrichment at a version: the seed's anti-join.
pub const SEED_REENRICHMENT: &str = "SELECT jp.job_posting_id
FROM job_postings jp
LEFT JOIN job_enrichments je
  ON jp.job_posting_id = je.job_posting_id
 AND je.enrichment_type = @enrichment_type
 AND je.enrichment_version = @enrichment_version
 AND je.status = 'success'
WHERE je.enrichment_id IS NULL";

/// The newest evaluation of a model.
pub const SEED_LATEST_EVALUATION: &str = "SELECT * FROM evaluation_results
WHERE model_id = @model_id
ORDER BY evaluation_date DESC
LIMIT 1";

/// Jobs whose cluster changed between two cluster versions.
pub const SEED_CLUSTER_STABILITY: &str =
    "SELECT c1.job_posting_id, c1.cluster_id AS old_cluster, c2.cluster_id AS new_cluster
FROM job_clusters c1
JOIN job_clusters c2 ON c1.job_posting_id = c2.job_posting_id
WHERE c1.cluster_version = @old_version AND c2.cluster_version = @new_version
  AND c1.cluster_id != c2.cluster_id";

async fn select(
    store: &dyn Store,
    sql: &dyn SeedSql,
    text: &str,
    params: &[(&str, SqlParam)],
) -> Vec<Vec<Option<String>>> {
    let mut rows = sql.select(text, params).await.unwrap_or_else(|e| {
        panic!(
            "[{}] promise broken: the seed's query runs as written: {e}\n{text}",
            store.backend_name()
        )
    });
    rows.sort();
    rows
}

fn text(v: &str) -> SqlParam {
    SqlParam::Text(v.to_string())
}

pub async fn the_seeds_three_queries_run_as_written(store: Arc<dyn Store>, sql: Arc<dyn SeedSql>) {
    let s = &*store;
    let sql = &*sql;
    const SKILLS: EnrichmentType = EnrichmentType::SkillsExtraction;

    // Re-enrichment: j1 done at the version, j2 only at another version, j3
    // failed at the version, j4 never queued.
    seed_jobs(s, &["j1", "j2", "j3", "j4"]).await;
    let other = EnrichmentVersion::parse("skills_extractor@v0.9").expect("valid version");
    enqueue(s, &["j1", "j3"], SKILLS, &version(), at(0)).await;
    enqueue(s, &["j2"], SKILLS, &other, at(0)).await;
    for (v, jobs) in [(Some(version()), 2), (Some(other.clone()), 1)] {
        let claimed = ok(
            s,
            store
                .claim_enrichments(&claim_request("w", at(1), 10, SKILLS, v))
                .await,
            "claim",
        );
        promise_eq!(s, claimed.len(), jobs, "the queued work is claimed");
    }
    ok(
        s,
        store
            .complete_enrichments(
                &[
                    success(&key("j1", SKILLS, &version()), "w", vec![], vec![]),
                    success(&key("j2", SKILLS, &other), "w", vec![], vec![]),
                    failure(&key("j3", SKILLS, &version()), "w", "boom", None),
                ],
                at(2),
            )
            .await,
        "complete",
    );
    let seed = select(
        s,
        sql,
        SEED_REENRICHMENT,
        &[
            ("enrichment_type", text(SKILLS.as_str())),
            ("enrichment_version", text(version().as_str())),
        ],
    )
    .await;
    let port: Vec<Vec<Option<String>>> = ok(
        s,
        store
            .find_jobs_needing_enrichment(SKILLS, &version(), 100)
            .await,
        "find_jobs_needing_enrichment",
    )
    .into_iter()
    .map(|j| vec![Some(j.to_string())])
    .collect();
    promise_eq!(
        s,
        seed,
        vec![
            vec![Some("j2".to_string())],
            vec![Some("j3".to_string())],
            vec![Some("j4".to_string())]
        ],
        "the seed's anti-join finds the jobs without a success at the version"
    );
    promise_eq!(s, seed, port, "the seed's anti-join and the port agree");

    // Latest evaluation.
    for (id, t) in [("e-old", 10), ("e-new", 30), ("e-mid", 20)] {
        ok(
            s,
            store
                .insert_evaluation(&evaluation(id, "skills_extractor", "v1.0", "d1", at(t)))
                .await,
            "insert_evaluation",
        );
    }
    ok(
        s,
        store
            .insert_evaluation(&evaluation(
                "e-other",
                "section_classifier",
                "v1.0",
                "d1",
                at(99),
            ))
            .await,
        "insert_evaluation",
    );
    let wrapped = format!("SELECT evaluation_id FROM ({SEED_LATEST_EVALUATION}) AS latest");
    let seed = select(s, sql, &wrapped, &[("model_id", text("skills_extractor"))]).await;
    let port = ok(
        s,
        store
            .latest_evaluation(&model_id("skills_extractor"), None, None)
            .await,
        "latest_evaluation",
    )
    .map(|e| e.evaluation_id);
    promise_eq!(
        s,
        seed,
        vec![vec![Some("e-new".to_string())]],
        "the seed's latest-evaluation query returns the newest evaluation of the model"
    );
    promise_eq!(
        s,
        seed,
        vec![vec![port]],
        "the seed's latest evaluation and the port agree"
    );

    // Cluster stability between versions 1 and 2 (two runs over the same jobs).
    ok(
        s,
        store
            .record_clustering_run(&cluster_run(
                "r1",
                at(40),
                &[("j1", 0), ("j2", 0), ("j3", 1)],
            ))
            .await,
        "record r1",
    );
    ok(
        s,
        store
            .record_clustering_run(&cluster_run(
                "r2",
                at(50),
                &[("j1", 0), ("j2", 1), ("j3", 2)],
            ))
            .await,
        "record r2",
    );
    let seed = select(
        s,
        sql,
        SEED_CLUSTER_STABILITY,
        &[
            ("old_version", SqlParam::Int(1)),
            ("new_version", SqlParam::Int(2)),
        ],
    )
    .await;
    let port: Vec<Vec<Option<String>>> = ok(
        s,
        store.cluster_changes("r1", "r2").await,
        "cluster_changes",
    )
    .into_iter()
    .map(|c| {
        vec![
            Some(c.job_posting_id.to_string()),
            Some(c.old_cluster_id.to_string()),
            Some(c.new_cluster_id.to_string()),
        ]
    })
    .collect();
    promise_eq!(
        s,
        seed,
        vec![
            vec![Some("j2".into()), Some("0".into()), Some("1".into())],
            vec![Some("j3".into()), Some("1".into()), Some("2".into())]
        ],
        "the seed's stability query lists the jobs whose cluster moved"
    );
    promise_eq!(
        s,
        seed,
        port,
        "the seed's stability query and the port agree"
    );
}
