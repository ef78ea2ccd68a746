//! Trains the tagger on SkillSpan postings and scores it next to the rule
//! engine. `tagger_probe tune` trains on 4/5 of the train split and scores
//! the remaining fifth (for choosing settings without touching dev);
//! `tagger_probe dev` trains on all of train and scores dev (report only);
//! `tagger_probe shipped` scores the committed `skills_extractor@v2.0`
//! artifact on dev as its model config runs it (no training); `tagger_probe cv`
//! cross-validates inside train (5 folds; env `SEEDS`, `EPOCHS`, `FOLDS`).
//! The trainer is the shipped CRF unless env `CRF` says otherwise
//! (`CRF=c2,eta0`, or `CRF=perceptron`); `SPAN_THRESHOLD` sets the decoding.
//! `cargo run --release -p jobenrich-enrichment-engine --example tagger_probe -- tune`

#[path = "../tests/common/quality.rs"]
mod quality;
#[path = "tagger_probe/rerank.rs"]
mod rerank;

use jobenrich_enrichment_engine::tagger::{
    train_tagger, CrfConfig, FeatureConfig, LabeledPosting, LabeledSpan, TrainConfig,
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

/// Probe of boundary post-processing (env SNAP): trims standalone
/// punctuation tokens at either end of a span and takes in characters glued
/// to its first word (SkillSpan spans are whitespace tokens).
fn snap(text: &str, pred: Vec<quality::Predicted>) -> Vec<quality::Predicted> {
    let mode: u32 = std::env::var("SNAP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if mode == 0 {
        return pred;
    }
    let chars: Vec<char> = text.chars().collect();
    let punct = |c: char| !c.is_alphanumeric() && !c.is_whitespace();
    pred.into_iter()
        .map(|(mut s, mut e, l)| {
            if mode & 1 != 0 {
                // Trailing " *" / " )": a whitespace-separated token of punctuation only.
                loop {
                    let span: String = chars[s as usize..e as usize].iter().collect();
                    let Some(cut) = span.rfind(char::is_whitespace) else {
                        break;
                    };
                    let last = &span[cut..].trim();
                    if !last.is_empty() && last.chars().all(punct) {
                        e = s + span[..cut].trim_end().chars().count() as u32;
                    } else {
                        break;
                    }
                }
                loop {
                    let span: String = chars[s as usize..e as usize].iter().collect();
                    let Some(cut) = span.find(char::is_whitespace) else {
                        break;
                    };
                    let first = span[..cut].trim();
                    if !first.is_empty() && first.chars().all(punct) {
                        let rest = &span[cut..];
                        let skip = span[..cut].chars().count()
                            + (rest.chars().count() - rest.trim_start().chars().count());
                        s += skip as u32;
                    } else {
                        break;
                    }
                }
            }
            if mode & 2 != 0 {
                while s > 0
                    && !chars[s as usize - 1].is_whitespace()
                    && punct(chars[s as usize - 1])
                {
                    s -= 1;
                }
            }
            if mode & 4 != 0 {
                while (e as usize) < chars.len()
                    && !chars[e as usize].is_whitespace()
                    && punct(chars[e as usize])
                    && !matches!(chars[e as usize], '.' | ',' | ';' | ':' | '!' | '?')
                {
                    e += 1;
                }
            }
            (s, e, l)
        })
        .collect()
}

/// `tagger_probe cv`: 5-fold cross-validation inside the train split (fold
/// = posting index mod 5), every train posting scored by a model that did
/// not see it; less noisy than the 28-posting tune split. Env `EPOCHS`
/// (default 80), `FOLDS` (default 5), `SEEDS`, `O_PENALTY`.
fn cross_validate(lexicon: Arc<jobenrich_enrichment_engine::Lexicon>) {
    let env = |k: &str, d: u32| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (epochs, folds) = (epochs_from_env(), env("FOLDS", 5) as usize);
    let all = skillspan("train");
    let rules = engine_with(lexicon.clone(), EngineConfig::default(), true);
    let seeds: Vec<u64> = std::env::var("SEEDS")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![42]);
    let mut scored: Vec<(Posting, Vec<quality::Predicted>)> = Vec::new();
    let t = Instant::now();
    let mut per_seed = Vec::new();
    for &seed in &seeds {
        let config = TrainConfig {
            epochs,
            seed,
            crf: crf_from_env(),
            ..TrainConfig::default()
        };
        let before = scored.len();
        for k in 0..folds {
            let data: Vec<LabeledPosting> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| i % folds != k)
                .map(|(_, p)| labeled(p))
                .collect();
            let (tagger, _) = train_tagger(&rules, &data, &config, "probe", "");
            let cfg = EngineConfig {
                min_confidence: 0.0,
                tagger_o_penalty: std::env::var("O_PENALTY")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0.0),
                tagger_span_threshold: span_threshold_from_env(),
                ..EngineConfig::default()
            };
            let engine = engine_with(lexicon.clone(), cfg, true).with_tagger(Arc::new(tagger));
            for (i, p) in all.iter().enumerate() {
                if i % folds == k {
                    let pred = snap(&p.text, predictions(&engine, &p.text));
                    scored.push((p.clone(), pred));
                }
            }
        }
        let mut e = Counts::default();
        for (p, pred) in &scored[before..] {
            e.add(count(p, pred, true, None));
        }
        per_seed.push(format!("{:.3}", e.prf().f1));
    }
    eprintln!("exact F1 per seed: {per_seed:?}");
    if std::env::var("RERANK").is_ok() {
        rerank::experiment(&scored, all.len(), folds);
    }
    let (mut all_c, mut exact, mut skill) =
        (Counts::default(), Counts::default(), Counts::default());
    let (mut per, mut per_exact) = (Vec::new(), Vec::new());
    for (p, pred) in &scored {
        let c = count(p, pred, false, None);
        all_c.add(c);
        per.push(c);
        let e = count(p, pred, true, None);
        exact.add(e);
        per_exact.push(e);
        skill.add(count(p, pred, false, Some("SKILL")));
    }
    let (lo, hi) = bootstrap(&per_exact, 1000, |p| p.f1);
    let f = prf_text;
    println!(
        "cv {folds} folds, {epochs} epochs, {:.1}s: overlap {} | exact {} [{lo:.3}, {hi:.3}] | SKILL {} | predicted {}",
        t.elapsed().as_secs_f64(),
        f(&all_c),
        f(&exact),
        f(&skill),
        all_c.predicted
    );
}

/// Env `CRF=c2,eta0` sets the CRF's settings; `CRF=perceptron` trains the
/// averaged perceptron instead; unset, the shipped CRF settings.
fn crf_from_env() -> Option<CrfConfig> {
    let Ok(v) = std::env::var("CRF") else {
        return TrainConfig::default().crf;
    };
    let mut it = v.split(',').filter_map(|x| x.parse::<f64>().ok());
    Some(CrfConfig {
        c2: it.next()?,
        eta0: it.next()?,
    })
}

/// Env `SPAN_THRESHOLD`, else the shipped 0.15 for a CRF (0: Viterbi).
fn span_threshold_from_env() -> f64 {
    std::env::var("SPAN_THRESHOLD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if crf_from_env().is_some() { 0.15 } else { 0.0 })
}

/// Env `EPOCHS`, else the trainer's default (CRF 100, perceptron 80).
fn epochs_from_env() -> u32 {
    std::env::var("EPOCHS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if crf_from_env().is_some() { 100 } else { 80 })
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
        let pred = snap(&p.text, predictions(engine, &p.text));
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
    let f = prf_text;
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

/// Boundary errors on `postings` (use on the tune split only): predicted
/// spans that overlap a gold span without matching it, by which side is off
/// and the words gained or lost there.
fn boundary_errors(engine: &SkillsEngine, postings: &[Posting]) {
    use std::collections::HashMap;
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    let mut words: HashMap<(&str, String), usize> = HashMap::new();
    let mut merged = 0usize;
    for p in postings {
        let chars: Vec<char> = p.text.chars().collect();
        let slice = |a: u32, b: u32| -> String {
            chars[a as usize..b as usize]
                .iter()
                .collect::<String>()
                .to_lowercase()
        };
        for (s, e, _) in predictions(engine, &p.text) {
            let over: Vec<&(u32, u32)> = p.spans.iter().filter(|g| g.0 < e && s < g.1).collect();
            if over.len() > 1 {
                merged += 1;
            }
            let Some(g) = over.first() else { continue };
            if (s, e) == **g || over.len() > 1 {
                continue;
            }
            if std::env::var("EXAMPLES").is_ok() {
                eprintln!("    pred {:?} | gold {:?}", slice(s, e), slice(g.0, g.1));
            }
            let mut note = |kind: &'static str, a: u32, b: u32| {
                *kinds.entry(kind).or_default() += 1;
                let w = slice(a, b).trim().to_string();
                let first = if kind.ends_with("right") {
                    w.split_whitespace().next().unwrap_or("").to_string()
                } else {
                    w.split_whitespace().last().unwrap_or("").to_string()
                };
                *words.entry((kind, first)).or_default() += 1;
            };
            if s < g.0 {
                note("extra left", s, g.0);
            } else if s > g.0 {
                note("missing left", g.0, s);
            }
            if e > g.1 {
                note("extra right", g.1, e);
            } else if e < g.1 {
                note("missing right", e, g.1);
            }
        }
    }
    eprintln!("boundary errors: {kinds:?}; predictions spanning several gold spans: {merged}");
    // Neighbouring predicted spans on one line joined by a short gap: is
    // the gold one span over both (merge) or not?
    let mut joins: HashMap<String, (usize, usize)> = HashMap::new();
    for p in postings {
        let chars: Vec<char> = p.text.chars().collect();
        let pred = predictions(engine, &p.text);
        for w in pred.windows(2) {
            let (a, b) = (w[0], w[1]);
            if b.0 < a.1 || b.0 - a.1 > 6 {
                continue;
            }
            let gap: String = chars[a.1 as usize..b.0 as usize].iter().collect();
            if gap.contains('\n') {
                continue;
            }
            let key = gap.trim().to_lowercase();
            let one = p.spans.iter().any(|g| g.0 <= a.0 && g.1 >= b.1);
            let e = joins.entry(key).or_default();
            if one {
                e.0 += 1
            } else {
                e.1 += 1
            }
        }
    }
    let mut joins: Vec<_> = joins.into_iter().collect();
    joins.sort_by(|a, b| {
        (b.1 .0 + b.1 .1)
            .cmp(&(a.1 .0 + a.1 .1))
            .then(a.0.cmp(&b.0))
    });
    for (gap, (one, two)) in joins.into_iter().take(15) {
        eprintln!("  gap {gap:?}: gold one span {one}, not {two}");
    }
    let mut top: Vec<_> = words.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for ((kind, w), n) in top.into_iter().take(40) {
        eprintln!("  {kind:<14} {w:<20} {n}");
    }
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "tune".into());
    let lexicon = shipped_lexicon();
    if mode == "shipped" {
        // `TAGGER_VERSION=DIR` scores another directory of models/skills_extractor.
        let version = std::env::var("TAGGER_VERSION").unwrap_or_else(|_| "v2.0".into());
        let tagger = jobenrich_enrichment_engine::Tagger::load(&shipped_model_dir(&version))
            .expect("artifact");
        println!(
            "shipped artifact sha256 {} ({})",
            tagger.checksum(),
            tagger.model_class()
        );
        let dev = skillspan("dev");
        println!("| variant | overlap P/R/F1 | F1 95% CI | exact P/R/F1 | SKILL | KNOWLEDGE | tech | house | predicted |");
        println!("|---|---|---|---|---|---|---|---|---|");
        report(
            "rules (v1.0)",
            &engine_with(lexicon.clone(), EngineConfig::default(), true),
            &dev,
        );
        let engine = shipped_tagger_engine(&version);
        report("v2.0 tagger (shipped)", &engine, &dev);
        return;
    }
    if mode == "cv" {
        cross_validate(lexicon);
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
    let epochs = epochs_from_env();
    let bits: u32 = std::env::var("BITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(18);
    let rules = engine_with(lexicon.clone(), EngineConfig::default(), true);
    let data: Vec<LabeledPosting> = train.iter().map(labeled).collect();
    // SECTIONS=ml: section relevance from an `ml_model` section classifier
    // trained on the same training postings (features and scoring alike).
    let section_model = (std::env::var("SECTIONS").as_deref() == Ok("ml")).then(|| {
        let classifier =
            jobenrich_enrichment_engine::SectionClassifier::new(&EngineConfig::default());
        let (m, _) = jobenrich_enrichment_engine::section_model::train_section_model(
            &classifier,
            &data,
            &jobenrich_enrichment_engine::section_model::SectionTrainConfig::default(),
            "probe",
            "",
        )
        .expect("section model");
        Arc::new(m)
    });
    let with_sections = |e: SkillsEngine| match &section_model {
        Some(m) => e.with_section_model(m.clone()),
        None => e,
    };
    let rules = with_sections(rules);
    println!(
        "{mode}: train {} postings, eval {} postings",
        train.len(),
        eval.len()
    );
    println!("| variant | overlap P/R/F1 | F1 95% CI | exact P/R/F1 | SKILL | KNOWLEDGE | tech | house | predicted |");
    println!("|---|---|---|---|---|---|---|---|---|");
    report("rules (v1.0)", &rules, &eval);
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
            crf: crf_from_env(),
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
                        tagger_span_threshold: span_threshold_from_env(),
                        ..EngineConfig::default()
                    },
                ),
                (
                    format!(" o_penalty {penalty} min_conf 0.3"),
                    EngineConfig {
                        tagger_o_penalty: penalty,
                        tagger_span_threshold: span_threshold_from_env(),
                        ..EngineConfig::default()
                    },
                ),
            ] {
                let engine = with_sections(engine_with(lexicon.clone(), cfg, true))
                    .with_tagger(tagger.clone());
                report(&format!("{name}{suffix}"), &engine, &eval);
                if mode == "tune" && std::env::var("ERRORS").is_ok() {
                    boundary_errors(&engine, &eval);
                }
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
