//! Cases of the cluster repository: per-job versioning, the one-active
//! invariant, run listing and the stability query.

use super::enrichments::seed_jobs;
use super::{expect_validation, ok};
use crate::fixtures::{at, cluster_run, job_posting_id};
use jobenrich_domain::{ClusterAssignment, ClusterChange, ClusteringRunRecorded, Store};
use std::sync::Arc;

fn versions(history: &[ClusterAssignment]) -> Vec<(u32, bool, String)> {
    history
        .iter()
        .map(|a| (a.cluster_version, a.is_active, a.cluster_run_id.clone()))
        .collect()
}

pub async fn clustering_runs_version_per_job_and_keep_one_active(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["j1", "j2", "j3", "j4"]).await;
    promise_eq!(
        s,
        ok(
            s,
            store.latest_clustering_run().await,
            "latest_clustering_run"
        ),
        None,
        "a store without runs has no latest run"
    );
    let r1 = cluster_run("run-1", at(100), &[("j1", 0), ("j2", 0), ("j3", 1)]);
    let r2 = cluster_run("run-2", at(200), &[("j1", 1), ("j2", 0), ("j4", 2)]);
    let r3 = cluster_run("run-3", at(300), &[("j1", 1)]);
    let recorded: Vec<ClusteringRunRecorded> = vec![
        ok(s, store.record_clustering_run(&r1).await, "record run-1"),
        ok(s, store.record_clustering_run(&r2).await, "record run-2"),
        ok(s, store.record_clustering_run(&r3).await, "record run-3"),
    ];
    promise_eq!(
        s,
        recorded,
        vec![
            ClusteringRunRecorded {
                assignments: 3,
                deactivated: 0
            },
            ClusteringRunRecorded {
                assignments: 3,
                deactivated: 2
            },
            ClusteringRunRecorded {
                assignments: 1,
                deactivated: 1
            },
        ],
        "a run reports its assignments and the earlier active ones it deactivated"
    );

    let history = |job: &'static str| {
        let store = Arc::clone(&store);
        async move {
            ok(
                &*store,
                store.assignment_history(&job_posting_id(job)).await,
                "assignment_history",
            )
        }
    };
    promise_eq!(
        s,
        versions(&history("j1").await),
        vec![
            (1, false, "run-1".into()),
            (2, false, "run-2".into()),
            (3, true, "run-3".into())
        ],
        "each run gives a job version max + 1; only the newest is active"
    );
    promise_eq!(
        s,
        versions(&history("j3").await),
        vec![(1, true, "run-1".into())],
        "a job absent from later runs keeps its version and stays active"
    );
    promise_eq!(
        s,
        versions(&history("j4").await),
        vec![(1, true, "run-2".into())],
        "a job's first assignment has version 1"
    );

    let active = ok(
        s,
        store.active_assignment(&job_posting_id("j1")).await,
        "active_assignment",
    );
    let a = &r3.assignments[0];
    let expected = ClusterAssignment {
        // The store gives each assignment its seed id; the rest is the run's.
        cluster_assignment_id: active
            .as_ref()
            .map_or_else(jobenrich_domain::Uuid::nil, |x| x.cluster_assignment_id),
        job_posting_id: a.job_posting_id.clone(),
        enrichment_id: a.enrichment_id,
        cluster_id: a.cluster_id,
        cluster_name: a.cluster_name.clone(),
        cluster_keywords: a.cluster_keywords.clone(),
        cluster_size: a.cluster_size,
        cluster_run_id: r3.cluster_run_id.clone(),
        cluster_model_id: r3.cluster_model_id.clone(),
        cluster_model_version: r3.cluster_model_version.clone(),
        cluster_version: 3,
        is_active: true,
        created_at: at(300),
    };
    promise_eq!(
        s,
        active,
        Some(expected),
        "the active assignment round-trips exactly (keywords list, µs time)"
    );
    promise_eq!(
        s,
        ok(
            s,
            store.active_assignment(&job_posting_id("nobody")).await,
            "active_assignment"
        ),
        None,
        "a job never clustered has no active assignment"
    );

    let run2: Vec<(String, u32, bool)> = ok(
        s,
        store.assignments_for_run("run-2").await,
        "assignments_for_run",
    )
    .into_iter()
    .map(|a| (a.job_posting_id.to_string(), a.cluster_version, a.is_active))
    .collect();
    promise_eq!(
        s,
        run2,
        vec![
            ("j1".into(), 2, false),
            ("j2".into(), 2, true),
            ("j4".into(), 1, true)
        ],
        "assignments_for_run lists a run's assignments by job id, with their current activity"
    );
    let multiple = ok(
        s,
        store.jobs_with_multiple_active_assignments().await,
        "jobs_with_multiple_active_assignments",
    );
    promise!(
        s,
        multiple.is_empty(),
        "one active assignment per job after several runs, got {multiple:?}"
    );

    let runs: Vec<(String, u64, u64, chrono::DateTime<chrono::Utc>)> = ok(
        s,
        store.list_clustering_runs().await,
        "list_clustering_runs",
    )
    .into_iter()
    .map(|r| {
        (
            r.cluster_run_id,
            r.job_count,
            r.cluster_count,
            r.assigned_at,
        )
    })
    .collect();
    promise_eq!(
        s,
        runs,
        vec![
            ("run-3".into(), 1, 1, at(300)),
            ("run-2".into(), 3, 3, at(200)),
            ("run-1".into(), 3, 2, at(100)),
        ],
        "runs are listed newest first with their job and cluster counts"
    );
    let first = ok(
        s,
        store.list_clustering_runs().await,
        "list_clustering_runs",
    )
    .into_iter()
    .next();
    promise_eq!(
        s,
        ok(
            s,
            store.latest_clustering_run().await,
            "latest_clustering_run"
        ),
        first,
        "the latest run is the first listed, with the same summary"
    );
    promise_eq!(
        s,
        ok(
            s,
            store.cluster_ids_for_run("run-2").await,
            "cluster_ids_for_run"
        ),
        vec![
            (job_posting_id("j1"), 1),
            (job_posting_id("j2"), 0),
            (job_posting_id("j4"), 2)
        ],
        "cluster_ids_for_run gives a run's (job, cluster id) by job id"
    );
    promise_eq!(
        s,
        ok(
            s,
            store.cluster_ids_for_run("no-such-run").await,
            "cluster_ids_for_run"
        ),
        Vec::new(),
        "an unknown run has no cluster ids"
    );
    // Same time as run-3: the greater run id is the newer, as in the listing.
    let r4 = cluster_run("run-4", at(300), &[("j2", 1)]);
    ok(s, store.record_clustering_run(&r4).await, "record run-4");
    let latest = ok(
        s,
        store.latest_clustering_run().await,
        "latest_clustering_run",
    )
    .map(|r| (r.cluster_run_id, r.job_count));
    let first = ok(
        s,
        store.list_clustering_runs().await,
        "list_clustering_runs",
    )
    .into_iter()
    .next()
    .map(|r| (r.cluster_run_id, r.job_count));
    promise_eq!(
        s,
        (latest, first),
        (Some(("run-4".to_string(), 1)), Some(("run-4".to_string(), 1))),
        "of two runs recorded at the same time, the greater run id is the latest (and listed first)"
    );
}

pub async fn cluster_changes_lists_jobs_whose_cluster_moved(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["a", "b", "c", "d", "e"]).await;
    ok(
        s,
        store
            .record_clustering_run(&cluster_run(
                "r1",
                at(1),
                &[("a", 0), ("b", 0), ("c", 1), ("d", 2)],
            ))
            .await,
        "record r1",
    );
    ok(
        s,
        store
            .record_clustering_run(&cluster_run(
                "r2",
                at(2),
                &[("a", 0), ("b", 1), ("c", 2), ("e", 0)],
            ))
            .await,
        "record r2",
    );
    let change = |job: &str, old: u32, new: u32| ClusterChange {
        job_posting_id: job_posting_id(job),
        old_cluster_id: old,
        old_cluster_name: format!("cluster {old}"),
        new_cluster_id: new,
        new_cluster_name: format!("cluster {new}"),
    };
    let forward = ok(
        s,
        store.cluster_changes("r1", "r2").await,
        "cluster_changes",
    );
    promise_eq!(
        s,
        forward,
        vec![change("b", 0, 1), change("c", 1, 2)],
        "the stability query lists jobs present in both runs whose cluster differs, by job id"
    );
    let backward = ok(
        s,
        store.cluster_changes("r2", "r1").await,
        "cluster_changes",
    );
    promise_eq!(
        s,
        backward,
        vec![change("b", 1, 0), change("c", 2, 1)],
        "the stability query reports old = first run, new = second run"
    );
    let same = ok(
        s,
        store.cluster_changes("r1", "r1").await,
        "cluster_changes",
    );
    promise!(
        s,
        same.is_empty(),
        "a run compared with itself has no changes"
    );
}

pub async fn failed_clustering_run_leaves_the_previous_run_intact(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["a", "b"]).await;
    ok(
        s,
        store
            .record_clustering_run(&cluster_run("r1", at(1), &[("a", 0), ("b", 1)]))
            .await,
        "record r1",
    );
    let mut bad = cluster_run("r2", at(2), &[("a", 3), ("b", 4)]);
    bad.assignments[1].cluster_name = "  ".to_string();
    expect_validation(
        s,
        store.record_clustering_run(&bad).await,
        "ClusterAssignment",
        "cluster_name",
        "an invalid assignment fails the whole run",
    );
    let duplicated = cluster_run("r3", at(3), &[("a", 3), ("a", 4)]);
    let result = store.record_clustering_run(&duplicated).await;
    promise!(
        s,
        result.is_err(),
        "a run assigning one job twice is rejected"
    );
    for job in ["a", "b"] {
        let history = ok(
            s,
            store.assignment_history(&job_posting_id(job)).await,
            "assignment_history",
        );
        promise_eq!(
            s,
            versions(&history),
            vec![(1, true, "r1".into())],
            "a failed run leaves the previous run active and intact"
        );
    }
    let runs = ok(
        s,
        store.list_clustering_runs().await,
        "list_clustering_runs",
    );
    promise_eq!(s, runs.len(), 1, "nothing of a failed run is stored");
}
