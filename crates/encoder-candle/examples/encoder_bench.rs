//! Encoder throughput on one thread: postings/s (title + description,
//! truncated to 256 word pieces), skill phrases/s, and the ESCO skill index
//! build; three runs each, min/median/max; peak RSS at the end.
//!
//! RAYON_NUM_THREADS=1 cargo run --release -p jobenrich-encoder-candle --example encoder_bench -- \
//!     var/models/all-MiniLM-L6-v2 data/sample/postings.jsonl [--index]
use jobenrich_domain::TextEncoder;
use jobenrich_encoder_candle::CandleEncoder;
use jobenrich_enrichment_engine::{load_esco_skills, SkillIndex};
use std::error::Error;
use std::time::Instant;

fn stats(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    format!(
        "{:.0} / {:.0} / {:.0}",
        v[0],
        v[v.len() / 2],
        v[v.len() - 1]
    )
}

/// Peak resident set size in MB (Linux; 0 elsewhere).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .map(String::as_str)
        .unwrap_or("var/models/all-MiniLM-L6-v2");
    let postings = args
        .get(2)
        .map(String::as_str)
        .unwrap_or("data/sample/postings.jsonl");
    let with_index = args.iter().any(|a| a == "--index");
    let t = Instant::now();
    let enc = CandleEncoder::load(dir.as_ref(), 256)?;
    println!("load {:.2}s", t.elapsed().as_secs_f64());
    let texts: Vec<String> = std::fs::read_to_string(postings)?
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            format!(
                "{}\n{}",
                v["title"].as_str().unwrap_or(""),
                v["description"].as_str().unwrap_or("")
            )
        })
        .take(64)
        .collect();
    // Skill phrases: the ESCO labels of the linked validation set's last column.
    let phrases: Vec<String> =
        std::fs::read_to_string("data/labeled/esco-linked/tech_validation_annotations.csv")?
            .lines()
            .skip(1)
            .filter_map(|l| l.rsplit(',').next().map(str::to_string))
            .take(1024)
            .collect();
    let p: Vec<&str> = texts.iter().map(String::as_str).collect();
    let s: Vec<&str> = phrases.iter().map(String::as_str).collect();
    let (mut pr, mut sr) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let t = Instant::now();
        enc.encode_batch(&p)?;
        pr.push(p.len() as f64 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        enc.encode_batch(&s)?;
        sr.push(s.len() as f64 / t.elapsed().as_secs_f64());
    }
    println!(
        "postings/s ({} postings) min/median/max: {}",
        p.len(),
        stats(pr)
    );
    println!(
        "phrases/s ({} phrases) min/median/max: {}",
        s.len(),
        stats(sr)
    );
    if with_index {
        let concepts =
            load_esco_skills("data/taxonomy/esco-v1.1.1-all-skills/skills_en.csv".as_ref())?;
        let t = Instant::now();
        let index = SkillIndex::build(&enc, &concepts, "bench")?;
        println!(
            "ESCO index: {} concepts, {} labels in {:.1}s",
            index.concepts(),
            index.rows(),
            t.elapsed().as_secs_f64()
        );
    }
    println!("peak RSS {:.0} MB", peak_rss_mb());
    Ok(())
}
