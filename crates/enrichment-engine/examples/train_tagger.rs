//! Trains a tagger from a labeled JSONL file exactly as `jobenrich train
//! skills` does (same function, seed, epochs, features, rule engine), without
//! the store: `train_tagger DATASET.jsonl OUT_DIR [SEED] [EPOCHS]`.

use jobenrich_enrichment_engine::tagger::{train_tagger, LabeledPosting, LabeledSpan, TrainConfig};
use jobenrich_enrichment_engine::{
    load_alias_csv, EngineConfig, Lexicon, SkillsEngine, SpanLabel, SHIPPED_ALIASES_FILE,
};
use sha2::Digest;
use std::sync::Arc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dataset), Some(out)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: train_tagger DATASET.jsonl OUT_DIR [SEED] [EPOCHS]");
        std::process::exit(2);
    };
    let seed = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(42);
    let epochs = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(80);
    let text = std::fs::read_to_string(dataset).expect("reading the dataset");
    let postings: Vec<LabeledPosting> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON record"))
        .filter(|v| v["gold_spans"].is_array())
        .map(|v| LabeledPosting {
            text: v["text"].as_str().unwrap_or("").to_string(),
            spans: v["gold_spans"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| LabeledSpan {
                    start: s["start"].as_u64().unwrap_or(0) as u32,
                    end: s["end"].as_u64().unwrap_or(0) as u32,
                    label: SpanLabel::parse(s["label"].as_str().unwrap_or(""))
                        .expect("SKILL or KNOWLEDGE"),
                })
                .collect(),
        })
        .collect();
    // The repository's data/lexicon (run from the checkout), or LEXICON_DIR.
    let dir = std::env::var_os("LEXICON_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("data/lexicon"));
    let lexicon = Arc::new(Lexicon::load_dir(&dir).expect("lexicon"));
    let aliases =
        load_alias_csv(&dir.join(SHIPPED_ALIASES_FILE), chrono::Utc::now()).expect("aliases");
    let rules = SkillsEngine::new(lexicon, &aliases, EngineConfig::default()).expect("engine");
    let name = std::path::Path::new(dataset)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let digest: String = sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let config = TrainConfig {
        seed,
        epochs,
        ..TrainConfig::default()
    };
    let started = std::time::Instant::now();
    let (tagger, report) = train_tagger(&rules, &postings, &config, &name, &digest);
    tagger.save(std::path::Path::new(out)).expect("saving");
    println!(
        "trained on {name} ({} postings, {} tokens) in {:.1}s; weights {} bytes, sha256 {}",
        postings.len(),
        report.tokens,
        started.elapsed().as_secs_f64(),
        tagger.weights_bytes().len(),
        tagger.checksum()
    );
}
