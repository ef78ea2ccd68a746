//! End-to-end tests of the `jobenrich` binary: each test runs it in its own
//! temp directory (so the default SQLite file `var/jobenrich.db` lands there)
//! with a clean environment, and checks stdout, stderr, exit codes and the
//! database file.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The shipped model configs of the repository.
fn shipped_models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/models")
}

struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `jobenrich ARGS` in this directory with only PATH and the given variables set.
    fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_jobenrich"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("JOBENRICH__MODELS__SEED_DIR", common::rules_models_dir())
            .env(
                "JOBENRICH__MODELS__ARTIFACTS_DIR",
                shipped_models_dir().join("../../models").as_os_str(),
            );
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().expect("running jobenrich")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with_env(args, &[])
    }

    /// Runs and expects success; returns stdout parsed as JSON.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let output = self.run(&all);
        assert!(
            output.status.success(),
            "jobenrich {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout of {args:?} is not JSON ({e}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    fn count(&self, sql: &str) -> i64 {
        let conn = rusqlite::Connection::open(self.path("var/jobenrich.db")).unwrap();
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The error contract: exit code, one `error: …` line, no Debug or backtrace.
fn assert_error_line(output: &Output, code: i32, contains: &[&str]) -> String {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(code), "stderr: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    for needle in contains {
        assert!(lines[0].contains(needle), "{needle:?} missing from: {err}");
    }
    assert!(
        !err.contains("Error {") && !err.contains("backtrace") && !err.contains("panicked"),
        "{err}"
    );
    err
}

const GOOD_AND_BAD_JSONL: &str = concat!(
    r#"{"id":"job-1","title":"Rust Engineer","description":"Rust and PostgreSQL in production.","company":"Acme"}"#,
    "\n",
    "{not json\n",
    r#"{"job_posting_id":"job-2","job_title":"Data Engineer","job_summary":"Python, SQL and Spark.","job_posted_date":"2024-10-21T13:27:17.000Z","url":"https://example.com/2"}"#,
    "\n",
    r#"{"id":"job-3","description":"No title here."}"#,
    "\n",
    r#"{"id":"job-4","title":"QA","description":"Selenium","posted_at":"soon"}"#,
    "\n",
    r#"{"id":"job-5","title":"SRE","description":"Kubernetes and Terraform."}"#,
    "\n",
);

#[test]
fn ingest_stores_good_rows_reports_bad_ones_and_never_stores_twice() {
    let work = Workdir::new();
    let file = work.write("postings.jsonl", GOOD_AND_BAD_JSONL);
    let file = file.to_str().unwrap();
    work.json(&["migrate"]);

    let output = work.run(&["ingest", file, "--format", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    let total = &summary["total"];
    assert_eq!(total["read"], 6);
    assert_eq!(total["stored"], 3);
    assert_eq!(total["already_present"], 0);
    assert_eq!(total["rejected"], 3);
    assert_eq!(total["enrichments_queued"], 3);
    assert_eq!(summary["postings_in_store"], 3);
    assert_eq!(summary["enrichment_version"], "skills_extractor@v1.0");
    let err = stderr(&output);
    assert!(err.contains(&format!("{file}:2: invalid JSON")), "{err}");
    assert!(
        err.contains(&format!("{file}:4: missing field title / job_title")),
        "{err}"
    );
    assert!(err.contains(&format!("{file}:5: field posted_at")), "{err}");
    assert_eq!(work.count("SELECT COUNT(*) FROM job_postings"), 3);
    assert_eq!(
        work.count(
            "SELECT COUNT(*) FROM job_enrichments WHERE status = 'pending'
             AND enrichment_type = 'skills_extraction' AND enrichment_version = 'skills_extractor@v1.0'"
        ),
        3
    );
    assert_eq!(
        work.count(
            "SELECT COUNT(*) FROM job_postings WHERE job_posting_id = 'job-2' AND url = 'https://example.com/2'"
        ),
        1
    );

    let again = work.json(&["ingest", file, "--batch-size", "1"]);
    assert_eq!(again["total"]["stored"], 0);
    assert_eq!(again["total"]["already_present"], 3);
    assert_eq!(again["total"]["enrichments_queued"], 0);
    assert_eq!(work.count("SELECT COUNT(*) FROM job_postings"), 3);
    assert_eq!(work.count("SELECT COUNT(*) FROM job_enrichments"), 3);
}

#[test]
fn ingest_queues_every_worker_type_with_an_active_model() {
    let work = Workdir::new();
    let file = work.write("postings.jsonl", GOOD_AND_BAD_JSONL);
    let file = file.to_str().unwrap();
    let shipped = shipped_models_dir();
    let seed = [("JOBENRICH__MODELS__SEED_DIR", shipped.to_str().unwrap())];
    assert!(work.run_with_env(&["migrate"], &seed).status.success());
    let output = work.run_with_env(&["ingest", file, "--format", "json"], &seed);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["total"]["enrichments_queued"], 6);
    let queues: Vec<(String, i64)> = summary["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["enrichment_type"].as_str().unwrap().to_string(),
                q["pending_enrichments"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        queues,
        [
            ("skills_extraction".to_string(), 3),
            ("embeddings".to_string(), 3)
        ]
    );
    assert_eq!(
        work.count(
            "SELECT COUNT(*) FROM job_enrichments WHERE status = 'pending'
             AND enrichment_type = 'embeddings' AND enrichment_version = 'job_embedder@v1.0'"
        ),
        3
    );

    // A worker told to skip embeddings gets no embeddings queue.
    let work = Workdir::new();
    let file = work.write("postings.jsonl", GOOD_AND_BAD_JSONL);
    let config = work.write(
        "skills-only.yaml",
        "worker:\n  types: [skills_extraction]\n",
    );
    assert!(work.run_with_env(&["migrate"], &seed).status.success());
    let output = work.run_with_env(
        &[
            "ingest",
            file.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
        &seed,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("pending skills_extraction enrichments at"),
        "{text}"
    );
    assert!(!text.contains("pending embeddings"), "{text}");
    assert_eq!(
        work.count("SELECT COUNT(*) FROM job_enrichments WHERE enrichment_type = 'embeddings'"),
        0
    );
}

#[test]
fn ingest_reads_bright_data_csv_and_the_table_summary() {
    let work = Workdir::new();
    let file = work.write(
        "brightdata.csv",
        "job_posting_id,job_title,company_name,job_location,job_summary,job_posted_date,url,job_seniority_level\n\
         4001,Data Engineer,Acme,Berlin,\"Python, SQL\nand Airflow\",2024-10-21,https://example.com/4001,Mid\n\
         4002,,Acme,Berlin,No title,2024-10-21,,Mid\n\
         4003,DevOps,Beta,Paris,Kubernetes,,,Senior\n",
    );
    work.json(&["migrate"]);
    let output = work.run(&["ingest", file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let header = stdout.lines().next().unwrap();
    assert!(
        header.starts_with("FILE") && header.contains("ALREADY PRESENT"),
        "{stdout}"
    );
    assert!(stdout.contains("postings in store: 2"), "{stdout}");
    assert!(stderr(&output).contains("brightdata.csv:4: missing field title"));
    assert_eq!(
        work.count(
            "SELECT COUNT(*) FROM job_postings WHERE job_posting_id = '4001' AND company = 'Acme'
             AND location = 'Berlin' AND description = 'Python, SQL\nand Airflow'"
        ),
        1
    );
}

#[test]
fn data_commands_on_an_unmigrated_store_say_to_migrate() {
    let work = Workdir::new();
    let file = work.write("p.jsonl", GOOD_AND_BAD_JSONL);
    let output = work.run(&["ingest", file.to_str().unwrap()]);
    assert_error_line(&output, 2, &["jobenrich migrate"]);
}

#[test]
fn ingest_refuses_missing_files_and_unknown_types_before_storing_anything() {
    let work = Workdir::new();
    work.json(&["migrate"]);
    let good = work.write("p.jsonl", GOOD_AND_BAD_JSONL);
    let output = work.run(&["ingest", good.to_str().unwrap(), "missing.jsonl"]);
    assert_error_line(&output, 2, &["missing.jsonl", "no such file"]);
    let odd = work.write("p.txt", "x");
    let output = work.run(&["ingest", odd.to_str().unwrap()]);
    assert_error_line(&output, 2, &["p.txt", "--input-format"]);
    assert_eq!(work.count("SELECT COUNT(*) FROM job_postings"), 0);
}

#[test]
fn config_show_prints_each_value_with_the_layer_it_came_from() {
    let work = Workdir::new();
    work.write(
        "conf/default.yaml",
        "storage:\n  sqlite:\n    path: from-default.db\ningest:\n  batch_size: 10\nlogging:\n  level: info\n",
    );
    work.write(
        "conf/staging.yaml",
        "ingest:\n  batch_size: 20\nlogging:\n  level: debug\n",
    );
    let extra = work.write(
        "extra.yaml",
        "logging:\n  level: trace\nstorage:\n  bigquery:\n    service_account_key: hunter2\n",
    );
    let conf_dir = work.path("conf");
    let output = work.run_with_env(
        &[
            "config",
            "show",
            "--config",
            extra.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[
            ("JOBENRICH_CONFIG_DIR", conf_dir.to_str().unwrap()),
            ("JOBENRICH_ENV", "staging"),
            ("JOBENRICH__STORAGE__SQLITE__PATH", "from-env.db"),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let view: Value = serde_json::from_slice(&output.stdout).unwrap();
    let setting = |key: &str| -> &Value {
        view["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == key)
            .unwrap_or_else(|| panic!("{key} missing: {view}"))
    };
    assert_eq!(setting("storage.sqlite.path")["value"], "from-env.db");
    assert_eq!(
        setting("storage.sqlite.path")["origin"],
        "env var JOBENRICH__STORAGE__SQLITE__PATH"
    );
    assert_eq!(setting("ingest.batch_size")["value"], 20);
    assert!(setting("ingest.batch_size")["origin"]
        .as_str()
        .unwrap()
        .starts_with("env file"));
    assert_eq!(setting("logging.level")["value"], "trace");
    assert!(setting("logging.level")["origin"]
        .as_str()
        .unwrap()
        .starts_with("--config"));
    assert!(setting("storage.backend")["origin"]
        .as_str()
        .unwrap()
        .starts_with("code default"));
    assert_eq!(
        setting("storage.bigquery.service_account_key")["value"],
        "********"
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains("hunter2"));
    assert_eq!(view["layers"].as_array().unwrap().len(), 4);

    // The table form names the origin in its own column.
    let table = work.run_with_env(
        &["config", "show"],
        &[("JOBENRICH__INGEST__BATCH_SIZE", "7")],
    );
    let text = String::from_utf8_lossy(&table.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("ingest.batch_size"))
        .unwrap();
    assert!(
        line.contains(" 7 ") && line.ends_with("env var JOBENRICH__INGEST__BATCH_SIZE"),
        "{line}"
    );
}

#[test]
fn configuration_errors_are_one_line_with_exit_code_2() {
    let work = Workdir::new();
    let output = work.run(&["config", "show", "--config", "nope.yaml"]);
    assert_error_line(&output, 2, &["nope.yaml", "--config"]);
    let output = work.run_with_env(&["migrate"], &[("JOBENRICH__INGEST__BATCH_SIZE", "lots")]);
    assert_error_line(&output, 2, &["batch_size"]);
    let output = work.run_with_env(&["config", "show"], &[("JOBENRICH_ENV", "prod")]);
    assert_error_line(&output, 2, &["prod.yaml", "JOBENRICH_ENV=prod"]);
    // Usage errors come from clap with its own exit code 2.
    let output = work.run(&["ingest"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn alias_import_is_atomic_and_names_file_line_and_field() {
    let work = Workdir::new();
    // Without the shipped aliases, so the store holds only what is imported.
    work.json(&["migrate", "--no-seed"]);
    let bad = work.write(
        "aliases.csv",
        "alias_text,canonical_name,category,confidence\nK8s,Kubernetes,devops_tools,0.95\nJS,JavaScript,cobol,0.9\n",
    );
    let output = work.run(&["aliases", "import", bad.to_str().unwrap()]);
    assert_error_line(
        &output,
        2,
        &[
            "aliases.csv:3: field category",
            "\"cobol\"",
            "programming_languages",
        ],
    );
    assert_eq!(
        work.json(&["aliases", "list", "--all"]),
        serde_json::json!([])
    );

    let good = work.write(
        "good.csv",
        "alias_text,canonical_name,category,confidence,source\nK8s,Kubernetes,devops_tools,0.95,manual\nJS,JavaScript,programming_languages,,\n",
    );
    let report = work.json(&["aliases", "import", good.to_str().unwrap()]);
    assert_eq!(report["inserted"], 2);
    let dup = work.run(&[
        "aliases",
        "add",
        "k8s",
        "Kubernetes",
        "--category",
        "devops_tools",
    ]);
    assert_error_line(&dup, 2, &["already exists"]);
    work.json(&["aliases", "deactivate", "K8S"]);
    assert_eq!(work.json(&["aliases", "list"]).as_array().unwrap().len(), 1);

    let exported = work.path("export.csv");
    work.json(&["aliases", "export", exported.to_str().unwrap()]);
    let text = std::fs::read_to_string(&exported).unwrap();
    assert!(text.starts_with("alias_text,canonical_name,category,confidence,source,is_active\n"));
    assert!(
        text.contains("K8s,Kubernetes,devops_tools,0.95,manual,false"),
        "{text}"
    );
    let reimport = work.json(&["aliases", "import", exported.to_str().unwrap()]);
    assert_eq!(reimport["updated"], 2);
    assert_eq!(reimport["inserted"], 0);
}

#[test]
fn models_register_list_activate_and_show() {
    let work = Workdir::new();
    let migrated = work.json(&["migrate"]);
    assert!(migrated["migrations"]["schema_version"].as_u64().unwrap() >= 1);
    let activated: Vec<String> = migrated["models"]["activated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(
        activated.contains(&"skills_extractor@v1.0".to_string()),
        "{migrated}"
    );
    // Idempotent: a second migrate registers nothing.
    let again = work.json(&["migrate"]);
    assert_eq!(again["models"]["registered"], serde_json::json!([]));

    let v11 = work.write(
        "skills_extractor-v1.1.yaml",
        "model_id: skills_extractor\nmodel_type: skills_extraction\nversion: v1.1\ndescription: Heavier patterns\nconfig_overrides:\n  pattern_weight: 0.8\n",
    );
    let registered = work.json(&["models", "register", v11.to_str().unwrap()]);
    assert_eq!(registered[0]["is_active"], false);
    let output = work.run(&["models", "register", v11.to_str().unwrap()]);
    assert_error_line(&output, 2, &["already exists"]);

    // Never evaluated: refused (exit 1) unless forced, and the force is recorded.
    let refused = work.run(&["models", "activate", "skills_extractor", "v1.1"]);
    assert_error_line(
        &refused,
        1,
        &["skills_extractor v1.1", "never evaluated", "--force"],
    );
    let output = work.run(&["models", "activate", "skills_extractor", "v1.1", "--force"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("activated with --force although never evaluated"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let list = work.json(&["models", "list", "skills_extractor"]);
    let active: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["is_active"] == true)
        .map(|m| m["version"].as_str().unwrap())
        .collect();
    assert_eq!(active, ["v1.1"]);
    let shown = work.json(&["models", "show", "skills_extractor"]);
    assert_eq!(shown["enrichment_version"], "skills_extractor@v1.1");
    assert!(
        shown["model"]["activated_by"]
            .as_str()
            .is_some_and(|by| by.ends_with("(forced: never evaluated)")),
        "{shown}"
    );
    assert_eq!(shown["model"]["config_overrides"]["pattern_weight"], 0.8);

    let missing = work.run(&["models", "activate", "skills_extractor", "v9.9"]);
    assert_error_line(
        &missing,
        2,
        &["activating skills_extractor v9.9", "not found"],
    );
    let bad_version = work.run(&["models", "activate", "skills_extractor", "9.9"]);
    assert_error_line(&bad_version, 2, &["ModelConfig.version"]);
    let bad_file = work.write(
        "bad.yaml",
        "model_id: Bad\nmodel_type: skills_extraction\nversion: v1.0\n",
    );
    let output = work.run(&["models", "register", bad_file.to_str().unwrap()]);
    assert_error_line(&output, 2, &["bad.yaml", "model_id"]);
}

#[test]
fn every_command_has_help() {
    let work = Workdir::new();
    let top = work.run(&["--help"]);
    assert!(top.status.success());
    let text = String::from_utf8_lossy(&top.stdout).into_owned();
    let commands: Vec<String> = text
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    for expected in ["config", "migrate", "ingest", "models", "aliases"] {
        assert!(commands.iter().any(|c| c == expected), "{expected}: {text}");
    }
    for command in &commands {
        let output = work.run(&[command, "--help"]);
        assert!(output.status.success(), "{command} --help");
        assert!(String::from_utf8_lossy(&output.stdout).contains("Usage:"));
    }
    for sub in [
        ["config", "show"],
        ["models", "register"],
        ["models", "activate"],
        ["aliases", "import"],
        ["aliases", "export"],
    ] {
        let output = work.run(&[sub[0], sub[1], "--help"]);
        assert!(output.status.success(), "{sub:?} --help");
    }
}
