//! The index's label vectors, stored the way its scoring kernel reads them.
//!
//! Ranking a batch of new phrases is one product of the queries with every
//! label row (114,498 × 128 for ESCO and the static encoder). Through a
//! general sgemm, each pass packed the whole label matrix again: in a
//! 100,000-posting `run` most passes bring a few phrases, and the packing
//! took more CPU than the arithmetic. Here the labels are packed once, when
//! the index is built or loaded: tiles of `TILE` rows, each stored dimension
//! by dimension, so one dimension of a tile is `TILE` adjacent floats (one or
//! two SIMD registers) multiplied by one query value. The kernel is written
//! by hand because no maintained crate offers a product against a matrix
//! packed ahead of time; `pulp` compiles it for the CPU's SIMD level, chosen
//! at run time, without `unsafe`.

/// Label rows per tile: two 8-float registers with AVX2.
pub(crate) const TILE: usize = 16;

/// Queries scored together against one tile: 4 × 2 accumulators keep AVX2's
/// two FMA units busy (latency 4) and leave registers for the loads.
pub(crate) const GROUP: usize = 4;

pub(crate) type Lane = [f32; TILE];

/// Label vectors in tiles of [`TILE`] rows; tile `t`, dimension `d` holds
/// rows `t·TILE ..` at that dimension. The last tile is padded with zero rows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LabelTiles {
    dim: usize,
    rows: usize,
    lanes: Vec<Lane>,
    /// Score two tiles per pass: chosen for the CPU, set by tests.
    pairs: bool,
}

impl LabelTiles {
    /// An empty store of `dim`-value rows, with room for `rows` of them (a
    /// store that grows copies itself: two copies of 59 MB at the peak).
    pub(crate) fn with_capacity(dim: usize, rows: usize) -> LabelTiles {
        LabelTiles {
            dim,
            rows: 0,
            lanes: Vec::with_capacity(rows.div_ceil(TILE) * dim),
            pairs: wide_registers(),
        }
    }

    /// From row-major vectors (`rows × dim` values).
    #[cfg(test)]
    pub(crate) fn from_rows(values: &[f32], dim: usize) -> LabelTiles {
        let mut tiles = Self::with_capacity(dim, values.len() / dim.max(1));
        for row in values.chunks_exact(dim.max(1)) {
            tiles.push_row(row.iter().copied());
        }
        tiles
    }

    /// Appends a row (its first `dim` values; missing ones are 0).
    pub(crate) fn push_row(&mut self, values: impl IntoIterator<Item = f32>) {
        let (dim, n) = (self.dim, self.rows);
        if n.is_multiple_of(TILE) {
            self.lanes.resize(self.lanes.len() + dim, [0.0; TILE]);
        }
        let tile = self.lanes.len() - dim;
        for (d, x) in values.into_iter().take(dim).enumerate() {
            self.lanes[tile + d][n % TILE] = x;
        }
        self.rows += 1;
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    pub(crate) fn dim(&self) -> usize {
        self.dim
    }

    /// The tiles as stored (see [`LabelTiles`]).
    pub(crate) fn lanes(&self) -> &[Lane] {
        &self.lanes
    }

    /// CRC-32 of every stored value: two tables with the same checksum hold,
    /// in all likelihood, the same vectors.
    pub(crate) fn checksum(&self) -> u32 {
        let mut h = crc32fast::Hasher::new();
        let mut bytes = [0u8; TILE * 4];
        for lane in &self.lanes {
            for (b, x) in bytes.chunks_exact_mut(4).zip(lane) {
                b.copy_from_slice(&x.to_le_bytes());
            }
            h.update(&bytes);
        }
        h.finalize()
    }

    /// Row `r`'s values (empty past the last row).
    pub(crate) fn row(&self, r: usize) -> impl Iterator<Item = f32> + '_ {
        let tile = if r < self.rows {
            &self.lanes[r / TILE * self.dim..(r / TILE + 1) * self.dim]
        } else {
            &[]
        };
        tile.iter().map(move |lane| lane[r % TILE])
    }

    /// Cosine of row `r` with `query`, summed in the kernel's order (one
    /// fused multiply-add per dimension where the CPU has them), so a
    /// concept scores the same here as in [`LabelTiles::scores`].
    pub(crate) fn dot(&self, r: usize, query: &[f32]) -> f32 {
        let fma = fma_available();
        self.row(r)
            .zip(query)
            .fold(0.0, |acc, (x, &q)| mul_add(fma, q, x, acc))
    }

    /// Scores of rows `first..last` against `nq` queries (`queries` holds
    /// `nq × dim` values, `nq` a multiple of [`GROUP`]): row `r`'s score for
    /// query `q` goes to `out[(r - first) * nq + q]`.
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
        pulp::Arch::new().dispatch(ScoreOp {
            tiles: self,
            queries,
            nq,
            first,
            last,
            out,
            fma: fma_available(),
            pairs: self.pairs,
        });
    }
}

/// [`LabelTiles::scores`]'s loop, as a `pulp` operation: `with_simd` is
/// inlined into a function compiled for the SIMD level found at run time
/// (a closure is not reliably inlined there, and then calls `fmaf`).
struct ScoreOp<'a> {
    tiles: &'a LabelTiles,
    queries: &'a [f32],
    nq: usize,
    first: usize,
    last: usize,
    out: &'a mut [f32],
    fma: bool,
    /// Two tiles per pass (AVX-512, see [`tile_pair_group`]).
    pairs: bool,
}

impl pulp::WithSimd for ScoreOp<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let ScoreOp {
            tiles,
            queries,
            nq,
            first,
            last,
            out,
            fma,
            pairs,
        } = self;
        let dim = tiles.dim;
        let mut store = |t: usize, g: usize, acc: &[Lane; GROUP]| {
            store_group(out, (first, last, nq), t, g, acc, |x| x);
        };
        let (mut t, end) = (first / TILE, (last - 1) / TILE);
        while t <= end {
            let tile = &tiles.lanes[t * dim..(t + 1) * dim];
            if pairs && fma && t < end {
                let next = &tiles.lanes[(t + 1) * dim..(t + 2) * dim];
                for (g, group) in queries.chunks_exact(GROUP * dim).enumerate() {
                    let (a, b) = tile_pair_group(tile, next, group, dim);
                    store(t, g, &a);
                    store(t + 1, g, &b);
                }
                t += 2;
                continue;
            }
            for (g, group) in queries.chunks_exact(GROUP * dim).enumerate() {
                let acc = if fma {
                    tile_group::<true>(tile, group, dim)
                } else {
                    tile_group::<false>(tile, group, dim)
                };
                store(t, g, &acc);
            }
            t += 1;
        }
    }
}

/// The end of rows `first..last` clamped to a table of `rows` rows of `dim`
/// values, or `None` when there is nothing to score or `queries` is not
/// `nq × dim` values with `nq` a multiple of [`GROUP`].
pub(crate) fn score_range(
    dim: usize,
    rows: usize,
    queries: &[f32],
    nq: usize,
    first: usize,
    last: usize,
) -> Option<usize> {
    let last = last.min(rows);
    (first < last && dim > 0 && nq.is_multiple_of(GROUP) && queries.len() == nq * dim)
        .then_some(last)
}

/// Writes tile `t`'s scores for query group `g` (each through `f`) where
/// the kernels' callers read them: row `r`'s score for query `q` at
/// `out[(r - first) * nq + q]`, for the rows of `first..last` only.
#[inline(always)]
pub(crate) fn store_group(
    out: &mut [f32],
    (first, last, nq): (usize, usize, usize),
    t: usize,
    g: usize,
    acc: &[Lane; GROUP],
    f: impl Fn(f32) -> f32,
) {
    for (l, r) in (t * TILE..(t + 1) * TILE).enumerate() {
        if r < first || r >= last {
            continue;
        }
        let at = (r - first) * nq + g * GROUP;
        for (j, slot) in out[at..at + GROUP].iter_mut().enumerate() {
            *slot = f(acc[j][l]);
        }
    }
}

/// One tile against `GROUP` queries: each score is a chain of multiply-adds
/// over the dimensions in order, whatever the other queries of the pass.
#[inline(always)]
fn tile_group<const FMA: bool>(tile: &[Lane], group: &[f32], dim: usize) -> [Lane; GROUP] {
    let (q0, rest) = group.split_at(dim);
    let (q1, rest) = rest.split_at(dim);
    let (q2, q3) = rest.split_at(dim);
    let mut acc = [[0.0f32; TILE]; GROUP];
    for (lane, (((&a, &b), &c), &d)) in tile.iter().zip(q0.iter().zip(q1).zip(q2).zip(q3)) {
        for (j, q) in [a, b, c, d].into_iter().enumerate() {
            for l in 0..TILE {
                acc[j][l] = mul_add(FMA, q, lane[l], acc[j][l]);
            }
        }
    }
    acc
}

/// Two tiles against `GROUP` queries, for CPUs whose registers hold a whole
/// lane (AVX-512): one tile fills only `GROUP` accumulators, too few chains
/// to hide the multiply-add latency, two fill `2 × GROUP`. Each score is the
/// same chain of fused multiply-adds as in [`tile_group`], so both paths give
/// the same bits.
#[inline(always)]
fn tile_pair_group(
    a: &[Lane],
    b: &[Lane],
    group: &[f32],
    dim: usize,
) -> ([Lane; GROUP], [Lane; GROUP]) {
    let (q0, rest) = group.split_at(dim);
    let (q1, rest) = rest.split_at(dim);
    let (q2, q3) = rest.split_at(dim);
    let mut acc_a = [[0.0f32; TILE]; GROUP];
    let mut acc_b = [[0.0f32; TILE]; GROUP];
    for ((la, lb), (((&w, &x), &y), &z)) in a.iter().zip(b).zip(q0.iter().zip(q1).zip(q2).zip(q3)) {
        for (j, q) in [w, x, y, z].into_iter().enumerate() {
            for l in 0..TILE {
                acc_a[j][l] = q.mul_add(la[l], acc_a[j][l]);
                acc_b[j][l] = q.mul_add(lb[l], acc_b[j][l]);
            }
        }
    }
    (acc_a, acc_b)
}

/// `q·x + acc`, fused where the CPU can (without an FMA unit, `mul_add` would
/// call a slow software routine).
#[inline(always)]
pub(crate) fn mul_add(fma: bool, q: f32, x: f32, acc: f32) -> f32 {
    if fma {
        q.mul_add(x, acc)
    } else {
        q * x + acc
    }
}

/// Which of the kernel's paths this CPU runs (their last bits may differ).
pub(crate) fn kernel_name() -> &'static str {
    if fma_available() {
        "fused"
    } else {
        "plain"
    }
}

/// Whether a SIMD register holds a whole lane of [`TILE`] floats (AVX-512),
/// so the kernel scores two tiles per pass.
fn wide_registers() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether this CPU has the AVX2 and FMA units the kernel's fused path needs.
pub(crate) fn fma_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize, dim: usize) -> Vec<f32> {
        (0..n * dim)
            .map(|i| ((i * 7919 % 1009) as f32 / 1009.0) - 0.5)
            .collect()
    }

    #[test]
    fn rows_come_back_as_stored() {
        for n in [0, 1, TILE - 1, TILE, TILE + 3, 5 * TILE] {
            let v = rows(n, 5);
            let tiles = LabelTiles::from_rows(&v, 5);
            assert_eq!(tiles.rows(), n);
            for r in 0..n {
                assert_eq!(tiles.row(r).collect::<Vec<_>>(), v[r * 5..(r + 1) * 5]);
            }
            assert_eq!(tiles.row(n).count(), 0);
        }
    }

    #[test]
    fn scores_of_any_row_range_match_each_rows_dot_product() {
        let (n, dim, nq) = (3 * TILE + 5, 9, 2 * GROUP);
        let v = rows(n, dim);
        let mut tiles = LabelTiles::from_rows(&v, dim);
        let queries: Vec<f32> = rows(nq, dim).iter().map(|x| x * 1.7).collect();
        // Ranges starting and ending inside tiles, and a whole-index range;
        // tiles scored one or two at a time.
        let ranges = [
            (0, n),
            (3, TILE + 2),
            (TILE, 2 * TILE),
            (n - 1, n),
            (1, 3 * TILE),
        ];
        for ((first, last), pairs) in ranges.into_iter().flat_map(|r| [(r, false), (r, true)]) {
            let mut out = vec![f32::NAN; (last - first) * nq];
            tiles.pairs = pairs;
            tiles.scores(&queries, nq, first, last, &mut out);
            for r in first..last {
                for q in 0..nq {
                    let want = tiles.dot(r, &queries[q * dim..(q + 1) * dim]);
                    let plain: f32 = v[r * dim..(r + 1) * dim]
                        .iter()
                        .zip(&queries[q * dim..(q + 1) * dim])
                        .map(|(a, b)| a * b)
                        .sum();
                    let got = out[(r - first) * nq + q];
                    assert_eq!(got, want, "row {r} query {q}");
                    assert!((got - plain).abs() < 1e-5, "row {r} query {q}");
                }
            }
        }
    }

    /// Both paths, whichever this CPU takes: without FMA units the kernel
    /// multiplies and adds separately.
    #[test]
    fn the_fused_and_the_plain_kernel_agree_with_dot_products() {
        let dim = 7;
        let v = rows(TILE, dim);
        let tiles = LabelTiles::from_rows(&v, dim);
        let q = rows(GROUP, dim);
        let fused = tile_group::<true>(&tiles.lanes, &q, dim);
        let plain = tile_group::<false>(&tiles.lanes, &q, dim);
        for j in 0..GROUP {
            for l in 0..TILE {
                let want: f32 = (0..dim).map(|d| v[l * dim + d] * q[j * dim + d]).sum();
                assert!((fused[j][l] - want).abs() < 1e-5);
                assert!((plain[j][l] - want).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn a_query_scores_the_same_whatever_its_group() {
        let (n, dim) = (2 * TILE, 6);
        let tiles = LabelTiles::from_rows(&rows(n, dim), dim);
        let q = rows(GROUP, dim);
        let mut shifted = vec![0.0; 2 * GROUP * dim];
        // Query 0 of the first pass is query 5 of the second.
        shifted[5 * dim..6 * dim].copy_from_slice(&q[..dim]);
        let mut a = vec![0.0; n * GROUP];
        let mut b = vec![0.0; n * 2 * GROUP];
        tiles.scores(&q, GROUP, 0, n, &mut a);
        tiles.scores(&shifted, 2 * GROUP, 0, n, &mut b);
        for r in 0..n {
            assert_eq!(a[r * GROUP], b[r * 2 * GROUP + 5]);
        }
    }
}
