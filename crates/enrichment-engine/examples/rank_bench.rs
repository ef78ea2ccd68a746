//! Ranking phrases against a skill index: the packed-tile kernel
//! (`SkillIndex::top_k_batch`, top 20 concepts per query) beside the plain
//! matrix product it replaced (nalgebra → matrixmultiply sgemm over the
//! row-major label vectors, products only), in one run, for passes of 8, 32
//! and 256 queries (label vectors of the index itself).
//!
//! ```sh
//! cargo run --release -p jobenrich-enrichment-engine --example rank_bench -- \
//!     var/cache/skill-index_esco-<hash>_minilm-static-128.bin
//! ```

use jobenrich_enrichment_engine::SkillIndex;
use nalgebra::{DMatrix, DMatrixView};
use std::io::{BufRead, Read};
use std::path::Path;
use std::time::Instant;

const ROUNDS: usize = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(path) = std::env::args().nth(1) else {
        return Err("usage: rank_bench INDEX_FILE (a skill-index_*.bin under var/cache)".into());
    };
    let index = SkillIndex::load(Path::new(&path))?;
    // The same file read again as row-major vectors for the sgemm baseline.
    let mut r = std::io::BufReader::new(std::fs::File::open(&path)?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    line.clear();
    r.read_line(&mut line)?;
    let dim: usize = serde_json::from_str::<serde_json::Value>(&line)?["dim"]
        .as_u64()
        .ok_or("header without dim")? as usize;
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)?;
    let v: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|x| f32::from_le_bytes([x[0], x[1], x[2], x[3]]))
        .collect();
    let rows = v.len() / dim;
    println!("{rows} label rows × {dim}; median [min .. max] of {ROUNDS} rounds");
    for nq in [8usize, 32, 256] {
        let queries: Vec<Vec<f32>> = (0..nq)
            .map(|i| v[(i * 997 % rows) * dim..][..dim].to_vec())
            .collect();
        let refs: Vec<&[f32]> = queries.iter().map(Vec::as_slice).collect();
        let (mut tiles, mut sgemm) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let t = Instant::now();
            std::hint::black_box(index.top_k_batch(&refs, 20));
            tiles.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            let q = DMatrix::from_fn(nq, dim, |i, j| queries[i][j]);
            let mut scores = DMatrix::<f32>::zeros(nq, 2048);
            for first in (0..rows).step_by(2048) {
                let n = (rows - first).min(2048);
                let labels = DMatrixView::from_slice(&v[first * dim..(first + n) * dim], dim, n);
                scores.columns_mut(0, n).gemm(1.0, &q, &labels, 0.0);
                std::hint::black_box(&scores);
            }
            sgemm.push(t.elapsed().as_secs_f64() * 1e3);
        }
        tiles.sort_by(f64::total_cmp);
        sgemm.sort_by(f64::total_cmp);
        let m = ROUNDS / 2;
        println!(
            "{nq:>4} queries: kernel + top-k {:.1} ms [{:.1} .. {:.1}], sgemm products alone {:.1} ms [{:.1} .. {:.1}], ratio {:.2}",
            tiles[m],
            tiles[0],
            tiles[ROUNDS - 1],
            sgemm[m],
            sgemm[0],
            sgemm[ROUNDS - 1],
            sgemm[m] / tiles[m]
        );
    }
    Ok(())
}
