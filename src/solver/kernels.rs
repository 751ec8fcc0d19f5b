//! The 5-point update of one row, and a sweep of many rows on one or more threads.
//!
//! Arrays are row-major flat slices seen through a [`View`]: the coordinates of the ghosted local
//! array being swept, whatever part of it the slice holds (the whole array, or a tile's scratch
//! copy). Each kernel evaluates its formula in one fixed order, with no fused multiply-adds, so a
//! cell's new value depends only on its neighbours' old values: results are bitwise the same
//! whichever rank, thread, vector width, store kind or redundant ghost update computes them.
//!
//! Two things make a sweep run at the memory's speed rather than the loop's: the row loop works on
//! slices cut to exact lengths (no bounds checks; it vectorises, with AVX2 when the CPU has it,
//! chosen at run time), and with [`Stores::Streaming`] the new values go to memory with
//! non-temporal stores, which do not first read the line they overwrite (16 bytes moved per cell
//! rather than 24).

use rayon::prelude::*;
use std::ops::Range;

/// The update rule of a problem.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kernel {
    /// `0.25 * (n + s + w + e)`, summed left to right.
    Laplace,
    /// Jacobi for `-∇²u = f`: `((n + s)·cy + (w + e)·cx + f) · inv_d`.
    Poisson {
        /// `1/hx²`.
        cx: f64,
        /// `1/hy²`.
        cy: f64,
        /// `1 / (2cx + 2cy)`.
        inv_d: f64,
    },
    /// Forward Euler for `u_t = α∇²u`: `c + rx·((w + e) − 2c) + ry·((n + s) − 2c)`.
    Heat {
        /// `α·dt/hx²`.
        rx: f64,
        /// `α·dt/hy²`.
        ry: f64,
    },
}

/// How a sweep writes the values it computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stores {
    /// Ordinary stores: each line is read into the cache before it is written (24 bytes moved per
    /// cell from memory), and the new values stay cached for the next sweep. Best when the arrays
    /// fit in the cache.
    Cached,
    /// Non-temporal stores, straight to memory without reading the line first (16 bytes per
    /// cell). Best when the arrays are far larger than the cache. Ordinary stores on targets
    /// without them (only x86-64 has them here).
    Streaming,
}

impl std::fmt::Display for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stores::Cached => "cached",
            Stores::Streaming => "streaming",
        })
    }
}

/// A row-major 2D array in the coordinates of the grid being swept: `data[0]` is cell
/// `(row0, col0)` and rows are `stride` apart.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The cells.
    pub data: &'a [f64],
    /// Elements from one row to the next.
    pub stride: usize,
    /// The row of `data[0]`.
    pub row0: usize,
    /// The column of `data[0]`.
    pub col0: usize,
}

impl<'a> View<'a> {
    /// A whole array whose `data[0]` is cell `(0, 0)`.
    pub fn whole(data: &'a [f64], stride: usize) -> Self {
        View {
            data,
            stride,
            row0: 0,
            col0: 0,
        }
    }

    /// The cells from `(i, j)` to the end of the data.
    #[inline(always)]
    fn from(&self, i: usize, j: usize) -> &'a [f64] {
        &self.data[(i - self.row0) * self.stride + j - self.col0..]
    }
}

/// The mutable form of [`View`].
#[derive(Debug)]
pub struct ViewMut<'a> {
    /// The cells.
    pub data: &'a mut [f64],
    /// Elements from one row to the next.
    pub stride: usize,
    /// The row of `data[0]`.
    pub row0: usize,
    /// The column of `data[0]`.
    pub col0: usize,
}

impl<'a> ViewMut<'a> {
    /// A whole array whose `data[0]` is cell `(0, 0)`.
    pub fn whole(data: &'a mut [f64], stride: usize) -> Self {
        ViewMut {
            data,
            stride,
            row0: 0,
            col0: 0,
        }
    }

    /// Cells `cols` of row `i`.
    #[inline(always)]
    fn row(&mut self, i: usize, cols: &Range<usize>) -> &mut [f64] {
        let at = (i - self.row0) * self.stride;
        &mut self.data[at + cols.start - self.col0..at + cols.end - self.col0]
    }
}

/// Updates one row: `out[j]` from `n[j]`, `s[j]` (the rows above and below), `c[j]`, `c[j+1]`,
/// `c[j+2]` (west, centre, east) and `f[j]`. Slices are cut to exact lengths first so the loop
/// runs without bounds checks and vectorises.
#[inline(always)]
fn row(k: Kernel, n: &[f64], c: &[f64], s: &[f64], f: &[f64], out: &mut [f64]) {
    let m = out.len();
    let (n, s, c) = (&n[..m], &s[..m], &c[..m + 2]);
    match k {
        Kernel::Laplace => {
            for j in 0..m {
                out[j] = 0.25 * (n[j] + s[j] + c[j] + c[j + 2]);
            }
        }
        Kernel::Poisson { cx, cy, inv_d } => {
            let f = &f[..m];
            for j in 0..m {
                out[j] = ((n[j] + s[j]) * cy + (c[j] + c[j + 2]) * cx + f[j]) * inv_d;
            }
        }
        Kernel::Heat { rx, ry } => {
            for j in 0..m {
                let u = c[j + 1];
                out[j] = u + rx * ((c[j] + c[j + 2]) - 2.0 * u) + ry * ((n[j] + s[j]) - 2.0 * u);
            }
        }
    }
}

/// Cells computed per block of a streamed row: four cache lines, computed into a buffer that
/// stays in L1 and then streamed out whole.
const CHUNK: usize = 32;

/// `x` from index `j`, or `x` itself when it is empty (a kernel without a right-hand side).
#[inline(always)]
fn tail(x: &[f64], j: usize) -> &[f64] {
    if x.is_empty() {
        x
    } else {
        &x[j..]
    }
}

/// The instruction sets sweeps are compiled for, chosen at run time by [`isa`]: the baseline.
const BASELINE: u8 = 0;
/// AVX2: 256-bit arithmetic and streaming stores.
#[cfg(target_arch = "x86_64")]
const AVX2: u8 = 1;
/// AVX-512F: 512-bit arithmetic, and streaming stores that write a whole line at once.
#[cfg(target_arch = "x86_64")]
const AVX512: u8 = 2;

/// Streams the [`CHUNK`] cells of `buf` to `dst`, whose start is 64-byte aligned, with the widest
/// non-temporal store `ISA` has.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn stream_chunk<const ISA: u8>(buf: &[f64; CHUNK], dst: &mut [f64]) {
    use std::arch::x86_64::*;
    let dst = &mut dst[..CHUNK];
    debug_assert_eq!(dst.as_ptr().align_offset(64), 0);
    let (d, b) = (dst.as_mut_ptr(), buf.as_ptr());
    // SAFETY: `dst` and `buf` hold CHUNK cells and `dst` starts 64-byte aligned, so every store
    // below is in bounds and aligned to its width; `buf` is read unaligned. The AVX forms run
    // only in functions compiled for those features, called only after detecting them.
    unsafe {
        match ISA {
            AVX512 => {
                for p in (0..CHUNK).step_by(8) {
                    _mm512_stream_pd(d.add(p), _mm512_loadu_pd(b.add(p)));
                }
            }
            AVX2 => {
                for p in (0..CHUNK).step_by(4) {
                    _mm256_stream_pd(d.add(p), _mm256_loadu_pd(b.add(p)));
                }
            }
            _ => {
                for p in (0..CHUNK).step_by(2) {
                    _mm_stream_pd(d.add(p), _mm_loadu_pd(b.add(p)));
                }
            }
        }
    }
}

/// [`row`] with non-temporal stores: ordinary stores up to the first 64-byte boundary of `out`,
/// then whole lines computed into an L1 buffer and streamed to memory, then the tail.
#[inline(always)]
fn row_streaming<const ISA: u8>(
    k: Kernel,
    n: &[f64],
    c: &[f64],
    s: &[f64],
    f: &[f64],
    out: &mut [f64],
) {
    #[cfg(target_arch = "x86_64")]
    {
        let m = out.len();
        let lead = out.as_ptr().align_offset(64).min(m);
        row(k, n, c, s, f, &mut out[..lead]);
        let mut j = lead;
        let mut buf = [0.0f64; CHUNK];
        while m - j >= CHUNK {
            row(k, &n[j..], &c[j..], &s[j..], tail(f, j), &mut buf);
            stream_chunk::<ISA>(&buf, &mut out[j..]);
            j += CHUNK;
        }
        row(k, &n[j..], &c[j..], &s[j..], tail(f, j), &mut out[j..]);
        if m - lead >= CHUNK {
            // SAFETY: SSE is part of x86-64. Orders the streamed stores before whatever this
            // thread does next (another thread or rank may read them).
            unsafe { std::arch::x86_64::_mm_sfence() };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    row(k, n, c, s, f, out);
}

/// The body of every sweep: rows `rows`, columns `cols` of `src` into `dst`.
#[inline(always)]
fn rows_generic<const ISA: u8>(
    k: Kernel,
    stores: Stores,
    src: View,
    f: View,
    dst: &mut ViewMut,
    rows: Range<usize>,
    cols: &Range<usize>,
) {
    for i in rows {
        let n = src.from(i - 1, cols.start);
        let s = src.from(i + 1, cols.start);
        let c = src.from(i, cols.start - 1);
        let fr = if f.data.is_empty() {
            f.data
        } else {
            f.from(i, cols.start)
        };
        let out = dst.row(i, cols);
        match stores {
            Stores::Cached => row(k, n, c, s, fr, out),
            Stores::Streaming => row_streaming::<ISA>(k, n, c, s, fr, out),
        }
    }
}

/// Defines `$name`: [`rows_generic`] compiled with the target feature `$feature`, for `$isa`.
macro_rules! rows_for {
    ($name:ident, $feature:literal, $isa:ident) => {
        #[doc = concat!("[`rows_generic`] compiled for `", $feature, "`.")]
        ///
        /// # Safety
        /// The CPU must have the feature.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $feature)]
        unsafe fn $name(
            k: Kernel,
            stores: Stores,
            src: View,
            f: View,
            dst: &mut ViewMut,
            rows: Range<usize>,
            cols: &Range<usize>,
        ) {
            rows_generic::<$isa>(k, stores, src, f, dst, rows, cols)
        }
    };
}

rows_for!(rows_avx2, "avx2", AVX2);
rows_for!(rows_avx512, "avx512f", AVX512);

/// The widest instruction set this CPU has that sweeps are compiled for (detected once; the
/// detection is cached by the standard library).
#[inline]
fn isa() -> u8 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            return AVX512;
        }
        if std::is_x86_feature_detected!("avx2") {
            return AVX2;
        }
    }
    BASELINE
}

/// Updates rows `rows`, columns `cols` of `dst` from `src` (and `f`, empty when the kernel needs
/// none) on this thread, with the widest vectors the CPU offers.
pub fn sweep_rows(
    k: Kernel,
    stores: Stores,
    src: View,
    f: View,
    dst: &mut ViewMut,
    rows: Range<usize>,
    cols: &Range<usize>,
) {
    match isa() {
        // SAFETY: `isa` detected the feature each function is compiled for.
        #[cfg(target_arch = "x86_64")]
        AVX512 => unsafe { rows_avx512(k, stores, src, f, dst, rows, cols) },
        #[cfg(target_arch = "x86_64")]
        AVX2 => unsafe { rows_avx2(k, stores, src, f, dst, rows, cols) },
        _ => rows_generic::<BASELINE>(k, stores, src, f, dst, rows, cols),
    }
}

/// Applies `k` to the cells `rows × cols` of `u`, writing them into `v` (both whole ghosted
/// arrays, `stride` columns); `f` (same shape, or empty when the kernel needs none) is the
/// right-hand side. The rows are split over the current rayon pool when `parallel`.
#[allow(clippy::too_many_arguments)]
pub fn sweep(
    k: Kernel,
    stores: Stores,
    u: &[f64],
    v: &mut [f64],
    f: &[f64],
    stride: usize,
    rows: Range<usize>,
    cols: Range<usize>,
    parallel: bool,
) {
    debug_assert!(rows.start >= 1 && cols.start >= 1 && cols.end < stride);
    debug_assert!(rows.end * stride < u.len() && u.len() == v.len());
    if rows.is_empty() || cols.is_empty() {
        return;
    }
    let (src, fv) = (View::whole(u, stride), View::whole(f, stride));
    let out_rows = &mut v[rows.start * stride..rows.end * stride];
    let one = |(r, chunk): (usize, &mut [f64])| {
        let i = rows.start + r;
        let mut dst = ViewMut {
            data: chunk,
            stride,
            row0: i,
            col0: 0,
        };
        sweep_rows(k, stores, src, fv, &mut dst, i..i + 1, &cols);
    };
    if parallel {
        let min_rows = (rows.len() / (4 * rayon::current_num_threads())).max(1);
        out_rows
            .par_chunks_mut(stride)
            .with_min_len(min_rows)
            .enumerate()
            .for_each(one);
    } else {
        let mut dst = ViewMut {
            data: out_rows,
            stride,
            row0: rows.start,
            col0: 0,
        };
        sweep_rows(k, stores, src, fv, &mut dst, rows, &cols);
    }
}

/// The largest `|v − u|` over `rows × cols`, and whether any `v` there is NaN or infinite.
pub fn max_change(
    u: &[f64],
    v: &[f64],
    stride: usize,
    rows: Range<usize>,
    cols: Range<usize>,
    parallel: bool,
) -> (f64, bool) {
    let (u, v) = (View::whole(u, stride), View::whole(v, stride));
    let one = |i: usize| row_change(u, v, i, &cols);
    if parallel {
        rows.into_par_iter().map(one).reduce(|| (0.0, false), worse)
    } else {
        rows.map(one).fold((0.0, false), worse)
    }
}

/// The largest `|new − old|` over cells `cols` of row `i`, and whether any `new` there is NaN or
/// infinite.
pub fn row_change(old: View, new: View, i: usize, cols: &Range<usize>) -> (f64, bool) {
    let (a, b) = (old.from(i, cols.start), new.from(i, cols.start));
    let (a, b) = (&a[..cols.len()], &b[..cols.len()]);
    a.iter().zip(b).fold((0.0f64, false), |(m, bad), (x, y)| {
        ((y - x).abs().max(m), bad || !y.is_finite())
    })
}

/// Combines two `(largest change, any not finite)` results.
pub fn worse(a: (f64, bool), b: (f64, bool)) -> (f64, bool) {
    (a.0.max(b.0), a.1 || b.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A straightforward 2D-indexed Laplace step to compare the flat kernel with.
    fn naive(u: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let mut v = u.to_vec();
        for i in 1..u.len() - 1 {
            for j in 1..u[0].len() - 1 {
                v[i][j] = 0.25 * (u[i - 1][j] + u[i + 1][j] + u[i][j - 1] + u[i][j + 1]);
            }
        }
        v
    }

    /// A test field of `rows × cols` cells with no pattern a kernel could get right by luck.
    fn field(rows: usize, cols: usize) -> Vec<Vec<f64>> {
        (0..rows)
            .map(|i| {
                (0..cols)
                    .map(|j| ((i * 31 + j * 17) % 23) as f64 / 7.0 + 0.1)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn laplace_sweep_matches_the_naive_loop_bit_for_bit_every_way() {
        // 150 columns: streamed rows have a cached lead, whole streamed chunks and a cached tail.
        let (rows, cols) = (9, 150);
        let grid = field(rows, cols);
        let want = naive(&grid).concat();
        let flat: Vec<f64> = grid.concat();
        for parallel in [false, true] {
            for stores in [Stores::Cached, Stores::Streaming] {
                let mut v = flat.clone();
                sweep(
                    Kernel::Laplace,
                    stores,
                    &flat,
                    &mut v,
                    &[],
                    cols,
                    1..rows - 1,
                    1..cols - 1,
                    parallel,
                );
                assert_eq!(v, want, "parallel = {parallel}, {stores}");
            }
        }
    }

    #[test]
    fn streaming_stores_write_what_cached_stores_write_for_every_kernel() {
        let (rows, cols) = (7, 203);
        let u: Vec<f64> = field(rows, cols).concat();
        let f: Vec<f64> = u.iter().map(|x| x * 3.0 - 1.0).collect();
        let kernels = [
            Kernel::Laplace,
            Kernel::Poisson {
                cx: 3.0,
                cy: 5.0,
                inv_d: 1.0 / 16.0,
            },
            Kernel::Heat { rx: 0.2, ry: 0.15 },
        ];
        for k in kernels {
            let f: &[f64] = if matches!(k, Kernel::Poisson { .. }) {
                &f
            } else {
                &[]
            };
            // Odd column ranges shift each row's alignment against the 64-byte lines.
            for c0 in 1..5 {
                let run = |stores| {
                    let mut v = vec![-7.0; u.len()];
                    sweep(
                        k,
                        stores,
                        &u,
                        &mut v,
                        f,
                        cols,
                        1..rows - 1,
                        c0..cols - 1,
                        false,
                    );
                    v
                };
                assert_eq!(
                    run(Stores::Cached),
                    run(Stores::Streaming),
                    "{k:?} from column {c0}"
                );
            }
        }
    }

    #[test]
    fn heat_kernel_keeps_a_linear_field_and_max_change_sees_nan() {
        // A linear field is harmonic: the heat step leaves it unchanged (up to rounding).
        let (rows, cols) = (5, 6);
        let u: Vec<f64> = (0..rows * cols)
            .map(|k| (k / cols) as f64 + 2.0 * (k % cols) as f64)
            .collect();
        let mut v = u.clone();
        sweep(
            Kernel::Heat { rx: 0.2, ry: 0.2 },
            Stores::Cached,
            &u,
            &mut v,
            &[],
            cols,
            1..rows - 1,
            1..cols - 1,
            false,
        );
        let (m, bad) = max_change(&u, &v, cols, 1..rows - 1, 1..cols - 1, false);
        assert!(m < 1e-12 && !bad);
        v[2 * cols + 3] = f64::NAN;
        assert!(max_change(&u, &v, cols, 1..rows - 1, 1..cols - 1, true).1);
    }
}
