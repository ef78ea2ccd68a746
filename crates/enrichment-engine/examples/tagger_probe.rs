//! Trains the tagger on SkillSpan postings and scores it next to the rule
//! engine. `tagger_probe tune` trains on 4/5 of the train split and scores
//! the remaining fifth (for choosing settings without touching dev);
//! `tagger_probe dev` trains on all of train and scores dev (report only);
//! `tagger_probe shipped` scores the committed `skills_extractor@v2.0`
//! artifact on dev as its model config runs it (no training).
//! `cargo run --release -p jobenrich-enrichment-engine --example tagger_probe -- tune`

#[path = "../tests/common/quality.rs"]
mod quality;

use jobenrich_enrichment_engine::tagger::{
    train_tagger, FeatureConfig, LabeledPosting, LabeledSpan, TrainConfig,
};
use jobenrich_enrichment_engine::{EngineConfig, SkillsEngine, SpanLabel};
use quality::*;
use std::sync::Arc;
use std::time::Instant;

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

fn report(name: &str, engine: &SkillsEngine, postings: &[Posting]) {
    let mut all = Counts::default();
    let mut exact = Counts::default();
    let mut skill = Counts::default();
    let mut knowledge = Counts::default();
    let mut tech = Counts::default();
    let mut house = Counts::default();
    let mut per = Vec::new();
    for p in postings {
        let pred = predictions(engine, &p.text);
        let c = count(p, &pred, false, None);
        all.add(c);
        per.push(c);
        exact.add(count(p, &pred, true, None));
        skill.add(count(p, &pred, false, Some("SKILL")));
        knowledge.add(count(p, &pred, false, Some("KNOWLEDGE")));
        if p.source == "tech" {
            tech.add(c)
        } else {
            house.add(c)
        }
    }
    let (lo, hi) = bootstrap(&per, 1000, |p| p.f1);
    let f = |c: &Counts| {
        let p = c.prf();
        format!("{:.3}/{:.3}/{:.3}", p.precision, p.recall, p.f1)
    };
    println!(
        "| {name} | {} | [{lo:.3}, {hi:.3}] | {} | {} | {} | {} | {} | {} |",
        f(&all),
        f(&exact),
        f(&skill),
        f(&knowledge),
        f(&tech),
        f(&house),
        all.predicted
    );
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "tune".into());
    let lexicon = shipped_lexicon();
    if mode == "shipped" {
        let dir = shipped_lexicon_dir().join("../../models/skills_extractor/v2.0");
        let tagger = jobenrich_enrichment_engine::Tagger::load(&dir).expect("shipped artifact");
        println!("shipped artifact sha256 {}", tagger.checksum());
        let dev = skillspan("dev");
        println!("| variant | overlap P/R/F1 | F1 95% CI | exact P/R/F1 | SKILL | KNOWLEDGE | tech | house | predicted |");
        println!("|---|---|---|---|---|---|---|---|---|");
        report(
            "rules (v1.0)",
            &engine_with(lexicon.clone(), EngineConfig::default(), true),
            &dev,
        );
        let config = EngineConfig {
            min_confidence: 0.0,
            ..EngineConfig::default()
        };
        let engine = engine_with(lexicon, config, true).with_tagger(Arc::new(tagger));
        report("v2.0 tagger (shipped)", &engine, &dev);
        return;
    }
    let train_all = skillspan("train");
    let (train, eval): (Vec<Posting>, Vec<Posting>) = if mode == "dev" {
        (train_all, skillspan("dev"))
    } else {
        let mut tr = Vec::new();
        let mut ev = Vec::new();
        for (i, p) in train_all.into_iter().enumerate() {
            if i % 5 == 4 {
                ev.push(p)
            } else {
                tr.push(p)
            }
        }
        (tr, ev)
    };
    let epochs: u32 = std::env::var("EPOCHS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let bits: u32 = std::env::var("BITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(18);
    let rules = engine_with(lexicon.clone(), EngineConfig::default(), true);
    println!(
        "{mode}: train {} postings, eval {} postings",
        train.len(),
        eval.len()
    );
    println!("| variant | overlap P/R/F1 | F1 95% CI | exact P/R/F1 | SKILL | KNOWLEDGE | tech | house | predicted |");
    println!("|---|---|---|---|---|---|---|---|---|");
    report("rules (v1.0)", &rules, &eval);
    let data: Vec<LabeledPosting> = train.iter().map(labeled).collect();
    let only: Option<usize> = std::env::var("VARIANT").ok().and_then(|v| v.parse().ok());
    let variants = [
        (
            "tagger alone",
            FeatureConfig {
                hash_bits: bits,
                lexicon: false,
                sections: false,
            },
        ),
        (
            "tagger + lexicon",
            FeatureConfig {
                hash_bits: bits,
                lexicon: true,
                sections: false,
            },
        ),
        (
            "tagger + lexicon + sections",
            FeatureConfig {
                hash_bits: bits,
                lexicon: true,
                sections: true,
            },
        ),
    ];
    for (k, (name, features)) in variants.into_iter().enumerate() {
        if only.is_some_and(|o| o != k) {
            continue;
        }
        let config = TrainConfig {
            seed: 42,
            epochs,
            features,
            temperature: 1.0,
        };
        let t = Instant::now();
        let (tagger, rep) = train_tagger(&rules, &data, &config, "probe", "");
        let secs = t.elapsed().as_secs_f64();
        eprintln!(
            "{name}: trained in {secs:.1}s, mistakes per epoch {:?}, {} weight bytes",
            rep.mistakes_per_epoch,
            tagger.weights_bytes().len()
        );
        let tagger = Arc::new(tagger);
        let penalties: Vec<f64> = std::env::var("PENALTIES")
            .ok()
            .map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_else(|| vec![0.0]);
        for penalty in penalties {
            for (suffix, cfg) in [
                (
                    format!(" o_penalty {penalty}"),
                    EngineConfig {
                        min_confidence: 0.0,
                        tagger_o_penalty: penalty,
                        ..EngineConfig::default()
                    },
                ),
                (
                    format!(" o_penalty {penalty} min_conf 0.3"),
                    EngineConfig {
                        tagger_o_penalty: penalty,
                        ..EngineConfig::default()
                    },
                ),
            ] {
                let engine = engine_with(lexicon.clone(), cfg, true).with_tagger(tagger.clone());
                report(&format!("{name}{suffix}"), &engine, &eval);
                if let Some(speed_rounds) = std::env::var("SPEED")
                    .ok()
                    .and_then(|v| v.parse::<usize>().ok())
                {
                    let t = Instant::now();
                    let mut n = 0usize;
                    for _ in 0..speed_rounds {
                        for p in &eval {
                            n += engine.extract_text(&p.text).len();
                        }
                    }
                    let el = t.elapsed().as_secs_f64();
                    let rt = Instant::now();
                    for _ in 0..speed_rounds {
                        for p in &eval {
                            n += rules.extract_text(&p.text).len();
                        }
                    }
                    let rel = rt.elapsed().as_secs_f64();
                    let bytes: usize =
                        eval.iter().map(|p| p.text.len()).sum::<usize>() * speed_rounds;
                    eprintln!(
                        "speed: tagger {:.2} MB/s, rules {:.2} MB/s ({n})",
                        bytes as f64 / el / 1e6,
                        bytes as f64 / rel / 1e6
                    );
                }
            }
        }
    }
}
