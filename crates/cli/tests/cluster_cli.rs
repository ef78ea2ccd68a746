//! End-to-end test of `jobenrich cluster` on the shipped sample: enrich,
//! cluster twice, diff (JSON and the HTML report), list and show, and the
//! exit code of a usage error.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn jobenrich(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jobenrich"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("JOBENRICH__MODELS__SEED_DIR", common::rules_models_dir())
        .env("JOBENRICH__MODELS__ARTIFACTS_DIR", repo("models"))
        .output()
        .expect("running jobenrich")
}

fn ok_json(dir: &Path, args: &[&str]) -> Value {
    let out = jobenrich(dir, args);
    assert!(
        out.status.success(),
        "jobenrich {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn cluster_run_diff_list_and_show_on_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let sample = repo("data/sample/postings.jsonl");
    let sample = sample.to_str().unwrap();
    ok_json(dir, &["--format", "json", "run", sample]);

    let first = ok_json(
        dir,
        &[
            "--format", "json", "cluster", "run", "--k", "3", "--seed", "1",
        ],
    );
    assert_eq!(first["k"], 3);
    assert_eq!(first["cluster_model_id"], "job_clusterer");
    let jobs = first["jobs"].as_u64().unwrap();
    assert!(jobs >= 10, "{first}");
    let second = ok_json(
        dir,
        &[
            "--format", "json", "cluster", "run", "--k", "5", "--seed", "2",
        ],
    );
    assert_eq!(second["previous_run_id"], first["cluster_run_id"]);

    let report = dir.join("diff.html");
    let diff = ok_json(
        dir,
        &[
            "--format",
            "json",
            "cluster",
            "diff",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(diff["old_run"]["cluster_run_id"], first["cluster_run_id"]);
    assert_eq!(diff["new_run"]["cluster_run_id"], second["cluster_run_id"]);
    let stability = &diff["stability"];
    assert_eq!(stability["jobs_in_both"].as_u64(), Some(jobs));
    assert_eq!(
        stability["moved_jobs"].as_u64(),
        Some(diff["changes"].as_array().unwrap().len() as u64)
    );
    let ari = stability["adjusted_rand_index"].as_f64().unwrap();
    assert!((-1.0..=1.0).contains(&ari));
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<svg") && html.contains("Adjusted Rand index"));

    let listing = ok_json(dir, &["--format", "json", "cluster", "list"]);
    assert_eq!(listing["runs"].as_array().unwrap().len(), 2);
    assert_eq!(listing["clusters"].as_array().unwrap().len(), 5);
    let listed_first = ok_json(
        dir,
        &[
            "--format",
            "json",
            "cluster",
            "list",
            "--run",
            first["cluster_run_id"].as_str().unwrap(),
        ],
    );
    assert_eq!(listed_first["clusters"].as_array().unwrap().len(), 3);

    let job = diff["changes"][0]["job_posting_id"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| "skillspan-train-tech-0".to_string());
    let shown = ok_json(dir, &["--format", "json", "cluster", "show", &job]);
    let history = shown["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{shown}");
    assert_eq!(history[1]["is_active"], true);
    assert_eq!(history[0]["is_active"], false);

    let missing = jobenrich(dir, &["cluster", "diff", "no-such-run"]);
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("\"no-such-run\" not found"), "{stderr}");
}
