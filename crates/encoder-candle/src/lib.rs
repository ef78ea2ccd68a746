//! The transformer text encoder: a sentence-transformers BERT-family model
//! (`config.json`, `model.safetensors`, `tokenizer.json`, optionally
//! `sentence_bert_config.json`) run on the CPU with candle. Pooling is the mean
//! of the token vectors under the attention mask followed by L2 normalisation,
//! as sentence-transformers' `Pooling(mean) + Normalize` does for
//! all-MiniLM-L6-v2.
//!
//! ```no_run
//! use jobenrich_domain::TextEncoder;
//! use jobenrich_encoder_candle::CandleEncoder;
//! let encoder = CandleEncoder::load("var/models/all-MiniLM-L6-v2".as_ref(), 256).unwrap();
//! let vectors = encoder.encode_batch(&["SQL", "use databases"]).unwrap();
//! assert_eq!(vectors[0].len(), encoder.dim());
//! ```

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use jobenrich_domain::{EncoderError, TextEncoder};
use std::path::Path;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// The model's files, as sentence-transformers lays them out.
pub const MODEL_FILES: [&str; 3] = ["config.json", "model.safetensors", "tokenizer.json"];

pub struct CandleEncoder {
    model: BertModel,
    tokenizer: Tokenizer,
    model_id: String,
    dim: usize,
    max_tokens: usize,
}

impl std::fmt::Debug for CandleEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CandleEncoder")
            .field("model_id", &self.model_id)
            .field("dim", &self.dim)
            .field("max_tokens", &self.max_tokens)
            .finish()
    }
}

fn load_err(path: &Path, reason: impl std::fmt::Display) -> EncoderError {
    EncoderError::Load {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn encode_err(e: impl std::fmt::Display) -> EncoderError {
    EncoderError::Encode(e.to_string())
}

impl CandleEncoder {
    /// Loads the model in `dir`. Inputs are truncated to `max_tokens` word
    /// pieces (special tokens included), and never beyond the model's own
    /// `max_seq_length` (sentence_bert_config.json) or position table.
    pub fn load(dir: &Path, max_tokens: usize) -> Result<CandleEncoder, EncoderError> {
        if !dir.is_dir() {
            return Err(load_err(
                dir,
                "model directory not found (run scripts/setup-models.sh, or set embeddings.model_dir)",
            ));
        }
        let config_path = dir.join("config.json");
        let config_text =
            std::fs::read_to_string(&config_path).map_err(|e| load_err(&config_path, e))?;
        let config: Config =
            serde_json::from_str(&config_text).map_err(|e| load_err(&config_path, e))?;

        let mut limit = max_tokens.min(config.max_position_embeddings);
        let st_path = dir.join("sentence_bert_config.json");
        if let Ok(text) = std::fs::read_to_string(&st_path) {
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| load_err(&st_path, e))?;
            if let Some(n) = v.get("max_seq_length").and_then(|n| n.as_u64()) {
                limit = limit.min(n as usize);
            }
        }
        if limit < 2 {
            return Err(load_err(
                dir,
                format!("max_tokens must be at least 2, got {max_tokens}"),
            ));
        }

        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| load_err(&tok_path, e))?;
        // tokenizer.json pads every input to a fixed 128; pad to the batch's longest instead.
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id: config.pad_token_id as u32,
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: limit,
                ..TruncationParams::default()
            }))
            .map_err(|e| load_err(&tok_path, e))?;

        let weights_path = dir.join("model.safetensors");
        let bytes = std::fs::read(&weights_path).map_err(|e| load_err(&weights_path, e))?;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu)
            .map_err(|e| load_err(&weights_path, e))?;
        let model = BertModel::load(vb, &config).map_err(|e| load_err(&weights_path, e))?;
        let model_id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "encoder".to_string());
        Ok(CandleEncoder {
            model,
            tokenizer,
            model_id,
            dim: config.hidden_size,
            max_tokens: limit,
        })
    }

    /// The truncation limit in word pieces, special tokens included.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Embeds each token id alone, as `[CLS] id [SEP]` (the model2vec
    /// distiller's input: a word piece such as `##ing` has no text of its
    /// own), with the sentence pooling: mean over the three positions, L2
    /// normalised. One forward pass per call; callers batch.
    pub fn encode_token_ids(&self, ids: &[u32]) -> Result<Vec<Vec<f32>>, EncoderError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let special = |t: &str| {
            self.tokenizer
                .token_to_id(t)
                .ok_or_else(|| encode_err(format!("the tokenizer has no {t} token")))
        };
        let (cls, sep) = (special("[CLS]")?, special("[SEP]")?);
        let flat: Vec<u32> = ids.iter().flat_map(|&id| [cls, id, sep]).collect();
        let dev = Device::Cpu;
        let ids = Tensor::from_vec(flat, (ids.len(), 3), &dev).map_err(encode_err)?;
        let mask = ids.ones_like().map_err(encode_err)?;
        let types = ids.zeros_like().map_err(encode_err)?;
        let hidden = self
            .model
            .forward(&ids, &types, Some(&mask))
            .map_err(encode_err)?;
        let mut out: Vec<Vec<f32>> = hidden
            .mean(1)
            .and_then(|t| t.to_vec2())
            .map_err(encode_err)?;
        for v in &mut out {
            jobenrich_domain::encoder::l2_normalize(v);
        }
        Ok(out)
    }

    /// The tokenizer (the static distiller copies its vocabulary).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Encodes texts of similar length together (one forward pass per batch).
    fn encode_padded(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(encode_err)?;
        let rows = encodings.len();
        let cols = encodings.first().map(|e| e.len()).unwrap_or(0);
        let mut ids = Vec::with_capacity(rows * cols);
        let mut mask = Vec::with_capacity(rows * cols);
        for e in &encodings {
            ids.extend(e.get_ids().iter().copied());
            mask.extend(e.get_attention_mask().iter().copied());
        }
        let dev = Device::Cpu;
        let ids = Tensor::from_vec(ids, (rows, cols), &dev).map_err(encode_err)?;
        let mask = Tensor::from_vec(mask, (rows, cols), &dev).map_err(encode_err)?;
        let types = ids.zeros_like().map_err(encode_err)?;
        let hidden = self
            .model
            .forward(&ids, &types, Some(&mask))
            .map_err(encode_err)?;
        // Mean over the real tokens: sum(hidden * mask) / sum(mask).
        let maskf = mask
            .to_dtype(DType::F32)
            .and_then(|m| m.unsqueeze(2))
            .map_err(encode_err)?;
        let summed = hidden
            .broadcast_mul(&maskf)
            .and_then(|t| t.sum(1))
            .map_err(encode_err)?;
        let counts = maskf
            .sum(1)
            .and_then(|c| c.clamp(1e-9f32, f32::MAX))
            .map_err(encode_err)?;
        let pooled = summed.broadcast_div(&counts).map_err(encode_err)?;
        let mut out: Vec<Vec<f32>> = pooled.to_vec2().map_err(encode_err)?;
        for v in &mut out {
            jobenrich_domain::encoder::l2_normalize(v);
        }
        Ok(out)
    }
}

/// Texts per forward pass: larger batches amortise the matrix products, but
/// padding to the longest member wastes work, so batches are formed after
/// sorting by length.
const BATCH: usize = 32;

impl TextEncoder for CandleEncoder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
        // Sort by length so each batch pads little; restore the order after.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            let vectors = self.encode_padded(&batch)?;
            for (&i, v) in chunk.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}
