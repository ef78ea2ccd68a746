//! Clustering 100,000 synthetic jobs (12 families, 5–12 skills each plus a
//! title; see `synthetic.rs`): TF-IDF features, k-means (k = 12, seeded)
//! and c-TF-IDF naming, each timed on its own and end to end; plus the
//! silhouette choice of k over 4..=16 on the same data.
//!
//! Run: `cargo bench -p jobenrich-clustering --bench cluster_100k`.

use criterion::{criterion_group, criterion_main, Criterion};
use jobenrich_clustering::synthetic::synthetic_jobs;
use jobenrich_clustering::{
    choose_k, kmeans, name_clusters, FeatureConfig, FeatureMatrix, KMeansConfig,
};
use std::hint::black_box;
use std::time::Duration;

const JOBS: usize = 100_000;

fn cluster_100k(c: &mut Criterion) {
    let documents = synthetic_jobs(JOBS, 1);
    let features = FeatureConfig::default();
    let matrix = FeatureMatrix::build(&documents, &features);
    let config = KMeansConfig {
        k: 12,
        ..KMeansConfig::default()
    };
    let labels = kmeans(&matrix, &config).labels;

    let mut group = c.benchmark_group("cluster_100k_jobs");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("features", |b| {
        b.iter(|| FeatureMatrix::build(black_box(&documents), &features))
    });
    group.bench_function("kmeans_k12", |b| {
        b.iter(|| kmeans(black_box(&matrix), &config))
    });
    group.bench_function("keywords", |b| {
        b.iter(|| name_clusters(black_box(&matrix), &labels, 8))
    });
    group.bench_function("end_to_end_k12", |b| {
        b.iter(|| {
            let m = FeatureMatrix::build(black_box(&documents), &features);
            let result = kmeans(&m, &config);
            name_clusters(&m, &result.labels, 8)
        })
    });
    group.finish();

    let mut selection = c.benchmark_group("choose_k_100k_jobs");
    selection.sample_size(10);
    selection.measurement_time(Duration::from_secs(30));
    selection.bench_function("silhouette_k4_to_16_sample2000", |b| {
        b.iter(|| choose_k(black_box(&matrix), 4..=16, &config, 2_000, 20_000))
    });
    selection.finish();
}

criterion_group!(benches, cluster_100k);
criterion_main!(benches);
