//! `jobenrich run` and signals (issue 13, defect 4):
//!
//! - Ctrl-C while `run` enriches finishes or releases the batches in hand:
//!   nothing stays `processing` for the length of a lease, and the next `run`
//!   completes the rest;
//! - a `run` next to a process that died holding a lease reports those rows
//!   as still leased by others instead of claiming success silently;
//! - a `run` whose log reader has gone (`2>&1 | head`) finishes its work:
//!   a log line it cannot write is dropped, not a panic.

use jobenrich_system_tests::{interrupt, kill_hard, wait_with_timeout, TestStore};
use std::time::Duration;

const POSTINGS: usize = 3_000;
const FINISH: Duration = Duration::from_secs(180);

/// Enrichments of skills extraction (any version) with this status.
fn count_status(store: &TestStore, status: &str) -> i64 {
    store
        .sql()
        .query_row(
            "SELECT COUNT(*) FROM job_enrichments
             WHERE enrichment_type = 'skills_extraction' AND status = ?1",
            [status],
            |r| r.get(0),
        )
        .unwrap_or(0)
}

/// True once `run` has written results and holds a lease (mid-drain).
fn mid_drain(store: &TestStore) -> bool {
    count_status(store, "success") > 0 && count_status(store, "processing") > 0
}

#[test]
fn ctrl_c_during_run_leaves_nothing_processing_and_the_next_run_finishes() {
    // A batch of 16 takes a few ms: retry on a fresh store until the signal
    // lands mid-drain.
    let mut attempt = 0;
    let (store, input, status) = loop {
        attempt += 1;
        let store = TestStore::new("  batch_size: 16\n  engine_threads: 2\n  lease_seconds: 300\n");
        let input = store.write_postings_file("postings.jsonl", POSTINGS);
        let mut run = store.spawn_run(&input, "first");
        let start = std::time::Instant::now();
        let mut exited = None;
        while !mid_drain(&store) && start.elapsed() < FINISH {
            exited = run.try_wait().expect("try_wait");
            if exited.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let status = match exited {
            Some(status) => status,
            None => interrupt(&mut run),
        };
        if status.code() == Some(130) || attempt == 5 {
            break (store, input, status);
        }
    };
    assert_eq!(
        status.code(),
        Some(130),
        "an interrupted run exits 130 ({attempt} attempts)"
    );
    assert_eq!(
        count_status(&store, "processing"),
        0,
        "after Ctrl-C no enrichment stays leased"
    );
    let done = count_status(&store, "success");
    assert!(
        done > 0 && (done as usize) < POSTINGS,
        "the run was interrupted part-way ({done} of {POSTINGS} done)"
    );
    assert_eq!(
        done + count_status(&store, "pending"),
        POSTINGS as i64,
        "every posting is either enriched or back in the queue"
    );

    let mut second = store.spawn_run(&input, "second");
    let status = wait_with_timeout(&mut second, FINISH);
    assert!(status.success(), "the second run completes, got {status}");
    assert_eq!(count_status(&store, "success"), POSTINGS as i64);
    let summary = store.run_output("second");
    assert_eq!(summary["leased_by_others"], 0, "{summary}");
    assert_eq!(summary["interrupted"], false, "{summary}");
}

#[test]
fn a_run_reports_rows_still_leased_by_a_dead_process() {
    let store = TestStore::new("  batch_size: 16\n  engine_threads: 1\n  lease_seconds: 300\n");
    let input = store.write_postings_file("postings.jsonl", POSTINGS);

    // SIGKILL a run while it holds a lease: its rows stay `processing` until
    // the lease (300 s) runs out.
    let mut attempt = 0;
    let leased = loop {
        attempt += 1;
        let mut run = store.spawn_run(&input, &format!("killed-{attempt}"));
        store.wait_until("a run with a batch in hand", FINISH, mid_drain);
        kill_hard(&mut run);
        let leased = count_status(&store, "processing");
        if leased > 0 || attempt == 5 {
            break leased;
        }
    };
    assert!(
        leased > 0,
        "a run died holding a lease ({attempt} attempts)"
    );

    let mut second = store.spawn_run(&input, "second");
    let status = wait_with_timeout(&mut second, FINISH);
    assert!(status.success(), "the second run completes, got {status}");
    let summary = store.run_output("second");
    assert_eq!(
        summary["leased_by_others"].as_i64(),
        Some(leased),
        "the second run reports the dead run's leased rows: {summary}"
    );
    assert_eq!(
        count_status(&store, "success") + leased,
        POSTINGS as i64,
        "everything else was enriched"
    );
}

#[test]
fn a_run_whose_log_reader_has_gone_finishes_and_exits_zero() {
    let store = TestStore::new("  batch_size: 16\n  engine_threads: 2\n  lease_seconds: 300\n");
    let input = store.write_postings_file("postings.jsonl", POSTINGS);
    let out = std::fs::File::create(store.out_path("closed")).expect("run output file");
    let mut run = std::process::Command::new(jobenrich_system_tests::binary("jobenrich"))
        .arg("--config")
        .arg(&store.config_path)
        .args(["--format", "json", "run", "--no-progress"])
        .arg(&input)
        .current_dir(store.dir.path())
        // One log line per batch: every one of them meets the closed pipe.
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawning jobenrich run");
    // The reader goes before the first line is written.
    drop(run.stderr.take());
    let status = wait_with_timeout(&mut run, FINISH);
    assert!(status.success(), "the run completes, got {status}");
    assert_eq!(count_status(&store, "success"), POSTINGS as i64);
    assert_eq!(count_status(&store, "processing"), 0);
    assert_eq!(store.run_output("closed")["succeeded"], POSTINGS as u64);
}
