//! k-means for sparse, L2-normalized rows: k-means++ seeding and Lloyd
//! iterations, seeded with ChaCha so that equal input and seed give equal
//! labels on any machine.
//!
//! Centroids are dense and stored term-major (`centroid[term * k + c]`): the
//! distance of a row to every centroid then walks the row's few non-zeros and,
//! for each, one contiguous run of `k` values. The assignment step, the only
//! O(n·nnz·k) part, is split over threads; each row's result does not depend
//! on the split, so threading does not change the outcome.

use crate::features::FeatureMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KMeansConfig {
    pub k: usize,
    pub max_iterations: usize,
    /// Stop when inertia improves by less than this fraction.
    pub tolerance: f64,
    /// Independent seedings; the lowest inertia wins.
    pub n_init: usize,
    pub seed: u64,
    /// Upper bound on threads for the assignment step (0: all cores).
    pub threads: usize,
}

impl Default for KMeansConfig {
    fn default() -> Self {
        Self {
            k: 8,
            max_iterations: 50,
            tolerance: 1e-5,
            n_init: 1,
            seed: 42,
            threads: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KMeansResult {
    /// Cluster of each row, `0..k`; cluster 0 is the largest.
    pub labels: Vec<u32>,
    /// Number of non-empty clusters (may be below the requested k when the
    /// data has fewer distinct rows).
    pub k: usize,
    /// Sum of squared distances of rows to their centroid.
    pub inertia: f64,
    pub iterations: usize,
}

/// Clusters the rows of `matrix`. An empty matrix gives an empty result.
pub fn kmeans(matrix: &FeatureMatrix, config: &KMeansConfig) -> KMeansResult {
    let n = matrix.rows();
    if n == 0 || config.k == 0 {
        return KMeansResult {
            labels: Vec::new(),
            k: 0,
            inertia: 0.0,
            iterations: 0,
        };
    }
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let threads = thread_count(config.threads);
    let norms: Vec<f64> = (0..n).map(|i| matrix.row_norm_squared(i)).collect();
    let mut best: Option<KMeansResult> = None;
    for _ in 0..config.n_init.max(1) {
        let run = single_run(matrix, &norms, config, threads, &mut rng);
        if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
            best = Some(run);
        }
    }
    let best = best.expect("n_init >= 1");
    canonical_labels(best)
}

fn thread_count(limit: usize) -> usize {
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    if limit == 0 {
        available
    } else {
        limit.min(available)
    }
}

/// Dense centroids, term-major.
struct Centroids {
    k: usize,
    values: Vec<f64>,
    norms: Vec<f64>,
}

impl Centroids {
    /// Squared distance of row `i` to every centroid, written into `out`.
    fn distances(&self, matrix: &FeatureMatrix, i: usize, row_norm: f64, out: &mut [f64]) {
        let k = self.k;
        out.iter_mut().for_each(|d| *d = 0.0);
        let (cols, vals) = matrix.row(i);
        for (&c, &v) in cols.iter().zip(vals) {
            let base = c as usize * k;
            for (d, centroid) in out.iter_mut().zip(&self.values[base..base + k]) {
                *d += v * centroid;
            }
        }
        for (d, norm) in out.iter_mut().zip(&self.norms) {
            *d = (row_norm - 2.0 * *d + norm).max(0.0);
        }
    }
}

fn single_run(
    matrix: &FeatureMatrix,
    norms: &[f64],
    config: &KMeansConfig,
    threads: usize,
    rng: &mut ChaCha8Rng,
) -> KMeansResult {
    let n = matrix.rows();
    let seeds = kmeans_plus_plus(matrix, norms, config.k, rng);
    let k = seeds.len();
    let mut centroids = Centroids {
        k,
        values: vec![0.0; matrix.columns() * k],
        norms: vec![0.0; k],
    };
    for (c, &row) in seeds.iter().enumerate() {
        let (cols, vals) = matrix.row(row);
        for (&t, &v) in cols.iter().zip(vals) {
            centroids.values[t as usize * k + c] = v;
        }
        centroids.norms[c] = norms[row];
    }

    let mut labels = vec![u32::MAX; n];
    let mut distances = vec![0.0; n];
    let mut inertia = f64::INFINITY;
    let mut iterations = 0;
    while iterations < config.max_iterations.max(1) {
        iterations += 1;
        let changed = assign(
            matrix,
            norms,
            &centroids,
            threads,
            &mut labels,
            &mut distances,
        );
        let new_inertia: f64 = distances.iter().sum();
        let converged = changed == 0
            || (inertia.is_finite()
                && (inertia - new_inertia).abs()
                    <= config.tolerance * inertia.max(f64::MIN_POSITIVE));
        inertia = new_inertia;
        if converged {
            break;
        }
        update_centroids(matrix, &mut centroids, &mut labels, &mut distances);
    }
    KMeansResult {
        labels,
        k,
        inertia,
        iterations,
    }
}

/// k-means++: the first seed uniformly, each next one with probability
/// proportional to its squared distance to the nearest seed so far. Stops
/// early when every row coincides with a seed.
fn kmeans_plus_plus(
    matrix: &FeatureMatrix,
    norms: &[f64],
    k: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    let n = matrix.rows();
    let mut seeds = vec![rng.gen_range(0..n)];
    let mut nearest = vec![f64::INFINITY; n];
    let mut dense = vec![0.0; matrix.columns()];
    while seeds.len() < k.min(n) {
        let last = *seeds.last().expect("one seed");
        let (cols, vals) = matrix.row(last);
        for (&c, &v) in cols.iter().zip(vals) {
            dense[c as usize] = v;
        }
        for (i, best) in nearest.iter_mut().enumerate() {
            let (rc, rv) = matrix.row(i);
            let dot: f64 = rc
                .iter()
                .zip(rv)
                .map(|(&c, &v)| v * dense[c as usize])
                .sum();
            let d = (norms[i] - 2.0 * dot + norms[last]).max(0.0);
            if d < *best {
                *best = d;
            }
        }
        for &c in cols {
            dense[c as usize] = 0.0;
        }
        let total: f64 = nearest.iter().sum();
        if total <= 1e-12 {
            break;
        }
        let mut target = rng.gen::<f64>() * total;
        let mut chosen = n - 1;
        for (i, &d) in nearest.iter().enumerate() {
            if d > 0.0 && target < d {
                chosen = i;
                break;
            }
            target -= d;
        }
        // Rounding can leave `target` past the end: take the last row that is not a seed.
        if nearest[chosen] <= 0.0 {
            chosen = (0..n).rev().find(|&i| nearest[i] > 0.0).unwrap_or(chosen);
        }
        seeds.push(chosen);
    }
    seeds
}

/// Assigns each row its nearest centroid (ties: lowest index); returns how
/// many labels changed.
fn assign(
    matrix: &FeatureMatrix,
    norms: &[f64],
    centroids: &Centroids,
    threads: usize,
    labels: &mut [u32],
    distances: &mut [f64],
) -> usize {
    let n = labels.len();
    let chunk = n.div_ceil(threads.max(1)).max(1);
    let assign_chunk = |start: usize, labels: &mut [u32], distances: &mut [f64]| {
        let mut scratch = vec![0.0; centroids.k];
        let mut changed = 0;
        for (offset, (label, distance)) in labels.iter_mut().zip(distances.iter_mut()).enumerate() {
            let i = start + offset;
            centroids.distances(matrix, i, norms[i], &mut scratch);
            let (best, best_d) =
                scratch
                    .iter()
                    .enumerate()
                    .fold(
                        (0, f64::INFINITY),
                        |acc, (c, &d)| if d < acc.1 { (c, d) } else { acc },
                    );
            if *label != best as u32 {
                *label = best as u32;
                changed += 1;
            }
            *distance = best_d;
        }
        changed
    };
    if threads <= 1 || n < 2_000 {
        return assign_chunk(0, labels, distances);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = labels
            .chunks_mut(chunk)
            .zip(distances.chunks_mut(chunk))
            .enumerate()
            .map(|(part, (l, d))| scope.spawn(move || assign_chunk(part * chunk, l, d)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("assignment thread panicked"))
            .sum()
    })
}

/// Centroids become the means of their rows. An empty cluster takes the row
/// farthest from its centroid, so k stays as asked.
fn update_centroids(
    matrix: &FeatureMatrix,
    centroids: &mut Centroids,
    labels: &mut [u32],
    distances: &mut [f64],
) {
    let k = centroids.k;
    let mut counts = vec![0usize; k];
    for &l in labels.iter() {
        counts[l as usize] += 1;
    }
    for c in 0..k {
        if counts[c] > 0 {
            continue;
        }
        let far = distances
            .iter()
            .enumerate()
            .filter(|(i, _)| counts[labels[*i] as usize] > 1)
            .fold(
                (usize::MAX, -1.0),
                |acc, (i, &d)| if d > acc.1 { (i, d) } else { acc },
            )
            .0;
        if far == usize::MAX {
            break;
        }
        counts[labels[far] as usize] -= 1;
        labels[far] = c as u32;
        distances[far] = 0.0;
        counts[c] = 1;
    }
    centroids.values.iter_mut().for_each(|v| *v = 0.0);
    for (i, &l) in labels.iter().enumerate() {
        let (cols, vals) = matrix.row(i);
        let inv = 1.0 / counts[l as usize] as f64;
        for (&t, &v) in cols.iter().zip(vals) {
            centroids.values[t as usize * k + l as usize] += v * inv;
        }
    }
    centroids.norms.iter_mut().for_each(|v| *v = 0.0);
    for chunk in centroids.values.chunks(k) {
        for (norm, v) in centroids.norms.iter_mut().zip(chunk) {
            *norm += v * v;
        }
    }
}

/// Renumbers clusters by size (largest first, ties by first row), dropping empty ones.
fn canonical_labels(result: KMeansResult) -> KMeansResult {
    let KMeansResult {
        labels,
        inertia,
        iterations,
        ..
    } = result;
    let max = labels.iter().copied().max().map_or(0, |m| m as usize + 1);
    let mut size = vec![0usize; max];
    let mut first = vec![usize::MAX; max];
    for (i, &l) in labels.iter().enumerate() {
        size[l as usize] += 1;
        first[l as usize] = first[l as usize].min(i);
    }
    let mut order: Vec<usize> = (0..max).filter(|&c| size[c] > 0).collect();
    order.sort_by_key(|&c| (std::cmp::Reverse(size[c]), first[c]));
    let mut new_id = vec![u32::MAX; max];
    for (rank, &c) in order.iter().enumerate() {
        new_id[c] = rank as u32;
    }
    KMeansResult {
        labels: labels.iter().map(|&l| new_id[l as usize]).collect(),
        k: order.len(),
        inertia,
        iterations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{FeatureConfig, JobDocument, WeightedSkill};
    use crate::stability::adjusted_rand_index;
    use crate::synthetic::{family_of, synthetic_jobs, FAMILIES};
    use jobenrich_domain::JobId;

    fn documents(groups: &[(&str, &[&str])], per_group: usize) -> Vec<JobDocument> {
        let mut docs = Vec::new();
        for (g, (title, skills)) in groups.iter().enumerate() {
            for j in 0..per_group {
                docs.push(JobDocument {
                    job_posting_id: JobId::parse(format!("{g}-{j}")).unwrap(),
                    title: title.to_string(),
                    skills: skills
                        .iter()
                        .enumerate()
                        // Vary confidences so rows within a group differ a little.
                        .map(|(s, name)| WeightedSkill {
                            name: name.to_string().into(),
                            confidence: 0.5 + 0.5 * (((j + s) % 5) as f64 / 5.0),
                        })
                        .collect(),
                    embedding: None,
                });
            }
        }
        docs
    }

    const SEPARABLE: &[(&str, &[&str])] = &[
        ("Backend Engineer", &["Rust", "PostgreSQL", "Docker"]),
        (
            "Registered Nurse",
            &["Patient care", "Triage", "Medication"],
        ),
        ("Accountant", &["Bookkeeping", "IFRS", "Excel"]),
    ];

    #[test]
    fn separable_groups_are_recovered_exactly() {
        let docs = documents(SEPARABLE, 30);
        let matrix = FeatureMatrix::build(&docs, &FeatureConfig::default());
        let result = kmeans(
            &matrix,
            &KMeansConfig {
                k: 3,
                ..KMeansConfig::default()
            },
        );
        assert_eq!(result.k, 3);
        for g in 0..3 {
            let group = &result.labels[g * 30..(g + 1) * 30];
            assert!(
                group.iter().all(|&l| l == group[0]),
                "group {g} split: {group:?}"
            );
        }
        let mut firsts: Vec<u32> = (0..3).map(|g| result.labels[g * 30]).collect();
        firsts.sort_unstable();
        assert_eq!(firsts, [0, 1, 2]);
    }

    #[test]
    fn equal_seeds_give_equal_labels_and_threads_do_not_matter() {
        let docs = synthetic_jobs(6_000, 7);
        let matrix = FeatureMatrix::build(&docs, &FeatureConfig::default());
        let config = KMeansConfig {
            k: 9,
            seed: 11,
            ..KMeansConfig::default()
        };
        let a = kmeans(&matrix, &config);
        let b = kmeans(&matrix, &config);
        let single = kmeans(
            &matrix,
            &KMeansConfig {
                threads: 1,
                ..config.clone()
            },
        );
        assert_eq!(a, b);
        assert_eq!(a.labels, single.labels);
        let other = kmeans(&matrix, &KMeansConfig { seed: 12, ..config });
        assert_eq!(other.labels.len(), a.labels.len());
    }

    #[test]
    fn synthetic_families_are_recovered_with_high_agreement() {
        let docs = synthetic_jobs(4_800, 21);
        let matrix = FeatureMatrix::build(&docs, &FeatureConfig::default());
        let result = kmeans(
            &matrix,
            &KMeansConfig {
                k: FAMILIES.len(),
                n_init: 3,
                ..KMeansConfig::default()
            },
        );
        let truth: Vec<u32> = (0..docs.len()).map(|i| family_of(i) as u32).collect();
        let ari = adjusted_rand_index(&truth, &result.labels);
        assert!(ari > 0.9, "ARI against the true families: {ari}");
    }

    #[test]
    fn k_above_distinct_rows_yields_fewer_clusters() {
        let docs = documents(&SEPARABLE[..2], 1);
        let docs: Vec<JobDocument> = docs.iter().cycle().take(6).cloned().collect();
        let matrix = FeatureMatrix::build(&docs, &FeatureConfig::default());
        let result = kmeans(
            &matrix,
            &KMeansConfig {
                k: 5,
                ..KMeansConfig::default()
            },
        );
        assert_eq!(result.k, 2);
        assert_eq!(result.labels, [0, 1, 0, 1, 0, 1]);
        assert!(result.inertia < 1e-9);
    }

    #[test]
    fn clusters_are_numbered_by_size() {
        let mut docs = documents(&SEPARABLE[..1], 5);
        docs.extend(documents(&SEPARABLE[1..2], 20));
        let matrix = FeatureMatrix::build(&docs, &FeatureConfig::default());
        let result = kmeans(
            &matrix,
            &KMeansConfig {
                k: 2,
                ..KMeansConfig::default()
            },
        );
        assert!(result.labels[..5].iter().all(|&l| l == 1));
        assert!(result.labels[5..].iter().all(|&l| l == 0));
    }
}
