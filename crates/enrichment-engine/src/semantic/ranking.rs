//! Ranking: a batch of phrase vectors against every label row, each
//! concept scored by its best label, the `k` best per phrase.

use super::{SkillIndex, GROUP};

impl SkillIndex {
    /// The `k` concepts nearest to a unit query vector, best first, each
    /// scored by its best label. Brute force: ~115k rows × 384 values is a
    /// few milliseconds, which an approximate index would not repay here.
    pub fn top_k(&self, query: &[f32], k: usize) -> Vec<(u32, f32)> {
        self.top_k_batch(&[query], k).pop().unwrap_or_default()
    }

    /// `top_k` of many queries in one pass over the index: the scores of a
    /// block of label rows against every query come from one kernel call
    /// over the labels packed at load (`tiles`), then each concept keeps its
    /// best label's score.
    pub fn top_k_batch(&self, queries: &[&[f32]], k: usize) -> Vec<Vec<(u32, f32)>> {
        let mut ranked = vec![Vec::new(); queries.len()];
        let valid: Vec<usize> = (0..queries.len())
            .filter(|&qi| queries[qi].len() == self.dim)
            .collect();
        if k == 0 || valid.is_empty() || self.dim == 0 {
            return ranked;
        }
        // The kernel scores queries in groups: pad with zero queries (never
        // ranked: `tops` has one entry per real query).
        let nq = valid.len().div_ceil(GROUP) * GROUP;
        let mut q = vec![0.0f32; nq * self.dim];
        for (slot, &qi) in q.chunks_exact_mut(self.dim).zip(&valid) {
            slot.copy_from_slice(queries[qi]);
        }
        let coarse = valid.len() <= COARSE_MAX_QUERIES
            && self.coarse.usable()
            && q.iter().all(|x| x.is_finite());
        let tops = if coarse {
            self.top_k_coarse(&q, valid.len(), k)
        } else {
            self.top_k_exact(&q, valid.len(), k)
        };
        for (top, &qi) in tops.into_iter().zip(&valid) {
            ranked[qi] = top;
        }
        ranked
    }

    /// `top_k_batch` of `nreal` queries (`q` holds them padded to a multiple
    /// of [`GROUP`]) from the f32 rows: every row scored exactly.
    pub(super) fn top_k_exact(&self, q: &[f32], nreal: usize, k: usize) -> Vec<Vec<(u32, f32)>> {
        let nq = q.len() / self.dim;
        let mut tops: Vec<Vec<(u32, f32)>> = vec![Vec::with_capacity(k + 1); nreal];
        let mut scores = vec![0.0f32; nq * SCORE_BLOCK_ROWS];
        let mut run_best = vec![f32::NEG_INFINITY; nq];
        // Each query's k-th best score so far (its last place once full).
        let mut kth = vec![f32::NEG_INFINITY; nreal];
        let rows = self.row_concept.len();
        let mut first = 0;
        while first < rows {
            let last = self.block_end(first);
            let n = last - first;
            if scores.len() < n * nq {
                scores.resize(n * nq, 0.0);
            }
            // Label r's scores for every query are `flat[r * nq..][..nq]`.
            let flat = &mut scores[..n * nq];
            self.vectors.scores(q, nq, first, last, flat);
            // A concept's labels are one run of rows: their element-wise max
            // is the concept's score for every query (contiguous slices, so
            // it vectorises), then one comparison per query with its k-th.
            let mut r = 0;
            while r < n {
                let c = self.row_concept[first + r];
                run_best.fill(f32::NEG_INFINITY);
                while r < n && self.row_concept[first + r] == c {
                    for (best, &x) in run_best.iter_mut().zip(&flat[r * nq..(r + 1) * nq]) {
                        *best = best.max(x);
                    }
                    r += 1;
                }
                for ((top, kth), &best) in tops.iter_mut().zip(&mut kth).zip(&run_best) {
                    offer(top, kth, k, c, best);
                }
            }
            first = last;
        }
        tops
    }

    /// The end of the block of rows scored at once from `first`: about
    /// [`SCORE_BLOCK_ROWS`], ending on a concept boundary, so a concept's
    /// labels are scored in one block.
    fn block_end(&self, first: usize) -> usize {
        let rows = self.row_concept.len();
        let mut last = (first + SCORE_BLOCK_ROWS).min(rows);
        while last < rows && last > first && self.row_concept[last] == self.row_concept[last - 1] {
            last -= 1;
        }
        if last == first {
            // One concept with more labels than a block: never shipped,
            // but the result must not depend on it.
            last = first + 1;
            while last < rows && self.row_concept[last] == self.row_concept[first] {
                last += 1;
            }
        }
        last
    }

    /// `top_k_batch` of `nreal` finite queries (`q` holds them padded to a
    /// multiple of [`GROUP`]), the same to the bit, from one pass over the
    /// `i8` rows and exact scores of the few rows that could rank.
    ///
    /// With `e` a query's error bound and `a` the k-th best approximate
    /// concept score, k concepts score at least `a − e` exactly, so the
    /// k-th best exact score is at least that too; a label scoring that much
    /// has an approximate score of at least `a − 2e`. Every such row is
    /// scored exactly, so every concept that ranks gets its exact best
    /// label; a concept whose best label was dropped scores below `a − e`,
    /// behind k others, with or without its dropped labels.
    pub(super) fn top_k_coarse(&self, q: &[f32], nreal: usize, k: usize) -> Vec<Vec<(u32, f32)>> {
        let (dim, nq) = (self.dim, q.len() / self.dim);
        let queries: Vec<&[f32]> = q.chunks_exact(dim).take(nreal).collect();
        let bound: Vec<f32> = queries.iter().map(|q| self.coarse.error_bound(q)).collect();
        // Approximate k-th bests so far (they only rise), and each query's
        // rows within reach of them.
        let mut approx: Vec<Vec<(u32, f32)>> = vec![Vec::with_capacity(k + 1); nreal];
        let mut kth = vec![f32::NEG_INFINITY; nreal];
        let mut near: Vec<Vec<(usize, f32)>> = vec![Vec::new(); nreal];
        let mut scores = vec![0.0f32; nq * SCORE_BLOCK_ROWS];
        let rows = self.row_concept.len();
        let mut first = 0;
        while first < rows {
            // Whole concepts per block: each is offered once.
            let last = self.block_end(first);
            if scores.len() < (last - first) * nq {
                scores.resize((last - first) * nq, 0.0);
            }
            let flat = &mut scores[..(last - first) * nq];
            self.coarse.scores(q, nq, first, last, flat);
            let mut r = 0;
            while r < last - first {
                let (start, c) = (r, self.row_concept[first + r]);
                while r < last - first && self.row_concept[first + r] == c {
                    r += 1;
                }
                for j in 0..nreal {
                    let best = (start..r)
                        .map(|i| flat[i * nq + j])
                        .fold(f32::NEG_INFINITY, f32::max);
                    offer(&mut approx[j], &mut kth[j], k, c, best);
                    let floor = kth[j] - 2.0 * bound[j];
                    if best >= floor {
                        near[j].extend(
                            (start..r)
                                .filter(|&i| flat[i * nq + j] >= floor)
                                .map(|i| (first + i, flat[i * nq + j])),
                        );
                    }
                }
            }
            first = last;
        }
        queries
            .iter()
            .zip(near)
            .zip(kth.iter().zip(&bound))
            .map(|((query, near), (&kth, &bound))| {
                let floor = kth - 2.0 * bound;
                let mut top = Vec::with_capacity(k + 1);
                let mut exact_kth = f32::NEG_INFINITY;
                // Rows in index order, so concepts come in id order as in
                // `top_k_batch`, each with the max of its near rows.
                let mut pending: Option<(u32, f32)> = None;
                for r in near.iter().filter(|&&(_, a)| a >= floor).map(|&(r, _)| r) {
                    let (c, x) = (self.row_concept[r], self.vectors.dot(r, query));
                    pending = match pending {
                        Some((pc, best)) if pc == c => Some((c, best.max(x))),
                        Some((pc, best)) => {
                            offer(&mut top, &mut exact_kth, k, pc, best);
                            Some((c, x))
                        }
                        None => Some((c, x)),
                    };
                }
                if let Some((c, best)) = pending {
                    offer(&mut top, &mut exact_kth, k, c, best);
                }
                top
            })
            .collect()
    }
}

/// Offers concept `c` scoring `best` to a best-first list of at most `k`
/// (`kth`: its last score once full). Concepts come in id order, so among
/// equal scores the lower id stays ahead.
fn offer(top: &mut Vec<(u32, f32)>, kth: &mut f32, k: usize, c: u32, best: f32) {
    if best <= *kth && top.len() == k {
        return;
    }
    let at = top.partition_point(|t| t.1 >= best);
    top.insert(at, (c, best));
    top.truncate(k);
    if top.len() == k {
        *kth = top[k - 1].1;
    }
}

/// Passes of at most this many phrases read the `i8` rows (`coarse.rs`):
/// in a linked 100,000 run, passes of 9–16 phrases took 7.9 ms that way
/// against 10.3 ms over the f32 rows. Larger passes were not timed on the
/// `i8` path; its cost grows 0.5–0.6 ms per phrase, which passes the f32
/// path's 12.1 ms for 17–64 phrases by about 20 phrases.
pub(super) const COARSE_MAX_QUERIES: usize = 16;

/// Label rows scored per kernel call (ending early on a concept boundary):
/// the score block (2 MB at 256 queries) is read once, right after, while
/// still in cache.
pub(super) const SCORE_BLOCK_ROWS: usize = 2048;
