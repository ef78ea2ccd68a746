//! Throughput measurement shared by the criterion bench and `jobenrich bench
//! extract`: sectioning alone, extraction alone, and both, single thread;
//! and both on several threads at once (how the engine scales over cores).

use crate::SkillsEngine;
use std::time::{Duration, Instant};

/// Throughput of one measured phase.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PhaseThroughput {
    pub phase: &'static str,
    /// Threads running the phase at once; postings/s is their sum.
    pub threads: usize,
    /// In JSON: `elapsed_seconds`, a number.
    #[serde(rename = "elapsed_seconds", serialize_with = "seconds")]
    pub elapsed: Duration,
    pub postings_per_sec: f64,
    pub mb_per_sec: f64,
}

/// A duration as seconds (a JSON number, not `{"secs":…,"nanos":…}`).
fn seconds<S: serde::Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(d.as_secs_f64())
}

/// Result of `run_extraction_benchmark`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BenchReport {
    pub postings: usize,
    pub total_bytes: usize,
    pub rounds: usize,
    pub lexicon_entries: usize,
    pub lexicon_surfaces: usize,
    pub skills_found: usize,
    pub phases: Vec<PhaseThroughput>,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} postings, {:.2} MB, {} rounds, lexicon {} skills / {} surface forms, {} skills found per round",
            self.postings,
            self.total_bytes as f64 / 1e6,
            self.rounds,
            self.lexicon_entries,
            self.lexicon_surfaces,
            self.skills_found
        )?;
        for p in &self.phases {
            writeln!(
                f,
                "{:<12} {:>2} thread(s) {:>10.0} postings/s {:>8.2} MB/s",
                p.phase, p.threads, p.postings_per_sec, p.mb_per_sec
            )?;
        }
        Ok(())
    }
}

fn measure(
    phase: &'static str,
    postings: &[String],
    bytes: usize,
    rounds: usize,
    mut run: impl FnMut(&str) -> usize,
) -> (PhaseThroughput, usize) {
    let mut sink = 0usize;
    let start = Instant::now();
    for _ in 0..rounds.max(1) {
        for p in postings {
            sink += run(p);
        }
    }
    let elapsed = start.elapsed();
    let secs = elapsed.as_secs_f64().max(1e-9);
    let n = (postings.len() * rounds.max(1)) as f64;
    (
        PhaseThroughput {
            phase,
            threads: 1,
            elapsed,
            postings_per_sec: n / secs,
            mb_per_sec: (bytes * rounds.max(1)) as f64 / 1e6 / secs,
        },
        sink / rounds.max(1),
    )
}

/// Times sectioning, extraction (on precomputed sections) and both over
/// `postings`, `rounds` times each, on the calling thread.
pub fn run_extraction_benchmark(
    engine: &SkillsEngine,
    postings: &[String],
    rounds: usize,
) -> BenchReport {
    let bytes: usize = postings.iter().map(String::len).sum();
    let sections: Vec<_> = postings.iter().map(|p| engine.sections(p)).collect();
    let (sectioning, _) = measure("sectioning", postings, bytes, rounds, |p| {
        engine.sections(p).len()
    });
    let mut i = 0usize;
    let (extraction, found) = measure("extraction", postings, bytes, rounds, |p| {
        let n = engine
            .extract_with_sections(p, &sections[i % sections.len()])
            .len();
        i += 1;
        n
    });
    let (both, _) = measure("both", postings, bytes, rounds, |p| {
        engine.extract_text(p).len()
    });
    BenchReport {
        postings: postings.len(),
        total_bytes: bytes,
        rounds,
        lexicon_entries: engine.lexicon().len(),
        lexicon_surfaces: engine.lexicon().surface_count(),
        skills_found: found,
        phases: vec![sectioning, extraction, both],
    }
}

/// Sectioning + extraction ("both") on `threads` threads at once, each over
/// the whole corpus `rounds` times, as the pipeline's engine threads run side
/// by side on one engine; postings/s is the total over the wall time from a
/// common start to the last thread's end.
pub fn run_parallel_both(
    engine: &SkillsEngine,
    postings: &[String],
    rounds: usize,
    threads: usize,
) -> PhaseThroughput {
    let threads = threads.max(1);
    let bytes: usize = postings.iter().map(String::len).sum();
    let start_line = std::sync::Barrier::new(threads + 1);
    let elapsed = std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                start_line.wait();
                let _ = measure("both", postings, bytes, rounds, |p| {
                    engine.extract_text(p).len()
                });
            });
        }
        start_line.wait();
        let start = Instant::now();
        // The scope joins every thread before returning.
        start
    })
    .elapsed();
    let secs = elapsed.as_secs_f64().max(1e-9);
    let n = (postings.len() * rounds.max(1) * threads) as f64;
    PhaseThroughput {
        phase: "both",
        threads,
        elapsed,
        postings_per_sec: n / secs,
        mb_per_sec: (bytes * rounds.max(1) * threads) as f64 / 1e6 / secs,
    }
}

/// Builds `count` postings of about `target_bytes` each by concatenating
/// source texts in order (deterministic), cutting at line boundaries.
pub fn synthesize_postings(sources: &[String], count: usize, target_bytes: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(count);
    if sources.is_empty() {
        return out;
    }
    let lines: Vec<&str> = sources
        .iter()
        .flat_map(|s| s.lines())
        .filter(|l| !l.trim().is_empty())
        .collect();
    let mut cursor = 0usize;
    for _ in 0..count {
        let mut posting = String::with_capacity(target_bytes + 256);
        while posting.len() < target_bytes {
            posting.push_str(lines[cursor % lines.len()]);
            posting.push('\n');
            cursor += 1;
        }
        out.push(posting);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EngineConfig, Lexicon, LexiconEntry, LexiconSource, SurfaceForm};
    use jobenrich_domain::SkillCategory;
    use std::sync::Arc;

    #[test]
    fn parallel_both_counts_every_threads_postings() {
        let lexicon = Arc::new(Lexicon::from_entries(vec![LexiconEntry {
            canonical: "Rust".into(),
            category: SkillCategory::ProgrammingLanguages,
            source: LexiconSource::Curated,
            weight: 0.9,
            taxonomy_ref: None,
            surfaces: vec![SurfaceForm::new("Rust", false)],
        }]));
        let engine = SkillsEngine::new(lexicon, &[], EngineConfig::default()).unwrap();
        let postings = vec!["Requirements:\n- Rust and SQL\n".to_string(); 50];
        for threads in [1, 3] {
            let p = run_parallel_both(&engine, &postings, 2, threads);
            assert_eq!(p.threads, threads);
            let counted = p.postings_per_sec * p.elapsed.as_secs_f64();
            assert!(
                (counted - (100 * threads) as f64).abs() < 1e-6 * counted,
                "{threads} threads: {counted} postings counted"
            );
        }
    }
}
