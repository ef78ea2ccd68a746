//! Regression tests of defects found by probing the binary (issue 13): each
//! runs `jobenrich` in its own temp directory with a clean environment and
//! checks exit codes, the one-line error and what is (not) left behind.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

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

    /// `jobenrich ARGS` here with only PATH, the shipped model seeds and `env` set.
    fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_jobenrich"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("JOBENRICH__MODELS__SEED_DIR", common::rules_models_dir());
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().expect("running jobenrich")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with_env(args, &[])
    }

    fn sql(&self, sql: &str) {
        let conn = rusqlite::Connection::open(self.path("var/jobenrich.db")).unwrap();
        conn.execute_batch(sql).unwrap();
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Exit code `code` and one `error: …` line containing every needle.
fn assert_error_line(output: &Output, code: i32, contains: &[&str]) -> String {
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(code), "stderr: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    for needle in contains {
        assert!(lines[0].contains(needle), "{needle:?} missing from: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn secrets_planted_everywhere_never_reach_any_output() {
    let work = Workdir::new();
    let config = work.write(
        "secrets.yaml",
        "storage:\n  bigquery:\n    project: demo\n    dataset: d\n    service_account_json: PLANTED-1\n    credentials:\n      kind: service_account_key\n      private_key: PLANTED-2\n    auth:\n      bearer: PLANTED-3\n    users:\n      - name: bob\n        password: PLANTED-4\n",
    );
    let config = config.to_str().unwrap();
    let mut outputs = vec![
        work.run(&["config", "show", "--config", config]),
        work.run(&["config", "show", "--config", config, "--format", "json"]),
        work.run_with_env(
            &["config", "show", "--config", config],
            &[("JOBENRICH__AUTH__TOKEN", "PLANTED-5")],
        ),
    ];
    // A string where the credentials map is expected: the type error names
    // the key, never the value, also in JSON logs.
    let wrong = work.write(
        "wrong.yaml",
        "storage:\n  backend: bigquery\n  bigquery:\n    project: p\n    dataset: d\n    credentials: PLANTED-6\n",
    );
    let wrong = wrong.to_str().unwrap();
    for command in [&["ingest", "x.jsonl"][..], &["migrate"], &["status"]] {
        let mut args = command.to_vec();
        args.extend(["--config", wrong, "--log-format", "json"]);
        outputs.push(work.run_with_env(&args, &[("RUST_LOG", "debug")]));
    }
    let last = outputs.last().unwrap();
    assert_error_line(last, 2, &["storage.bigquery"]);
    for output in &outputs {
        let all = text(output);
        assert!(!all.contains("PLANTED"), "a secret was printed: {all}");
    }
    // The masked values are still listed, so `config show` stays useful.
    let shown = text(&outputs[0]);
    assert!(
        shown.contains("storage.bigquery.service_account_json") && shown.contains("********"),
        "{shown}"
    );
}

#[test]
fn every_command_refuses_a_store_with_a_newer_schema_naming_both_versions() {
    let work = Workdir::new();
    assert!(work.run(&["migrate"]).status.success());
    work.sql("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)");
    work.write(
        "one.jsonl",
        "{\"id\":\"1\",\"title\":\"T\",\"description\":\"Rust\"}\n",
    );
    for args in [
        &["ingest", "one.jsonl"][..],
        &["run", "one.jsonl", "--no-progress"],
        &["status"],
        &["migrate"],
    ] {
        let output = work.run(args);
        assert_error_line(&output, 1, &["schema version 999", "this build's"]);
    }
    let conn = rusqlite::Connection::open(work.path("var/jobenrich.db")).unwrap();
    let postings: i64 = conn
        .query_row("SELECT COUNT(*) FROM job_postings", [], |r| r.get(0))
        .unwrap();
    assert_eq!(postings, 0, "nothing was written into the newer schema");
}

#[test]
fn bad_config_overrides_are_refused_at_register_and_an_unbuildable_active_version_is_reported() {
    let work = Workdir::new();
    assert!(work.run(&["migrate"]).status.success());
    let model = work.write(
        "heavy.yaml",
        "model_id: skills_extractor\nmodel_type: skills_extraction\nversion: v1.1\nconfig_overrides:\n  pattern_weight: heavy\n",
    );
    let output = work.run(&["models", "register", model.to_str().unwrap()]);
    assert_error_line(&output, 2, &["heavy.yaml", "pattern_weight"]);

    // A version stored before overrides were checked, made active behind our back.
    work.sql(
        "UPDATE model_config SET config_overrides = '{\"workr\": 1}' WHERE model_id = 'skills_extractor'",
    );
    let output = work.run(&["models", "activate", "skills_extractor", "v1.0"]);
    assert_error_line(&output, 2, &["skills_extractor v1.0", "workr"]);
    let output = work.run(&["status"]);
    assert!(output.status.success(), "{}", text(&output));
    let all = text(&output);
    assert_eq!(all.matches("cannot be built").count(), 1, "{all}");
    assert!(all.contains("workr"), "{all}");
}

#[test]
fn aliases_import_of_a_missing_file_exits_2_naming_it() {
    let work = Workdir::new();
    assert!(work.run(&["migrate"]).status.success());
    let output = work.run(&["aliases", "import", "missing.csv"]);
    assert_error_line(&output, 2, &["missing.csv"]);
}

#[test]
fn migrate_on_a_foreign_database_fails_briefly_and_leaves_nothing_behind() {
    let work = Workdir::new();
    std::fs::create_dir_all(work.path("var")).unwrap();
    work.sql("CREATE TABLE job_postings (x INTEGER); CREATE TABLE invoices (id INTEGER);");
    let output = work.run(&["migrate"]);
    let err = assert_error_line(&output, 1, &["not a jobenrich database", "invoices"]);
    assert!(err.len() < 400, "{} bytes: {err}", err.len());
    let conn = rusqlite::Connection::open(work.path("var/jobenrich.db")).unwrap();
    let tables: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_migrations'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0);
}

#[test]
fn misspelled_settings_are_an_error_on_every_command() {
    let work = Workdir::new();
    let config = work.write("typo.yaml", "workr:\n  batch_size: 5\n");
    for args in [&["migrate"][..], &["status"], &["models", "list"]] {
        let mut args = args.to_vec();
        args.extend(["--config", config.to_str().unwrap()]);
        let output = work.run(&args);
        assert_error_line(
            &output,
            2,
            &["unknown setting workr.batch_size", "typo.yaml"],
        );
    }
    let output = work.run_with_env(
        &["migrate"],
        &[("JOBENRICH__WORKER__LEASE_SECONDS", "99999999999")],
    );
    assert_error_line(&output, 2, &["worker.lease_seconds", "86400"]);
}

#[test]
fn postings_stored_but_never_queued_are_queued_and_reported_by_migrate() {
    let work = Workdir::new();
    work.write(
        "three.jsonl",
        "{\"id\":\"1\",\"title\":\"T\",\"description\":\"Rust\"}\n{\"id\":\"2\",\"title\":\"T\",\"description\":\"SQL\"}\n{\"id\":\"3\",\"title\":\"T\",\"description\":\"Go\"}\n",
    );
    assert!(work.run(&["migrate"]).status.success());
    assert!(work
        .run(&["ingest", "three.jsonl", "--no-progress"])
        .status
        .success());
    // What an ingest killed between its two writes leaves behind.
    work.sql("DELETE FROM job_enrichments WHERE job_posting_id IN ('2', '3')");
    let output = work.run(&["migrate", "--format", "json"]);
    assert!(output.status.success(), "{}", text(&output));
    let view: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let queued: u64 = view["repaired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["newly_queued"].as_u64().unwrap())
        .sum();
    assert_eq!(queued, 2, "{view}");
}
