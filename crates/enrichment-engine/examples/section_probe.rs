//! The `ml_model` section classifier next to the rule classifier.
//! `section_probe tune` runs 5-fold cross-validation inside the SkillSpan
//! train split for each candidate setting (choosing settings without
//! touching dev); `section_probe dev` trains with the shipped settings on all
//! of train and reports dev: relevance accuracy/F1 of both classifiers and
//! the effect on extraction (v1.0 rules and the shipped v2.0 tagger, each
//! with rule and with model relevance).
//! `cargo run --release -p jobenrich-enrichment-engine --example section_probe -- tune`

#[path = "../tests/common/quality.rs"]
mod quality;

use jobenrich_enrichment_engine::section_model::{
    relevance_counts, train_section_model, RelevanceCounts, SectionFeatureConfig,
    SectionTrainConfig,
};
use jobenrich_enrichment_engine::tagger::{LabeledPosting, LabeledSpan};
use jobenrich_enrichment_engine::{EngineConfig, SectionClassifier, SkillsEngine, SpanLabel};
use quality::*;
use std::sync::Arc;

fn labeled(p: &Posting) -> LabeledPosting {
    LabeledPosting {
        text: p.text.clone(),
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
    }
}

fn line(name: &str, c: &RelevanceCounts) {
    println!(
        "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
        c.total(),
        c.accuracy(),
        c.precision(),
        c.recall(),
        c.f1()
    );
}

fn add(a: &mut RelevanceCounts, b: RelevanceCounts) {
    a.true_positive += b.true_positive;
    a.false_positive += b.false_positive;
    a.true_negative += b.true_negative;
    a.false_negative += b.false_negative;
}

fn extraction(name: &str, engine: &SkillsEngine, postings: &[Posting]) {
    let (mut o, mut e, mut s) = (Counts::default(), Counts::default(), Counts::default());
    for p in postings {
        let pred = predictions(engine, &p.text);
        o.add(count(p, &pred, false, None));
        e.add(count(p, &pred, true, None));
        s.add(count(p, &pred, false, Some("SKILL")));
    }
    let f = |c: &Counts| {
        let p = c.prf();
        format!("{:.3} / {:.3} / {:.3}", p.precision, p.recall, p.f1)
    };
    println!(
        "| {name} | {} | {:.3} | {:.3} | {} |",
        f(&o),
        e.prf().f1,
        s.prf().f1,
        o.predicted
    );
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "tune".into());
    let rules = SectionClassifier::new(&EngineConfig::default());
    let train: Vec<LabeledPosting> = skillspan("train").iter().map(labeled).collect();
    println!("| variant | sections | accuracy | P | R | F1 |");
    println!("|---|---|---|---|---|---|");
    if mode == "tune" {
        let candidates = [
            (
                "default (30 epochs, l2 1e-4)",
                SectionTrainConfig::default(),
            ),
            (
                "10 epochs",
                SectionTrainConfig {
                    epochs: 10,
                    ..SectionTrainConfig::default()
                },
            ),
            (
                "l2 1e-3",
                SectionTrainConfig {
                    l2: 1e-3,
                    ..SectionTrainConfig::default()
                },
            ),
            (
                "+ body words",
                SectionTrainConfig {
                    features: SectionFeatureConfig {
                        body_words: true,
                        ..SectionFeatureConfig::default()
                    },
                    ..SectionTrainConfig::default()
                },
            ),
        ];
        let mut rule_total = RelevanceCounts::default();
        for fold in 0..5 {
            let held: Vec<LabeledPosting> = train
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 5 == fold)
                .map(|(_, p)| p.clone())
                .collect();
            add(&mut rule_total, relevance_counts(&rules, &held));
        }
        line("rule_based (all train folds)", &rule_total);
        for (name, config) in candidates {
            let mut total = RelevanceCounts::default();
            for fold in 0..5 {
                let (mut fit, mut held) = (Vec::new(), Vec::new());
                for (i, p) in train.iter().enumerate() {
                    if i % 5 == fold {
                        held.push(p.clone())
                    } else {
                        fit.push(p.clone())
                    }
                }
                let (model, _) =
                    train_section_model(&rules, &fit, &config, "cv", "").expect("training");
                let scored = rules.clone().with_model(Arc::new(model));
                add(&mut total, relevance_counts(&scored, &held));
            }
            line(&format!("ml_model {name} (5-fold CV)"), &total);
        }
        return;
    }
    let dev_postings = skillspan("dev");
    let dev: Vec<LabeledPosting> = dev_postings.iter().map(labeled).collect();
    let (model, report) =
        train_section_model(&rules, &train, &SectionTrainConfig::default(), "train", "")
            .expect("training");
    eprintln!(
        "trained on {} sections ({} relevant), loss {:?}",
        report.sections,
        report.relevant_sections,
        report.loss_per_epoch.last()
    );
    let model = Arc::new(model);
    line("rule_based (dev)", &relevance_counts(&rules, &dev));
    line(
        "ml_model (dev)",
        &relevance_counts(&rules.clone().with_model(model.clone()), &dev),
    );
    println!();
    println!("| extraction on dev | overlap P / R / F1 | exact F1 | SKILL F1 | predicted |");
    println!("|---|---|---|---|---|");
    let lexicon = shipped_lexicon();
    let v1 = engine_with(lexicon.clone(), EngineConfig::default(), true);
    extraction("v1.0 rules, rule sections", &v1, &dev_postings);
    extraction(
        "v1.0 rules, ml_model sections",
        &engine_with(lexicon.clone(), EngineConfig::default(), true)
            .with_section_model(model.clone()),
        &dev_postings,
    );
    let dir = shipped_lexicon_dir().join("../../models/skills_extractor/v2.0");
    let tagger = Arc::new(jobenrich_enrichment_engine::Tagger::load(&dir).expect("artifact"));
    let config = EngineConfig {
        min_confidence: 0.0,
        ..EngineConfig::default()
    };
    extraction(
        "v2.0 tagger, rule sections",
        &engine_with(lexicon.clone(), config.clone(), true).with_tagger(tagger.clone()),
        &dev_postings,
    );
    extraction(
        "v2.0 tagger, ml_model sections",
        &engine_with(lexicon, config, true)
            .with_section_model(model)
            .with_tagger(tagger),
        &dev_postings,
    );
}
