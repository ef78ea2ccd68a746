//! The release binary runs from anywhere: copied with only its data files
//! into a temporary "install" (bin/ and data/lexicon/ with its lexicon and
//! aliases beside it), run from an
//! unrelated working directory, it finds its lexicon through the
//! `engine.lexicon_dir` setting's default (beside the executable) and never
//! through the build machine's source tree. The lexicon installed here is a
//! one-entry stand-in whose skill the shipped lexicon does not have, so a
//! binary still reading the source tree's lexicon fails the test. A trained
//! model version's artifact is found the same way (`models.artifacts_dir`).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds (or finds fresh) the release `jobenrich` and returns its path.
/// `scripts/test.sh` builds it before the tests (`binaries_prebuilt`): a
/// cargo call from inside the test run still took 142–185 s of both CI
/// cores, beside the emulator's queue tests, with the binary just built.
fn release_binary() -> PathBuf {
    if !jobenrich_system_tests::binaries_prebuilt() {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--release",
                "-p",
                "jobenrich-cli",
                "--bin",
                "jobenrich",
            ])
            .current_dir(repo_root())
            .status()
            .expect("running cargo build --release");
        assert!(status.success(), "cargo build --release failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let path = target.join("release/jobenrich");
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

#[test]
fn the_release_binary_runs_from_a_temp_dir_with_its_data_found_by_settings() {
    let shipped = std::fs::read_to_string(repo_root().join("data/lexicon/lexicon.tsv")).unwrap();
    assert!(
        !shipped.contains("Zorblang"),
        "the stand-in skill must be unknown to the shipped lexicon"
    );

    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("app/bin/jobenrich");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(release_binary(), &bin).unwrap();
    let lexicon_dir = tmp.path().join("app/data/lexicon");
    std::fs::create_dir_all(&lexicon_dir).unwrap();
    std::fs::write(
        lexicon_dir.join("lexicon.tsv"),
        "# canonical\tcategory\tsource\tweight\ttaxonomy_ref\tsurfaces\nZorblang\tdatabases\tcurated\t0.95\tesco:Zorblang\tZorblang\n",
    )
    .unwrap();
    // `run` seeds the aliases shipped beside the lexicon; a stand-in here too.
    std::fs::write(
        lexicon_dir.join("aliases.csv"),
        "alias_text,canonical_name,category,confidence\nZorb,Zorblang,databases,0.9\n",
    )
    .unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(
        work.join("postings.jsonl"),
        "{\"id\":\"1\",\"title\":\"Engineer\",\"description\":\"Requirements:\\n- Zorblang in production\\n- Kubernetes and PostgreSQL\\n\"}\n",
    )
    .unwrap();

    let output = Command::new(&bin)
        .args(["run", "postings.jsonl", "--no-progress", "--format", "json"])
        .current_dir(&work)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .expect("running the copied release binary");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let view: Value = serde_json::from_slice(&output.stdout).unwrap();
    let top = view["skills"]["top_skills"].as_array().expect("top_skills");
    let zorblang = top
        .iter()
        .find(|s| s["skill_name"] == "Zorblang")
        .unwrap_or_else(|| panic!("the installed lexicon was not used: {view}"));
    assert_eq!(zorblang["skill_category"], "databases", "{view}");
    assert!(
        !top.iter().any(|s| s["skill_name"] == "PostgreSQL"),
        "the source tree's lexicon was used: {view}"
    );
    assert!(work.join("var/jobenrich.db").is_file());

    // A trained version's artifact is found through `models.artifacts_dir`
    // (default `models`, beside `bin/` here), never the source tree: with
    // the artifact installed, `bench extract` runs v2.0 from the install.
    let installed = tmp.path().join("app/models/skills_extractor/v2.0");
    std::fs::create_dir_all(&installed).unwrap();
    for file in ["tagger.json", "weights.bin", "model.yaml"] {
        std::fs::copy(
            repo_root().join("models/skills_extractor/v2.0").join(file),
            installed.join(file),
        )
        .unwrap();
    }
    let bench = |model_yaml: &Path| {
        Command::new(&bin)
            .args(["bench", "extract", "--input", "postings.jsonl"])
            .args(["--postings", "3", "--rounds", "1", "--format", "json"])
            .arg("--model-config")
            .arg(model_yaml)
            .current_dir(&work)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .output()
            .expect("running the copied release binary")
    };
    let output = bench(&installed.join("model.yaml"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Without the installed artifact the same config fails, naming it.
    std::fs::remove_file(installed.join("weights.bin")).unwrap();
    let output = bench(&installed.join("model.yaml"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("skills_extractor/v2.0"), "{stderr}");
}
