//! Criterion benchmark: 1,000 postings of ~3 KB built from the SkillSpan
//! postings (MIT, copied into testdata/), full shipped lexicon and alias
//! table, single thread: sectioning alone, extraction alone, both.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use jobenrich_enrichment_engine::bench::synthesize_postings;
use jobenrich_enrichment_engine::{load_alias_csv, EngineConfig, Lexicon, SkillsEngine};
use std::path::Path;
use std::sync::Arc;

// The allocator the shipped binaries use (`jobenrich`, `jobenrich-worker`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn corpus() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/skillspan_postings.jsonl");
    let text = std::fs::read_to_string(&path).expect("testdata/skillspan_postings.jsonl");
    let sources: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect();
    synthesize_postings(&sources, 1000, 3000)
}

fn engine() -> SkillsEngine {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lexicon");
    let lexicon = Arc::new(Lexicon::load_dir(&dir).expect("shipped lexicon"));
    let aliases_path = dir.join("aliases.csv");
    let aliases = load_alias_csv(&aliases_path, chrono::Utc::now()).expect("shipped aliases");
    SkillsEngine::new(lexicon, &aliases, EngineConfig::default()).expect("engine")
}

fn bench(c: &mut Criterion) {
    let postings = corpus();
    let engine = engine();
    let bytes: usize = postings.iter().map(String::len).sum();
    let sections: Vec<_> = postings.iter().map(|p| engine.sections(p)).collect();
    let mut group = c.benchmark_group("1000_postings_3kb");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("sectioning", |b| {
        b.iter(|| {
            postings
                .iter()
                .map(|p| engine.sections(p).len())
                .sum::<usize>()
        })
    });
    group.bench_function("extraction", |b| {
        b.iter(|| {
            postings
                .iter()
                .zip(&sections)
                .map(|(p, s)| engine.extract_with_sections(p, s).len())
                .sum::<usize>()
        })
    });
    group.bench_function("both", |b| {
        b.iter(|| {
            postings
                .iter()
                .map(|p| engine.extract_text(p).len())
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
