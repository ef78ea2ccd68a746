//! Rebuilds the shipped lexicon: `cargo run -p jobenrich-enrichment-engine
//! --example build_lexicon -- <taxonomy_dir>` (default: the data/taxonomy the repository ships).
//! The same function backs `jobenrich lexicon build`.

use jobenrich_enrichment_engine::{build_lexicon, SHIPPED_MAPPING_FILE};
use std::path::PathBuf;

fn main() {
    let taxonomy = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/taxonomy"));
    let out =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lexicon/lexicon.tsv");
    let mapping = out.with_file_name(SHIPPED_MAPPING_FILE);
    match build_lexicon(&taxonomy, &mapping, &out) {
        Ok(report) => println!("{report:#?}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
