//! The engine never panics: arbitrary strings (including control characters,
//! lone combining marks, lossy-decoded invalid UTF-8), huge inputs and a 1 MB
//! single line, over the full shipped lexicon and the shipped aliases.

mod common;

use chrono::Utc;
use common::quality::{engine_with, shipped_lexicon};
use jobenrich_domain::{EnrichmentVersion, JobId, JobPosting};
use jobenrich_enrichment_engine::{EngineConfig, SkillsEngine};
use proptest::prelude::*;
use std::sync::OnceLock;

fn engine() -> &'static SkillsEngine {
    static ENGINE: OnceLock<SkillsEngine> = OnceLock::new();
    ENGINE.get_or_init(|| engine_with(shipped_lexicon(), EngineConfig::default(), true))
}

fn check(text: &str) {
    let e = engine();
    let chars = text.chars().count() as u32;
    for f in e.extract_text(text) {
        assert!((0.0..=1.0).contains(&f.confidence));
        assert!(!f.canonical.is_empty());
        for m in &f.mentions {
            assert!(m.start < m.end && m.end <= chars, "{m:?} in {chars} chars");
        }
    }
    let now = Utc::now();
    let job = JobPosting {
        job_posting_id: JobId::parse("p").unwrap(),
        title: "t".into(),
        company: None,
        location: None,
        description: text.to_string(),
        posted_at: None,
        source: None,
        url: None,
        ingested_at: now,
    };
    let out = e.enrich(&job, &EnrichmentVersion::legacy(), now).unwrap();
    for s in &out.sections {
        assert!(s.start_offset <= s.end_offset && s.end_offset <= chars);
    }
}

/// Text built from skill-ish fragments, separators and odd characters, so
/// the strategies actually fire on generated input.
fn skillish() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("Python".to_string()),
        Just("C++".to_string()),
        Just(".NET".to_string()),
        Just("C#".to_string()),
        Just("Go".to_string()),
        Just("R".to_string()),
        Just("experience with ".to_string()),
        Just("such as ".to_string()),
        Just("3.11".to_string()),
        Just("Requirements:\n".to_string()),
        Just("## ".to_string()),
        Just("**".to_string()),
        Just(", ".to_string()),
        Just("\n- ".to_string()),
        Just(" and ".to_string()),
        Just("é".to_string()),
        Just("\u{301}".to_string()),
        Just("\u{fffd}".to_string()),
        Just("\0".to_string()),
        Just("\r\n".to_string()),
        "\\PC{0,12}",
    ];
    prop::collection::vec(fragment, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        check(&text);
    }

    #[test]
    fn skillish_strings_never_panic(text in skillish()) {
        check(&text);
    }

    #[test]
    fn lossy_decoded_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        check(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn empty_and_whitespace_inputs() {
    for text in ["", " ", "\n\n\n", "\t", ":", "-", "**", "#"] {
        check(text);
    }
}

#[test]
fn one_megabyte_single_line() {
    let line = "Experience with Python, C++ and K8s such as Go, R; ".repeat(20_000);
    assert!(line.len() >= 1_000_000);
    check(&line);
    check(&"x".repeat(1_048_576));
    check(&"é".repeat(600_000));
}

#[test]
fn oversized_input_is_refused_by_enrich_and_truncated_by_extract_text() {
    let e = engine();
    let text = "Python ".repeat(700_000);
    assert!(!e.extract_text(&text).is_empty());
    let now = Utc::now();
    let job = JobPosting {
        job_posting_id: JobId::parse("huge").unwrap(),
        title: "t".into(),
        company: None,
        location: None,
        description: text,
        posted_at: None,
        source: None,
        url: None,
        ingested_at: now,
    };
    assert!(e.enrich(&job, &EnrichmentVersion::legacy(), now).is_err());
}
