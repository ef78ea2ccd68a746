//! Fitting the token table to the transformer's vectors of whole phrases
//! (the idea of model2vec's "tokenlearn"): a token embedded alone says
//! little of what it means inside a phrase ("management" alone vs in
//! "project management"), so each row is moved to make the static encoder's
//! weighted mean of a phrase's pieces match the transformer's vector of that
//! phrase, projected by the same PCA, while staying close to its distilled
//! value:
//!
//! minimise Σ_x ‖Σ_p a_xp r_p − y_x‖² + λ Σ_t ‖r_t − r0_t‖²,
//!
//! a_xp = w_p / Σ_q w_q over x's weighted pieces. A ridge regression of one
//! sparse design matrix and `dim` right-hand sides, solved by conjugate
//! gradients on its normal equations (AᵀA + λI) R = AᵀY + λR0, all columns
//! at once. Written here because no maintained crate solves a sparse,
//! multi-right-hand-side least squares in f32 rows of our layout; nalgebra's
//! dense solvers would need the 30k × 30k normal matrix. A token in no
//! phrase keeps its distilled row exactly.

/// One training phrase: its word-piece ids (repeats counted) and the
/// transformer's vector of it in the table's space.
#[derive(Debug, Clone)]
pub struct FitExample {
    pub ids: Vec<u32>,
    pub target: Vec<f32>,
}

/// How a fit went.
#[derive(Debug, Clone, PartialEq)]
pub struct FitReport {
    pub examples: usize,
    pub tokens_moved: usize,
    pub iterations: usize,
    /// ‖residual‖ / ‖initial residual‖ of the normal equations at the end.
    pub relative_residual: f64,
    /// Mean squared error of the phrases before and after.
    pub mse_before: f64,
    pub mse_after: f64,
}

/// The sparse design matrix: per example, (token, coefficient).
struct Design {
    rows: Vec<Vec<(usize, f32)>>,
    dim: usize,
    vocab: usize,
}

impl Design {
    fn new(weights: &[f32], examples: &[&FitExample], dim: usize) -> Design {
        let rows = examples
            .iter()
            .map(|e| {
                let mut row: Vec<(usize, f32)> = Vec::new();
                for &id in &e.ids {
                    let id = id as usize;
                    match weights.get(id) {
                        Some(&w) if w > 0.0 => match row.iter_mut().find(|(t, _)| *t == id) {
                            Some(entry) => entry.1 += w,
                            None => row.push((id, w)),
                        },
                        _ => {}
                    }
                }
                let total: f32 = row.iter().map(|(_, w)| w).sum();
                row.iter_mut().for_each(|(_, w)| *w /= total);
                row
            })
            .collect();
        Design {
            rows,
            dim,
            vocab: weights.len(),
        }
    }

    /// A · R (examples × dim).
    fn apply(&self, r: &[f32]) -> Vec<f32> {
        let d = self.dim;
        let mut out = vec![0f32; self.rows.len() * d];
        for (row, o) in self.rows.iter().zip(out.chunks_exact_mut(d)) {
            for &(t, a) in row {
                o.iter_mut()
                    .zip(&r[t * d..(t + 1) * d])
                    .for_each(|(o, x)| *o += a * x);
            }
        }
        out
    }

    /// Aᵀ · E (vocab × dim).
    fn apply_t(&self, e: &[f32]) -> Vec<f32> {
        let d = self.dim;
        let mut out = vec![0f32; self.vocab * d];
        for (row, e) in self.rows.iter().zip(e.chunks_exact(d)) {
            for &(t, a) in row {
                out[t * d..(t + 1) * d]
                    .iter_mut()
                    .zip(e)
                    .for_each(|(o, x)| *o += a * x);
            }
        }
        out
    }

    /// (AᵀA + λI) · P.
    fn normal(&self, p: &[f32], lambda: f32) -> Vec<f32> {
        let mut out = self.apply_t(&self.apply(p));
        out.iter_mut().zip(p).for_each(|(o, x)| *o += lambda * x);
        out
    }
}

/// Per column (dimension) dot products of two vocab × dim matrices, in f64.
fn column_dots(a: &[f32], b: &[f32], dim: usize) -> Vec<f64> {
    let mut out = vec![0f64; dim];
    for (ra, rb) in a.chunks_exact(dim).zip(b.chunks_exact(dim)) {
        for k in 0..dim {
            out[k] += f64::from(ra[k]) * f64::from(rb[k]);
        }
    }
    out
}

fn mse(design: &Design, rows: &[f32], examples: &[&FitExample]) -> f64 {
    let fitted = design.apply(rows);
    let d = design.dim;
    let n = examples.len().max(1) as f64;
    examples
        .iter()
        .zip(fitted.chunks_exact(d))
        .map(|(e, f)| {
            e.target
                .iter()
                .zip(f)
                .map(|(y, x)| f64::from(y - x).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / n
}

/// The fitted rows (vocab × dim, unweighted like `rows0`), starting from
/// and regularised towards `rows0`. `weights` are the table's (0 = token
/// unused). Stops after `max_iterations` or when every column's residual
/// fell by `tolerance`.
pub fn fit_rows(
    rows0: &[f32],
    weights: &[f32],
    dim: usize,
    examples: &[FitExample],
    lambda: f32,
    max_iterations: usize,
    tolerance: f64,
) -> Result<(Vec<f32>, FitReport), String> {
    if dim == 0 || rows0.len() != weights.len() * dim {
        return Err(format!(
            "{} values for {} tokens of {dim} dimensions",
            rows0.len(),
            weights.len()
        ));
    }
    if !(lambda > 0.0 && lambda.is_finite()) {
        return Err(format!("lambda must be a positive number, not {lambda}"));
    }
    if let Some(e) = examples.iter().find(|e| e.target.len() != dim) {
        return Err(format!(
            "a target of {} values, expected {dim}",
            e.target.len()
        ));
    }
    // Phrases with no weighted piece say nothing about any row.
    let examples: Vec<&FitExample> = examples
        .iter()
        .filter(|e| {
            e.ids
                .iter()
                .any(|&id| weights.get(id as usize).is_some_and(|w| *w > 0.0))
        })
        .collect();
    let design = Design::new(weights, &examples, dim);
    let mse_before = mse(&design, rows0, &examples);
    let targets: Vec<f32> = examples
        .iter()
        .flat_map(|e| e.target.iter().copied())
        .collect();
    // Start at R0: the residual of the normal equations is Aᵀ(Y − A R0).
    let mut x = rows0.to_vec();
    let fitted = design.apply(&x);
    let gap: Vec<f32> = targets.iter().zip(&fitted).map(|(y, f)| y - f).collect();
    let mut r = design.apply_t(&gap);
    let mut p = r.clone();
    let mut rr = column_dots(&r, &r, dim);
    let first: Vec<f64> = rr.iter().map(|v| v.sqrt()).collect();
    let mut iterations = 0;
    let relative = |rr: &[f64]| {
        rr.iter()
            .zip(&first)
            .map(|(v, f)| if *f > 0.0 { v.sqrt() / f } else { 0.0 })
            .fold(0f64, f64::max)
    };
    while iterations < max_iterations && relative(&rr) > tolerance {
        let ap = design.normal(&p, lambda);
        let pap = column_dots(&p, &ap, dim);
        let alpha: Vec<f32> = rr
            .iter()
            .zip(&pap)
            .map(|(r, q)| if *q > 0.0 { (r / q) as f32 } else { 0.0 })
            .collect();
        for ((xr, pr), (rr_, apr)) in x
            .chunks_exact_mut(dim)
            .zip(p.chunks_exact(dim))
            .zip(r.chunks_exact_mut(dim).zip(ap.chunks_exact(dim)))
        {
            for k in 0..dim {
                xr[k] += alpha[k] * pr[k];
                rr_[k] -= alpha[k] * apr[k];
            }
        }
        let next = column_dots(&r, &r, dim);
        let beta: Vec<f32> = next
            .iter()
            .zip(&rr)
            .map(|(n, o)| if *o > 0.0 { (n / o) as f32 } else { 0.0 })
            .collect();
        for (pr, rr_) in p.chunks_exact_mut(dim).zip(r.chunks_exact(dim)) {
            for k in 0..dim {
                pr[k] = rr_[k] + beta[k] * pr[k];
            }
        }
        rr = next;
        iterations += 1;
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err("the fit diverged (a non-finite value)".into());
    }
    let tokens_moved = x
        .chunks_exact(dim)
        .zip(rows0.chunks_exact(dim))
        .filter(|(a, b)| a != b)
        .count();
    let report = FitReport {
        examples: examples.len(),
        tokens_moved,
        iterations,
        relative_residual: relative(&rr),
        mse_before,
        mse_after: mse(&design, &x, &examples),
    };
    Ok((x, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three tokens of 2 dims; token 2 unused (weight 0), token 3 in no phrase.
    fn setup() -> (Vec<f32>, Vec<f32>, Vec<FitExample>) {
        let rows0 = vec![1.0, 0.0, 0.0, 1.0, 5.0, 5.0, 0.5, 0.5];
        let weights = vec![1.0, 3.0, 0.0, 1.0];
        let truth = [[0.2f32, 0.8], [-0.4, 0.6]];
        let target = |ids: &[u32]| -> Vec<f32> {
            let used: Vec<u32> = ids.iter().copied().filter(|&i| i < 2).collect();
            let total: f32 = used.iter().map(|&i| weights[i as usize]).sum();
            (0..2)
                .map(|k| {
                    used.iter()
                        .map(|&i| weights[i as usize] * truth[i as usize][k])
                        .sum::<f32>()
                        / total
                })
                .collect()
        };
        let examples = [vec![0], vec![1], vec![0, 1], vec![0, 1, 2], vec![1, 1, 0]]
            .into_iter()
            .map(|ids| FitExample {
                target: target(&ids),
                ids,
            })
            .collect();
        (rows0, weights, examples)
    }

    #[test]
    fn a_small_lambda_recovers_the_rows_that_explain_the_phrases() {
        let (rows0, weights, examples) = setup();
        let (rows, report) = fit_rows(&rows0, &weights, 2, &examples, 1e-4, 200, 1e-9).unwrap();
        for (got, want) in rows[..4].iter().zip([0.2, 0.8, -0.4, 0.6]) {
            assert!((got - want).abs() < 1e-2, "{rows:?}");
        }
        assert!(report.mse_after < report.mse_before / 100.0, "{report:?}");
        assert_eq!(report.examples, 5);
    }

    #[test]
    fn tokens_outside_every_phrase_or_unused_keep_their_rows() {
        let (rows0, weights, examples) = setup();
        let (rows, report) = fit_rows(&rows0, &weights, 2, &examples, 1e-4, 200, 1e-9).unwrap();
        assert_eq!(&rows[4..], &rows0[4..]);
        assert_eq!(report.tokens_moved, 2);
    }

    #[test]
    fn a_large_lambda_keeps_the_distilled_rows() {
        let (rows0, weights, examples) = setup();
        let (rows, _) = fit_rows(&rows0, &weights, 2, &examples, 1e6, 200, 1e-9).unwrap();
        for (got, want) in rows.iter().zip(&rows0) {
            assert!((got - want).abs() < 1e-4, "{rows:?}");
        }
    }

    #[test]
    fn bad_shapes_and_lambdas_are_refused() {
        let (rows0, weights, examples) = setup();
        assert!(fit_rows(&rows0[1..], &weights, 2, &examples, 1.0, 10, 1e-6).is_err());
        assert!(fit_rows(&rows0, &weights, 2, &examples, 0.0, 10, 1e-6).is_err());
        assert!(fit_rows(&rows0, &weights, 2, &examples, f32::NAN, 10, 1e-6).is_err());
        let mut wrong = examples.clone();
        wrong[0].target.push(1.0);
        assert!(fit_rows(&rows0, &weights, 2, &wrong, 1.0, 10, 1e-6).is_err());
    }
}
