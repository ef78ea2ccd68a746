//! Batch write throughput of the SQLite adapter on a temporary database file:
//! one `upsert_skills` call of 10,000 skills (100 jobs x 100 skills), both as
//! new rows and as updates of existing keys; one `insert_postings` call of
//! 1,000 new postings; and one claim of 100 enrichments from a 20,000-deep
//! queue. Criterion reports elements/s (rows/s).
//! Run with `cargo bench -p jobenrich-storage-sqlite`.

use chrono::{Duration, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use jobenrich_domain::{
    ClaimRequest, EnrichmentKey, EnrichmentRepository, EnrichmentType, EnrichmentVersion, JobId,
    JobPosting, JobPostingRepository, SchemaMigrator, SkillRepository,
};
use jobenrich_storage_contract::fixtures::{numbered_job_id, posting, skill};
use jobenrich_storage_sqlite::SqliteStore;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

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
            (0..SKILLS_PER_JOB)
                .map(move |k| skill(p.job_posting_id.as_str(), &format!("skill {k:03}")))
        })
        .collect();

    let mut group = c.benchmark_group("sqlite");
    group.sample_size(20);
    group.throughput(Throughput::Elements(batch.len() as u64));
    // Every call after the first updates the same 10,000 keys.
    rt.block_on(store.upsert_skills(&batch))
        .expect("first upsert");
    group.bench_function("upsert_skills_10000_updates", |b| {
        b.iter(|| rt.block_on(store.upsert_skills(&batch)).expect("upsert"))
    });
    // New keys every call: the previous round's version is deleted untimed.
    let round = AtomicUsize::new(0);
    group.bench_function("upsert_skills_10000_inserts", |b| {
        b.iter_batched(
            || {
                let r = round.fetch_add(1, Ordering::Relaxed);
                let previous = EnrichmentVersion::parse(format!("bench@{}", r.wrapping_sub(1)))
                    .expect("version");
                rt.block_on(store.delete_skills_at_versions(&[previous]))
                    .expect("delete");
                let version = EnrichmentVersion::parse(format!("bench@{r}")).expect("version");
                batch
                    .iter()
                    .map(|s| {
                        let mut s = s.clone();
                        s.enrichment_version = version.clone();
                        s
                    })
                    .collect::<Vec<_>>()
            },
            |fresh| rt.block_on(store.upsert_skills(&fresh)).expect("upsert"),
            BatchSize::PerIteration,
        )
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

fn claim_from_deep_queue(c: &mut Criterion) {
    const QUEUE: usize = 20_000;
    const CLAIM: usize = 100;
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("bench.db")).expect("open");
    rt.block_on(store.migrate()).expect("migrate");
    let postings: Vec<JobPosting> = (0..QUEUE)
        .map(|i| posting(numbered_job_id(i).as_str()))
        .collect();
    rt.block_on(store.insert_postings(&postings))
        .expect("seed postings");
    let ids: Vec<JobId> = postings.into_iter().map(|p| p.job_posting_id).collect();
    let version = EnrichmentVersion::parse("bench@v1").expect("version");
    rt.block_on(store.enqueue_enrichments(
        &ids,
        EnrichmentType::SkillsExtraction,
        &version,
        Utc::now(),
    ))
    .expect("enqueue");
    let held: Mutex<Vec<EnrichmentKey>> = Mutex::new(Vec::new());

    let mut group = c.benchmark_group("sqlite");
    group.sample_size(20);
    group.throughput(Throughput::Elements(CLAIM as u64));
    // The previous claim is released untimed, so the queue stays 20,000 deep.
    group.bench_function("claim_100_of_20000", |b| {
        b.iter_batched(
            || {
                let keys = std::mem::take(&mut *held.lock().expect("lock"));
                rt.block_on(store.release_enrichments(&keys, "bench", Utc::now()))
                    .expect("release");
                ClaimRequest {
                    enrichment_type: EnrichmentType::SkillsExtraction,
                    enrichment_version: Some(version.clone()),
                    owner: "bench".to_string(),
                    lease: Duration::minutes(5),
                    limit: CLAIM,
                    max_attempts: 3,
                    now: Utc::now(),
                }
            },
            |request| {
                let claimed = rt
                    .block_on(store.claim_enrichments(&request))
                    .expect("claim");
                assert_eq!(claimed.len(), CLAIM);
                *held.lock().expect("lock") = claimed.iter().map(|e| e.key()).collect();
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(
    benches,
    skill_batch_upsert,
    posting_batch_insert,
    claim_from_deep_queue
);
criterion_main!(benches);
