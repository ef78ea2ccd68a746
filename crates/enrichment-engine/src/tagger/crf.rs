//! Training of a linear-chain CRF over the perceptron's features: the
//! conditional log-likelihood with an L2 penalty, by stochastic gradient
//! descent with a decaying rate (Bottou's `crfsgd`, CRFsuite's `l2sgd`):
//! the weights are `scale * v`, so the penalty is one multiplication of
//! `scale` per sequence and a step touches only the sequence's rows.
//! Written here because the crates that train CRFs (`crfs`, `rucrf`) key
//! features by strings, while the tagger's features are already hashed rows.

// Small fixed-size tag loops index several arrays by the same tag.
#![allow(clippy::needless_range_loop)]

use super::features::FEATURES;
use super::train::{Sequence, SplitMix};
use super::{allowed, can_end, TAGS};

/// The CRF's settings (CRFsuite's names: `c2` is the L2 coefficient).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrfConfig {
    pub c2: f64,
    /// The first step's learning rate.
    pub eta0: f64,
}

impl Default for CrfConfig {
    fn default() -> Self {
        CrfConfig { c2: 1.0, eta0: 0.1 }
    }
}

/// Node and edge marginals of one sequence under `em` and `etr`
/// (exp of the scores), by scaled forward-backward.
struct Marginals {
    node: Vec<[f64; TAGS]>,
    /// `edge[i][p][t]`: P(tag i-1 = p, tag i = t); row `TAGS` at i = 0 is the start.
    edge: Vec<[[f64; TAGS]; TAGS + 1]>,
    /// log Z minus the gold path's score.
    loss: f64,
}

fn forward_backward(
    em: &[[f64; TAGS]],
    tr: &[[f64; TAGS]; TAGS + 1],
    legal: &[[bool; TAGS]; TAGS + 1],
    gold: &[usize],
) -> Marginals {
    let n = em.len();
    // exp(emission - max) per token; the maxima go into log Z.
    let mut eem = vec![[0f64; TAGS]; n];
    let mut log_z = 0.0;
    for i in 0..n {
        let max = em[i].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        log_z += max;
        for t in 0..TAGS {
            eem[i][t] = (em[i][t] - max).exp();
        }
    }
    let mut etr = [[0f64; TAGS]; TAGS + 1];
    for p in 0..=TAGS {
        for t in 0..TAGS {
            if legal[p][t] {
                etr[p][t] = tr[p][t].exp();
            }
        }
    }
    let mut alpha = vec![[0f64; TAGS]; n];
    let mut norm = vec![0f64; n];
    for i in 0..n {
        for t in 0..TAGS {
            alpha[i][t] = if i == 0 {
                etr[TAGS][t] * eem[0][t]
            } else {
                (0..TAGS).map(|p| alpha[i - 1][p] * etr[p][t]).sum::<f64>() * eem[i][t]
            };
        }
        let s: f64 = alpha[i].iter().sum();
        norm[i] = s;
        alpha[i].iter_mut().for_each(|a| *a /= s);
    }
    let mut beta = vec![[0f64; TAGS]; n];
    for t in 0..TAGS {
        beta[n - 1][t] = if can_end(t) { 1.0 } else { 0.0 };
    }
    for i in (0..n - 1).rev() {
        for p in 0..TAGS {
            beta[i][p] = (0..TAGS)
                .map(|t| etr[p][t] * eem[i + 1][t] * beta[i + 1][t])
                .sum::<f64>()
                / norm[i + 1];
        }
    }
    // Z = prod(norm) * sum(alpha[n-1] * beta[n-1]) (times the maxima).
    let tail: f64 = (0..TAGS).map(|t| alpha[n - 1][t] * beta[n - 1][t]).sum();
    log_z += norm.iter().map(|s| s.ln()).sum::<f64>() + tail.ln();
    let mut node = vec![[0f64; TAGS]; n];
    let mut edge = vec![[[0f64; TAGS]; TAGS + 1]; n];
    for i in 0..n {
        for t in 0..TAGS {
            node[i][t] = alpha[i][t] * beta[i][t] / tail;
        }
        if i == 0 {
            for t in 0..TAGS {
                edge[0][TAGS][t] = node[0][t];
            }
        } else {
            for p in 0..TAGS {
                for t in 0..TAGS {
                    edge[i][p][t] =
                        alpha[i - 1][p] * etr[p][t] * eem[i][t] * beta[i][t] / norm[i] / tail;
                }
            }
        }
    }
    let mut gold_score = 0.0;
    for i in 0..n {
        let p = if i == 0 { TAGS } else { gold[i - 1] };
        gold_score += em[i][gold[i]] + tr[p][gold[i]];
    }
    Marginals {
        node,
        edge,
        loss: log_z - gold_score,
    }
}

/// Trains weights (`rows * TAGS`, row-major) and transitions; returns them
/// with the mean loss per sequence of each epoch.
pub(crate) fn train_crf(
    sequences: &[Sequence],
    rows: usize,
    epochs: u32,
    seed: u64,
    crf: CrfConfig,
) -> (Vec<f32>, [[f32; TAGS]; TAGS + 1], Vec<f64>) {
    let mut legal = [[false; TAGS]; TAGS + 1];
    for p in 0..=TAGS {
        for t in 0..TAGS {
            legal[p][t] = allowed((p < TAGS).then_some(p), t);
        }
    }
    let n = sequences.len().max(1) as f64;
    let lambda = 2.0 * crf.c2 / n;
    let t0 = 1.0 / (lambda * crf.eta0);
    let mut v = vec![0f64; rows * TAGS];
    let mut vt = [[0f64; TAGS]; TAGS + 1];
    let mut scale = 1.0f64;
    let mut step = 0f64;
    let mut rng = SplitMix(seed);
    let mut order: Vec<usize> = (0..sequences.len()).collect();
    let mut losses = Vec::new();
    let mut em: Vec<[f64; TAGS]> = Vec::new();
    for _ in 0..epochs {
        for i in (1..order.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let mut loss = 0.0;
        for &s in &order {
            let seq = &sequences[s];
            if seq.gold.is_empty() {
                continue;
            }
            let eta = 1.0 / (lambda * (t0 + step));
            step += 1.0;
            em.clear();
            for tf in seq.feats.chunks_exact(FEATURES) {
                let mut e = [0f64; TAGS];
                for &r in tf {
                    let base = r as usize * TAGS;
                    for t in 0..TAGS {
                        e[t] += v[base + t];
                    }
                }
                e.iter_mut().for_each(|x| *x *= scale);
                em.push(e);
            }
            let mut tr = [[0f64; TAGS]; TAGS + 1];
            for p in 0..=TAGS {
                for t in 0..TAGS {
                    tr[p][t] = vt[p][t] * scale;
                }
            }
            let m = forward_backward(&em, &tr, &legal, &seq.gold);
            loss += m.loss;
            // The penalty's shrink first, then the likelihood's step in
            // `v`'s units (divided by the new scale).
            scale *= 1.0 - eta * lambda;
            let gain = eta / scale;
            for (i, tf) in seq.feats.chunks_exact(FEATURES).enumerate() {
                let mut g = [0f64; TAGS];
                for t in 0..TAGS {
                    g[t] = -m.node[i][t];
                }
                g[seq.gold[i]] += 1.0;
                for &r in tf {
                    let base = r as usize * TAGS;
                    for t in 0..TAGS {
                        v[base + t] += gain * g[t];
                    }
                }
                let gp = if i == 0 { TAGS } else { seq.gold[i - 1] };
                vt[gp][seq.gold[i]] += gain;
                let preds = if i == 0 { TAGS..TAGS + 1 } else { 0..TAGS };
                for p in preds {
                    for t in 0..TAGS {
                        vt[p][t] -= gain * m.edge[i][p][t];
                    }
                }
            }
            // Fold the scale back in before it underflows.
            if scale < 1e-9 {
                v.iter_mut().for_each(|x| *x *= scale);
                vt.iter_mut().flatten().for_each(|x| *x *= scale);
                scale = 1.0;
            }
        }
        losses.push(loss / n);
    }
    let weights = v.iter().map(|x| (x * scale) as f32).collect();
    let mut transitions = [[0f32; TAGS]; TAGS + 1];
    for p in 0..=TAGS {
        for t in 0..TAGS {
            transitions[p][t] = (vt[p][t] * scale) as f32;
        }
    }
    (weights, transitions, losses)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force over every legal path of a short sequence.
    fn brute(em: &[[f64; TAGS]], tr: &[[f64; TAGS]; TAGS + 1]) -> (f64, Vec<[f64; TAGS]>) {
        let n = em.len();
        let mut z = 0.0;
        let mut node = vec![[0f64; TAGS]; n];
        let total = TAGS.pow(n as u32);
        for code in 0..total {
            let path: Vec<usize> = (0..n).map(|i| code / TAGS.pow(i as u32) % TAGS).collect();
            let ok = (0..n)
                .all(|i| allowed(if i == 0 { None } else { Some(path[i - 1]) }, path[i]))
                && can_end(path[n - 1]);
            if !ok {
                continue;
            }
            let score: f64 = (0..n)
                .map(|i| em[i][path[i]] + tr[if i == 0 { TAGS } else { path[i - 1] }][path[i]])
                .sum();
            let w = score.exp();
            z += w;
            for i in 0..n {
                node[i][path[i]] += w;
            }
        }
        node.iter_mut().flatten().for_each(|x| *x /= z);
        (z.ln(), node)
    }

    #[test]
    fn forward_backward_matches_brute_force() {
        let mut rng = SplitMix(7);
        let mut unit = || (rng.next() % 2000) as f64 / 1000.0 - 1.0;
        let em: Vec<[f64; TAGS]> = (0..4)
            .map(|_| std::array::from_fn(|_| 3.0 * unit()))
            .collect();
        let tr: [[f64; TAGS]; TAGS + 1] = std::array::from_fn(|_| std::array::from_fn(|_| unit()));
        let mut legal = [[false; TAGS]; TAGS + 1];
        for p in 0..=TAGS {
            for t in 0..TAGS {
                legal[p][t] = allowed((p < TAGS).then_some(p), t);
            }
        }
        let gold = [1, 2, 3, 0];
        let m = forward_backward(&em, &tr, &legal, &gold);
        let (log_z, node) = brute(&em, &tr);
        let gold_score = em[0][1]
            + tr[TAGS][1]
            + em[1][2]
            + tr[1][2]
            + em[2][3]
            + tr[2][3]
            + em[3][0]
            + tr[3][0];
        assert!(
            (m.loss - (log_z - gold_score)).abs() < 1e-9,
            "{} vs {}",
            m.loss,
            log_z - gold_score
        );
        for i in 0..4 {
            for t in 0..TAGS {
                assert!((m.node[i][t] - node[i][t]).abs() < 1e-9);
            }
            if i > 0 {
                let from_edges: f64 = (0..TAGS).map(|p| m.edge[i][p][2]).sum();
                assert!((from_edges - m.node[i][2]).abs() < 1e-9);
            }
        }
    }
}
