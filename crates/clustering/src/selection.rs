//! Choosing k: run k-means for every k in a range and keep the k with the
//! highest mean silhouette on a fixed random sample of rows (exact
//! silhouette is O(n²); a sample of a few thousand rows ranks the
//! candidates the same way at a fraction of the cost). Ties go to the
//! smaller k.

use crate::features::FeatureMatrix;
use crate::kmeans::{kmeans, KMeansConfig, KMeansResult};
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::ops::RangeInclusive;

/// One k tried.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KCandidate {
    pub k: usize,
    pub silhouette: f64,
    pub inertia: f64,
}

/// The chosen clustering and every candidate's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KSelection {
    pub chosen: KMeansResult,
    /// Candidates' figures are on the rows they ran on (`selection_rows`).
    pub candidates: Vec<KCandidate>,
    /// Rows the silhouette was measured on.
    pub sample_size: usize,
    /// Rows every candidate k ran on (all rows, or a seeded sample of them).
    pub selection_rows: usize,
}

/// Tries every k in `range` (clamped to 2..=rows) with `base`'s other
/// settings. With more than `selection_rows` rows the candidates run on a
/// seeded sample of that many rows (a k-means per candidate on every row
/// was most of a 100,000-job run) and only the chosen k runs on all rows.
pub fn choose_k(
    matrix: &FeatureMatrix,
    range: RangeInclusive<usize>,
    base: &KMeansConfig,
    sample_size: usize,
    selection_rows: usize,
) -> KSelection {
    let n = matrix.rows();
    if n > selection_rows.max(2) {
        let mut rng = ChaCha8Rng::seed_from_u64(base.seed ^ 0x5E1E_C7ED);
        let mut rows = sample(&mut rng, n, selection_rows.max(2)).into_vec();
        rows.sort_unstable();
        let subset = matrix.select_rows(&rows);
        let on_subset = choose_k(&subset, range, base, sample_size, usize::MAX);
        let chosen = kmeans(
            matrix,
            &KMeansConfig {
                k: on_subset.chosen.k,
                ..base.clone()
            },
        );
        return KSelection {
            chosen,
            candidates: on_subset.candidates,
            sample_size: on_subset.sample_size,
            selection_rows: rows.len(),
        };
    }
    let low = (*range.start()).max(2);
    let high = (*range.end()).min(n);
    let mut rng = ChaCha8Rng::seed_from_u64(base.seed ^ 0x5EED_5A3B);
    let mut rows = sample(&mut rng, n, sample_size.min(n)).into_vec();
    rows.sort_unstable();
    let distances = pairwise_distances(matrix, &rows);

    let mut best: Option<(f64, KMeansResult)> = None;
    let mut candidates = Vec::new();
    for k in low..=high {
        let result = kmeans(matrix, &KMeansConfig { k, ..base.clone() });
        let sampled: Vec<u32> = rows.iter().map(|&i| result.labels[i]).collect();
        let s = silhouette(&distances, &sampled);
        candidates.push(KCandidate {
            k: result.k,
            silhouette: s,
            inertia: result.inertia,
        });
        if best.as_ref().is_none_or(|(b, _)| s > *b) {
            best = Some((s, result));
        }
    }
    let chosen = match best {
        Some((_, result)) => result,
        // Fewer than two rows: nothing to choose between.
        None => kmeans(
            matrix,
            &KMeansConfig {
                k: n.max(1),
                ..base.clone()
            },
        ),
    };
    KSelection {
        chosen,
        candidates,
        sample_size: rows.len(),
        selection_rows: n,
    }
}

/// Mean silhouette of `labels` over the rows of `matrix`, on the same
/// seeded sample of at most `sample_size` rows as [`choose_k`] draws (all
/// rows when there are fewer): scores one partition in any feature space,
/// e.g. a v2.0 run's labels in the TF-IDF space or a v1.0 run's in the
/// embedding space.
pub fn sampled_silhouette(
    matrix: &FeatureMatrix,
    labels: &[u32],
    sample_size: usize,
    seed: u64,
) -> f64 {
    let n = matrix.rows().min(labels.len());
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_5A3B);
    let mut rows = sample(&mut rng, n, sample_size.min(n)).into_vec();
    rows.sort_unstable();
    let distances = pairwise_distances(matrix, &rows);
    let sampled: Vec<u32> = rows.iter().map(|&i| labels[i]).collect();
    silhouette(&distances, &sampled)
}

/// Euclidean distances between the sampled rows, row-major `m × m`.
fn pairwise_distances(matrix: &FeatureMatrix, rows: &[usize]) -> Vec<f64> {
    let m = rows.len();
    let norms: Vec<f64> = rows.iter().map(|&i| matrix.row_norm_squared(i)).collect();
    let mut dense = vec![0.0; matrix.columns()];
    let mut out = vec![0.0; m * m];
    for a in 0..m {
        let (cols, vals) = matrix.row(rows[a]);
        for (&c, &v) in cols.iter().zip(vals) {
            dense[c as usize] = v;
        }
        for b in (a + 1)..m {
            let (bc, bv) = matrix.row(rows[b]);
            let dot: f64 = bc
                .iter()
                .zip(bv)
                .map(|(&c, &v)| v * dense[c as usize])
                .sum();
            let d = (norms[a] + norms[b] - 2.0 * dot).max(0.0).sqrt();
            out[a * m + b] = d;
            out[b * m + a] = d;
        }
        for &c in cols {
            dense[c as usize] = 0.0;
        }
    }
    out
}

/// Mean silhouette `(b - a) / max(a, b)` over rows; a row alone in its
/// cluster scores 0 (the usual convention). 0 when there is one cluster.
pub fn silhouette(distances: &[f64], labels: &[u32]) -> f64 {
    let m = labels.len();
    let k = labels.iter().copied().max().map_or(0, |x| x as usize + 1);
    if m < 2 || k < 2 {
        return 0.0;
    }
    let mut sizes = vec![0usize; k];
    for &l in labels {
        sizes[l as usize] += 1;
    }
    let mut sums = vec![0.0; k];
    let mut total = 0.0;
    for i in 0..m {
        sums.iter_mut().for_each(|s| *s = 0.0);
        for j in 0..m {
            sums[labels[j] as usize] += distances[i * m + j];
        }
        let own = labels[i] as usize;
        if sizes[own] < 2 {
            continue;
        }
        let a = sums[own] / (sizes[own] - 1) as f64;
        let b = (0..k)
            .filter(|&c| c != own && sizes[c] > 0)
            .map(|c| sums[c] / sizes[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() && a.max(b) > 0.0 {
            total += (b - a) / a.max(b);
        }
    }
    total / m as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::FeatureConfig;
    use crate::synthetic::{synthetic_jobs, FAMILIES};

    #[test]
    fn silhouette_of_hand_made_distances() {
        // Points 0,1 at distance 1; points 2,3 at distance 1; across: 4.
        #[rustfmt::skip]
        let d = [
            0.0, 1.0, 4.0, 4.0,
            1.0, 0.0, 4.0, 4.0,
            4.0, 4.0, 0.0, 1.0,
            4.0, 4.0, 1.0, 0.0,
        ];
        // a = 1, b = 4 for every point: s = 3/4.
        assert!((silhouette(&d, &[0, 0, 1, 1]) - 0.75).abs() < 1e-12);
        // Mixed clusters: a = (1+4)/... each point: a = 4 (its partner across), b = (1+4)/2.
        let mixed = silhouette(&d, &[0, 1, 0, 1]);
        assert!((mixed - (2.5 - 4.0) / 4.0).abs() < 1e-12, "{mixed}");
        assert_eq!(silhouette(&d, &[0, 0, 0, 0]), 0.0);
    }

    #[test]
    fn silhouette_prefers_the_true_number_of_families() {
        let docs = synthetic_jobs(3_000, 3);
        let matrix = FeatureMatrix::build(&docs, &FeatureConfig::default());
        let families = FAMILIES.len();
        let selection = choose_k(
            &matrix,
            (families - 6)..=(families + 3),
            &KMeansConfig {
                n_init: 3,
                ..KMeansConfig::default()
            },
            800,
            usize::MAX,
        );
        assert_eq!(selection.candidates.len(), 10);
        assert_eq!(selection.sample_size, 800);
        let best = selection
            .candidates
            .iter()
            .max_by(|a, b| a.silhouette.total_cmp(&b.silhouette))
            .unwrap();
        assert_eq!(best.k, selection.chosen.k);
        assert!(
            (families - 1..=families + 1).contains(&selection.chosen.k),
            "chose k = {} from {:?}",
            selection.chosen.k,
            selection.candidates
        );
    }

    #[test]
    fn sampled_silhouette_scores_the_chosen_partition_again() {
        let docs = synthetic_jobs(300, 3);
        let matrix = FeatureMatrix::build(&docs, &FeatureConfig::default());
        let base = KMeansConfig::default();
        let selection = choose_k(&matrix, 3..=5, &base, 2_000, 20_000);
        let chosen = selection
            .candidates
            .iter()
            .find(|c| c.k == selection.chosen.k)
            .unwrap();
        let again = sampled_silhouette(&matrix, &selection.chosen.labels, 2_000, base.seed);
        assert!(
            (again - chosen.silhouette).abs() < 1e-12,
            "{again} vs {chosen:?}"
        );
    }

    #[test]
    fn with_more_rows_than_the_selection_the_candidates_run_on_a_sample() {
        let docs = synthetic_jobs(3_000, 3);
        let matrix = FeatureMatrix::build(&docs, &FeatureConfig::default());
        let families = FAMILIES.len();
        let base = KMeansConfig {
            n_init: 3,
            ..KMeansConfig::default()
        };
        let range = (families - 6)..=(families + 3);
        let selection = choose_k(&matrix, range.clone(), &base, 800, 1_000);
        assert_eq!(selection.selection_rows, 1_000);
        assert_eq!(selection.candidates.len(), 10);
        assert_eq!(selection.sample_size, 800);
        assert_eq!(
            selection.chosen.labels.len(),
            3_000,
            "the chosen k labels every row"
        );
        let best = selection
            .candidates
            .iter()
            .max_by(|a, b| a.silhouette.total_cmp(&b.silhouette))
            .unwrap();
        assert_eq!(best.k, selection.chosen.k);
        assert!(
            (families - 1..=families + 1).contains(&selection.chosen.k),
            "chose k = {} from {:?}",
            selection.chosen.k,
            selection.candidates
        );
        // The same seed gives the same sample, so the same choice.
        assert_eq!(choose_k(&matrix, range, &base, 800, 1_000), selection);
    }
}
