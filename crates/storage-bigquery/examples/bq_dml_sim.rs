//! The DML-limit simulator run: worker lanes drain an enrichment queue through
//! the store's ports while a proxy in front of the emulator enforces
//! BigQuery's per-table DML limits (`tests/common/dml_limits.rs`) and counts
//! requests. For each lane count it prints throughput, the most statements any
//! table started in 10 s, statements refused by the limits, lane errors,
//! requests per 2,000 rows written, and whether every enrichment succeeded
//! exactly once with all its skill rows.
//!
//! ```sh
//! JOBENRICH_BQ_EMULATOR_URL=http://127.0.0.1:9050 \
//! SIM_POSTINGS=20000 SIM_LANES=1,4,16,64 SIM_BATCH=500 SIM_QUEUE=coordinated SIM_LEASE_SECONDS=300 \
//!   cargo run --release -p jobenrich-storage-bigquery --example bq_dml_sim
//! ```

// The shared test modules have parts only the tests use.
#![allow(dead_code)]

#[path = "../tests/common/dml_limits.rs"]
mod dml_limits;
#[path = "../tests/common/lanes.rs"]
mod lanes;
#[path = "../tests/common/proxy.rs"]
mod proxy;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let url = std::env::var("JOBENRICH_BQ_EMULATOR_URL")
        .expect("set JOBENRICH_BQ_EMULATOR_URL (scripts/bigquery-emulator.sh start)");
    let postings = env_usize("SIM_POSTINGS", 20_000);
    let batch = env_usize("SIM_BATCH", 500);
    let skills_per = env_usize("SIM_SKILLS", 2);
    let lane_counts: Vec<usize> = std::env::var("SIM_LANES")
        .unwrap_or_else(|_| "1,4,16,64".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let queue = match std::env::var("SIM_QUEUE").as_deref() {
        Ok("direct") => jobenrich_storage_bigquery::QueueMode::Direct,
        _ => jobenrich_storage_bigquery::QueueMode::Coordinated,
    };
    // The worker's default lease unless told (the CI test uses 60 s).
    let lease = env_usize("SIM_LEASE_SECONDS", 300) as i64;
    for lanes in lane_counts {
        let run = lanes::run_lanes(&url, lanes, postings, batch, skills_per, queue, lease).await;
        let (busiest, per_window) = run.stats.max_per_table_per_window();
        println!(
            "queue={queue:?} lanes={lanes} postings={postings} batch={batch} lease={lease}s elapsed={:.1}s throughput={:.1}/s \
             complete={} exact={} (success rows {}, still leased {}, other (dead letters) {}, skill rows {} of {}, reported {}) \
             max_statements_per_table_per_10s={per_window} ({busiest}) \
             refused_queue_full={} refused_conflict={} waited={} lane_errors={} \
             requests={} {:?} requests_per_2000_rows={:.2}",
            run.seconds,
            run.succeeded as f64 / run.seconds,
            run.complete(),
            run.nothing_lost_or_duplicated(skills_per as u64),
            run.success_rows,
            run.processing_rows,
            run.other_rows,
            run.skill_rows,
            run.expected_skill_rows,
            run.succeeded,
            run.stats.failed_queue_full,
            run.stats.failed_conflict,
            run.stats.waited,
            run.lane_errors,
            run.requests_total(),
            run.requests,
            run.requests_per_2000_rows(),
        );
    }
}
