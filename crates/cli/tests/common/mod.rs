//! Shared by the CLI test files.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The shipped `config/models` files of the rules-only versions (skills
/// v1.0, sections v1.0, clusterer v1.0): no posting vectors and no semantic
/// links, so the tests of everything but the shipped defaults run at debug
/// speed. `shipped_defaults.rs` runs the whole `config/models`.
pub fn rules_models_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/models");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("rules-models-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating the rules models directory");
        for file in [
            "skills_extractor-v1.0.yaml",
            "section_classifier-v1.0.yaml",
            "job_clusterer-v1.0.yaml",
        ] {
            std::fs::copy(shipped.join(file), dir.join(file)).expect("copying a model config");
        }
        dir
    })
    .clone()
}
