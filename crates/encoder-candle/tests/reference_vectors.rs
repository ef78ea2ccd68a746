//! Our vectors agree with sentence-transformers' on the same model: the fixture
//! was computed once with the Python package (`fixtures/make_reference.py`).
//! Needs the model that `scripts/setup-models.sh` fetches (scripts/test.sh runs
//! it first); a missing model fails the test with that instruction.

use jobenrich_domain::TextEncoder;
use jobenrich_encoder_candle::CandleEncoder;
use std::path::PathBuf;

fn model_dir() -> PathBuf {
    std::env::var_os("JOBENRICH_TEST_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../var/models/all-MiniLM-L6-v2")
        })
}

fn encoder() -> CandleEncoder {
    let dir = model_dir();
    CandleEncoder::load(&dir, 256).unwrap_or_else(|e| {
        panic!("{e}\nrun `bash scripts/setup-models.sh` first (or set JOBENRICH_TEST_MODEL_DIR)")
    })
}

#[derive(serde::Deserialize)]
struct Reference {
    max_seq_length: usize,
    items: Vec<Item>,
}

#[derive(serde::Deserialize)]
struct Item {
    text: String,
    vector: Vec<f32>,
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[test]
fn vectors_match_sentence_transformers_to_1e_4_cosine() {
    let reference: Reference =
        serde_json::from_str(include_str!("fixtures/reference_vectors.json")).unwrap();
    let encoder = encoder();
    assert_eq!(encoder.max_tokens(), reference.max_seq_length);
    assert_eq!(encoder.dim(), 384);
    let texts: Vec<&str> = reference.items.iter().map(|i| i.text.as_str()).collect();
    // Encoded together (padding within a batch must not change a vector) …
    let together = encoder.encode_batch(&texts).unwrap();
    for (item, ours) in reference.items.iter().zip(&together) {
        let c = cosine(ours, &item.vector);
        assert!(1.0 - c < 1e-4, "cosine {c} for {:?}", item.text);
        let norm: f32 = ours.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm} for {:?}", item.text);
    }
    // … and one at a time.
    for item in &reference.items {
        let alone = encoder.encode_batch(&[item.text.as_str()]).unwrap();
        let c = cosine(&alone[0], &item.vector);
        assert!(1.0 - c < 1e-4, "cosine {c} for {:?} alone", item.text);
    }
}

#[test]
fn related_phrases_are_closer_than_unrelated_ones() {
    let encoder = encoder();
    let v = encoder
        .encode_batch(&["SQL", "use databases", "sing opera"])
        .unwrap();
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]));
}

#[test]
fn a_missing_model_directory_is_an_error_naming_it() {
    let err = CandleEncoder::load("/nonexistent/model-dir".as_ref(), 256).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/model-dir"), "{err}");
}

#[test]
fn an_empty_batch_gives_no_vectors() {
    assert!(encoder().encode_batch(&[]).unwrap().is_empty());
}

#[test]
fn a_token_embedded_alone_is_the_sentence_of_that_one_token() {
    let enc = encoder();
    let ids: Vec<u32> = ["java", "database"]
        .iter()
        .map(|t| enc.tokenizer().token_to_id(t).unwrap())
        .collect();
    let alone = enc.encode_token_ids(&ids).unwrap();
    let sentences = enc.encode_batch(&["java", "database"]).unwrap();
    for (a, s) in alone.iter().zip(&sentences) {
        assert!(cosine(a, s) > 1.0 - 1e-5, "{}", cosine(a, s));
    }
    assert!(enc.encode_token_ids(&[]).unwrap().is_empty());
}
