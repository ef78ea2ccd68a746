//! The static model shipped under models/encoders loads and keeps the
//! transformer's sense of which phrases are related.

use jobenrich_domain::encoder::dot;
use jobenrich_domain::TextEncoder;
use jobenrich_encoder_static::StaticEncoder;
use std::path::PathBuf;

fn shipped() -> StaticEncoder {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/encoders/minilm-static-128");
    StaticEncoder::load(&dir).unwrap()
}

#[test]
fn the_shipped_model_gives_unit_vectors_that_rank_related_phrases_first() {
    let enc = shipped();
    assert_eq!((enc.model_id(), enc.dim()), ("minilm-static-128", 128));
    let v = enc
        .encode_batch(&[
            "SQL",
            "query databases",
            "nursing care",
            "Java programming",
            "develop software in Java",
            "",
        ])
        .unwrap();
    for x in &v {
        assert!((dot(x, x) - 1.0).abs() < 1e-4);
    }
    assert!(dot(&v[0], &v[1]) > dot(&v[0], &v[2]));
    assert!(dot(&v[3], &v[4]) > dot(&v[3], &v[2]));
}
