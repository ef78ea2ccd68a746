//! The `embeddings` producer: a posting's title and skills-relevant sections
//! through the process's text encoder, one encoder call per batch.

use crate::enrichment_pipeline::{EnrichError, PostingEmbedder};
use jobenrich_domain::{EncoderKind, JobPosting, ModelConfig, TextEncoder};
use jobenrich_enrichment_engine::{embedding_text, EngineConfig, SectionClassifier};
use std::sync::Arc;

/// Loads the text encoder of the kind an `embeddings` version asks for when
/// it first needs it (seconds of I/O and CPU for the transformer, so never
/// before).
pub type EncoderSource =
    Arc<dyn Fn(EncoderKind) -> Result<Arc<dyn TextEncoder>, String> + Send + Sync>;

/// Characters of posting text embedded when the version does not say:
/// about 500 word pieces, twice the encoder's default token budget.
pub const DEFAULT_MAX_CHARS: usize = 2_000;
const MAX_CHARS_LIMIT: u64 = 100_000;

/// What an `embeddings` version's `config_overrides` may set.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedderOptions {
    /// Characters of title + relevant sections handed to the encoder.
    pub max_chars: usize,
    /// The encoder (`encoder: transformer | static`; transformer by default).
    pub encoder: EncoderKind,
    /// The vector length the version was made for: a different encoder in
    /// `embeddings.model_dir` is refused instead of mixing vector spaces.
    pub encoder_dim: Option<usize>,
}

impl EmbedderOptions {
    /// Reads the overrides; an unknown key or a bad value names the key and
    /// the version.
    pub fn from_model(model: &ModelConfig) -> Result<Self, String> {
        let mut options = Self {
            max_chars: DEFAULT_MAX_CHARS,
            encoder: EncoderKind::default(),
            encoder_dim: None,
        };
        let version = model.enrichment_version();
        let count = |key: &str, value: &serde_json::Value| -> Result<usize, String> {
            value
                .as_u64()
                .filter(|n| (1..=MAX_CHARS_LIMIT).contains(n))
                .map(|n| n as usize)
                .ok_or_else(|| {
                    format!("{version}: config_overrides.{key} must be a whole number from 1 to {MAX_CHARS_LIMIT}, got {value}")
                })
        };
        for (key, value) in crate::evaluation_engine::engine_overrides(model) {
            match key.as_str() {
                "max_chars" => options.max_chars = count(&key, &value)?,
                "encoder_dim" => options.encoder_dim = Some(count(&key, &value)?),
                "encoder" => {
                    options.encoder = value
                        .as_str()
                        .and_then(EncoderKind::parse)
                        .ok_or_else(|| {
                            let known: Vec<&str> =
                                EncoderKind::ALL.iter().map(|k| k.as_str()).collect();
                            format!(
                                "{version}: config_overrides.encoder must be one of {}, got {value}",
                                known.join(", ")
                            )
                        })?
                }
                other => {
                    return Err(format!(
                        "{version}: config_overrides.{other} is not an embeddings setting (known: max_chars, encoder_dim, encoder)"
                    ))
                }
            }
        }
        Ok(options)
    }
}

/// Embeds postings with a text encoder.
pub struct EncoderPostingEmbedder {
    encoder: Arc<dyn TextEncoder>,
    sections: SectionClassifier,
    max_chars: usize,
}

impl EncoderPostingEmbedder {
    /// Checks the encoder against what the version expects.
    pub fn new(model: &ModelConfig, encoder: Arc<dyn TextEncoder>) -> Result<Self, String> {
        let options = EmbedderOptions::from_model(model)?;
        if let Some(dim) = options.encoder_dim {
            if dim != encoder.dim() {
                let setting = match options.encoder {
                    EncoderKind::Transformer => "embeddings.model_dir",
                    EncoderKind::Static => "embeddings.static_model_dir",
                };
                return Err(format!(
                    "{} was made for {dim}-dimensional vectors, but the encoder {} gives {}: set {setting} to the encoder it was made for",
                    model.enrichment_version(),
                    encoder.model_id(),
                    encoder.dim()
                ));
            }
        }
        Ok(Self {
            encoder,
            sections: SectionClassifier::new(&EngineConfig::default()),
            max_chars: options.max_chars,
        })
    }

    fn checked(vector: Vec<f32>, text: &str) -> Result<(Vec<f32>, u32), EnrichError> {
        if vector.is_empty() || vector.iter().any(|x| !x.is_finite()) {
            // The same text gives the same vector on every attempt.
            return Err(EnrichError::permanent(
                "the encoder gave an empty or non-finite vector",
            ));
        }
        Ok((vector, text.chars().count().min(u32::MAX as usize) as u32))
    }
}

impl PostingEmbedder for EncoderPostingEmbedder {
    fn embed(&self, postings: &[&JobPosting]) -> Vec<Result<(Vec<f32>, u32), EnrichError>> {
        let texts: Vec<String> = postings
            .iter()
            .map(|p| embedding_text(p, &self.sections, self.max_chars))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        match self.encoder.encode_batch(&refs) {
            Ok(vectors) if vectors.len() == texts.len() => vectors
                .into_iter()
                .zip(&texts)
                .map(|(v, t)| Self::checked(v, t))
                .collect(),
            // One bad text must not fail its neighbours: retry one by one.
            _ => refs
                .iter()
                .map(|text| match self.encoder.encode_batch(&[text]) {
                    Ok(mut v) if v.len() == 1 => Self::checked(v.remove(0), text),
                    Ok(_) => Err(EnrichError::retryable("the encoder returned no vector")),
                    Err(e) => Err(EnrichError::retryable(e.to_string())),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use jobenrich_domain::{EncoderError, EnrichmentType, JobId, ModelId, ModelVersion};

    /// Counts letters: a deterministic stand-in for a sentence encoder that
    /// fails on any text holding "poison".
    struct LetterEncoder;
    impl TextEncoder for LetterEncoder {
        fn model_id(&self) -> &str {
            "letters"
        }
        fn dim(&self) -> usize {
            2
        }
        fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
            texts
                .iter()
                .map(|t| {
                    if t.contains("poison") {
                        return Err(EncoderError::Encode("poisoned".into()));
                    }
                    let mut v = vec![
                        t.matches('a').count() as f32 + 1.0,
                        t.matches('e').count() as f32,
                    ];
                    jobenrich_domain::encoder::l2_normalize(&mut v);
                    Ok(v)
                })
                .collect()
        }
    }

    fn model(overrides: serde_json::Value) -> ModelConfig {
        let mut m = ModelConfig::new(
            ModelId::parse("job_embedder").unwrap(),
            EnrichmentType::Embeddings,
            ModelVersion::parse("v1.0").unwrap(),
            Utc::now(),
        );
        m.config_overrides = overrides.as_object().unwrap().clone();
        m
    }

    fn posting(id: &str, description: &str) -> JobPosting {
        JobPosting {
            job_posting_id: JobId::parse(id).unwrap(),
            title: "Engineer".into(),
            company: None,
            location: None,
            description: description.into(),
            posted_at: None,
            source: None,
            url: None,
            ingested_at: Utc::now(),
        }
    }

    #[test]
    fn a_failing_posting_fails_alone_and_the_others_get_unit_vectors() {
        let embedder =
            EncoderPostingEmbedder::new(&model(serde_json::json!({})), Arc::new(LetterEncoder))
                .unwrap();
        let (a, b, c) = (
            posting("a", "Java and Kafka"),
            posting("b", "poison"),
            posting("c", "Excel"),
        );
        let out = embedder.embed(&[&a, &b, &c]);
        assert_eq!(out.len(), 3);
        let (va, chars) = out[0].clone().unwrap();
        assert!((jobenrich_domain::encoder::dot(&va, &va) - 1.0).abs() < 1e-6);
        assert_eq!(chars as usize, "Engineer\nJava and Kafka".chars().count());
        assert!(out[1].as_ref().unwrap_err().message.contains("poisoned"));
        assert!(out[2].is_ok());
    }

    #[test]
    fn overrides_are_checked_by_key_and_a_different_encoder_is_refused() {
        let err =
            EmbedderOptions::from_model(&model(serde_json::json!({"max_char": 10}))).unwrap_err();
        assert!(
            err.contains("max_char") && err.contains("job_embedder@v1.0"),
            "{err}"
        );
        let err =
            EmbedderOptions::from_model(&model(serde_json::json!({"max_chars": 0}))).unwrap_err();
        assert!(err.contains("max_chars"), "{err}");
        let ok =
            EmbedderOptions::from_model(&model(serde_json::json!({"max_chars": 300}))).unwrap();
        assert_eq!(ok.max_chars, 300);
        let err = EncoderPostingEmbedder::new(
            &model(serde_json::json!({"encoder_dim": 384})),
            Arc::new(LetterEncoder),
        )
        .err()
        .unwrap();
        assert!(
            err.contains("384") && err.contains("embeddings.model_dir"),
            "{err}"
        );
    }

    #[test]
    fn the_encoder_is_chosen_by_name_and_defaults_to_the_transformer() {
        let default = EmbedderOptions::from_model(&model(serde_json::json!({}))).unwrap();
        assert_eq!(default.encoder, EncoderKind::Transformer);
        let chosen =
            EmbedderOptions::from_model(&model(serde_json::json!({"encoder": "static"}))).unwrap();
        assert_eq!(chosen.encoder, EncoderKind::Static);
        let err = EmbedderOptions::from_model(&model(serde_json::json!({"encoder": "bert"})))
            .unwrap_err();
        assert!(
            err.contains("config_overrides.encoder") && err.contains("transformer, static"),
            "{err}"
        );
        let err = EncoderPostingEmbedder::new(
            &model(serde_json::json!({"encoder": "static", "encoder_dim": 128})),
            Arc::new(LetterEncoder),
        )
        .err()
        .unwrap();
        assert!(err.contains("embeddings.static_model_dir"), "{err}");
    }
}
