//! Harness of the system tests: builds the real `jobenrich-worker` and
//! `jobenrich` binaries, seeds an isolated SQLite store in a temp directory,
//! runs worker processes against it and inspects the file with plain SQL.

use chrono::Utc;
use jobenrich_domain::{
    EnrichmentType, EnrichmentVersion, JobId, JobPosting, JobPostingRepository, ModelConfig,
    ModelConfigRepository, ModelId, ModelVersion, SchemaMigrator,
};
use jobenrich_services::reenrichment::{ensure_active_models, queue_missing_enrichments};
use jobenrich_storage_sqlite::SqliteStore;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Texts the seeded postings cycle through: real-looking postings with skills.
const DESCRIPTIONS: [&str; 4] = [
    "About us\nWe build payment systems.\n\nRequirements:\n- 5+ years of experience with Rust and PostgreSQL\n- Kubernetes and Docker in production\n- Strong communication skills\n\nBenefits\nRemote work, 30 days of holiday.",
    "We are hiring a Data Engineer.\nWhat you'll bring\n* Python, SQL and Apache Spark\n* Experience with AWS (S3, Lambda) and Airflow\n* Agile ways of working\n\nHow to apply: send your CV.",
    "Responsibilities\nDesign React front ends in TypeScript and maintain Node.js services.\nQualifications\nKnowledge of GraphQL, CI/CD pipelines and Git.\nNice to have: Terraform, Google Cloud Platform.",
    "QA Engineer (m/f/d)\nTechnologies\ndocker agile selenium circleci jenkins\nJob description\nYou will automate tests in Java and JavaScript, working closely with developers in Scrum teams.",
];

/// Directory holding the workspace's built binaries (`target/<profile>`).
fn binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test-binary>
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// Whether `scripts/test.sh` built the binaries before the tests (it sets
/// `JOBENRICH_TEST_BINARIES_BUILT=1` after the debug and release builds):
/// then a test takes them as they are and runs no cargo of its own.
pub fn binaries_prebuilt() -> bool {
    std::env::var_os("JOBENRICH_TEST_BINARIES_BUILT").is_some_and(|v| v == "1")
}

/// Path of a workspace binary. `scripts/test.sh` builds the binaries with
/// the tests in one cargo call (`binaries_prebuilt`); otherwise (a plain
/// `cargo test -p …`) it is built here, once per test process, with the
/// tests' profile so the tests always run the current code.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = binaries_dir();
    BUILT.get_or_init(|| {
        if binaries_prebuilt() {
            return;
        }
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "-p", "jobenrich-worker", "-p", "jobenrich-cli"]);
        if dir.file_name().is_some_and(|p| p == "release") {
            build.arg("--release");
        }
        let status = build
            .status()
            .expect("running cargo build for the binaries");
        assert!(status.success(), "cargo build of the binaries failed");
    });
    let path = dir.join(name);
    assert!(path.exists(), "binary {} was not built", path.display());
    path
}

/// An isolated store: a temp directory with the database and a config file.
pub struct TestStore {
    pub dir: tempfile::TempDir,
    pub db_path: PathBuf,
    pub config_path: PathBuf,
}

impl TestStore {
    /// A fresh, migrated store whose config file sets the worker up for tests.
    pub fn new(worker_yaml: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db_path = dir.path().join("jobenrich.db");
        let config_path = dir.path().join("config.yaml");
        let yaml = format!(
            "storage:\n  backend: sqlite\n  sqlite:\n    path: {}\nworker:\n{worker_yaml}",
            db_path.display()
        );
        std::fs::write(&config_path, yaml).expect("writing test config");
        Self {
            dir,
            db_path,
            config_path,
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
    }

    /// Migrates, stores `count` postings (`job-00000`…), activates the default
    /// models and queues skills extraction for every posting. `description_of`
    /// may replace a posting's text (poison postings).
    pub fn seed(
        &self,
        count: usize,
        description_of: impl Fn(usize) -> Option<String>,
    ) -> EnrichmentVersion {
        self.seed_with_model(count, description_of, None)
    }

    /// Like `seed`, with the skills model `skills_extractor v1.1` carrying
    /// these `config_overrides` registered and activated first.
    pub fn seed_with_model(
        &self,
        count: usize,
        description_of: impl Fn(usize) -> Option<String>,
        skills_overrides: Option<serde_json::Map<String, serde_json::Value>>,
    ) -> EnrichmentVersion {
        let db_path = self.db_path.clone();
        Self::runtime().block_on(async move {
            let store = SqliteStore::open(&db_path).expect("open store");
            store.migrate().await.expect("migrate");
            let now = Utc::now();
            let postings: Vec<JobPosting> = (0..count)
                .map(|n| JobPosting {
                    job_posting_id: JobId::parse(format!("job-{n:05}")).unwrap(),
                    title: format!("Engineer {n}"),
                    company: Some("Example GmbH".into()),
                    location: None,
                    description: description_of(n)
                        .unwrap_or_else(|| DESCRIPTIONS[n % DESCRIPTIONS.len()].to_string()),
                    posted_at: None,
                    source: Some("system-test".into()),
                    url: None,
                    ingested_at: now,
                })
                .collect();
            for chunk in postings.chunks(1_000) {
                store.insert_postings(chunk).await.expect("insert postings");
            }
            if let Some(overrides) = skills_overrides {
                let mut model = ModelConfig::new(
                    ModelId::parse("skills_extractor").unwrap(),
                    EnrichmentType::SkillsExtraction,
                    ModelVersion::parse("v1.1").unwrap(),
                    now,
                );
                model.config_overrides = overrides;
                store.register_model(&model).await.expect("register model");
                store
                    .activate_model(&model.model_id, &model.version, "system-test", now)
                    .await
                    .expect("activate model");
            }
            ensure_active_models(
                &store,
                &[
                    EnrichmentType::SkillsExtraction,
                    EnrichmentType::SectionClassification,
                ],
                "system-test",
                now,
            )
            .await
            .expect("activate default models");
            let version = store
                .active_model_for_type(EnrichmentType::SkillsExtraction)
                .await
                .expect("active model")
                .expect("a skills model is active")
                .enrichment_version();
            queue_missing_enrichments(&store, EnrichmentType::SkillsExtraction, &version, now)
                .await
                .expect("queue enrichments");
            version
        })
    }

    /// A read-only SQL connection to the store's file.
    pub fn sql(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(&self.db_path).expect("open sqlite");
        conn.busy_timeout(Duration::from_secs(30)).unwrap();
        conn
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.sql()
            .query_row(sql, [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Enrichments of the type at the version with this status.
    pub fn with_status(&self, version: &EnrichmentVersion, status: &str) -> i64 {
        self.sql()
            .query_row(
                "SELECT COUNT(*) FROM job_enrichments
                 WHERE enrichment_type = 'skills_extraction' AND enrichment_version = ?1
                   AND status = ?2",
                [version.as_str(), status],
                |r| r.get(0),
            )
            .expect("count by status")
    }

    /// Starts `jobenrich-worker` on this store, logging JSON to a file.
    pub fn spawn_worker(&self, name: &str) -> Child {
        let log = std::fs::File::create(self.log_path(name)).expect("worker log file");
        Command::new(binary("jobenrich-worker"))
            .args(["--config"])
            .arg(&self.config_path)
            .args(["--log-format", "json"])
            .current_dir(self.dir.path())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawning jobenrich-worker")
    }

    /// Writes `count` postings (`run-00000`…) as a JSONL file for `jobenrich run`.
    pub fn write_postings_file(&self, name: &str, count: usize) -> PathBuf {
        let path = self.dir.path().join(name);
        let lines: Vec<String> = (0..count)
            .map(|n| {
                serde_json::json!({
                    "id": format!("run-{n:05}"),
                    "title": format!("Engineer {n}"),
                    "description": DESCRIPTIONS[n % DESCRIPTIONS.len()],
                })
                .to_string()
            })
            .collect();
        std::fs::write(&path, lines.join("\n") + "\n").expect("writing postings file");
        path
    }

    /// Starts `jobenrich run INPUT --format json` on this store; stdout goes
    /// to `<name>.out`, the JSON log to `<name>.log`.
    pub fn spawn_run(&self, input: &Path, name: &str) -> Child {
        let log = std::fs::File::create(self.log_path(name)).expect("run log file");
        let out = std::fs::File::create(self.out_path(name)).expect("run output file");
        Command::new(binary("jobenrich"))
            .args(["--config"])
            .arg(&self.config_path)
            .args([
                "--format",
                "json",
                "--log-format",
                "json",
                "run",
                "--no-progress",
            ])
            .arg(input)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(log)
            .spawn()
            .expect("spawning jobenrich run")
    }

    pub fn out_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.out"))
    }

    /// What a `run` printed on stdout (its JSON summary).
    pub fn run_output(&self, name: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.out_path(name)).unwrap_or_default();
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("run {name} printed no JSON summary ({e}): {text:?}"))
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    /// The JSON log lines a worker wrote.
    pub fn log_lines(&self, name: &str) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.log_path(name))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Polls until `done` holds, panicking with `what` after `timeout`.
    pub fn wait_until(&self, what: &str, timeout: Duration, mut done: impl FnMut(&Self) -> bool) {
        let start = Instant::now();
        while !done(self) {
            assert!(
                start.elapsed() < timeout,
                "timed out after {timeout:?} waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Sends SIGTERM and waits for the exit status.
pub fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    wait_with_timeout(child, Duration::from_secs(60))
}

/// Sends SIGINT (Ctrl-C) and waits for the exit status.
pub fn interrupt(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(status.success());
    wait_with_timeout(child, Duration::from_secs(60))
}

/// SIGKILL: the process dies wherever it is.
pub fn kill_hard(child: &mut Child) {
    child.kill().expect("SIGKILL");
    child.wait().expect("reaping the killed worker");
}

pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            panic!("process {} did not exit within {timeout:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
