use super::*;
use jobenrich_domain::encoder::dot;
use jobenrich_domain::TextEncoder;
use jobenrich_encoder_static::StaticEncoder;
use std::cell::RefCell;

/// A deterministic stand-in for the transformer: token t's vector varies
/// strongly along e0 and e1 and hardly along e2 and e3; records what it was
/// asked to embed.
struct FakeEmbedder {
    asked: RefCell<Vec<u32>>,
}

impl TokenEmbedder for FakeEmbedder {
    fn dim(&self) -> usize {
        4
    }
    fn embed_tokens(&self, ids: &[u32]) -> Result<Vec<Vec<f32>>, String> {
        self.asked.borrow_mut().extend(ids);
        Ok(ids
            .iter()
            .map(|&t| {
                let t = t as f32;
                vec![
                    5.0 * (t * 1.7).sin(),
                    2.0 * (t * 0.9).cos(),
                    0.01 * (t * 3.1).sin(),
                    0.01 * (t * 5.3).cos(),
                ]
            })
            .collect())
    }
    fn embed_empty(&self) -> Result<Vec<f32>, String> {
        Ok(vec![1.0, 1.0, 0.0, 0.0])
    }
}

const TOKENS: [(&str, bool); 10] = [
    ("[PAD]", true),
    ("[UNK]", true),
    ("[CLS]", true),
    ("[SEP]", true),
    ("[unused0]", false),
    ("java", false),
    ("sql", false),
    ("data", false),
    ("##base", false),
    ("##s", false),
];

fn tokenizer() -> tokenizers::Tokenizer {
    let vocab: Vec<String> = TOKENS
        .iter()
        .enumerate()
        .map(|(i, (t, _))| format!("{t:?}: {i}"))
        .collect();
    let json = format!(
        r###"{{"version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [{{"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false,
                          "rstrip": false, "normalized": false, "special": true}}],
        "normalizer": {{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true}},
        "pre_tokenizer": {{"type": "BertPreTokenizer"}}, "post_processor": null, "decoder": null,
        "model": {{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": {{{}}}}}}}"###,
        vocab.join(", ")
    );
    json.parse().unwrap()
}

fn run() -> (StaticTable, DistillReport, Vec<u32>) {
    let fake = FakeEmbedder {
        asked: RefCell::new(Vec::new()),
    };
    let vocab: Vec<(String, bool)> = TOKENS.iter().map(|(t, s)| (t.to_string(), *s)).collect();
    let options = DistillOptions {
        model_id: "fake-static-2".into(),
        dims: 2,
        batch: 2,
        notes: vec![],
    };
    let mut calls = 0;
    let (table, report) = distill(&fake, &vocab, &options, |_, _| calls += 1).unwrap();
    assert_eq!(calls, 3, "5 kept tokens in batches of 2");
    (table, report, fake.asked.into_inner())
}

#[test]
fn special_and_unused_tokens_are_skipped_and_weights_grow_with_rank() {
    let (table, report, asked) = run();
    assert_eq!(asked, vec![5, 6, 7, 8, 9]);
    assert_eq!(
        (report.vocab, report.kept, report.source_dim, report.dims),
        (10, 5, 4, 2)
    );
    assert!(table.weights[..5].iter().all(|w| *w == 0.0));
    assert!(
        table.weights[5..].windows(2).all(|w| w[0] < w[1]),
        "{:?}",
        table.weights
    );
    assert!((table.weights[5] - 2f32.ln()).abs() < 1e-6);
}

#[test]
fn pca_keeps_the_high_variance_directions() {
    let (table, report, _) = run();
    // e2 and e3 carry ~1e-4 of the variance.
    assert!(
        report.explained_variance > 0.9999,
        "{}",
        report.explained_variance
    );
    // So the 2-d rows keep the token geometry: distances match the originals.
    let fake = FakeEmbedder {
        asked: RefCell::new(Vec::new()),
    };
    let orig = fake.embed_tokens(&[5, 6, 7, 8, 9]).unwrap();
    let row = |i: usize| &table.rows[i * 2..i * 2 + 2];
    for a in 0..5 {
        for b in 0..5 {
            let d_orig: f32 = orig[a]
                .iter()
                .zip(&orig[b])
                .map(|(x, y)| (x - y).powi(2))
                .sum();
            let d_row: f32 = row(a + 5)
                .iter()
                .zip(row(b + 5))
                .map(|(x, y)| (x - y).powi(2))
                .sum();
            assert!((d_orig.sqrt() - d_row.sqrt()).abs() < 0.03, "{a} {b}");
        }
    }
}

#[test]
fn distillation_is_deterministic_and_the_encoder_gives_unit_vectors() {
    let (t1, _, _) = run();
    let (t2, _, _) = run();
    assert_eq!(t1.to_bytes().unwrap(), t2.to_bytes().unwrap());
    assert!((dot(&t1.empty, &t1.empty) - 1.0).abs() < 1e-6);
    let enc = StaticEncoder::from_table(t1, tokenizer());
    let v = enc
        .encode_batch(&["Java and SQL databases", "", "[unused0]", "sql"])
        .unwrap();
    for x in &v {
        assert_eq!(x.len(), 2);
        assert!(x.iter().all(|y| y.is_finite()));
        assert!((dot(x, x) - 1.0).abs() < 1e-5, "{x:?}");
    }
    assert_eq!(
        v[1], v[2],
        "pieces outside the weighted vocabulary fall back to the empty vector"
    );
}

#[test]
fn bracketed_slots_are_not_kept() {
    assert!(!keeps_token("[unused12]", false));
    assert!(!keeps_token("[CLS]", true));
    assert!(keeps_token("##s", false) && keeps_token("[", false) && keeps_token("[]", false));
}
