//! Principal component analysis of the token vectors: the eigenvectors of
//! their covariance with the largest eigenvalues (nalgebra's symmetric
//! eigendecomposition; the covariance is only dim x dim, 384 x 384 for
//! MiniLM, so the exact decomposition is cheap).

use nalgebra::{DMatrix, SymmetricEigen};

/// A fitted projection onto the top principal components.
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    /// Input length.
    pub dim: usize,
    /// The mean subtracted before projecting.
    pub mean: Vec<f32>,
    /// `k` unit components of length `dim`, largest variance first.
    pub components: Vec<Vec<f32>>,
    /// The variance along each kept component.
    pub variances: Vec<f64>,
    /// Share of the total variance the kept components explain.
    pub explained: f64,
}

impl Pca {
    /// Fits `k` components to `rows` (each of length `dim`).
    pub fn fit(rows: &[Vec<f32>], dim: usize, k: usize) -> Result<Pca, String> {
        if rows.len() < 2 {
            return Err(format!("PCA needs at least 2 vectors, got {}", rows.len()));
        }
        if k == 0 || k > dim {
            return Err(format!("--dims must be from 1 to {dim}, got {k}"));
        }
        if let Some(bad) = rows.iter().position(|r| r.len() != dim) {
            return Err(format!(
                "vector {bad} has {} values, not {dim}",
                rows[bad].len()
            ));
        }
        let n = rows.len() as f64;
        let mut mean = vec![0f64; dim];
        for r in rows {
            mean.iter_mut()
                .zip(r)
                .for_each(|(m, x)| *m += *x as f64 / n);
        }
        let mut cov = DMatrix::<f64>::zeros(dim, dim);
        let mut centred = vec![0f64; dim];
        for r in rows {
            centred
                .iter_mut()
                .zip(r.iter().zip(&mean))
                .for_each(|(c, (x, m))| *c = *x as f64 - m);
            for i in 0..dim {
                let ci = centred[i];
                for j in i..dim {
                    cov[(i, j)] += ci * centred[j];
                }
            }
        }
        for i in 0..dim {
            for j in i..dim {
                let v = cov[(i, j)] / (n - 1.0);
                cov[(i, j)] = v;
                cov[(j, i)] = v;
            }
        }
        let eig = SymmetricEigen::new(cov);
        let mut order: Vec<usize> = (0..dim).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let total: f64 = eig.eigenvalues.iter().map(|v| v.max(0.0)).sum();
        let components: Vec<Vec<f32>> = order[..k]
            .iter()
            .map(|&c| {
                let col = eig.eigenvectors.column(c);
                // An eigenvector's sign is arbitrary: make the largest
                // entry positive so the same input always gives the same file.
                let big = col
                    .iter()
                    .copied()
                    .fold(0f64, |a, x| if x.abs() > a.abs() { x } else { a });
                let sign = if big < 0.0 { -1.0 } else { 1.0 };
                col.iter().map(|x| (x * sign) as f32).collect()
            })
            .collect();
        let variances: Vec<f64> = order[..k].iter().map(|&c| eig.eigenvalues[c]).collect();
        let explained = if total > 0.0 {
            variances.iter().map(|v| v.max(0.0)).sum::<f64>() / total
        } else {
            0.0
        };
        Ok(Pca {
            dim,
            mean: mean.into_iter().map(|m| m as f32).collect(),
            components,
            variances,
            explained,
        })
    }

    /// `x`'s coordinates on the kept components.
    pub fn project(&self, x: &[f32]) -> Vec<f32> {
        self.components
            .iter()
            .map(|c| {
                c.iter()
                    .zip(x.iter().zip(&self.mean))
                    .map(|(w, (v, m))| w * (v - m))
                    .sum()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points spread 10 along (1, 1, 0, 0)/√2, 3 along e3 and 0.1 along e4.
    fn points() -> Vec<Vec<f32>> {
        let h = std::f32::consts::FRAC_1_SQRT_2;
        (0..40)
            .map(|i| {
                let t = i as f32;
                let (a, b, c) = (
                    (t * 0.7).sin() * 10.0,
                    (t * 1.3).cos() * 3.0,
                    (t * 2.9).sin() * 0.1,
                );
                vec![a * h + 1.0, a * h + 1.0, b, c]
            })
            .collect()
    }

    #[test]
    fn the_components_are_the_highest_variance_directions_in_order() {
        let pca = Pca::fit(&points(), 4, 2).unwrap();
        let h = std::f32::consts::FRAC_1_SQRT_2;
        // 40 samples of sin and cos are not exactly uncorrelated: a slight tilt.
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 0.02);
        assert!(
            close(&pca.components[0], &[h, h, 0.0, 0.0]),
            "{:?}",
            pca.components[0]
        );
        assert!(
            close(&pca.components[1], &[0.0, 0.0, 1.0, 0.0]),
            "{:?}",
            pca.components[1]
        );
        assert!(pca.variances[0] > pca.variances[1]);
        assert!(
            pca.explained > 0.99 && pca.explained <= 1.0,
            "{}",
            pca.explained
        );
        // The mean maps to the origin.
        assert!(pca.project(&pca.mean).iter().all(|x| x.abs() < 1e-5));
    }

    #[test]
    fn bad_requests_are_refused() {
        assert!(Pca::fit(&points(), 4, 5).unwrap_err().contains("--dims"));
        assert!(Pca::fit(&points()[..1], 4, 2).is_err());
        assert!(Pca::fit(&[vec![1.0], vec![2.0, 3.0]], 1, 1)
            .unwrap_err()
            .contains("vector 1"));
    }
}
