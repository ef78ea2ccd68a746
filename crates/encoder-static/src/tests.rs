use super::*;
use jobenrich_domain::encoder::dot;

/// A six-piece WordPiece vocabulary with BERT's normaliser and pre-tokenizer.
pub(crate) const TOKENIZER_JSON: &str = r###"{
  "version": "1.0", "truncation": null, "padding": null,
  "added_tokens": [{"id": 0, "content": "[UNK]", "single_word": false, "lstrip": false,
                    "rstrip": false, "normalized": false, "special": true}],
  "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                 "strip_accents": null, "lowercase": true},
  "pre_tokenizer": {"type": "BertPreTokenizer"},
  "post_processor": null, "decoder": null,
  "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": {"[UNK]": 0, "java": 1, "sql": 2, "data": 3, "##base": 4, "##s": 5}}
}"###;

fn table() -> StaticTable {
    StaticTable {
        model_id: "tiny-static".into(),
        vocab: 6,
        dim: 3,
        rows: vec![
            9.0, 9.0, 9.0, // [UNK], weight 0
            1.0, 0.0, 0.0, // java
            0.0, 1.0, 0.0, // sql
            0.0, 0.0, 1.0, // data
            0.0, 1.0, 1.0, // ##base
            1.0, 0.0, 0.0, // ##s
        ],
        weights: vec![0.0, 1.0, 1.0, 2.0, 1.0, 0.5],
        empty: vec![0.0, 3.0, 4.0],
        notes: vec![],
    }
}

fn encoder() -> StaticEncoder {
    StaticEncoder::from_table(table(), TOKENIZER_JSON.parse().unwrap())
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6)
}

#[test]
fn a_text_gets_the_normalised_weighted_mean_of_its_pieces() {
    let enc = encoder();
    let v = enc
        .encode_batch(&["Java", "SQL java", "databases", ""])
        .unwrap();
    assert_eq!(v.len(), 4);
    assert!(close(&v[0], &[1.0, 0.0, 0.0]));
    let h = std::f32::consts::FRAC_1_SQRT_2;
    assert!(close(&v[1], &[h, h, 0.0]), "{:?}", v[1]);
    // data (2 * e3) + ##base (e2 + e3) + ##s (0.5 * e1) = (0.5, 1, 3).
    let n = (0.25f32 + 1.0 + 9.0).sqrt();
    assert!(close(&v[2], &[0.5 / n, 1.0 / n, 3.0 / n]), "{:?}", v[2]);
    for x in &v {
        assert!((dot(x, x) - 1.0).abs() < 1e-5);
    }
}

#[test]
fn empty_and_unknown_only_texts_get_the_unit_empty_vector() {
    let enc = encoder();
    let v = enc.encode_batch(&["", "   ", "zzz qqq", "[UNK]"]).unwrap();
    for x in &v {
        assert!(close(x, &[0.0, 0.6, 0.8]), "{x:?}");
    }
}

#[test]
fn a_model_directory_loads_and_a_foreign_tokenizer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    table().write(dir.path()).unwrap();
    std::fs::write(dir.path().join(TOKENIZER_FILE), TOKENIZER_JSON).unwrap();
    let enc = StaticEncoder::load(dir.path()).unwrap();
    assert_eq!((enc.model_id(), enc.dim()), ("tiny-static", 3));
    let v = enc.encode_batch(&["sql"]).unwrap();
    assert!(close(&v[0], &[0.0, 1.0, 0.0]), "{:?}", v[0]);

    let mut small = table();
    small.vocab = 5;
    small.rows.truncate(15);
    small.weights.truncate(5);
    small.write(dir.path()).unwrap();
    let err = StaticEncoder::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("tokenizer.json") && err.contains("5 rows"),
        "{err}"
    );

    let err = StaticEncoder::load("/nonexistent/static".as_ref())
        .unwrap_err()
        .to_string();
    assert!(err.contains("embeddings.static_model_dir"), "{err}");
}
