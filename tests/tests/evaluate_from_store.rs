//! `jobenrich evaluate --from-store` scores what `jobenrich run` stored
//! (skills with every mention span) for the postings of a labeled dataset,
//! and its figures equal the in-memory evaluation of the same version.

use jobenrich_system_tests::binary;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn jobenrich(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(binary("jobenrich"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("JOBENRICH__MODELS__SEED_DIR", repo("config/models"))
        .env("JOBENRICH__MODELS__ARTIFACTS_DIR", repo("models"))
        .output()
        .expect("running jobenrich")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn evaluate_json(dir: &Path, dataset: &Path, from_store: bool) -> Value {
    let mut args = vec![
        "--format",
        "json",
        "evaluate",
        "--model",
        "skills_extractor",
        "--dataset",
        dataset.to_str().unwrap(),
    ];
    if from_store {
        args.push("--from-store");
    }
    let out = jobenrich(dir, &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Every figure both evaluations compute (not ids, dates or timings).
fn figures(run: &Value) -> Value {
    let e = &run["evaluation"];
    serde_json::json!({
        "model_version": e["model_version"],
        "dataset_version": e["dataset_version"],
        "sample_count": e["sample_count"],
        "overall": [e["overall_precision"], e["overall_recall"], e["overall_f1"]],
        "category_metrics": e["category_metrics"],
        "additional_metrics": e["additional_metrics"],
        "micro": run["micro"],
        "category_counts": run["category_counts"],
        "ignored_predictions": run["ignored_predictions"],
        "top_false_positives": run["top_false_positives"],
        "top_false_negatives": run["top_false_negatives"],
    })
}

#[test]
fn stored_results_re_score_to_the_in_memory_figures_and_are_checked_against_the_dataset() {
    let work = tempfile::tempdir().expect("temp dir");
    let dir = work.path();
    let dataset = repo("data/labeled/sample.jsonl");
    let records: Vec<Value> = std::fs::read_to_string(&dataset)
        .expect("reading the shipped labeled sample")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON record"))
        .collect();
    // The dataset's postings, ingested with the records' ids and texts.
    let postings: String = records
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r["id"],
                "title": format!("Labeled posting {}", r["id"].as_str().unwrap()),
                "description": r["text"],
            })
            .to_string()
                + "\n"
        })
        .collect();
    let postings_path = dir.join("postings.jsonl");
    std::fs::write(&postings_path, postings).unwrap();

    let migrated = jobenrich(dir, &["migrate"]);
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    let ran = jobenrich(
        dir,
        &["run", "--no-progress", postings_path.to_str().unwrap()],
    );
    assert!(ran.status.success(), "{}", stderr(&ran));

    let db = rusqlite::Connection::open(dir.join("var/jobenrich.db")).expect("the store");
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    // Every mention is stored, one span each.
    assert!(count("SELECT COUNT(*) FROM job_skills") > 50);
    assert_eq!(
        count("SELECT COUNT(*) FROM job_skills WHERE mention_spans IS NULL"),
        0
    );
    assert_eq!(
        count("SELECT SUM(json_array_length(mention_spans)) FROM job_skills"),
        count("SELECT SUM(mention_count) FROM job_skills")
    );

    let in_memory = evaluate_json(dir, &dataset, false);
    let stored = evaluate_json(dir, &dataset, true);
    assert_eq!(in_memory["recorded"], true);
    assert_eq!(
        (&stored["recorded"], &stored["source"]),
        (&Value::Bool(false), &Value::from("store"))
    );
    assert_eq!(figures(&stored), figures(&in_memory));
    let extra = &stored["evaluation"]["additional_metrics"];
    for metric in ["span_exact_f1", "span_overlap_f1", "span_overlap_recall"] {
        assert!(
            extra[metric].as_f64().is_some_and(|v| v > 0.3),
            "{metric}: {extra}"
        );
    }
    assert_eq!(
        count("SELECT COUNT(*) FROM evaluation_results"),
        1,
        "--from-store records nothing"
    );

    // Rows without spans (as stored before the column): the skill figures
    // stay, the span figures fall to zero: the spans scored are the stored ones.
    db.execute("UPDATE job_skills SET mention_spans = NULL", [])
        .unwrap();
    let legacy = evaluate_json(dir, &dataset, true);
    let e = &legacy["evaluation"];
    assert_eq!(
        e["category_metrics"],
        in_memory["evaluation"]["category_metrics"]
    );
    assert_eq!(e["additional_metrics"]["span_overlap_recall"], 0.0);
    assert_eq!(e["additional_metrics"]["span_exact_f1"], 0.0);

    // Records the store cannot answer for are errors naming the record.
    let first = records[0]["id"].as_str().unwrap();
    let mut edited = records[0].clone();
    edited["text"] = Value::from(format!("{} (edited)", edited["text"].as_str().unwrap()));
    let unknown = serde_json::json!({"id": "never-ingested", "text": "Python", "gold_skills": [{"name": "Python"}]});
    for (record, says) in [
        (
            edited,
            format!("record \"{first}\": the stored posting's description differs"),
        ),
        (
            unknown,
            "record \"never-ingested\": no posting with this id".to_string(),
        ),
    ] {
        let file = dir.join("bad.jsonl");
        std::fs::write(&file, format!("{record}\n")).unwrap();
        let out = jobenrich(
            dir,
            &[
                "evaluate",
                "--model",
                "skills_extractor",
                "--dataset",
                file.to_str().unwrap(),
                "--from-store",
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(&says), "{}", stderr(&out));
    }
}
