//! Two operating-system processes claiming from one database file never
//! receive the same enrichment (BEGIN IMMEDIATE + busy timeout across processes).
//!
//! The parent test re-runs this test binary twice, selecting only
//! `claim_worker_process`, which claims in a loop when the child environment
//! variable is set and prints one `CLAIMED <job id>` line per lease.

use chrono::{Duration, Utc};
use jobenrich_domain::{
    ClaimRequest, EnrichmentRepository, EnrichmentType, JobId, JobPostingRepository, SchemaMigrator,
};
use jobenrich_storage_contract::fixtures::{numbered_job_id, posting_minimal, version};
use jobenrich_storage_sqlite::SqliteStore;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const CHILD_ENV: &str = "JOBENRICH_SQLITE_CLAIM_CHILD";
const JOBS: usize = 300;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The child side: runs only when spawned by the parent test below.
#[test]
fn claim_worker_process() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (db, rest) = spec.split_once('|').expect("db|go-file|owner");
    let (go_file, owner) = rest.split_once('|').expect("db|go-file|owner");
    // Start together with the sibling process so the claims overlap.
    while !PathBuf::from(go_file).exists() {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    runtime().block_on(async {
        let store = SqliteStore::open(db).expect("child opens the database");
        loop {
            let request = ClaimRequest {
                enrichment_type: EnrichmentType::SkillsExtraction,
                enrichment_version: Some(version()),
                owner: owner.to_string(),
                lease: Duration::minutes(10),
                limit: 3,
                max_attempts: 3,
                now: Utc::now(),
            };
            let claimed = store.claim_enrichments(&request).await.expect("claim");
            if claimed.is_empty() {
                break;
            }
            for e in claimed {
                println!("CLAIMED {}", e.job_posting_id);
            }
            // Pace the loop so both processes are claiming at the same time.
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    });
}

#[test]
fn two_processes_never_claim_the_same_enrichment() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let go_file = dir.path().join("go");
    runtime().block_on(async {
        let store = SqliteStore::open(&db).unwrap();
        store.migrate().await.unwrap();
        let postings: Vec<_> = (0..JOBS)
            .map(|i| posting_minimal(numbered_job_id(i).as_str()))
            .collect();
        store.insert_postings(&postings).await.unwrap();
        let ids: Vec<JobId> = postings.into_iter().map(|p| p.job_posting_id).collect();
        store
            .enqueue_enrichments(
                &ids,
                EnrichmentType::SkillsExtraction,
                &version(),
                Utc::now(),
            )
            .await
            .unwrap();
    });

    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = ["process-a", "process-b"]
        .iter()
        .map(|owner| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "claim_worker_process",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(
                    CHILD_ENV,
                    format!("{}|{}|{owner}", db.display(), go_file.display()),
                )
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawning a claimer process")
        })
        .collect();
    std::fs::write(&go_file, b"go").unwrap();

    let mut per_process = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "claimer process failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let claimed: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            // libtest may print its "test … " header on the same line.
            .filter_map(|l| {
                l.split_once("CLAIMED ")
                    .map(|(_, id)| id.trim().to_string())
            })
            .collect();
        per_process.push(claimed);
    }
    let a: BTreeSet<_> = per_process[0].iter().cloned().collect();
    let b: BTreeSet<_> = per_process[1].iter().cloned().collect();
    assert_eq!(
        a.len(),
        per_process[0].len(),
        "a process never receives a job twice"
    );
    assert_eq!(
        b.len(),
        per_process[1].len(),
        "a process never receives a job twice"
    );
    let shared: Vec<_> = a.intersection(&b).collect();
    assert!(
        shared.is_empty(),
        "two processes received the same jobs: {shared:?}"
    );
    assert_eq!(
        a.len() + b.len(),
        JOBS,
        "together the processes claim every job"
    );
    eprintln!(
        "process-a claimed {}, process-b claimed {}",
        a.len(),
        b.len()
    );
}
