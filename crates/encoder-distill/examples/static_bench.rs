//! The static encoder beside the transformer in one run, on one thread:
//! postings/s (title + description cut at 2,000 characters, the embeddings
//! enrichment's default max_chars; the transformer truncates further to 256
//! word pieces), skill phrases/s, and optionally the ESCO skill index build
//! with the static encoder; three runs each, min/median/max; peak RSS.
//!
//! RAYON_NUM_THREADS=1 cargo run --release -p jobenrich-encoder-distill --example static_bench -- \
//!     var/models/all-MiniLM-L6-v2 models/encoders/minilm-static-128 data/sample/postings.jsonl [--index]
use jobenrich_domain::TextEncoder;
use jobenrich_encoder_candle::CandleEncoder;
use jobenrich_encoder_static::StaticEncoder;
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

/// Items per second over three runs of `f` on `items`, `repeat` times each.
fn rate(enc: &dyn TextEncoder, items: &[&str], repeat: usize) -> Result<Vec<f64>, Box<dyn Error>> {
    let mut out = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..repeat {
            enc.encode_batch(items)?;
        }
        out.push((items.len() * repeat) as f64 / t.elapsed().as_secs_f64());
    }
    Ok(out)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: &'static str| args.get(i).map(String::as_str).unwrap_or(default);
    let transformer_dir = arg(1, "var/models/all-MiniLM-L6-v2");
    let static_dir = arg(2, "models/encoders/minilm-static-128");
    let postings = arg(3, "data/sample/postings.jsonl");
    let with_index = args.iter().any(|a| a == "--index");

    let t = Instant::now();
    let transformer = CandleEncoder::load(transformer_dir.as_ref(), 256)?;
    println!("transformer load {:.2}s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let fast = StaticEncoder::load(static_dir.as_ref())?;
    println!("static load {:.3}s", t.elapsed().as_secs_f64());

    let texts: Vec<String> = std::fs::read_to_string(postings)?
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            format!(
                "{}\n{}",
                v["title"].as_str().unwrap_or(""),
                v["description"].as_str().unwrap_or("")
            )
            .chars()
            .take(2_000)
            .collect()
        })
        .collect();
    // Skill phrases: the ESCO labels of the linked validation set's last column.
    let phrases: Vec<String> =
        std::fs::read_to_string("data/labeled/esco-linked/tech_validation_annotations.csv")?
            .lines()
            .skip(1)
            .filter_map(|l| l.rsplit(',').next().map(str::to_string))
            .collect();
    let p: Vec<&str> = texts.iter().map(String::as_str).collect();
    let s: Vec<&str> = phrases.iter().map(String::as_str).collect();
    let chars: usize = texts.iter().map(|t| t.chars().count()).sum();
    println!(
        "{} postings ({} chars on average), {} phrases",
        p.len(),
        chars / p.len().max(1),
        s.len()
    );
    // The static encoder is timed over many repeats so one run lasts long
    // enough to measure; it remembers each word's pieces, so the repeats
    // are its steady state and the cold figure (a new encoder per round,
    // every posting seen once) its first pass over unseen text.
    let mut cold = Vec::new();
    for _ in 0..3 {
        let fresh = StaticEncoder::load(static_dir.as_ref())?;
        cold.push(rate(&fresh, &p, 1)?[0]);
    }
    println!(
        "postings/s min/median/max: transformer {} | static {} | static, cold word cache {}",
        stats(rate(&transformer, &p, 1)?),
        stats(rate(&fast, &p, 200)?),
        stats(cold)
    );
    println!(
        "phrases/s min/median/max: transformer {} | static {}",
        stats(rate(&transformer, &s, 1)?),
        stats(rate(&fast, &s, 200)?)
    );
    if with_index {
        let concepts =
            load_esco_skills("data/taxonomy/esco-v1.1.1-all-skills/skills_en.csv".as_ref())?;
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let index = SkillIndex::build(&fast, &concepts, "bench")?;
            times.push(t.elapsed().as_secs_f64());
            rows = index.rows();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "ESCO index with the static encoder: {} concepts, {rows} labels in {:.2} / {:.2} / {:.2} s",
            concepts.len(),
            times[0],
            times[1],
            times[2]
        );
    }
    println!("peak RSS {:.0} MB", peak_rss_mb());
    Ok(())
}
