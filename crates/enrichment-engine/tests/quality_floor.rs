//! Regression floor for extraction quality on the SkillSpan DEV postings
//! (span-overlap F1) and the ESCO-linked validation sets (gold label share).
//! Floors are the figures measured for docs/quality.md minus a margin.

mod common;

use common::quality::*;
use jobenrich_enrichment_engine::EngineConfig;

#[test]
fn dev_set_quality_stays_above_the_floor() {
    let lexicon = shipped_lexicon();
    let postings = skillspan("dev");
    assert_eq!(postings.len(), 58);
    let full = span_overlap(
        &engine_with(lexicon.clone(), EngineConfig::default(), true),
        &postings,
    );
    let plain = span_overlap(
        &engine_with(lexicon.clone(), plain_lexicon_config(), false),
        &postings,
    );
    assert!(
        full.f1 >= FLOOR_F1,
        "dev span-overlap F1 {:.3} fell below {FLOOR_F1}",
        full.f1
    );
    assert!(
        full.f1 >= plain.f1 + 0.03,
        "engine {:.3} must beat a plain lexicon match {:.3}",
        full.f1,
        plain.f1
    );
    let engine = engine_with(lexicon, EngineConfig::default(), true);
    let (found, total) = esco_label_share(&engine, "tech_validation_annotations.csv");
    let share = found as f64 / total as f64;
    assert!(
        share >= FLOOR_ESCO_TECH,
        "ESCO tech label share {share:.3} fell below {FLOOR_ESCO_TECH}"
    );
}

const FLOOR_F1: f64 = 0.48;
const FLOOR_ESCO_TECH: f64 = 0.28;
