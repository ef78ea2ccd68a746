//! The DML-limit simulator (`common/dml_limits.rs`) enforces BigQuery's
//! per-table limits, and worker lanes behind it drain a queue with nothing
//! lost or duplicated. The 1/4/16/64-lane figures on 20,000 postings come from
//! the `bq_dml_sim` example (docs/bigquery.md); this test runs a small queue.
//! The lanes use the coordinated queue: one leader applies every lane's
//! operations, so no table's DML queue fills and no lane sees an error. (With
//! `queue: direct`, lanes > 1 had completions aborted by the simulated
//! conflicts and work left leased until its lease expired.)

mod common;

use common::dml_limits::{parse_dml, DmlLimits, QUEUED, RATE, RUNNING_MUTATING};
use common::proxy::{Policy, Request, Verdict};
use jobenrich_storage_bigquery::QueueMode;
use std::sync::Arc;
use std::time::Duration;

fn query(sql: &str) -> Request {
    Request {
        method: "POST".into(),
        path: "/bigquery/v2/projects/p/queries".into(),
        body: serde_json::json!({ "query": sql }).to_string().into_bytes(),
    }
}

fn is_forward(v: &Verdict) -> bool {
    matches!(v, Verdict::Forward)
}

#[test]
fn statements_are_attributed_to_the_tables_they_change() {
    let merge = parse_dml(
        "MERGE job_postings t USING (SELECT 1) s ON t.id = s.id
         WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id)",
    );
    assert_eq!(merge.statements.len(), 1);
    assert!(merge.mutating.contains("job_postings"));
    let script = parse_dml(
        "BEGIN TRANSACTION; UPDATE job_enrichments e SET status = 'x' WHERE TRUE;
         DELETE FROM job_skills WHERE TRUE; INSERT INTO job_skills (a) SELECT 1; COMMIT TRANSACTION;",
    );
    assert!(script.transaction);
    assert_eq!(script.statements.get("job_skills"), Some(&2));
    assert!(script.mutating.contains("job_enrichments"));
    let insert = parse_dml("INSERT INTO _staging (a) VALUES (1)");
    assert!(
        insert.statements.is_empty(),
        "temporary/staging names are skipped: {insert:?}"
    );
    let select = parse_dml("SELECT * FROM job_enrichments WHERE status = 'pending'");
    assert!(select.statements.is_empty());
}

#[tokio::test]
async fn two_mutations_run_twenty_wait_and_the_next_is_refused() {
    let limits = Arc::new(DmlLimits::new("p"));
    let update = query("UPDATE job_enrichments SET status = 'x' WHERE TRUE");
    let mut running = Vec::new();
    for _ in 0..RUNNING_MUTATING {
        assert!(is_forward(&limits.admit(&update).await));
        running.push(update.clone());
    }
    let mut waiting = tokio::task::JoinSet::new();
    for _ in 0..QUEUED {
        let (limits, update) = (limits.clone(), update.clone());
        waiting.spawn(async move { is_forward(&limits.admit(&update).await) });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(waiting.len(), QUEUED, "the queued statements wait");
    match limits.admit(&update).await {
        Verdict::Fail { message, .. } => assert!(
            message.contains("Too many DML statements outstanding"),
            "{message}"
        ),
        _ => panic!("the 23rd concurrent mutation is refused"),
    }
    // A finished statement lets one queued statement run.
    limits.finished(&running.pop().unwrap(), 200);
    let first = tokio::time::timeout(Duration::from_secs(5), waiting.join_next())
        .await
        .expect("a queued statement runs once a slot frees")
        .unwrap()
        .unwrap();
    assert!(first);
    assert_eq!(limits.stats().failed_queue_full, 1);
    waiting.abort_all();
}

#[tokio::test]
async fn a_transaction_meeting_a_running_mutation_of_its_table_is_aborted() {
    let limits = DmlLimits::new("p");
    let update = query("UPDATE job_enrichments SET status = 'x' WHERE TRUE");
    assert!(is_forward(&limits.admit(&update).await));
    let script = query(
        "BEGIN TRANSACTION; UPDATE job_enrichments SET status = 'y' WHERE TRUE; COMMIT TRANSACTION;",
    );
    match limits.admit(&script).await {
        Verdict::Fail { message, .. } => {
            assert!(message.contains("concurrent update"), "{message}")
        }
        _ => panic!("a conflicting transaction is aborted"),
    }
    // Another table is unaffected.
    let other = query("BEGIN TRANSACTION; DELETE FROM job_skills WHERE TRUE; COMMIT TRANSACTION;");
    assert!(is_forward(&limits.admit(&other).await));
    assert_eq!(limits.stats().failed_conflict, 1);
}

#[tokio::test]
async fn at_most_twenty_five_statements_start_per_table_in_ten_seconds() {
    let limits = Arc::new(DmlLimits::new("p"));
    let insert = query("INSERT INTO job_skills (a) SELECT 1");
    for _ in 0..RATE {
        assert!(is_forward(&limits.admit(&insert).await));
        limits.finished(&insert, 200);
    }
    let late = {
        let (limits, insert) = (limits.clone(), insert.clone());
        tokio::spawn(async move { limits.admit(&insert).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!late.is_finished(), "the 26th statement in 10 s waits");
    late.abort();
    assert_eq!(limits.stats().max_per_table_per_window().1, RATE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lanes_behind_the_limits_drain_a_queue_exactly_once() {
    let url = common::emulator_url();
    // A store per lane, as separate workers; the coordinated queue (default).
    for lanes in [1, 4, 16] {
        let run = common::lanes::run_lanes(
            &url,
            lanes,
            300,
            50,
            2,
            QueueMode::Coordinated,
            common::lanes::LEASE_SECONDS,
        )
        .await;
        let (table, per_window) = run.stats.max_per_table_per_window();
        eprintln!(
            "{lanes} lanes: {:.1} s, {} requests, {per_window} statements on {table} in 10 s, \
             refused {} (queue) + {} (conflict), lane errors {}, done {} of 300, leased {}",
            run.seconds,
            run.requests_total(),
            run.stats.failed_queue_full,
            run.stats.failed_conflict,
            run.lane_errors,
            run.success_rows,
            run.processing_rows,
        );
        assert!(
            run.nothing_lost_or_duplicated(2),
            "{lanes} lanes: every enrichment done once or still leased, skills once: {run:?}"
        );
        assert!(run.complete(), "{lanes} lanes drain the queue: {run:?}");
        assert!(
            per_window <= RATE,
            "the simulator kept the rate: {per_window}"
        );
        assert_eq!(
            run.stats.failed_queue_full, 0,
            "{lanes} lanes: one leader never fills a table's DML queue: {run:?}"
        );
        assert_eq!(
            run.lane_errors, 0,
            "{lanes} lanes: no lane saw an error: {run:?}"
        );
        if lanes == 1 {
            assert_eq!(
                run.stats.failed(),
                0,
                "one lane never conflicts with itself"
            );
        }
    }
}
