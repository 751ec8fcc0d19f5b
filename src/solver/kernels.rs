//! The 5-point update of one row, and a sweep of many rows on one or more threads.
//!
//! Arrays are ghosted local arrays stored row-major as flat slices with `stride` columns. Each
//! kernel evaluates its formula in one fixed order, so a cell's new value depends only on its
//! neighbours' old values: results are bitwise the same whichever rank, thread or redundant ghost
//! update computes them.

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

/// Applies `k` to the cells `rows × cols` of `u`, writing them into `v`; `f` (same shape, or
/// empty when the kernel needs none) is the right-hand side. The rows are split over the current
/// rayon pool when `parallel`.
#[allow(clippy::too_many_arguments)]
pub fn sweep(
    k: Kernel,
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
    let out_rows = &mut v[rows.start * stride..rows.end * stride];
    let one = |(r, out_row): (usize, &mut [f64])| {
        let i = rows.start + r;
        let at = |row: usize| row * stride;
        let n = &u[at(i - 1) + cols.start..];
        let s = &u[at(i + 1) + cols.start..];
        let c = &u[at(i) + cols.start - 1..];
        let fr = if f.is_empty() {
            f
        } else {
            &f[at(i) + cols.start..]
        };
        row(k, n, c, s, fr, &mut out_row[cols.clone()]);
    };
    if parallel {
        let min_rows = (rows.len() / (4 * rayon::current_num_threads())).max(1);
        out_rows
            .par_chunks_mut(stride)
            .with_min_len(min_rows)
            .enumerate()
            .for_each(one);
    } else {
        out_rows.chunks_mut(stride).enumerate().for_each(one);
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
    let one = |i: usize| {
        let (a, b) = (
            &u[i * stride..][cols.clone()],
            &v[i * stride..][cols.clone()],
        );
        a.iter().zip(b).fold((0.0f64, false), |(m, bad), (x, y)| {
            ((y - x).abs().max(m), bad || !y.is_finite())
        })
    };
    let both = |(m1, b1): (f64, bool), (m2, b2): (f64, bool)| (m1.max(m2), b1 || b2);
    if parallel {
        rows.into_par_iter().map(one).reduce(|| (0.0, false), both)
    } else {
        rows.map(one).fold((0.0, false), both)
    }
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

    #[test]
    fn laplace_sweep_matches_the_naive_loop_bit_for_bit_serial_and_parallel() {
        let (rows, cols) = (9, 13);
        let grid: Vec<Vec<f64>> = (0..rows)
            .map(|i| {
                (0..cols)
                    .map(|j| ((i * 31 + j * 17) % 23) as f64 / 7.0 + 0.1)
                    .collect()
            })
            .collect();
        let want = naive(&grid);
        let flat: Vec<f64> = grid.concat();
        for parallel in [false, true] {
            let mut v = flat.clone();
            sweep(
                Kernel::Laplace,
                &flat,
                &mut v,
                &[],
                cols,
                1..rows - 1,
                1..cols - 1,
                parallel,
            );
            assert_eq!(v, want.concat(), "parallel = {parallel}");
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
