//! End-to-end tests of `jobenrich evaluate`, `dataset` and `models history`
//! / `diff` with the real engine and a temp SQLite store: what is stored, the
//! report file, and the exit codes of the gate (0 pass, 1 fail, 2 error).

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    fn new() -> Self {
        let work = Self {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        let migrated = work.run(&["migrate"]);
        assert!(migrated.status.success(), "{}", stderr(&migrated));
        work
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_jobenrich"))
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("JOBENRICH__MODELS__SEED_DIR", common::rules_models_dir())
            .env("JOBENRICH__MODELS__ARTIFACTS_DIR", repo("models"))
            .output()
            .expect("running jobenrich")
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

#[test]
fn evaluate_stores_the_result_updates_the_model_writes_the_report_and_exits_by_the_gate() {
    let work = Workdir::new();
    let sample = repo("data/labeled/sample.jsonl");
    let sample = sample.to_str().unwrap();
    let report = work.path("report.html");
    let passed = work.run(&[
        "--format",
        "json",
        "evaluate",
        "--model",
        "skills_extractor",
        "--dataset",
        sample,
        "--min-f1",
        "0.3",
        "--ci",
        "--build-id",
        "build-7",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(passed.status.code(), Some(0), "{}", stderr(&passed));
    let out = json(&passed);
    let evaluation = &out["evaluation"];
    assert_eq!(evaluation["sample_count"], 39);
    assert_eq!(evaluation["threshold_passed"], true);
    assert_eq!(evaluation["is_ci_run"], true);
    assert_eq!(evaluation["ci_build_id"], "build-7");
    assert!(
        evaluation["category_metrics"]["programming_languages"]["support"]
            .as_u64()
            .is_some_and(|s| s > 0)
    );
    assert!(evaluation["additional_metrics"]["micro_f1"].is_number());
    let html = std::fs::read_to_string(&report).expect("report written");
    assert!(html.contains("<svg") && html.contains("Top false positives"));

    let shown = work.run(&["--format", "json", "models", "show", "skills_extractor"]);
    let f1 = json(&shown)["model"]["performance_metrics"]["f1_score"].clone();
    assert_eq!(f1, evaluation["overall_f1"]);

    // The same version again: the previous run is the baseline; min-f1 fails.
    let failed = work.run(&[
        "evaluate",
        "--model",
        "skills_extractor",
        "--dataset",
        sample,
        "--min-f1",
        "0.99",
        "--max-regression",
        "0.02",
    ]);
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    let text = String::from_utf8_lossy(&failed.stdout);
    assert!(
        text.contains("FAIL min_f1") && text.contains("short by"),
        "{text}"
    );
    assert!(text.contains("pass max_regression"), "{text}");
    assert!(stderr(&failed).contains("quality gate failed: min_f1"));

    let history = json(&work.run(&["--format", "json", "models", "history", "skills_extractor"]));
    assert_eq!(history[0]["evaluation_count"], 2);
    assert_eq!(history[0]["latest_evaluation"]["threshold_passed"], false);

    // Section classification on the sample's gold sections.
    let sections = work.run(&[
        "evaluate",
        "--model",
        "section_classifier",
        "--dataset",
        sample,
    ]);
    assert_eq!(sections.status.code(), Some(0), "{}", stderr(&sections));
    assert!(String::from_utf8_lossy(&sections.stdout).contains("requirements"));
}

#[test]
fn dataset_import_writes_a_valid_file_and_data_errors_exit_2() {
    let work = Workdir::new();
    let out = work.path("tech.jsonl");
    let imported = work.run(&[
        "dataset",
        "import",
        "esco-linked",
        repo("data/labeled/esco-linked/tech_validation_annotations.csv")
            .to_str()
            .unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert!(String::from_utf8_lossy(&imported.stdout).contains("LABEL NOT PRESENT"));
    let info = json(&work.run(&["--format", "json", "dataset", "info", out.to_str().unwrap()]));
    assert_eq!(info["records"], 101);
    let out = out.to_str().unwrap();

    for (args, expected) in [
        (
            vec![
                "evaluate",
                "--model",
                "skills_extractor",
                "--dataset",
                "missing.jsonl",
            ],
            "missing.jsonl",
        ),
        (
            vec![
                "evaluate",
                "--model",
                "section_classifier",
                "--dataset",
                out,
            ],
            "gold_sections",
        ),
        (
            vec![
                "evaluate",
                "--model",
                "skills_extractor",
                "--dataset",
                out,
                "--min-f1",
                "2",
            ],
            "min-f1",
        ),
        (
            vec![
                "evaluate",
                "--model",
                "skills_extractor",
                "--version",
                "v9.0",
                "--dataset",
                out,
            ],
            "v9.0",
        ),
    ] {
        let o = work.run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(expected), "{args:?}: {}", stderr(&o));
    }
}

/// The trained `skills_extractor@v2.0` through the lifecycle's gate: its
/// artifact is found under `models.artifacts_dir`, activation is refused
/// while it is unevaluated or its latest evaluation failed, and allowed once
/// an evaluation passes. (sample.jsonl holds SkillSpan postings: a check of
/// the gate, not a quality figure; docs/quality.md has those.)
#[test]
fn a_trained_version_is_activated_only_after_a_passing_evaluation() {
    let work = Workdir::new();
    let yaml = repo("models/skills_extractor/v2.0/model.yaml");
    let registered = work.run(&[
        "--format",
        "json",
        "models",
        "register",
        yaml.to_str().unwrap(),
    ]);
    assert!(registered.status.success(), "{}", stderr(&registered));
    let registered = json(&registered);
    assert_eq!(
        registered[0]["training_data_version"],
        "skillspan-train.jsonl@sha256:63a156fd9cc69cd8"
    );
    assert!(registered[0]["training_date"].is_string(), "{registered}");

    let activate = || work.run(&["models", "activate", "skills_extractor", "v2.0"]);
    let refused = activate();
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("never evaluated"),
        "{}",
        stderr(&refused)
    );

    let sample = repo("data/labeled/sample.jsonl");
    let evaluate = |min_f1: &str| {
        work.run(&[
            "--format",
            "json",
            "evaluate",
            "--model",
            "skills_extractor",
            "--version",
            "v2.0",
            "--dataset",
            sample.to_str().unwrap(),
            "--min-f1",
            min_f1,
        ])
    };
    let failed = evaluate("0.99");
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    let refused = activate();
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("failed its gate"),
        "{}",
        stderr(&refused)
    );

    let passed = evaluate("0.3");
    assert!(passed.status.success(), "{}", stderr(&passed));
    let passed = json(&passed);
    let f1 = passed["evaluation"]["overall_f1"].as_f64().unwrap();
    assert!(f1 >= 0.3, "macro F1 {f1}");
    let activated = activate();
    assert!(activated.status.success(), "{}", stderr(&activated));
    let shown = json(&work.run(&["--format", "json", "models", "show", "skills_extractor"]));
    assert_eq!(shown["model"]["version"], "v2.0");
    assert!(
        !shown["model"]["activated_by"]
            .as_str()
            .unwrap_or("")
            .contains("forced"),
        "{shown}"
    );
}
