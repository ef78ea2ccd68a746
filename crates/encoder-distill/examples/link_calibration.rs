//! How far a semantic link's score can be trusted, measured off the dev sets,
//! on two sets the taxonomy and the lexicon give us:
//! - the lexicon's own ESCO links whose wording is not an ESCO label itself
//!   (O*NET product names, curated aliases, inflections);
//! - held-out ESCO wordings: the last alternative label of every 5th concept
//!   with two or more, left out of the index and linked back to its concept.
//!
//! Prints, on the lexicon set, the precision of the top candidate per minimum
//! cosine (`semantic_min_score`); on both sets, the mean negative log
//! likelihood of the right concept when a phrase's 20 candidates are turned
//! into shares at temperature t (`semantic_link_temperature`: the t with the
//! least on the held-out wordings, the larger set, is the one to use); and on
//! the lexicon set the precision per minimum share at that t.
//!
//! cargo run --release -p jobenrich-encoder-distill --example link_calibration -- \
//!     models/encoders/minilm-static-128 data/taxonomy/esco-v1.1.1-all-skills/skills_en.csv data/lexicon
//!
//! The first argument may be the transformer's directory instead
//! (var/models/all-MiniLM-L6-v2/...); a fourth, its cached full index
//! (var/cache/skill-index_*.bin), saves one of the two index builds.
use jobenrich_domain::TextEncoder;
use jobenrich_encoder_candle::CandleEncoder;
use jobenrich_encoder_distill::held_out_wordings;
use jobenrich_encoder_static::StaticEncoder;
use jobenrich_enrichment_engine::{
    load_esco_skills, shares, Lexicon, SemanticLinker, SkillIndex, TaxonomyConcept,
};
use std::collections::{BTreeMap, HashSet};
use std::error::Error;
use std::path::Path;
use std::sync::Arc;

/// Candidates per phrase that shares are taken over (the linker's pool).
const POOL: usize = 20;
const TEMPERATURES: [f32; 11] = [
    0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3,
];

/// A phrase's candidates (label, cosine), best first, and the right label.
type Case = (Vec<(String, f32)>, String);

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: &'static str| args.get(i).map(String::as_str).unwrap_or(default);
    let dir = Path::new(arg(1, "models/encoders/minilm-static-128"));
    // The word-piece limit `embeddings.max_tokens` has by default.
    let encoder: Arc<dyn TextEncoder> = if dir.join("config.json").is_file() {
        Arc::new(CandleEncoder::load(dir, 256)?)
    } else {
        Arc::new(StaticEncoder::load(dir)?)
    };
    let concepts =
        load_esco_skills(arg(2, "data/taxonomy/esco-v1.1.1-all-skills/skills_en.csv").as_ref())?;
    let lexicon = Lexicon::load_dir(arg(3, "data/lexicon").as_ref())?;

    let full = match args.get(4) {
        Some(path) => SkillIndex::load(path.as_ref())?,
        None => SkillIndex::build(encoder.as_ref(), &concepts, "calibration")?,
    };
    let lexicon_cases = rank(&encoder, full, &lexicon_phrases(&concepts, &lexicon))?;
    let (kept, held_out) = held_out_wordings(&concepts);
    let held_out_index = SkillIndex::build(encoder.as_ref(), &kept, "calibration")?;
    let held_out_cases = rank(&encoder, held_out_index, &held_out)?;
    println!(
        "{} lexicon phrases linked to ESCO in other words than ESCO's, {} held-out ESCO wordings ({})",
        lexicon_cases.len(),
        held_out_cases.len(),
        encoder.model_id()
    );

    for (name, cases) in [
        ("lexicon phrases", &lexicon_cases),
        ("held-out wordings", &held_out_cases),
    ] {
        let within = |k: usize| {
            let hits = cases
                .iter()
                .filter(|(pool, right)| {
                    pool.iter()
                        .take(k)
                        .any(|(l, _)| l.eq_ignore_ascii_case(right))
                })
                .count();
            hits as f64 / cases.len().max(1) as f64
        };
        println!(
            "{name}: right concept first {:.3}, in the top 5 {:.3}, in the top 20 {:.3}",
            within(1),
            within(5),
            within(POOL)
        );
    }

    println!("\nlexicon phrases: min cosine | kept | precision of the top candidate");
    let cosines: Vec<(f32, bool)> = lexicon_cases.iter().map(top_of).collect();
    floors(&cosines, (0..=10).map(|s| 0.5 + 0.05 * s as f32));

    println!("\nt | mean NLL of the right concept: lexicon phrases | held-out wordings (right concept among the {POOL})");
    let mut best = (f64::INFINITY, TEMPERATURES[0]);
    for t in TEMPERATURES {
        let (lex, lex_n) = nll(&lexicon_cases, t);
        let (held, held_n) = nll(&held_out_cases, t);
        println!("{t:.3} | {lex:.3} ({lex_n}) | {held:.3} ({held_n})");
        if held < best.0 {
            best = (held, t);
        }
    }
    let t = best.1;
    println!("\nleast on the held-out wordings: t = {t}");
    println!("lexicon phrases at t = {t}: min share | kept | precision of the top candidate");
    let shared: Vec<(f32, bool)> = lexicon_cases
        .iter()
        .map(|(pool, right)| {
            let scored = with_shares(pool, t);
            top_of(&(scored, right.clone()))
        })
        .collect();
    floors(&shared, (0..=9).map(|s| 0.1 * s as f32));
    Ok(())
}

/// Lexicon phrase -> the lexicon's ESCO label, for phrases that are not an
/// ESCO wording; a phrase linked two ways is dropped.
fn lexicon_phrases(concepts: &[TaxonomyConcept], lexicon: &Lexicon) -> Vec<(String, String)> {
    let esco_wordings: HashSet<String> = concepts
        .iter()
        .flat_map(|c| std::iter::once(&c.label).chain(&c.alt_labels))
        .map(|l| l.to_lowercase())
        .collect();
    let known_labels: HashSet<String> = concepts.iter().map(|c| c.label.to_lowercase()).collect();
    let mut gold: BTreeMap<String, Option<String>> = BTreeMap::new();
    for entry in lexicon.entries() {
        let Some(label) = entry.esco_label() else {
            continue;
        };
        if !known_labels.contains(&label.to_lowercase()) {
            continue;
        }
        for surface in std::iter::once(entry.canonical.as_str())
            .chain(entry.surfaces.iter().map(|s| s.text.as_str()))
        {
            let key = surface.to_lowercase();
            if key.len() < 2 || esco_wordings.contains(&key) {
                continue;
            }
            gold.entry(key)
                .and_modify(|g| {
                    if g.as_deref() != Some(label) {
                        *g = None
                    }
                })
                .or_insert_with(|| Some(label.to_string()));
        }
    }
    gold.into_iter()
        .filter_map(|(phrase, label)| Some((phrase, label?)))
        .collect()
}

fn rank(
    encoder: &Arc<dyn TextEncoder>,
    index: SkillIndex,
    cases: &[(String, String)],
) -> Result<Vec<Case>, Box<dyn Error>> {
    let linker = SemanticLinker::new(encoder.clone(), Arc::new(index), POOL)?;
    let mut out = Vec::with_capacity(cases.len());
    for chunk in cases.chunks(256) {
        let phrases: Vec<&str> = chunk.iter().map(|(p, _)| p.as_str()).collect();
        for (links, (_, label)) in linker.candidates(&phrases)?.into_iter().zip(chunk) {
            let pool = links
                .into_iter()
                .map(|l| (l.label.to_string(), l.score))
                .collect();
            out.push((pool, label.clone()));
        }
    }
    Ok(out)
}

fn with_shares(pool: &[(String, f32)], t: f32) -> Vec<(String, f32)> {
    let ids: Vec<(u32, f32)> = (0u32..).zip(pool.iter().map(|p| p.1)).collect();
    pool.iter()
        .zip(shares(&ids, t))
        .map(|((label, _), s)| (label.clone(), s))
        .collect()
}

fn top_of((pool, right): &Case) -> (f32, bool) {
    pool.first()
        .map(|(label, s)| (*s, label.eq_ignore_ascii_case(right)))
        .unwrap_or((0.0, false))
}

/// Mean negative log share of the right concept, over the cases that have it
/// among their candidates (and how many those are).
fn nll(cases: &[Case], t: f32) -> (f64, usize) {
    let mut sum = 0.0;
    let mut n = 0;
    for (pool, right) in cases {
        let scored = with_shares(pool, t);
        if let Some((_, s)) = scored.iter().find(|(l, _)| l.eq_ignore_ascii_case(right)) {
            sum -= f64::from(s.max(1e-30)).ln();
            n += 1;
        }
    }
    (sum / n.max(1) as f64, n)
}

fn floors(scored: &[(f32, bool)], steps: impl Iterator<Item = f32>) {
    for floor in steps {
        let kept: Vec<bool> = scored
            .iter()
            .filter(|(s, _)| *s >= floor)
            .map(|(_, ok)| *ok)
            .collect();
        let right = kept.iter().filter(|ok| **ok).count();
        println!(
            "{floor:.2} | {:.3} ({}) | {:.3}",
            kept.len() as f64 / scored.len().max(1) as f64,
            kept.len(),
            right as f64 / kept.len().max(1) as f64
        );
    }
}
