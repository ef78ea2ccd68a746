//! Prints `bench::run_extraction_benchmark` over the criterion corpus (1,000
//! postings of ~3 KB from SkillSpan, full shipped lexicon and aliases):
//! `cargo run --release -p jobenrich-enrichment-engine --example bench_extract -- [rounds]`
//! (env `BENCH_CONFIG_OVERRIDES`, `BENCH_TAGGER`)

use jobenrich_enrichment_engine::bench::{run_extraction_benchmark, synthesize_postings};
use jobenrich_enrichment_engine::{load_alias_csv, EngineConfig, Lexicon, SkillsEngine};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

// The allocator the shipped binaries use (`jobenrich`, `jobenrich-worker`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let rounds = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/skillspan_postings.jsonl");
    let text = std::fs::read_to_string(&path).expect("testdata/skillspan_postings.jsonl");
    let sources: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect();
    let postings = synthesize_postings(&sources, 1000, 3000);
    let load = Instant::now();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lexicon");
    let lexicon = Arc::new(Lexicon::load_dir(&dir).expect("shipped lexicon"));
    println!("lexicon load + automaton build: {:.2?}", load.elapsed());
    let aliases = load_alias_csv(&dir.join("aliases.csv"), chrono::Utc::now()).expect("aliases");
    // Optional config_overrides as JSON, e.g. to time one strategy alone.
    let config = match std::env::var("BENCH_CONFIG_OVERRIDES") {
        Ok(json) => {
            let map: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&json).expect("BENCH_CONFIG_OVERRIDES is a JSON object");
            EngineConfig::from_overrides(&map).expect("valid overrides")
        }
        Err(_) => EngineConfig::default(),
    };
    let mut engine = SkillsEngine::new(lexicon, &aliases, config).expect("engine");
    // A trained tagger artifact directory (set its model config's overrides
    // in BENCH_CONFIG_OVERRIDES too), to time one artifact against another.
    if let Ok(dir) = std::env::var("BENCH_TAGGER") {
        let tagger = jobenrich_enrichment_engine::Tagger::load(Path::new(&dir)).expect("tagger");
        engine = engine.with_tagger(Arc::new(tagger));
    }
    print!("{}", run_extraction_benchmark(&engine, &postings, rounds));
}
