//! Fault tests: transient HTTP errors injected by a tiny proxy are retried, and
//! a batch interrupted by the emulator stopping is retried after it restarts
//! without storing any row twice.

mod common;

use chrono::{TimeZone, Utc};
use jobenrich_domain::{JobId, JobPosting, JobPostingRepository, SchemaMigrator};
use jobenrich_storage_bigquery::{BigQuerySettings, BigQueryStore};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn posting(i: usize) -> JobPosting {
    JobPosting {
        job_posting_id: JobId::parse(format!("fault-{i:05}")).unwrap(),
        title: format!("Engineer {i}"),
        company: Some("Acme".into()),
        location: None,
        description: format!("Rust, SQL and BigQuery, posting {i}"),
        posted_at: None,
        source: Some("faults".into()),
        url: None,
        ingested_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    }
}

/// Reads one HTTP request (headers and Content-Length body) off a socket.
async fn read_request(socket: &mut TcpStream) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let headers = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = headers
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                let n = socket.read(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(());
        }
    }
}

/// A proxy on 127.0.0.1 that answers the first connections with the given
/// statuses (Google's JSON error body) and forwards every later one.
async fn start_fault_proxy(upstream: String, statuses: Vec<u16>) -> (String, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let injected = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&injected);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let n = counter.load(Ordering::SeqCst) as usize;
            if let Some(status) = statuses.get(n).copied() {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let _ = read_request(&mut socket).await;
                    let reason = if status == 429 {
                        "rateLimitExceeded"
                    } else {
                        "backendError"
                    };
                    let body = format!(
                        r#"{{"error":{{"code":{status},"message":"injected {status}","errors":[{{"reason":"{reason}","message":"injected"}}],"status":"UNAVAILABLE"}}}}"#
                    );
                    let response = format!(
                        "HTTP/1.1 {status} Injected\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            } else {
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut socket, &mut server).await;
                    }
                });
            }
        }
    });
    (format!("http://{addr}"), injected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_500_and_429_responses_are_retried() {
    let url = common::emulator_url();
    let upstream = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let (proxy_url, injected) = start_fault_proxy(upstream, vec![500, 429, 503]).await;
    let dataset = common::fresh_dataset("faults_proxy");
    let store = common::store_at(&proxy_url, &dataset).await;
    let _guard = common::DatasetGuard::new(&url, &dataset);

    let report = store
        .migrate()
        .await
        .expect("migrate succeeds through the failing proxy");
    assert_eq!(
        report.schema_version,
        jobenrich_storage_bigquery::schema::latest_version()
    );
    assert_eq!(
        injected.load(Ordering::SeqCst),
        3,
        "the proxy answered three requests with 500, 429 and 503"
    );
    let counts = store
        .insert_postings(&[posting(1), posting(2)])
        .await
        .unwrap();
    assert_eq!(counts.inserted, 2);
    assert_eq!(store.count_postings().await.unwrap(), 2);
    assert!(
        store.request_count() >= 3 + 3,
        "the failed attempts were counted and retried: {} requests",
        store.request_count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_transient_error_is_not_retried_and_keeps_the_bigquery_message() {
    let url = common::emulator_url();
    let dataset = common::fresh_dataset("faults_syntax");
    let store = common::store_at(&url, &dataset).await;
    let _guard = common::DatasetGuard::new(&url, &dataset);
    // Never migrated: the dataset is missing, which BigQuery reports as 404 notFound.
    let before = store.request_count();
    let err = store.count_postings().await.unwrap_err();
    assert_eq!(
        store.request_count() - before,
        1,
        "a permanent error is not retried"
    );
    let message = err.to_string();
    assert!(
        message.contains("counting postings")
            && message.contains("404")
            && message.contains(&dataset),
        "the error names the operation and keeps BigQuery's message: {message}"
    );
}

/// An emulator process of this test, on its own ports and data dir.
struct OwnEmulator {
    child: Child,
    port: u16,
    grpc_port: u16,
    data_dir: PathBuf,
}

fn venv_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-bq")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl OwnEmulator {
    fn spawn(port: u16, grpc_port: u16, data_dir: PathBuf) -> Self {
        let venv = venv_dir();
        let bin = venv.join("bin/local-bigquery");
        assert!(
            bin.exists(),
            "{} is missing: run scripts/bigquery-emulator.sh install",
            bin.display()
        );
        let child = Command::new(bin)
            .args(["serve", "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .arg("--grpc-port")
            .arg(grpc_port.to_string())
            .args(["--project", common::PROJECT, "--data-dir"])
            .arg(&data_dir)
            // DuckDB finds the offline-installed extensions under $HOME/.duckdb.
            .env("HOME", venv.join("home"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the emulator");
        Self {
            child,
            port,
            grpc_port,
            data_dir,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the process gracefully (SIGTERM), as an operator would.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        *self = Self::spawn(self.port, self.grpc_port, self.data_dir.clone());
    }
}

impl Drop for OwnEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_until_ready(url: &str) {
    let probe = BigQueryStore::connect(BigQuerySettings {
        max_attempts: 1,
        ..BigQuerySettings::emulator(url, common::PROJECT, "readiness_probe")
    })
    .await
    .unwrap();
    for _ in 0..300 {
        if probe.schema_version().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the emulator at {url} did not become ready in 60 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_interrupted_by_an_emulator_restart_is_retried_and_stored_once() {
    // Only the URL check: this test runs its own emulator process.
    let _ = common::emulator_url();
    let data_dir = tempfile::tempdir().unwrap();
    let mut emulator = OwnEmulator::spawn(free_port(), free_port(), data_dir.path().into());
    wait_until_ready(&emulator.url()).await;

    let settings = BigQuerySettings {
        // Enough attempts (backoff capped at 4 s) to outlast a restart.
        max_attempts: 40,
        // Several insertAll requests, so the restart lands mid-batch.
        insert_batch_rows: 500,
        ..BigQuerySettings::emulator(emulator.url(), common::PROJECT, "faults_restart")
    };
    let store = Arc::new(BigQueryStore::connect(settings).await.unwrap());
    store.migrate().await.unwrap();

    // 3,000 rows: streamed into staging in 6 insertAll requests, then one MERGE.
    let postings: Vec<JobPosting> = (0..3000).map(posting).collect();
    let before = store.request_count();
    let task = {
        let store = Arc::clone(&store);
        let postings = postings.clone();
        tokio::spawn(async move { store.insert_postings(&postings).await })
    };
    // Stop the emulator once the batch is under way (its 2nd request sent).
    while store.request_count() < before + 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    emulator.stop();
    tokio::time::sleep(Duration::from_secs(1)).await;
    emulator.restart();

    let counts = task
        .await
        .unwrap()
        .expect("the batch succeeds after the restart");
    assert_eq!(counts.inserted + counts.already_present, 3000);
    assert_eq!(
        store.count_postings().await.unwrap(),
        3000,
        "every row stored exactly once"
    );
    let again = store.insert_postings(&postings).await.unwrap();
    assert_eq!(
        (again.inserted, again.already_present),
        (0, 3000),
        "re-running the batch stores nothing twice"
    );
    let page = store.list_postings_page(None, 5000).await.unwrap();
    assert_eq!(page.len(), 3000, "no duplicate rows in a full scan");
    assert!(
        store.request_count() > before + 8,
        "the interrupted request was retried ({} requests)",
        store.request_count() - before
    );
}
