//! The whole model lifecycle of a trained skills version on SQLite, through
//! the binary: ingest and run at v1.0, train v2.1 on a small fixture (a few
//! labeled postings, two epochs), evaluate (the gate passes), activate
//! without --force, reenrich, results at both versions side by side, prune
//! v1.0, and the history showing both versions with their evaluations.

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
        // Trained artifacts go to (and are read from) the work dir's own models/.
        .env("JOBENRICH__MODELS__ARTIFACTS_DIR", dir.join("models"))
        .output()
        .expect("running jobenrich")
}

fn ok(dir: &Path, args: &[&str]) -> Output {
    let out = jobenrich(dir, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ok_json(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let out = ok(dir, &all);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn ingest_run_train_evaluate_activate_reenrich_prune_history() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Five postings of the shipped sample, enriched at the shipped v1.0.
    let postings: String = std::fs::read_to_string(repo("data/sample/postings.jsonl"))
        .unwrap()
        .lines()
        .take(5)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join("postings.jsonl"), postings).unwrap();
    ok(dir, &["run", "postings.jsonl", "--no-progress"]);
    let job = "skillspan-train-tech-1";

    // A small training fixture: six labeled postings.
    let labeled: String = std::fs::read_to_string(repo("data/labeled/sample.jsonl"))
        .unwrap()
        .lines()
        .take(6)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join("train.jsonl"), labeled).unwrap();
    let trained = ok_json(
        dir,
        &[
            "train",
            "skills",
            "--dataset",
            "train.jsonl",
            "--version",
            "v2.1",
            "--epochs",
            "2",
        ],
    );
    assert_eq!(trained["registered_inactive"], true, "{trained}");
    assert!(dir
        .join("models/skills_extractor/v2.1/weights.bin")
        .is_file());
    let shown = ok_json(dir, &["models", "show", "skills_extractor", "v2.1"]);
    let data_version = shown["model"]["training_data_version"].as_str().unwrap();
    assert!(data_version.starts_with("train.jsonl@sha256:"), "{shown}");
    assert!(shown["model"]["training_date"].is_string(), "{shown}");

    // Both versions evaluated on the same labeled file; v2.1's gate passes.
    let sample = repo("data/labeled/sample.jsonl");
    let sample = sample.to_str().unwrap();
    for (version, min_f1) in [("v1.0", "0.01"), ("v2.1", "0.01")] {
        let e = ok_json(
            dir,
            &[
                "evaluate",
                "--model",
                "skills_extractor",
                "--version",
                version,
                "--dataset",
                sample,
                "--min-f1",
                min_f1,
            ],
        );
        assert_eq!(e["evaluation"]["threshold_passed"], true, "{e}");
    }
    let activated = ok(dir, &["models", "activate", "skills_extractor", "v2.1"]);
    assert!(
        !String::from_utf8_lossy(&activated.stderr).contains("--force"),
        "a passing evaluation needs no force"
    );

    ok(dir, &["reenrich", "--type", "skills_extraction"]);
    // Re-enrichment alone: nothing read, every stored posting enriched again,
    // and the end-to-end rate counts them.
    std::fs::write(dir.join("none.jsonl"), "").unwrap();
    let rerun = ok_json(dir, &["run", "none.jsonl", "--no-progress"]);
    assert_eq!(
        (
            rerun["ingest"]["read"].as_u64(),
            rerun["postings_processed"].as_u64()
        ),
        (Some(0), Some(5)),
        "{rerun}"
    );
    assert!(
        rerun["end_to_end_postings_per_second"].as_f64() > Some(0.0),
        "{rerun}"
    );
    let both = ok_json(dir, &["skills", job, "--all-versions"]).to_string();
    assert!(both.contains("skills_extractor@v1.0"), "{both}");
    assert!(both.contains("skills_extractor@v2.1"), "{both}");
    assert!(
        both.contains("ml_tagger"),
        "v2.1 results come from the tagger: {both}"
    );

    ok(dir, &["prune", "--keep-versions", "1"]);
    let after = ok_json(dir, &["skills", job, "--all-versions"]).to_string();
    assert!(!after.contains("skills_extractor@v1.0"), "{after}");
    assert!(after.contains("skills_extractor@v2.1"), "{after}");

    let history = ok_json(dir, &["models", "history", "skills_extractor"]).to_string();
    for version in ["\"v1.0\"", "\"v2.1\""] {
        assert!(history.contains(version), "{history}");
    }
    let rows: Value = serde_json::from_str(&history).unwrap();
    let evaluated = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["evaluation_count"].as_u64().is_some_and(|n| n >= 1))
        .count();
    assert_eq!(evaluated, 2, "{history}");
}

/// `train sections` writes and registers an `ml_model` section classifier;
/// once active, `run` classifies sections with it (relevance from the model,
/// method `ml_model`, recorded at the section model's version).
#[test]
fn trained_section_classifier_is_registered_activated_and_used_by_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let postings: String = std::fs::read_to_string(repo("data/sample/postings.jsonl"))
        .unwrap()
        .lines()
        .take(3)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join("postings.jsonl"), postings).unwrap();
    ok(dir, &["migrate"]);
    let labeled: String = std::fs::read_to_string(repo("data/labeled/sample.jsonl"))
        .unwrap()
        .lines()
        .take(6)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join("train.jsonl"), labeled).unwrap();
    let trained = ok_json(
        dir,
        &[
            "train",
            "sections",
            "--dataset",
            "train.jsonl",
            "--dev",
            "train.jsonl",
            "--version",
            "v2.1",
            "--epochs",
            "5",
        ],
    );
    assert_eq!(trained["registered_inactive"], true, "{trained}");
    assert!(trained["sections"].as_u64().unwrap() > 0, "{trained}");
    assert!(
        trained["dev"]["ml_model"]["accuracy"].is_number(),
        "{trained}"
    );
    assert!(dir
        .join("models/section_classifier/v2.1/section_model.json")
        .is_file());
    let shown = ok_json(dir, &["models", "show", "section_classifier", "v2.1"]);
    let data_version = shown["model"]["training_data_version"].as_str().unwrap();
    assert!(data_version.starts_with("train.jsonl@sha256:"), "{shown}");

    // No labeled sections to evaluate against: activation needs --force.
    ok(
        dir,
        &[
            "models",
            "activate",
            "section_classifier",
            "v2.1",
            "--force",
        ],
    );
    ok(dir, &["run", "postings.jsonl", "--no-progress"]);
    let first = std::fs::read_to_string(dir.join("postings.jsonl")).unwrap();
    let job: Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    let id = job["job_posting_id"]
        .as_str()
        .or_else(|| job["id"].as_str())
        .or_else(|| job["job_id"].as_str())
        .unwrap()
        .to_string();
    let sections = ok_json(dir, &["sections", &id]).to_string();
    assert!(sections.contains("ml_model"), "{sections}");
    assert!(sections.contains("section_classifier@v2.1"), "{sections}");
    assert!(!sections.contains("rule_based"), "{sections}");
}
