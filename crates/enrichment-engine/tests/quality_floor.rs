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

#[test]
fn shipped_tagger_quality_stays_above_the_floor() {
    let postings = skillspan("dev");
    let engine = shipped_tagger_engine("v2.0");
    let (mut overlap, mut exact, mut skill) =
        (Counts::default(), Counts::default(), Counts::default());
    for p in &postings {
        let pred = predictions(&engine, &p.text);
        overlap.add(count(p, &pred, false, None));
        exact.add(count(p, &pred, true, None));
        skill.add(count(p, &pred, false, Some("SKILL")));
    }
    let (o, e, s) = (overlap.prf(), exact.prf(), skill.prf());
    // The v2.0 CRF's figures (0.724 / P 0.764, exact 0.464, SKILL 0.650) minus a margin.
    assert!(o.f1 >= 0.70 && o.precision >= 0.74, "dev overlap {o:?}");
    assert!(e.f1 >= 0.44, "dev exact {e:?}");
    assert!(s.f1 >= 0.62, "dev SKILL-only overlap {s:?}");
    let rules = span_overlap(
        &engine_with(shipped_lexicon(), EngineConfig::default(), true),
        &postings,
    );
    assert!(
        o.f1 >= rules.f1 + 0.1,
        "tagger {:.3} vs rules {:.3}",
        o.f1,
        rules.f1
    );
}

#[test]
fn training_is_deterministic_per_seed() {
    use jobenrich_enrichment_engine::tagger::{
        train_tagger, LabeledPosting, LabeledSpan, TrainConfig,
    };
    use jobenrich_enrichment_engine::SpanLabel;
    let data: Vec<LabeledPosting> = skillspan("train")
        .into_iter()
        .take(6)
        .map(|p| LabeledPosting {
            spans: p
                .spans
                .iter()
                .zip(&p.labels)
                .filter_map(|(s, l)| {
                    Some(LabeledSpan {
                        start: s.0,
                        end: s.1,
                        label: SpanLabel::parse(l)?,
                    })
                })
                .collect(),
            text: p.text,
        })
        .collect();
    let rules = engine_with(shipped_lexicon(), EngineConfig::default(), true);
    let train = |seed| {
        let config = TrainConfig {
            seed,
            epochs: 3,
            ..TrainConfig::default()
        };
        train_tagger(&rules, &data, &config, "six", "").0
    };
    let (a, b, c) = (train(7), train(7), train(8));
    assert_eq!(a.checksum(), b.checksum());
    assert_eq!(a.header_json(), b.header_json());
    assert_ne!(a.checksum(), c.checksum(), "the seed orders the updates");
}

#[test]
fn a_saved_tagger_loads_back_with_the_same_checksum() {
    use jobenrich_enrichment_engine::tagger::{train_tagger, LabeledPosting, TrainConfig};
    let data: Vec<LabeledPosting> = vec![LabeledPosting {
        text: "Experience with Kubernetes and strong communication skills".into(),
        spans: vec![],
    }];
    let rules = engine_with(shipped_lexicon(), EngineConfig::default(), false);
    let config = TrainConfig {
        epochs: 1,
        ..TrainConfig::default()
    };
    let (tagger, _) = train_tagger(&rules, &data, &config, "one", "");
    let dir = std::env::temp_dir().join(format!("jobenrich-tagger-{}", std::process::id()));
    tagger.save(&dir).expect("saving");
    let back = jobenrich_enrichment_engine::Tagger::load(&dir).expect("loading back");
    assert_eq!(back.checksum(), tagger.checksum());
    assert_eq!(back.header_json(), tagger.header_json());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The tagger keeps its buffers per thread between postings (and drops them
/// after an outsized one): what it finds in a posting must not depend on
/// what that thread tagged before.
#[test]
fn tagging_does_not_depend_on_the_postings_tagged_before() {
    let postings = skillspan("dev");
    let (a, b) = (postings[0].text.clone(), postings[1].text.clone());
    // Over 32,000 tokens: past what a thread keeps.
    let outsized = a.repeat(40_000 / a.split_whitespace().count().max(1) + 1);
    let spans = |engine: &jobenrich_enrichment_engine::SkillsEngine, text: &str| {
        engine
            .extract_text(text)
            .into_iter()
            .map(|s| (s.canonical, s.mentions, s.confidence.to_bits()))
            .collect::<Vec<_>>()
    };
    let alone = |text: String| {
        std::thread::spawn(move || spans(&shipped_tagger_engine("v2.0"), &text))
            .join()
            .unwrap()
    };
    let (a_alone, b_alone) = (alone(a.clone()), alone(b.clone()));
    assert!(!a_alone.is_empty() && !b_alone.is_empty());
    let engine = shipped_tagger_engine("v2.0");
    assert_eq!(spans(&engine, &b), b_alone);
    assert_eq!(spans(&engine, &a), a_alone, "after another posting");
    assert!(spans(&engine, &outsized).len() >= a_alone.len());
    assert_eq!(spans(&engine, &a), a_alone, "after an outsized posting");
    assert_eq!(spans(&engine, &b), b_alone);
}
