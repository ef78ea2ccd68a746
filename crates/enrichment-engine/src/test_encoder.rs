//! A deterministic stand-in for a sentence encoder, for the engine's tests.

use jobenrich_domain::{EncoderError, TextEncoder};

/// A bag-of-letters encoder: deterministic, so index and linking logic can
/// be tested without a model.
pub(crate) struct Letters;
impl TextEncoder for Letters {
    fn model_id(&self) -> &str {
        "letters"
    }
    fn dim(&self) -> usize {
        26
    }
    fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0f32; 26];
                for b in t
                    .to_ascii_lowercase()
                    .bytes()
                    .filter(u8::is_ascii_lowercase)
                {
                    v[(b - b'a') as usize] += 1.0;
                }
                jobenrich_domain::encoder::l2_normalize(&mut v);
                v
            })
            .collect())
    }
}
