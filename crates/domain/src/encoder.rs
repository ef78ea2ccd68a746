//! The text encoder port: turns texts into unit-length vectors so that a dot
//! product is their cosine similarity. Implementations (a transformer run with
//! candle, a static token table) live in adapter crates; nothing here loads a
//! model.

use thiserror::Error;

/// Why an encoder could not be built or could not encode.
#[derive(Debug, Error)]
pub enum EncoderError {
    /// A model file is missing or malformed; names the file.
    #[error("encoder model {path}: {reason}")]
    Load { path: String, reason: String },
    /// The model failed on a batch (a tensor shape or tokenizer error).
    #[error("encoding failed: {0}")]
    Encode(String),
}

/// A sentence encoder. Vectors are L2-normalised and all have `dim()` values.
pub trait TextEncoder: Send + Sync {
    /// Identifies the weights (e.g. `all-MiniLM-L6-v2`); part of every cache key.
    fn model_id(&self) -> &str;
    /// Length of every vector.
    fn dim(&self) -> usize;
    /// Encodes a batch; one vector per text, in order. An empty text gets the
    /// vector of the model's empty input, never an error.
    fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError>;
}

/// Which encoder a model version runs: the transformer (exact, slow) or the
/// static token table distilled from it (the model2vec method; much faster,
/// less exact). Embeddings versions choose with `config_overrides.encoder`,
/// skills versions with `semantic_encoder`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum EncoderKind {
    #[default]
    Transformer,
    Static,
}

impl EncoderKind {
    /// Every kind, in the order error messages list them.
    pub const ALL: [EncoderKind; 2] = [EncoderKind::Transformer, EncoderKind::Static];

    /// The name used in `config_overrides` (`transformer`, `static`).
    pub fn as_str(self) -> &'static str {
        match self {
            EncoderKind::Transformer => "transformer",
            EncoderKind::Static => "static",
        }
    }

    /// Parses a name; `None` for anything else.
    pub fn parse(name: &str) -> Option<EncoderKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// Dot product; the cosine similarity of two unit vectors.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Scales `v` to unit length in place (a zero vector stays zero).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = dot(v, v).sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoder_kinds_round_trip_through_their_names() {
        for kind in EncoderKind::ALL {
            assert_eq!(EncoderKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EncoderKind::parse("Static"), None);
        assert_eq!(EncoderKind::default(), EncoderKind::Transformer);
    }

    #[test]
    fn normalised_vectors_have_unit_length_and_zero_stays_zero() {
        let mut v = vec![3.0, 4.0];
        l2_normalize(&mut v);
        assert_eq!(v, vec![0.6, 0.8]);
        let mut z = vec![0.0, 0.0];
        l2_normalize(&mut z);
        assert_eq!(z, vec![0.0, 0.0]);
        assert!((dot(&v, &v) - 1.0).abs() < 1e-6);
    }
}
