//! The static text encoder (the model2vec method): every word piece of a
//! WordPiece vocabulary has one vector, distilled once from a sentence
//! transformer (`jobenrich-encoder-distill`). A text's vector is the weighted
//! mean of its word pieces' vectors (special tokens carry weight 0 and drop
//! out), L2-normalised. No neural network runs, so it is orders of magnitude
//! faster than the transformer, and less exact.
//!
//! A model directory holds `model.safetensors` ([`StaticTable`]) and the
//! `tokenizer.json` it was distilled with.
//!
//! An empty text — or one made only of zero-weight tokens — gets the table's
//! `empty` vector: the transformer's vector of the empty input, projected
//! like every token, so it is finite, of unit length and where the
//! transformer puts "nothing".
//!
//! ```no_run
//! use jobenrich_domain::TextEncoder;
//! use jobenrich_encoder_static::StaticEncoder;
//! let encoder = StaticEncoder::load("models/encoders/minilm-static-128".as_ref()).unwrap();
//! let vectors = encoder.encode_batch(&["SQL", "use databases"]).unwrap();
//! assert_eq!(vectors[0].len(), encoder.dim());
//! ```

mod format;
mod word_cache;

pub use format::{StaticTable, FORMAT, TOKENIZER_FILE, WEIGHTS_FILE};

use jobenrich_domain::encoder::l2_normalize;
use jobenrich_domain::{EncoderError, TextEncoder};
use std::path::Path;
use tokenizers::Tokenizer;
use word_cache::WordCache;

/// The encoder: the token rows with their weights folded in, and the tokenizer.
pub struct StaticEncoder {
    tokenizer: Tokenizer,
    model_id: String,
    dim: usize,
    /// `vocab * dim`; row t is weight(t) * vector(t).
    rows: Vec<f32>,
    /// Tokens whose weight is not 0.
    used: Vec<bool>,
    empty: Vec<f32>,
    /// Word pieces of each whitespace-separated word seen so far.
    words: WordCache,
}

impl std::fmt::Debug for StaticEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticEncoder")
            .field("model_id", &self.model_id)
            .field("dim", &self.dim)
            .field("vocab", &self.used.len())
            .finish()
    }
}

fn load_err(path: &Path, reason: impl std::fmt::Display) -> EncoderError {
    EncoderError::Load {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

impl StaticEncoder {
    /// Loads `model.safetensors` and `tokenizer.json` from `dir`.
    pub fn load(dir: &Path) -> Result<StaticEncoder, EncoderError> {
        if !dir.is_dir() {
            return Err(load_err(
                dir,
                "static model directory not found (set embeddings.static_model_dir)",
            ));
        }
        let table = StaticTable::read(&dir.join(WEIGHTS_FILE)).map_err(|e| EncoderError::Load {
            path: dir.join(WEIGHTS_FILE).display().to_string(),
            reason: e,
        })?;
        let tok_path = dir.join(TOKENIZER_FILE);
        let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| load_err(&tok_path, e))?;
        // tokenizer.json pads and truncates to 128 for the transformer; a
        // static table has no position limit.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| load_err(&tok_path, e))?;
        let vocab = tokenizer.get_vocab_size(true);
        if vocab != table.vocab {
            return Err(load_err(
                &tok_path,
                format!(
                    "has {vocab} tokens but the table has {} rows: not the tokenizer it was distilled with",
                    table.vocab
                ),
            ));
        }
        Ok(Self::from_table(table, tokenizer))
    }

    /// Builds the encoder from a table in memory (the distiller and tests).
    pub fn from_table(table: StaticTable, tokenizer: Tokenizer) -> StaticEncoder {
        let dim = table.dim;
        let mut rows = table.rows;
        for (row, w) in rows.chunks_exact_mut(dim).zip(&table.weights) {
            row.iter_mut().for_each(|x| *x *= w);
        }
        let mut empty = table.empty;
        l2_normalize(&mut empty);
        let words = WordCache::new(&tokenizer);
        StaticEncoder {
            tokenizer,
            model_id: table.model_id,
            dim,
            rows,
            used: table.weights.iter().map(|w| *w > 0.0).collect(),
            empty,
            words,
        }
    }

    /// Adds the weighted rows of `text`'s word pieces into `out` (zeroed);
    /// false when no piece carried weight.
    fn accumulate(&self, text: &str, out: &mut [f32]) -> Result<bool, EncoderError> {
        let mut any = false;
        let mut add = |ids: &[u32]| {
            for &id in ids {
                let id = id as usize;
                if !self.used.get(id).copied().unwrap_or(false) {
                    continue;
                }
                let row = &self.rows[id * self.dim..(id + 1) * self.dim];
                out.iter_mut().zip(row).for_each(|(o, x)| *o += x);
                any = true;
            }
        };
        if self.words.enabled() {
            self.words.for_each_word(&self.tokenizer, text, &mut add)?;
        } else {
            add(self.tokenize(text)?.as_slice());
        }
        Ok(any)
    }

    /// The word-piece ids of `text` from the tokenizer itself.
    fn tokenize(&self, text: &str) -> Result<Vec<u32>, EncoderError> {
        tokenize(&self.tokenizer, text)
    }
}

/// encode_fast skips the offset bookkeeping we do not read.
fn tokenize(tokenizer: &Tokenizer, text: &str) -> Result<Vec<u32>, EncoderError> {
    tokenizer
        .encode_fast(text, false)
        .map(|e| e.get_ids().to_vec())
        .map_err(|e| EncoderError::Encode(e.to_string()))
}

impl TextEncoder for StaticEncoder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
        texts
            .iter()
            .map(|text| {
                let mut v = vec![0f32; self.dim];
                // The sum's direction is the weighted mean's: normalising
                // makes dividing by the total weight unnecessary.
                if self.accumulate(text, &mut v)? {
                    l2_normalize(&mut v);
                }
                if v.iter().all(|x| *x == 0.0) {
                    // No weighted piece, or pieces that cancel out exactly.
                    v.copy_from_slice(&self.empty);
                }
                Ok(v)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
