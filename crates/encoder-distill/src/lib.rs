//! Distillation of a static token table from a sentence transformer, as
//! model2vec does it:
//! 1. every vocabulary token is embedded once, alone (`[CLS] token [SEP]`,
//!    mean-pooled and normalised like a sentence); special tokens and
//!    `[unused*]` slots are skipped and get weight 0;
//! 2. PCA reduces the vectors to `dims` dimensions (fitted on the kept
//!    tokens, unweighted);
//! 3. each kept token is weighted by `ln(1 + rank)`, its rank being its
//!    position among the kept tokens in vocabulary id order: BERT's
//!    vocabulary is ordered roughly by corpus frequency, so frequent pieces
//!    ("the", "and", single letters) weigh least — model2vec's Zipf weighting,
//!    a stand-in for SIF's a / (a + p(token)) without corpus counts.
//!
//! The empty text's vector is the transformer's vector of the empty input,
//! projected the same way.

pub mod fit;
pub mod pca;

pub use fit::{fit_rows, FitExample, FitReport};
pub use pca::Pca;

use jobenrich_domain::encoder::l2_normalize;
use jobenrich_encoder_static::StaticTable;
use jobenrich_enrichment_engine::TaxonomyConcept;
use std::collections::BTreeMap;

/// What distillation needs from a transformer.
pub trait TokenEmbedder {
    /// Length of the transformer's vectors.
    fn dim(&self) -> usize;
    /// One vector per token id, each embedded alone.
    fn embed_tokens(&self, ids: &[u32]) -> Result<Vec<Vec<f32>>, String>;
    /// The vector of the empty text.
    fn embed_empty(&self) -> Result<Vec<f32>, String>;
}

/// How to distil.
#[derive(Debug, Clone)]
pub struct DistillOptions {
    /// The table's model id (the static encoder's `model_id()`).
    pub model_id: String,
    /// Dimensions kept by PCA.
    pub dims: usize,
    /// Tokens per transformer call.
    pub batch: usize,
    /// Provenance copied into the file's metadata.
    pub notes: Vec<(String, String)>,
}

/// What a distillation did, for the log and the NOTICE.
#[derive(Debug, Clone, PartialEq)]
pub struct DistillReport {
    pub vocab: usize,
    pub kept: usize,
    pub source_dim: usize,
    pub dims: usize,
    pub explained_variance: f64,
}

/// Whether a vocabulary entry gets a vector: not a special token, not an
/// `[unused…]` (or any other bracketed) slot.
pub fn keeps_token(token: &str, special: bool) -> bool {
    let bracketed = token.len() > 2 && token.starts_with('[') && token.ends_with(']');
    !(special || bracketed)
}

/// Distils the table of `vocab` (token text and whether it is special, by id)
/// from `embedder`; `progress` is called with (tokens done, tokens to do).
pub fn distill(
    embedder: &dyn TokenEmbedder,
    vocab: &[(String, bool)],
    options: &DistillOptions,
    progress: impl FnMut(usize, usize),
) -> Result<(StaticTable, DistillReport), String> {
    distill_with_pca(embedder, vocab, options, progress).map(|(t, r, _)| (t, r))
}

/// [`distill`], also returning the PCA the table's rows are in (a fit
/// projects the transformer's phrase vectors with it).
pub fn distill_with_pca(
    embedder: &dyn TokenEmbedder,
    vocab: &[(String, bool)],
    options: &DistillOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<(StaticTable, DistillReport, Pca), String> {
    let kept: Vec<u32> = vocab
        .iter()
        .enumerate()
        .filter(|(_, (token, special))| keeps_token(token, *special))
        .map(|(id, _)| id as u32)
        .collect();
    let source_dim = embedder.dim();
    let mut vectors: Vec<Vec<f32>> = Vec::with_capacity(kept.len());
    for chunk in kept.chunks(options.batch.max(1)) {
        let out = embedder.embed_tokens(chunk)?;
        if out.len() != chunk.len() || out.iter().any(|v| v.len() != source_dim) {
            return Err("the transformer returned vectors of the wrong number or length".into());
        }
        vectors.extend(out);
        progress(vectors.len(), kept.len());
    }
    let pca = Pca::fit(&vectors, source_dim, options.dims)?;
    let mut rows = vec![0f32; vocab.len() * options.dims];
    let mut weights = vec![0f32; vocab.len()];
    for (rank, (&id, v)) in kept.iter().zip(&vectors).enumerate() {
        let id = id as usize;
        rows[id * options.dims..(id + 1) * options.dims].copy_from_slice(&pca.project(v));
        weights[id] = ((rank + 2) as f32).ln();
    }
    let mut empty = pca.project(&embedder.embed_empty()?);
    l2_normalize(&mut empty);
    if empty.iter().all(|x| *x == 0.0) {
        // The empty input sits exactly on the mean: use the first component.
        empty[0] = 1.0;
    }
    let mut notes = options.notes.clone();
    notes.extend([
        (
            "method".to_string(),
            "model2vec: tokens embedded alone, PCA, weight ln(1 + rank) by vocabulary id order"
                .to_string(),
        ),
        ("source_dim".to_string(), source_dim.to_string()),
        ("tokens_kept".to_string(), kept.len().to_string()),
        (
            "pca_explained_variance".to_string(),
            format!("{:.4}", pca.explained),
        ),
    ]);
    let table = StaticTable {
        model_id: options.model_id.clone(),
        vocab: vocab.len(),
        dim: options.dims,
        rows,
        weights,
        empty,
        notes,
    };
    table.validate()?;
    let report = DistillReport {
        vocab: vocab.len(),
        kept: kept.len(),
        source_dim,
        dims: options.dims,
        explained_variance: pca.explained,
    };
    Ok((table, report, pca))
}

/// ESCO wordings kept out of everything fitted or calibrated, so figures on
/// them are off the fit: the last alternative label of every 5th concept
/// with two or more, when it is no other label of any concept. Returns the
/// concepts without them, and the wordings with their concept's label.
pub fn held_out_wordings(
    concepts: &[TaxonomyConcept],
) -> (Vec<TaxonomyConcept>, Vec<(String, String)>) {
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for l in concepts
        .iter()
        .flat_map(|c| std::iter::once(&c.label).chain(&c.alt_labels))
    {
        *count.entry(l.to_lowercase()).or_default() += 1;
    }
    let mut kept = concepts.to_vec();
    let mut held = Vec::new();
    for (i, c) in kept.iter_mut().enumerate() {
        if i % 5 != 0 || c.alt_labels.len() < 2 {
            continue;
        }
        let last = c.alt_labels[c.alt_labels.len() - 1].clone();
        if count.get(&last.to_lowercase()) == Some(&1) {
            c.alt_labels.pop();
            held.push((last, c.label.clone()));
        }
    }
    (kept, held)
}

#[cfg(test)]
mod tests;
