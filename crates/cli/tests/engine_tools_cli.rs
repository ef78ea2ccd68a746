//! `jobenrich lexicon build`, `bench extract` and `bigquery plan` through the real binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn jobenrich(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jobenrich"));
    cmd.current_dir(dir)
        .env("JOBENRICH_CONFIG_DIR", repo_root().join("config"))
        .env("JOBENRICH__MODELS__SEED_DIR", common::rules_models_dir())
        .env_remove("JOBENRICH_ENV");
    cmd
}

#[test]
fn lexicon_build_reproduces_the_shipped_lexicon() {
    // The repository ships the taxonomy sources (data/taxonomy, with their
    // licences): a fresh clone has nothing beside it.
    let taxonomy = repo_root().join("data/taxonomy");
    assert!(
        taxonomy.is_dir(),
        "taxonomy folder missing: {}",
        taxonomy.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lexicon.tsv");
    let output = jobenrich(dir.path())
        .args(["--format", "json", "lexicon", "build", "--taxonomy"])
        .arg(&taxonomy)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["entries_written"].as_u64().unwrap() > 10_000,
        "{report}"
    );
    let built = std::fs::read_to_string(&out).unwrap();
    let shipped = std::fs::read_to_string(repo_root().join("data/lexicon/lexicon.tsv")).unwrap();
    assert!(
        built == shipped,
        "the shipped lexicon differs from a fresh build: rebuild and commit it"
    );
}

#[test]
fn lexicon_build_names_a_missing_taxonomy_folder() {
    let dir = tempfile::tempdir().unwrap();
    let output = jobenrich(dir.path())
        .args(["lexicon", "build", "--taxonomy", "no/such/dir", "--out"])
        .arg(dir.path().join("x.tsv"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: ")
            && stderr.contains("no/such/dir")
            && stderr.contains("onet/technology_skills.tsv")
            && stderr.contains("data/taxonomy/README.md"),
        "{stderr}"
    );
    assert!(!dir.path().join("x.tsv").exists());
}

#[test]
fn lexicon_build_defaults_to_the_shipped_taxonomy() {
    // From the repository root with no --taxonomy: the shipped copies are found.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lexicon.tsv");
    let output = jobenrich(&repo_root())
        .args(["--format", "json", "lexicon", "build", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(out.is_file());
}

#[test]
fn bench_extract_reports_three_phases() {
    let dir = tempfile::tempdir().unwrap();
    let output = jobenrich(dir.path())
        .args([
            "--format",
            "json",
            "bench",
            "extract",
            "--postings",
            "20",
            "--rounds",
            "1",
            "--input",
        ])
        .arg(repo_root().join("data/sample/postings.jsonl"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["postings"], 20);
    let phases: Vec<&str> = report["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["sectioning", "extraction", "both"]);
    assert!(report["skills_found"].as_u64().unwrap() > 0);
}

#[test]
fn bench_extract_with_threads_adds_both_on_that_many_threads() {
    let dir = tempfile::tempdir().unwrap();
    let output = jobenrich(dir.path())
        .args(["--format", "json", "bench", "extract", "--postings", "20"])
        .args(["--rounds", "1", "--threads", "2", "--input"])
        .arg(repo_root().join("data/sample/postings.jsonl"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let phases: Vec<(String, u64)> = report["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let name = p["phase"].as_str().unwrap().to_string();
            (name, p["threads"].as_u64().unwrap())
        })
        .collect();
    let pair: Vec<(&str, u64)> = phases[3..].iter().map(|(p, t)| (p.as_str(), *t)).collect();
    assert_eq!(pair, [("both", 1), ("both", 2)], "{phases:?}");
    assert!(stderr.contains("both on 2 threads:"), "{stderr}");
}

#[test]
fn bigquery_plan_prints_every_table_without_contacting_bigquery() {
    let dir = tempfile::tempdir().unwrap();
    let output = jobenrich(dir.path())
        .args(["bigquery", "plan", "--from-scratch"])
        .env("JOBENRICH__STORAGE__BIGQUERY__PROJECT", "demo")
        .env("JOBENRICH__STORAGE__BIGQUERY__DATASET", "jobs")
        .env(
            "JOBENRICH__STORAGE__BIGQUERY__CREDENTIALS__KIND",
            "emulator",
        )
        // Nothing listens here: the plan must not need a connection.
        .env(
            "JOBENRICH__STORAGE__BIGQUERY__CREDENTIALS__BASE_URL",
            "http://127.0.0.1:9",
        )
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let plan = String::from_utf8_lossy(&output.stdout);
    for table in [
        "job_postings",
        "job_enrichments",
        "job_skills",
        "job_clusters",
        "skill_aliases",
        "section_classifications",
        "evaluation_results",
        "model_config",
    ] {
        assert!(plan.contains(table), "plan lacks {table}:\n{plan}");
    }
}
