//! The README's main command on the shipped defaults (the whole
//! `config/models`): a new store activates `skills_extractor@v2.2-semantic-static`
//! (the trained tagger)
//! and `job_embedder@v1.0`, so `run` links skills to ESCO by meaning and
//! stores one vector per posting, and `similar` ranks postings by them. Needs
//! the sentence encoder (`bash scripts/setup-models.sh`, which
//! `scripts/test.sh` runs first); found beside the executable like the
//! other data files.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_jobenrich"))
        .args(["--format", "json"])
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("USER", "tester")
        .env("JOBENRICH__MODELS__SEED_DIR", repo("config/models"))
        // One ESCO index cache for every test process.
        .env(
            "JOBENRICH__EMBEDDINGS__CACHE_DIR",
            env!("CARGO_TARGET_TMPDIR"),
        )
        .output()
        .expect("running jobenrich");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "jobenrich {args:?}: {stderr}");
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("jobenrich {args:?}: not JSON ({e}): {stderr}"))
}

#[test]
fn run_on_the_shipped_defaults_links_skills_by_meaning_and_embeds_every_posting() {
    let dir = tempfile::tempdir().unwrap();
    // Six postings of the shipped sample keep a debug build quick.
    let sample = std::fs::read_to_string(repo("data/sample/postings.jsonl")).unwrap();
    let six: Vec<&str> = sample.lines().take(6).collect();
    std::fs::write(dir.path().join("postings.jsonl"), six.join("\n") + "\n").unwrap();

    let view = json(dir.path(), &["run", "postings.jsonl", "--no-progress"]);
    assert_eq!(view["ingest"]["stored"], 6, "{view}");
    // Postings of this run are not "stored earlier but never queued".
    assert_eq!(view["repaired_never_queued"], 0, "{view}");
    assert_eq!(
        view["succeeded"], 12,
        "skills and vectors of six postings: {view}"
    );
    assert_eq!(view["failed"], 0, "{view}");
    // Two enrichments of each posting count it once.
    assert_eq!(view["postings_processed"], 6, "{view}");
    assert_eq!(view["embeddings_written"], 6, "{view}");

    let models = json(dir.path(), &["models", "list"]);
    let active: Vec<String> = models
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["is_active"] == true)
        .map(|m| {
            format!(
                "{}@{}",
                m["model_id"].as_str().unwrap(),
                m["version"].as_str().unwrap()
            )
        })
        .collect();
    for expected in ["skills_extractor@v2.2-semantic-static", "job_embedder@v1.0"] {
        assert!(active.iter().any(|a| a == expected), "{active:?}");
    }

    let first = six[0];
    let id: Value = serde_json::from_str(first).unwrap();
    let id = id["id"].as_str().unwrap();
    let skills = json(dir.path(), &["skills", id]);
    let skills = skills.as_array().unwrap();
    assert!(!skills.is_empty());
    for skill in skills {
        let links = skill["taxonomy_links"].as_array().unwrap();
        assert!(!links.is_empty() && links.len() <= 5, "{skill}");
        let scores: Vec<f64> = links.iter().map(|l| l["score"].as_f64().unwrap()).collect();
        assert!(
            scores.windows(2).all(|w| w[0] >= w[1]) || links[0]["exact"] == true,
            "{skill}"
        );
        // Candidates by meaning score as shares of the skill's candidates.
        let shared: f64 = links
            .iter()
            .filter(|l| l["exact"] == false)
            .map(|l| l["score"].as_f64().unwrap())
            .sum();
        assert!(shared <= 1.0 + 1e-6, "{skill}");
        let semantic = skill["source_strategies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "semantic");
        if semantic {
            let label = links[0]["label"].as_str().unwrap();
            assert_eq!(skill["taxonomy_ref"], format!("esco:{label}"), "{skill}");
        }
    }

    let similar = json(dir.path(), &["similar", id, "--top", "3"]);
    assert_eq!(
        similar["enrichment_version"], "job_embedder@v1.0",
        "{similar}"
    );
    let ranked = similar["similar"].as_array().unwrap();
    assert_eq!(ranked.len(), 3, "{similar}");
    assert!(
        ranked.iter().all(|r| r["job_posting_id"] != id),
        "{similar}"
    );
    let scores: Vec<f64> = ranked
        .iter()
        .map(|r| r["similarity"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{similar}");
}

/// The default `skills_extractor@v2.2-semantic-static`: the trained
/// tagger's spans, linked to ESCO by meaning.
#[test]
fn the_default_tagger_reports_tagged_skills_with_ranked_candidates() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read_to_string(repo("data/sample/postings.jsonl")).unwrap();
    let three: Vec<&str> = sample.lines().take(3).collect();
    std::fs::write(dir.path().join("postings.jsonl"), three.join("\n") + "\n").unwrap();
    let view = json(dir.path(), &["run", "postings.jsonl", "--no-progress"]);
    assert_eq!(view["failed"], 0, "{view}");
    let mut tagged = 0;
    for line in &three {
        let posting: Value = serde_json::from_str(line).unwrap();
        let skills = json(dir.path(), &["skills", posting["id"].as_str().unwrap()]);
        for skill in skills.as_array().unwrap() {
            assert_eq!(
                skill["enrichment_version"], "skills_extractor@v2.2-semantic-static",
                "{skill}"
            );
            let strategies = skill["source_strategies"].as_array().unwrap();
            tagged += usize::from(strategies.iter().any(|s| s == "ml_tagger"));
            let links = skill["taxonomy_links"].as_array().unwrap();
            assert!(!links.is_empty() && links.len() <= 5, "{skill}");
            if strategies.iter().any(|s| s == "semantic") {
                assert_eq!(links[0]["exact"], false, "{skill}");
            }
        }
    }
    assert!(tagged > 0, "no skill came from the tagger");
}
