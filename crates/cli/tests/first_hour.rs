//! The rough edges of a new user's first hour (issue 14), each checked through
//! the real `jobenrich` binary in its own temp directory.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jobenrich"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("USER", "tester")
        .env("JOBENRICH_CONFIG_DIR", repo("config"))
        .env("JOBENRICH__MODELS__SEED_DIR", common::rules_models_dir());
    command
}

fn jobenrich(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output().expect("running jobenrich")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = jobenrich(dir, args);
    assert!(
        out.status.success(),
        "jobenrich {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn ok_json(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--format", "json"];
    all.extend(args);
    let stdout = ok(dir, &all);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {stdout}"))
}

/// Exit code 2 and one `error: …` line holding every needle.
fn usage_error(out: &Output, needles: &[&str]) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} missing from {err}");
    }
}

/// Every file and directory under `dir`.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(tree(&path));
        }
        out.push(path);
    }
    out
}

#[test]
fn read_only_commands_create_no_store() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["status"][..],
        &["cluster", "list"],
        &["models", "list"],
        &["aliases", "list"],
        &["skills", "job-1"],
        &["ingest", "nothing.jsonl"],
    ] {
        let out = jobenrich(dir.path(), args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            tree(dir.path()).is_empty(),
            "{args:?} created {:?}",
            tree(dir.path())
        );
    }
    usage_error(
        &jobenrich(dir.path(), &["status"]),
        &["no store at var/jobenrich.db", "jobenrich migrate"],
    );
}

#[test]
fn a_closed_stdout_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    // The reading end is closed before jobenrich writes anything.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = command(dir.path(), &["--format", "json", "config", "show"])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn exit_codes_of_configuration_and_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    usage_error(
        &jobenrich(dir.path(), &["bigquery", "plan", "--from-scratch"]),
        &["storage.bigquery"],
    );
    usage_error(
        &jobenrich(dir.path(), &["bench", "extract", "--input", "/nope"]),
        &["/nope"],
    );
    let zero = jobenrich(dir.path(), &["bench", "extract", "--postings", "0"]);
    assert_eq!(zero.status.code(), Some(2), "{}", text(&zero.stderr));
}

#[test]
fn bench_json_has_durations_in_seconds_and_says_which_engine() {
    let dir = tempfile::tempdir().unwrap();
    let sample = repo("data/sample/postings.jsonl");
    let out = jobenrich(
        dir.path(),
        &[
            "--format",
            "json",
            "bench",
            "extract",
            "--postings",
            "5",
            "--rounds",
            "1",
            "--input",
            sample.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    for phase in report["phases"].as_array().unwrap() {
        assert!(phase["elapsed_seconds"].is_f64(), "{phase}");
        assert!(phase.get("elapsed").is_none(), "{phase}");
    }
    // No store here: the engine `run` would build on a new one.
    let err = text(&out.stderr);
    assert!(
        err.contains("skills_extractor@v1.0") && err.contains("61 shipped aliases"),
        "{err}"
    );
    assert!(tree(dir.path()).is_empty());
}

#[test]
fn dataset_import_honours_format_json() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("spans.csv");
    std::fs::write(
        &input,
        "sentence,span,sub_span,label\n\"We use Python daily.\",Python,,Python (computer programming)\n",
    )
    .unwrap();
    let out_file = dir.path().join("out.jsonl");
    let view = ok_json(
        dir.path(),
        &[
            "dataset",
            "import",
            "esco-linked",
            input.to_str().unwrap(),
            "--out",
            out_file.to_str().unwrap(),
        ],
    );
    assert_eq!(view["stats"]["records"], 1, "{view}");
    assert!(view["dataset_version"].is_string(), "{view}");
}

#[test]
fn ingest_takes_a_directory_of_posting_files() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["migrate"]);
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    std::fs::write(
        inbox.join("a.jsonl"),
        "{\"id\":\"a-1\",\"title\":\"Rust Engineer\",\"description\":\"Rust.\"}\n",
    )
    .unwrap();
    std::fs::write(
        inbox.join("b.csv"),
        "id,title,description\nb-1,QA,Selenium tests\n",
    )
    .unwrap();
    std::fs::write(inbox.join("notes.txt"), "not postings").unwrap();
    let view = ok_json(dir.path(), &["ingest", "inbox"]);
    assert_eq!(view["total"]["stored"], 2, "{view}");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    usage_error(
        &jobenrich(dir.path(), &["ingest", "empty"]),
        &["empty", "directory"],
    );
}

#[test]
fn migrate_seeds_the_shipped_aliases_once() {
    let dir = tempfile::tempdir().unwrap();
    let first = ok_json(dir.path(), &["migrate"]);
    assert_eq!(first["aliases"]["added"], 61, "{first}");
    let aliases = ok_json(dir.path(), &["aliases", "list"]);
    let aliases = aliases.as_array().unwrap();
    assert_eq!(aliases.len(), 61);
    assert!(
        aliases
            .iter()
            .all(|a| a["source"] == "manual" && a["created_by"] == "shipped:aliases.csv"),
        "the shipped aliases say they shipped: {aliases:?}"
    );
    // A user's change survives the next migrate: nothing is seeded twice.
    ok(dir.path(), &["aliases", "deactivate", "K8s"]);
    let again = ok_json(dir.path(), &["migrate"]);
    assert_eq!(again["aliases"]["added"], 0, "{again}");
    assert_eq!(again["aliases"]["already_present"], 61, "{again}");
    let active = ok_json(dir.path(), &["aliases", "list"]);
    assert_eq!(active.as_array().unwrap().len(), 60);
}

#[test]
fn unknown_names_are_errors_and_adjusted_parameters_are_said() {
    let dir = tempfile::tempdir().unwrap();
    let sample = repo("data/sample/postings.jsonl");
    let run = ok_json(dir.path(), &["run", sample.to_str().unwrap()]);
    assert!(run["succeeded"].as_u64().unwrap() > 0, "{run}");

    usage_error(
        &jobenrich(dir.path(), &["models", "list", "nosuch"]),
        &["nosuch"],
    );
    let job = "skillspan-train-house-93";
    usage_error(
        &jobenrich(dir.path(), &["skills", job, "--version", "garbage"]),
        &["garbage", "skills_extractor@v1.0"],
    );
    let skills = ok_json(
        dir.path(),
        &["skills", job, "--version", "skills_extractor@v1.0"],
    );
    assert!(!skills.as_array().unwrap().is_empty());

    let clustered = ok_json(dir.path(), &["cluster", "run", "--k", "1000"]);
    let k = clustered["k"].as_u64().unwrap();
    assert!(k < 1000, "{clustered}");
    let choice = clustered["k_choice"].as_str().unwrap();
    assert!(
        choice.contains("1000 requested") && choice.contains(&format!("reduced to {k}")),
        "{choice}"
    );

    // Tables: upper-case headers; the snippet is cut to the width.
    let history = ok(dir.path(), &["models", "history", "skills_extractor"]);
    assert!(history.starts_with("VERSION  "), "{history}");
    let out = command(dir.path(), &["skills", job])
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The other columns are as wide as they need; the snippet gets what is
    // left of the width, at least 20 characters.
    let table = text(&out.stdout);
    let header = table.lines().next().unwrap().chars().count();
    let fixed = header - "SNIPPET".len();
    for line in table.lines() {
        assert!(line.chars().count() <= (fixed + 20).max(100), "{line}");
    }
    assert!(table.contains('…'), "{table}");
}

#[test]
fn activated_by_names_the_user_even_without_user_variables() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path(), &["--format", "json", "migrate"])
        .env_remove("USER")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let models = ok_json(dir.path(), &["models", "list", "skills_extractor"]);
    let by = models[0]["activated_by"].as_str().unwrap();
    assert!(by.starts_with("jobenrich-cli:uid:"), "{by}");
}

#[test]
fn pending_work_at_an_inactive_version_is_reported_stuck_and_pruned() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["migrate"]);
    std::fs::write(
        dir.path().join("jobs.jsonl"),
        "{\"id\":\"a-1\",\"title\":\"Rust Engineer\",\"description\":\"Rust.\"}\n\
         {\"id\":\"a-2\",\"title\":\"QA\",\"description\":\"Selenium.\"}\n",
    )
    .unwrap();
    ok(dir.path(), &["ingest", "jobs.jsonl"]);
    std::fs::write(
        dir.path().join("v11.yaml"),
        "model_id: skills_extractor\nmodel_type: skills_extraction\nversion: v1.1\nconfig_overrides: {}\n",
    )
    .unwrap();
    ok(
        dir.path(),
        &["models", "register", "--activate", "--force", "v11.yaml"],
    );

    let status = ok_json(dir.path(), &["status"]);
    let stuck = status["stuck"].as_array().unwrap();
    assert_eq!(stuck.len(), 1, "{status}");
    assert_eq!(stuck[0]["enrichment_version"], "skills_extractor@v1.0");
    assert_eq!(stuck[0]["count"], 2);
    assert_eq!(stuck[0]["reason"], "inactive_version");
    assert!(status["oldest_pending"].is_null(), "{status}");
    let text = ok(dir.path(), &["status"]);
    assert!(
        text.contains("not the active version (skills_extractor@v1.1)"),
        "{text}"
    );

    let pruned = ok_json(dir.path(), &["prune", "--keep-versions", "1", "--vacuum"]);
    assert_eq!(pruned["pending"]["removed"][0][2], 2, "{pruned}");
    let space = &pruned["space"]["reclaimed"];
    let (before, after) = (
        space["bytes_before"].as_u64().unwrap(),
        space["bytes_after"].as_u64().unwrap(),
    );
    assert!(after > 0 && after <= before, "{pruned}");
    let table = ok(dir.path(), &["prune", "--keep-versions", "1", "--vacuum"]);
    assert!(table.contains("store size (vacuum)"), "{table}");
    let after = ok_json(dir.path(), &["status"]);
    assert!(after["stuck"].as_array().unwrap().is_empty(), "{after}");

    // A type no process handles is not queued.
    usage_error(
        &jobenrich(
            dir.path(),
            &["reenrich", "--type", "section_classification"],
        ),
        &["worker.types", "section_classification"],
    );
}

#[test]
fn run_fails_when_nothing_succeeded_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let sample = repo("data/sample/postings.jsonl");
    ok(dir.path(), &["migrate"]);
    // Stored under the shipped model; the next version cannot take them.
    ok(dir.path(), &["ingest", sample.to_str().unwrap()]);
    std::fs::write(
        dir.path().join("tiny.yaml"),
        "model_id: skills_extractor\nmodel_type: skills_extraction\nversion: v1.1\n\
         config_overrides:\n  max_input_bytes: 10\n",
    )
    .unwrap();
    ok(
        dir.path(),
        &["models", "register", "--activate", "--force", "tiny.yaml"],
    );
    let sample = repo("data/sample/postings.jsonl");
    let out = jobenrich(dir.path(), &["run", sample.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("every enrichment of this run failed (40)") && err.contains("max_input_bytes"),
        "{err}"
    );
    // The summary is printed first, with this run's figures apart from the store's.
    let summary = text(&out.stdout);
    let line = summary
        .lines()
        .find(|l| l.starts_with("this run: enrichments (succeeded / failed)"))
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(line.ends_with(" 40 (0 / 40)"), "{line}");

    // A refused input cannot pass on another attempt: each is a dead letter
    // after one attempt, and the next run has nothing to retry.
    let status = ok_json(dir.path(), &["status"]);
    let dead = status["dead_letters"].as_array().unwrap();
    assert_eq!(dead.len(), 40, "{status}");
    assert!(
        dead.iter().all(|d| d["attempts"] == 1
            && d["metadata"]["retryable"] == false
            && d["error_message"].as_str().unwrap().contains("not retried")),
        "{status}"
    );
    let again = ok_json(dir.path(), &["run", sample.to_str().unwrap()]);
    assert_eq!(again["processed"], 0, "{again}");
}
