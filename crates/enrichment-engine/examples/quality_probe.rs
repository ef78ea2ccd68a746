//! Dev harness for tuning: prints span-overlap P/R/F1 on the SkillSpan dev
//! (and train) postings and the ESCO-linked label share, for the full engine,
//! a plain lexicon match, and each strategy removed (ablation).
//! `cargo run --release -p jobenrich-enrichment-engine --example quality_probe`

#[path = "../tests/common/quality.rs"]
mod quality;

use jobenrich_enrichment_engine::EngineConfig;
use quality::*;

fn main() {
    let lexicon = shipped_lexicon();
    let split = std::env::args().nth(1).unwrap_or_else(|| "dev".into());
    let postings = skillspan(&split);
    let variants: Vec<(&str, EngineConfig, bool)> = vec![
        ("full engine", EngineConfig::default(), true),
        ("plain lexicon match", plain_lexicon_config(), false),
        (
            "- lexicon",
            EngineConfig {
                use_lexicon: false,
                ..EngineConfig::default()
            },
            true,
        ),
        (
            "- aliases",
            EngineConfig {
                use_aliases: false,
                ..EngineConfig::default()
            },
            false,
        ),
        (
            "- patterns",
            EngineConfig {
                use_patterns: false,
                ..EngineConfig::default()
            },
            true,
        ),
        (
            "- pattern phrases",
            EngineConfig {
                emit_pattern_phrases: false,
                ..EngineConfig::default()
            },
            true,
        ),
        (
            "- ambiguity rules",
            EngineConfig {
                ambiguity_rules: false,
                ..EngineConfig::default()
            },
            true,
        ),
        (
            "- confidence threshold",
            EngineConfig {
                min_confidence: 0.0,
                ..EngineConfig::default()
            },
            true,
        ),
    ];
    println!("SkillSpan {split} postings: {}", postings.len());
    println!("| variant | P | R | F1 | predicted | gold | ESCO tech | ESCO house |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, config, aliases) in variants {
        let engine = engine_with(lexicon.clone(), config, aliases);
        let prf = span_overlap(&engine, &postings);
        let (tf, tt) = esco_label_share(&engine, "tech_validation_annotations.csv");
        let (hf, ht) = esco_label_share(&engine, "house_validation_annotations.csv");
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} | {} | {} | {:.3} ({tf}/{tt}) | {:.3} ({hf}/{ht}) |",
            prf.precision,
            prf.recall,
            prf.f1,
            prf.predicted,
            prf.gold,
            tf as f64 / tt.max(1) as f64,
            hf as f64 / ht.max(1) as f64
        );
    }
}
