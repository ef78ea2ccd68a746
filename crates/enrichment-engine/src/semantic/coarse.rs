//! A quarter-size copy of the label vectors, for ranking a few phrases.
//!
//! A pass over the index with only a few new phrases is bound by reading the
//! 59 MB of f32 label rows, not by the arithmetic: 8.7 ms per pass of up to 4
//! phrases, against 0.2 ms per phrase in a pass of 256. Here each value is an
//! `i8` on one scale for the whole table (15 MB), and a pass scores every row
//! approximately with a known error bound; only the rows that could still be
//! among a phrase's best are scored again exactly ([`LabelTiles::dot`]), so
//! the ranking is the exact one, to the bit. Written by hand for the same
//! reason as `tiles`: no maintained crate scores against a matrix packed
//! ahead of time.

use super::tiles::{fma_available, mul_add, score_range, store_group, LabelTiles, GROUP, TILE};

/// Label rows in tiles of [`TILE`], laid out as in [`LabelTiles`], each value
/// `round(x / scale)` in `-127..=127`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CoarseTiles {
    dim: usize,
    rows: usize,
    lanes: Vec<[i8; TILE]>,
    scale: f32,
    /// Whether every value is finite (else the bound does not hold).
    finite: bool,
}

impl CoarseTiles {
    pub(crate) fn of(tiles: &LabelTiles) -> CoarseTiles {
        let max = tiles
            .lanes()
            .iter()
            .flat_map(|l| l.iter())
            .fold(0f32, |m, x| m.max(x.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        let lanes = tiles
            .lanes()
            .iter()
            .map(|l| l.map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8))
            .collect();
        CoarseTiles {
            dim: tiles.dim(),
            rows: tiles.rows(),
            lanes,
            scale,
            finite: tiles.lanes().iter().flatten().all(|x| x.is_finite()),
        }
    }

    /// Whether [`CoarseTiles::error_bound`] holds: every value finite.
    pub(crate) fn usable(&self) -> bool {
        self.finite
    }

    /// How far a row's approximate score for `query` can be from its exact
    /// one (either way). Each stored value is off by at most half a step
    /// (plus the division's rounding), so the sum by `scale / 2 · |query|₁`.
    /// Both scores are f32 sums of `dim` terms each at most `127 · scale ·
    /// |q_d|`, each sum within `dim · 2⁻²⁴` of those terms' total: the
    /// `2e-5 · dim` (above 2 · 127 · 2⁻²⁴ · dim) covers the two.
    pub(crate) fn error_bound(&self, query: &[f32]) -> f32 {
        let l1: f32 = query.iter().map(|x| x.abs()).sum();
        self.scale * l1 * (0.501 + 2e-5 * self.dim as f32)
    }

    /// Approximate scores of rows `first..last` against `nq` queries, laid
    /// out as [`LabelTiles::scores`] lays out exact ones.
    pub(crate) fn scores(
        &self,
        queries: &[f32],
        nq: usize,
        first: usize,
        last: usize,
        out: &mut [f32],
    ) {
        let Some(last) = score_range(self.dim, self.rows, queries, nq, first, last) else {
            return;
        };
        pulp::Arch::new().dispatch(CoarseOp {
            tiles: self,
            queries,
            nq,
            first,
            last,
            out,
            fma: fma_available(),
        });
    }
}

/// [`CoarseTiles::scores`]'s loop as a `pulp` operation (compiled for the
/// SIMD level found at run time, like `tiles::ScoreOp`).
struct CoarseOp<'a> {
    tiles: &'a CoarseTiles,
    queries: &'a [f32],
    nq: usize,
    first: usize,
    last: usize,
    out: &'a mut [f32],
    fma: bool,
}

impl pulp::WithSimd for CoarseOp<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let CoarseOp {
            tiles,
            queries,
            nq,
            first,
            last,
            out,
            fma,
        } = self;
        let dim = tiles.dim;
        let mut store = |t: usize, g: usize, acc: &[[f32; TILE]; GROUP]| {
            store_group(out, (first, last, nq), t, g, acc, |x| x * tiles.scale);
        };
        // Two tiles per pass: 2 × GROUP accumulator chains hide the
        // multiply-add latency (one tile's GROUP do not, see `tiles`).
        let (mut t, end) = (first / TILE, (last - 1) / TILE);
        while t <= end {
            let a = &tiles.lanes[t * dim..(t + 1) * dim];
            let b = if t < end {
                &tiles.lanes[(t + 1) * dim..(t + 2) * dim]
            } else {
                a
            };
            for (g, group) in queries.chunks_exact(GROUP * dim).enumerate() {
                let (acc_a, acc_b) = if fma {
                    tile_pair::<true>(a, b, group, dim)
                } else {
                    tile_pair::<false>(a, b, group, dim)
                };
                store(t, g, &acc_a);
                if t < end {
                    store(t + 1, g, &acc_b);
                }
            }
            t += 2;
        }
    }
}

/// Tiles `a` and `b` against `GROUP` queries: unscaled sums of query × value.
#[inline(always)]
fn tile_pair<const FMA: bool>(
    a: &[[i8; TILE]],
    b: &[[i8; TILE]],
    group: &[f32],
    dim: usize,
) -> ([[f32; TILE]; GROUP], [[f32; TILE]; GROUP]) {
    let (q0, rest) = group.split_at(dim);
    let (q1, rest) = rest.split_at(dim);
    let (q2, q3) = rest.split_at(dim);
    let mut acc_a = [[0.0f32; TILE]; GROUP];
    let mut acc_b = [[0.0f32; TILE]; GROUP];
    for ((la, lb), (((&w, &x), &y), &z)) in a.iter().zip(b).zip(q0.iter().zip(q1).zip(q2).zip(q3)) {
        let (xa, xb) = (la.map(f32::from), lb.map(f32::from));
        for (j, q) in [w, x, y, z].into_iter().enumerate() {
            for l in 0..TILE {
                acc_a[j][l] = mul_add(FMA, q, xa[l], acc_a[j][l]);
                acc_b[j][l] = mul_add(FMA, q, xb[l], acc_b[j][l]);
            }
        }
    }
    (acc_a, acc_b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_approximate_score_is_within_its_bound_of_the_exact_one() {
        let (n, dim, nq) = (5 * TILE + 3, 128, 2 * GROUP);
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        };
        // Unit rows and queries, as the encoder makes them.
        let unit = |v: Vec<f32>| {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / norm).collect::<Vec<_>>()
        };
        let mut values = Vec::new();
        for _ in 0..n {
            values.extend(unit((0..dim).map(|_| next()).collect()));
        }
        let mut queries = Vec::new();
        for _ in 0..nq {
            queries.extend(unit((0..dim).map(|_| next()).collect()));
        }
        let tiles = LabelTiles::from_rows(&values, dim);
        let coarse = CoarseTiles::of(&tiles);
        let (first, last) = (3, n - 2);
        let mut out = vec![f32::NAN; (last - first) * nq];
        coarse.scores(&queries, nq, first, last, &mut out);
        let mut widest = 0f32;
        for r in first..last {
            for q in 0..nq {
                let query = &queries[q * dim..(q + 1) * dim];
                let gap = (out[(r - first) * nq + q] - tiles.dot(r, query)).abs();
                let bound = coarse.error_bound(query);
                assert!(gap <= bound, "row {r} query {q}: {gap} > {bound}");
                widest = widest.max(gap / bound);
            }
        }
        // The bound is of use only if it is not far looser than the errors.
        assert!(widest > 0.05, "widest gap {widest} of the bound");
    }
}
