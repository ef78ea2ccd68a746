//! Batch write throughput of the SQLite adapter on a temporary database file:
//! one `upsert_skills` call of 10,000 skills (100 jobs x 100 skills) and one
//! `insert_postings` call of 1,000 new postings. Criterion reports elements/s
//! (rows/s). Run with `cargo bench -p jobenrich-storage-sqlite`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use jobenrich_domain::{JobPosting, JobPostingRepository, SchemaMigrator, SkillRepository};
use jobenrich_storage_contract::fixtures::{numbered_job_id, posting, skill};
use jobenrich_storage_sqlite::SqliteStore;
use std::sync::atomic::{AtomicUsize, Ordering};

const JOBS: usize = 100;
const SKILLS_PER_JOB: usize = 100;
const POSTINGS: usize = 1_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("building the bench runtime")
}

fn skill_batch_upsert(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("bench.db")).expect("open");
    rt.block_on(store.migrate()).expect("migrate");
    let postings: Vec<JobPosting> = (0..JOBS)
        .map(|i| posting(numbered_job_id(i).as_str()))
        .collect();
    rt.block_on(store.insert_postings(&postings))
        .expect("seed postings");
    let batch: Vec<_> = postings
        .iter()
        .flat_map(|p| {
            (0..SKILLS_PER_JOB).map(move |k| skill(p.id.as_str(), &format!("skill {k:03}")))
        })
        .collect();

    let mut group = c.benchmark_group("sqlite");
    group.sample_size(20);
    group.throughput(Throughput::Elements(batch.len() as u64));
    // The first call inserts, later ones update the same keys: both are one
    // transaction of 10,000 upserts.
    group.bench_function("upsert_skills_10000", |b| {
        b.iter(|| rt.block_on(store.upsert_skills(&batch)).expect("upsert"))
    });
    group.finish();
}

fn posting_batch_insert(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("bench.db")).expect("open");
    rt.block_on(store.migrate()).expect("migrate");
    let round = AtomicUsize::new(0);

    let mut group = c.benchmark_group("sqlite");
    group.sample_size(20);
    group.throughput(Throughput::Elements(POSTINGS as u64));
    // Fresh ids every iteration so each batch really inserts 1,000 rows.
    group.bench_function("insert_postings_1000", |b| {
        b.iter_batched(
            || {
                let r = round.fetch_add(1, Ordering::Relaxed);
                (0..POSTINGS)
                    .map(|i| posting(&format!("bench-{r:06}-{i:05}")))
                    .collect::<Vec<_>>()
            },
            |postings| {
                let counts = rt
                    .block_on(store.insert_postings(&postings))
                    .expect("insert");
                assert_eq!(counts.inserted, POSTINGS as u64);
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, skill_batch_upsert, posting_batch_insert);
criterion_main!(benches);
