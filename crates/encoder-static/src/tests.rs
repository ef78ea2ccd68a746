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

/// Texts where word boundaries are easy to get wrong: punctuation glued to
/// words, control and zero-width characters, CJK, accents, a word past
/// WordPiece's 100-character limit, special tokens, every ASCII separator.
const AWKWARD: &[&str] = &[
    "Python,SQL;  Java/Go (C++) e.g. \"Rust\"!",
    "tab\tnew\nline\rcarriage  double",
    "form\u{000C}feed next\u{0085}line zero\u{200B}width nbsp\u{00A0}space",
    "数据工程师 データ naïve café Ünïcödé ﬁ ligature",
    "emoji 🚀🚀 and [UNK] [CLS] [SEP]x [MASK] tokens",
    "",
    " \t\n ",
];

fn ids_by_words(enc: &StaticEncoder, text: &str) -> Vec<u32> {
    let mut out = Vec::new();
    enc.words
        .for_each_word(&enc.tokenizer, text, |ids| out.extend_from_slice(ids))
        .unwrap();
    out
}

#[test]
fn words_tokenized_one_by_one_give_the_whole_texts_ids() {
    // Unit tests run in the crate's folder (cargo and nextest set it), so
    // the workspace root is two levels up; nothing here ships in a binary.
    let root = std::path::Path::new("../..");
    let enc = StaticEncoder::load(&root.join("models/encoders/minilm-static-128")).unwrap();
    assert!(enc.words.enabled());
    let long_word = "x".repeat(150);
    let postings = std::fs::read_to_string(root.join("data/sample/postings.jsonl")).unwrap();
    let mut texts: Vec<String> = AWKWARD.iter().map(|s| s.to_string()).collect();
    texts.push(format!("before {long_word} after"));
    texts.extend(postings.lines().map(str::to_string));
    for text in &texts {
        // Twice: once filling the cache, once reading it.
        for _ in 0..2 {
            assert_eq!(
                ids_by_words(&enc, text),
                enc.tokenize(text).unwrap(),
                "{text:?}"
            );
        }
    }
    // The vectors are the whole-text tokenizer's, to the bit.
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let cached = enc.encode_batch(&refs).unwrap();
    let uncached = StaticEncoder::load(&root.join("models/encoders/minilm-static-128")).unwrap();
    for (text, v) in refs.iter().zip(cached) {
        let mut want = vec![0f32; uncached.dim()];
        let ids = uncached.tokenize(text).unwrap();
        for &id in &ids {
            let id = id as usize;
            if uncached.used[id] {
                let row = &uncached.rows[id * uncached.dim..(id + 1) * uncached.dim];
                want.iter_mut().zip(row).for_each(|(o, x)| *o += x);
            }
        }
        if want.iter().any(|x| *x != 0.0) {
            l2_normalize(&mut want);
        } else {
            want.copy_from_slice(&uncached.empty);
        }
        assert_eq!(v, want, "{text:?}");
    }
}

#[test]
fn a_tokenizer_that_is_not_bert_shaped_tokenizes_whole_texts() {
    let json = TOKENIZER_JSON.replace(
        r#"{"type": "BertPreTokenizer"}"#,
        r#"{"type": "Whitespace"}"#,
    );
    let enc = StaticEncoder::from_table(table(), json.parse().unwrap());
    assert!(!enc.words.enabled());
    let v = enc.encode_batch(&["SQL java"]).unwrap();
    let h = std::f32::consts::FRAC_1_SQRT_2;
    assert!(close(&v[0], &[h, h, 0.0]), "{:?}", v[0]);
    assert!(encoder().words.enabled());
}
