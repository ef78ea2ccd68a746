//! Span decoding by posterior probability: every span whose probability
//! under the model (all paths tagging exactly that span, B I* L or a lone
//! B) reaches a threshold, best first, overlaps dropped. Viterbi's single
//! path keeps a span only when it wins outright; an exact-boundary F1 is
//! best served by keeping spans down to about half the attainable F1
//! (Lipton et al. 2014, "Thresholding classifiers to maximize F1").

// Small fixed-size tag loops index several arrays by the same tag.
#![allow(clippy::needless_range_loop)]

use super::{
    can_end, is_inside, role, tag_label, SpanLabel, B, I, L, PREDECESSORS, SUCCESSORS, TAGS,
};

/// Spans longer than this many tokens are not considered (SkillSpan's
/// longest are ~25 tokens).
const MAX_SPAN_TOKENS: usize = 40;

/// A decoded span over tokens `[first, last]` of a line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PosteriorSpan {
    pub first: usize,
    pub last: usize,
    pub label: SpanLabel,
    pub probability: f64,
}

/// Reused buffers.
#[derive(Default)]
pub(crate) struct PosteriorScratch {
    eem: Vec<[f32; TAGS]>,
    alpha: Vec<[f32; TAGS]>,
    beta: Vec<[f32; TAGS]>,
    norm: Vec<f32>,
    candidates: Vec<PosteriorSpan>,
    merged: Vec<Merged>,
    taken: Vec<bool>,
}

/// A boundary pair over both labels, with its best label's probability.
#[derive(Clone, Copy)]
struct Merged {
    span: PosteriorSpan,
    best: f64,
}

/// Spans of one line whose probability of being a span, whatever its
/// label, is ≥ `threshold` (in (0, 1]), in token order, none overlapping,
/// each with its more probable label. Boundaries and labels are separate
/// questions: a span the model splits 0.15 / 0.15 between SKILL and
/// KNOWLEDGE is a span at 0.3. `etr` is `exp(transition / T)` with
/// illegal pairs at 0; `inv` is `1 / T`.
pub(crate) fn decode(
    em: &[[f32; TAGS]],
    etr: &[[f32; TAGS]; TAGS + 1],
    inv: f32,
    threshold: f64,
    s: &mut PosteriorScratch,
    out: &mut Vec<PosteriorSpan>,
) {
    out.clear();
    let n = em.len();
    if n == 0 {
        return;
    }
    // f32 like the marginals: the sums are of 7 normalised terms, and f32's
    // `exp` costs half of f64's (most of this function's time). Clamped
    // above expf's slow subnormal path (see `marginals`).
    let exps = |e: &[f32; TAGS]| -> [f32; TAGS] {
        let max = e.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        std::array::from_fn(|t| ((e[t] - max) * inv).max(-80.0).exp())
    };
    // Scaled forward-backward: alpha[i] and beta[i] each sum to 1 over
    // their own normalisers, so a path's probability is a product of
    // (transition × emission / norm) factors between alpha and beta.
    let (eem, alpha, beta, norm) = (&mut s.eem, &mut s.alpha, &mut s.beta, &mut s.norm);
    eem.clear();
    eem.resize(n, [0.0; TAGS]);
    eem[0] = exps(&em[0]);
    alpha.clear();
    alpha.resize(n, [0.0; TAGS]);
    norm.clear();
    norm.resize(n, 1.0);
    for i in 0..n {
        // The next token's exps do not wait on this token's sums: made in
        // the same loop, they run while the sums' chain waits on itself.
        if i + 1 < n {
            eem[i + 1] = exps(&em[i + 1]);
        }
        for t in 0..TAGS {
            alpha[i][t] = if i == 0 {
                etr[TAGS][t] * eem[0][t]
            } else {
                PREDECESSORS[t]
                    .iter()
                    .map(|&p| alpha[i - 1][p] * etr[p][t])
                    .sum::<f32>()
                    * eem[i][t]
            };
        }
        let sum: f32 = alpha[i].iter().sum();
        if !(sum > 0.0 && sum.is_finite()) {
            return;
        }
        norm[i] = sum;
        alpha[i].iter_mut().for_each(|a| *a /= sum);
    }
    let eem = &*eem;
    beta.clear();
    beta.resize(n, [0.0; TAGS]);
    beta[n - 1] = std::array::from_fn(|t| if can_end(t) { 1.0 } else { 0.0 });
    for i in (0..n - 1).rev() {
        for p in 0..TAGS {
            beta[i][p] = SUCCESSORS[p]
                .iter()
                .map(|&t| etr[p][t] * eem[i + 1][t] * beta[i + 1][t])
                .sum::<f32>()
                / norm[i + 1];
        }
    }
    let tail: f32 = (0..TAGS).map(|t| alpha[n - 1][t] * beta[n - 1][t]).sum();
    if !(tail > 0.0 && tail.is_finite()) {
        return;
    }
    // Span probabilities are products along the span: kept in f64.
    let tail = f64::from(tail);
    let step = |k: usize, p: usize, t: usize| f64::from(etr[p][t] * eem[k][t] / norm[k]);
    let alpha = |i: usize, t: usize| f64::from(alpha[i][t]);
    let beta = |i: usize, t: usize| f64::from(beta[i][t]);
    // A span at ≥ threshold over both labels has one label at ≥ half of it.
    let threshold_all = threshold;
    let threshold = threshold / 2.0;
    s.candidates.clear();
    for first in 0..n {
        for b in [1, 4] {
            // The probability that a span opens here bounds every span that does.
            if alpha(first, b) * beta(first, b) / tail < threshold {
                continue;
            }
            let label = tag_label(b).unwrap_or(SpanLabel::Skill);
            // A lone B: the next tag does not continue the span.
            let lone = if first + 1 == n {
                1.0
            } else {
                SUCCESSORS[b]
                    .iter()
                    .filter(|&&t| !is_inside(t))
                    .map(|&t| step(first + 1, b, t) * beta(first + 1, t))
                    .sum()
            };
            let p = alpha(first, b) * lone / tail;
            if p >= threshold {
                s.candidates.push(PosteriorSpan {
                    first,
                    last: first,
                    label,
                    probability: p,
                });
            }
            // `prefix`: B I … I up to k - 1, times the factors between.
            let (i_tag, l_tag) = (b + I - B, b + L - B);
            debug_assert!(role(i_tag) == I && role(l_tag) == L);
            let mut prefix = alpha(first, b);
            let mut prev = b;
            for k in first + 1..n.min(first + MAX_SPAN_TOKENS) {
                let p = prefix * step(k, prev, l_tag) * beta(k, l_tag) / tail;
                if p >= threshold {
                    s.candidates.push(PosteriorSpan {
                        first,
                        last: k,
                        label,
                        probability: p,
                    });
                }
                prefix *= step(k, prev, i_tag);
                prev = i_tag;
                // The chance that the span runs on past k bounds all longer ones.
                if prefix * beta(k, i_tag) / tail < threshold {
                    break;
                }
            }
        }
    }
    // One entry per boundary pair: the labels' probabilities summed, the
    // larger one's label.
    s.candidates.sort_by_key(|c| (c.first, c.last, c.label));
    s.merged.clear();
    for c in &s.candidates {
        match s.merged.last_mut() {
            Some(m) if (m.span.first, m.span.last) == (c.first, c.last) => {
                if c.probability > m.best {
                    m.best = c.probability;
                    m.span.label = c.label;
                }
                m.span.probability += c.probability;
            }
            _ => s.merged.push(Merged {
                span: *c,
                best: c.probability,
            }),
        }
    }
    s.merged.retain(|m| m.span.probability >= threshold_all);
    // Best first; ties in token order, so the output is deterministic.
    s.merged.sort_by(|a, b| {
        b.span
            .probability
            .total_cmp(&a.span.probability)
            .then(a.span.first.cmp(&b.span.first))
            .then(a.span.last.cmp(&b.span.last))
    });
    s.taken.clear();
    s.taken.resize(n, false);
    for c in s.merged.iter().map(|m| &m.span) {
        if s.taken[c.first..=c.last].iter().any(|&x| x) {
            continue;
        }
        s.taken[c.first..=c.last].iter_mut().for_each(|x| *x = true);
        out.push(*c);
    }
    out.sort_by_key(|c| c.first);
}

#[cfg(test)]
mod tests {
    use super::super::allowed;
    use super::*;

    /// Every legal path of a short line, with its probability.
    fn paths(em: &[[f32; TAGS]], tr: &[[f32; TAGS]; TAGS + 1]) -> Vec<(Vec<usize>, f64)> {
        let n = em.len();
        let mut out = Vec::new();
        let mut z = 0.0;
        for code in 0..TAGS.pow(n as u32) {
            let path: Vec<usize> = (0..n).map(|i| code / TAGS.pow(i as u32) % TAGS).collect();
            let ok = (0..n).all(|i| allowed(i.checked_sub(1).map(|j| path[j]), path[i]))
                && can_end(path[n - 1]);
            if !ok {
                continue;
            }
            let score: f64 = (0..n)
                .map(|i| {
                    f64::from(em[i][path[i]] + tr[if i == 0 { TAGS } else { path[i - 1] }][path[i]])
                })
                .sum();
            z += score.exp();
            out.push((path, score.exp()));
        }
        out.iter_mut().for_each(|p| p.1 /= z);
        out
    }

    /// The spans (first, last, B tag) a path holds.
    fn spans_of(path: &[usize]) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < path.len() {
            if path[i] != 0 && role(path[i]) == B {
                let mut j = i;
                while j + 1 < path.len() && is_inside(path[j + 1]) {
                    j += 1;
                    if role(path[j]) == L {
                        break;
                    }
                }
                out.push((i, j, path[i]));
                i = j + 1;
            } else {
                i += 1;
            }
        }
        out
    }

    #[test]
    fn span_probabilities_match_brute_force() {
        let mut state = 99u64;
        let mut unit = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % 2000) as f32 / 1000.0 - 1.0
        };
        for _ in 0..20 {
            let em: Vec<[f32; TAGS]> = (0..5)
                .map(|_| std::array::from_fn(|_| 2.0 * unit()))
                .collect();
            let tr: [[f32; TAGS]; TAGS + 1] =
                std::array::from_fn(|_| std::array::from_fn(|_| unit()));
            let mut etr = [[0f32; TAGS]; TAGS + 1];
            for p in 0..=TAGS {
                for t in 0..TAGS {
                    if allowed((p < TAGS).then_some(p), t) {
                        etr[p][t] = tr[p][t].exp();
                    }
                }
            }
            let mut expected = std::collections::HashMap::new();
            for (path, prob) in paths(&em, &tr) {
                for span in spans_of(&path) {
                    *expected.entry(span).or_insert(0.0) += prob;
                }
            }
            // A tiny threshold lists every span; compare before overlaps are dropped.
            let mut s = PosteriorScratch::default();
            let mut out = Vec::new();
            decode(&em, &etr, 1.0, 1e-12, &mut s, &mut out);
            for c in &s.candidates {
                let b = if c.label == SpanLabel::Skill { 1 } else { 4 };
                let want = expected.get(&(c.first, c.last, b)).copied().unwrap_or(0.0);
                assert!((c.probability - want).abs() < 1e-6, "{c:?}: {want}");
            }
            let listed = s.candidates.len();
            let nonzero = expected.values().filter(|&&p| p >= 5e-13).count();
            assert_eq!(listed, nonzero);
            // Each kept span: both labels summed, the larger one's label.
            for c in &out {
                let skill = expected.get(&(c.first, c.last, 1)).copied().unwrap_or(0.0);
                let knowledge = expected.get(&(c.first, c.last, 4)).copied().unwrap_or(0.0);
                assert!((c.probability - (skill + knowledge)).abs() < 1e-6);
                let label = if skill >= knowledge {
                    SpanLabel::Skill
                } else {
                    SpanLabel::Knowledge
                };
                assert_eq!(c.label, label);
            }
            // The kept spans never overlap and come in token order.
            for w in out.windows(2) {
                assert!(w[0].last < w[1].first);
            }
        }
    }
}
