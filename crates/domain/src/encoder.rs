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
