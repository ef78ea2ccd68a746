//! Crash safety of the enrichment lifecycle, with real worker processes on a
//! real SQLite file:
//! - a worker killed with SIGKILL mid-batch, then restarted: every job ends
//!   `success` exactly once at the current version, no duplicate skills, and
//!   the file passes `PRAGMA integrity_check`;
//! - two workers on one file: each job processed once, totals match;
//! - a poison posting fails alone while its batch neighbours succeed.

use jobenrich_domain::EnrichmentVersion;
use jobenrich_system_tests::{kill_hard, terminate, TestStore};
use std::time::Duration;

const POSTINGS: usize = 2_000;
/// Generous: CI machines are small and the binaries are debug builds.
const FINISH: Duration = Duration::from_secs(900);

/// Stored results are whole and unique: one success row per job at the
/// version, no duplicate skills, identical postings with identical skills.
fn assert_results_consistent(store: &TestStore, version: &EnrichmentVersion, jobs: i64) {
    let v = version.as_str();
    let conn = store.sql();
    let rows_at_version: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM job_enrichments
             WHERE enrichment_type = 'skills_extraction' AND enrichment_version = ?1",
            [v],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows_at_version, jobs, "one enrichment row per job");
    assert_eq!(store.with_status(version, "success"), jobs);
    let recorded: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM job_enrichments
             WHERE enrichment_version = ?1 AND status = 'success'
               AND model_id = 'skills_extractor' AND model_version IS NOT NULL
               AND lease_owner IS NULL AND completed_at IS NOT NULL",
            [v],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        recorded, jobs,
        "model id and version recorded on every success"
    );
    let duplicates: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM (SELECT 1 FROM job_skills WHERE enrichment_version = ?1
             GROUP BY job_posting_id, skill_name HAVING COUNT(*) > 1)",
            [v],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(duplicates, 0, "no duplicate skill rows");
    let jobs_without_skills: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM job_postings p WHERE NOT EXISTS
             (SELECT 1 FROM job_skills s WHERE s.job_posting_id = p.job_posting_id AND s.enrichment_version = ?1)",
            [v],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(jobs_without_skills, 0, "every seeded posting names skills");
    // Postings with the same text must have the same number of skills: a
    // half-written or doubled result would break this.
    let inconsistent_texts: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM (
                 SELECT p.description FROM job_postings p
                 JOIN (SELECT job_posting_id, COUNT(*) AS n FROM job_skills
                       WHERE enrichment_version = ?1 GROUP BY job_posting_id) c ON c.job_posting_id = p.job_posting_id
                 GROUP BY p.description HAVING COUNT(DISTINCT c.n) > 1)",
            [v],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        inconsistent_texts, 0,
        "identical postings got identical skills"
    );
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
}

/// The `worker stopped` line's field, summed over workers. A worker told to
/// stop while still loading its engine (the other one may have done all the
/// work by then) logs that instead and has processed nothing.
fn stopped_total(store: &TestStore, workers: &[&str], field: &str) -> u64 {
    workers
        .iter()
        .map(|w| {
            let lines = store.log_lines(w);
            match lines.iter().find(|l| l["message"] == "worker stopped") {
                Some(line) => line[field]
                    .as_u64()
                    .unwrap_or_else(|| panic!("`worker stopped` line of {w} lacks {field}")),
                None => {
                    assert!(
                        lines
                            .iter()
                            .any(|l| l["message"] == "stopped before the engine was loaded"),
                        "worker {w} logged neither `worker stopped` nor an early stop"
                    );
                    0
                }
            }
        })
        .sum()
}

#[test]
fn a_worker_killed_mid_batch_then_restarted_enriches_every_job_exactly_once() {
    let store = TestStore::new(
        "  batch_size: 16\n  engine_threads: 2\n  lease_seconds: 10\n  poll_interval_ms: 50\n  max_idle_backoff_ms: 200\n",
    );
    let version = store.seed(POSTINGS, |_| None);

    // Kill a worker while it holds a leased batch. A batch takes ~20 ms, so a
    // kill can land between two batches; then no lease is held and the
    // scenario is retried with a fresh worker (completed jobs stay done).
    let mut attempt = 0;
    let (done_before_kill, leased_by_dead_worker) = loop {
        attempt += 1;
        let before = store.with_status(&version, "success");
        let mut first = store.spawn_worker(&format!("first-{attempt}"));
        store.wait_until("a worker's results with a batch in hand", FINISH, |s| {
            s.with_status(&version, "success") > before && s.with_status(&version, "processing") > 0
        });
        kill_hard(&mut first);
        let done = store.with_status(&version, "success");
        let leased = store.with_status(&version, "processing");
        if leased > 0 || attempt == 5 {
            break (done, leased);
        }
    };
    assert!(
        (done_before_kill as usize) < POSTINGS,
        "the worker was killed before finishing"
    );
    assert!(
        leased_by_dead_worker > 0,
        "a worker died holding a batch ({done_before_kill} done, {attempt} attempts)"
    );

    let mut second = store.spawn_worker("second");
    store.wait_until("every job enriched after the restart", FINISH, |s| {
        s.with_status(&version, "success") == POSTINGS as i64
    });
    let status = terminate(&mut second);
    assert!(status.success(), "graceful shutdown exits 0, got {status}");

    assert_results_consistent(&store, &version, POSTINGS as i64);
    let retried: i64 = store
        .count("SELECT COUNT(*) FROM job_enrichments WHERE attempts >= 2 AND status = 'success'");
    assert!(
        retried >= leased_by_dead_worker,
        "the dead worker's {leased_by_dead_worker} leased jobs were reclaimed after the lease expired (retried: {retried})"
    );
    assert_eq!(
        stopped_total(&store, &["second"], "succeeded") as i64,
        POSTINGS as i64 - done_before_kill,
        "the restarted worker completed exactly what was left"
    );
}

#[test]
fn two_workers_on_one_file_process_each_job_once() {
    let store = TestStore::new(
        "  batch_size: 25\n  engine_threads: 1\n  lease_seconds: 120\n  poll_interval_ms: 50\n  max_idle_backoff_ms: 200\n",
    );
    let version = store.seed(POSTINGS, |_| None);

    let mut a = store.spawn_worker("a");
    let mut b = store.spawn_worker("b");
    store.wait_until("every job enriched by two workers", FINISH, |s| {
        s.with_status(&version, "success") == POSTINGS as i64
    });
    assert!(terminate(&mut a).success());
    assert!(terminate(&mut b).success());

    assert_results_consistent(&store, &version, POSTINGS as i64);
    let claimed_twice = store.count("SELECT COUNT(*) FROM job_enrichments WHERE attempts <> 1");
    assert_eq!(claimed_twice, 0, "no job was claimed by both workers");
    assert_eq!(
        stopped_total(&store, &["a", "b"], "processed"),
        POSTINGS as u64
    );
    assert_eq!(
        stopped_total(&store, &["a", "b"], "succeeded"),
        POSTINGS as u64
    );
    let skills_stored = store.count("SELECT COUNT(*) FROM job_skills") as u64;
    assert_eq!(
        stopped_total(&store, &["a", "b"], "skills_written"),
        skills_stored,
        "skills reported by the workers are the skills stored"
    );
}

#[test]
fn a_poison_posting_fails_alone_and_its_batch_neighbours_succeed() {
    let store = TestStore::new(
        "  batch_size: 50\n  engine_threads: 1\n  lease_seconds: 60\n  poll_interval_ms: 50\n  max_idle_backoff_ms: 200\n  max_attempts: 2\n  retry_backoff_seconds: 0\n",
    );
    let poison = [7usize, 30];
    let huge = "Rust ".repeat(4_000);
    let mut overrides = serde_json::Map::new();
    overrides.insert("max_input_bytes".into(), serde_json::json!(10_000));
    let version = store.seed_with_model(
        100,
        |n| poison.contains(&n).then(|| huge.clone()),
        Some(overrides),
    );

    let mut worker = store.spawn_worker("poison");
    store.wait_until("the poison postings to become dead letters", FINISH, |s| {
        s.with_status(&version, "success") == 98
            && s.count("SELECT COUNT(*) FROM job_enrichments WHERE status = 'failed'") == 2
    });
    // Give a wrongly retryable row time to be requeued before looking.
    std::thread::sleep(Duration::from_secs(2));
    assert!(terminate(&mut worker).success());

    let conn = store.sql();
    let final_failures = store.count(
        "SELECT COUNT(*) FROM job_enrichments
         WHERE status = 'failed' AND json_extract(metadata, '$.retryable') = 0",
    );
    assert_eq!(final_failures, 2, "both refusals are marked not retryable");
    let mut failed = conn
        .prepare(
            "SELECT job_posting_id, attempts, error_message FROM job_enrichments
             WHERE status = 'failed' ORDER BY job_posting_id",
        )
        .unwrap();
    let failed: Vec<(String, u32, String)> = failed
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        failed.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
        ["job-00007", "job-00030"]
    );
    for (job, attempts, message) in &failed {
        // A refused input cannot succeed on retry: one attempt, then a dead letter.
        assert_eq!(
            *attempts, 1,
            "{job} is not retried although max_attempts is 2"
        );
        assert!(
            message.contains(job.as_str()) && message.contains("input refused"),
            "the error names the job and the engine's reason: {message}"
        );
    }
    assert_eq!(store.with_status(&version, "success"), 98);
    let status = std::process::Command::new(jobenrich_system_tests::binary("jobenrich"))
        .args(["--config"])
        .arg(&store.config_path)
        .args(["status", "--format", "json"])
        .current_dir(store.dir.path())
        .output()
        .expect("jobenrich status");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let dead: Vec<&str> = report["dead_letters"]
        .as_array()
        .expect("dead_letters listed")
        .iter()
        .map(|d| d["job_posting_id"].as_str().unwrap())
        .collect();
    assert_eq!(dead, ["job-00007", "job-00030"]);
}
