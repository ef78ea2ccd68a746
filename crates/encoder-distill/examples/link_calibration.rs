//! How far a semantic link's score can be trusted, measured on the lexicon's
//! own ESCO links instead of the dev sets: every lexicon surface linked to an
//! ESCO skill whose wording is not an ESCO label itself (O*NET product names,
//! curated aliases, inflections) is linked by meaning with the static encoder,
//! and the top candidate is compared with the lexicon's link. Prints, per
//! minimum score, the share of phrases kept and the precision of their top
//! candidate; `semantic_min_score` of a skills version is read off it.
//!
//! cargo run --release -p jobenrich-encoder-distill --example link_calibration -- \
//!     models/encoders/minilm-static-128 data/taxonomy/esco-v1.1.1-all-skills/skills_en.csv data/lexicon
use jobenrich_domain::TextEncoder;
use jobenrich_encoder_static::StaticEncoder;
use jobenrich_enrichment_engine::{load_esco_skills, Lexicon, SemanticLinker, SkillIndex};
use std::collections::{BTreeMap, HashSet};
use std::error::Error;
use std::sync::Arc;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: &'static str| args.get(i).map(String::as_str).unwrap_or(default);
    let encoder = Arc::new(StaticEncoder::load(
        arg(1, "models/encoders/minilm-static-128").as_ref(),
    )?);
    let concepts =
        load_esco_skills(arg(2, "data/taxonomy/esco-v1.1.1-all-skills/skills_en.csv").as_ref())?;
    let lexicon = Lexicon::load_dir(arg(3, "data/lexicon").as_ref())?;

    let esco_wordings: HashSet<String> = concepts
        .iter()
        .flat_map(|c| std::iter::once(&c.label).chain(&c.alt_labels))
        .map(|l| l.to_lowercase())
        .collect();
    let known_labels: HashSet<String> = concepts.iter().map(|c| c.label.to_lowercase()).collect();
    // Phrase -> the lexicon's ESCO label; a phrase linked two ways is dropped.
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
    let cases: Vec<(String, String)> = gold
        .into_iter()
        .filter_map(|(phrase, label)| Some((phrase, label?)))
        .collect();
    let index = SkillIndex::build(encoder.as_ref(), &concepts, "calibration")?;
    let linker = SemanticLinker::new(encoder.clone() as Arc<dyn TextEncoder>, Arc::new(index), 1)?;
    let mut scored: Vec<(f32, bool)> = Vec::with_capacity(cases.len());
    for chunk in cases.chunks(256) {
        let phrases: Vec<&str> = chunk.iter().map(|(p, _)| p.as_str()).collect();
        for (links, (_, label)) in linker.candidates(&phrases)?.iter().zip(chunk) {
            if let Some(top) = links.first() {
                scored.push((top.score, top.label.eq_ignore_ascii_case(label)));
            }
        }
    }
    println!(
        "{} lexicon phrases linked to ESCO in other words than ESCO's ({})",
        scored.len(),
        encoder.model_id()
    );
    println!("min score | kept | precision of the top candidate");
    for step in 0..=10 {
        let t = 0.5 + 0.05 * step as f32;
        let kept: Vec<bool> = scored
            .iter()
            .filter(|(s, _)| *s >= t)
            .map(|(_, ok)| *ok)
            .collect();
        let right = kept.iter().filter(|ok| **ok).count();
        println!(
            "{t:.2} | {:.3} ({}) | {:.3}",
            kept.len() as f64 / scored.len().max(1) as f64,
            kept.len(),
            right as f64 / kept.len().max(1) as f64
        );
    }
    Ok(())
}
