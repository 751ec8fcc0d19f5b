//! Temporal blocking: several sweeps on one cache-sized tile before moving on to the next.
//!
//! A Jacobi sweep far larger than the cache is bound by memory: every sweep reads and writes the
//! whole field. A *pass* of L sweeps instead takes one tile T of the final region at a time,
//! copies nothing but reads the old field around it once, and runs the L sweeps in two scratch
//! buffers that stay in the core's cache, writing only the last sweep's values back:
//!
//! ```text
//!   sweep k updates (T grown by L−1−k) ∩ region[k]      k = 0 … L−1
//!   sweep 0 reads the field, sweeps 1…L−2 read and write scratch, sweep L−1 writes the output
//! ```
//!
//! Neighbouring tiles recompute the cells where their grown regions overlap (overlapped, or
//! "ghost-zone", tiling), so tiles are independent and run on any thread. Each cell is still
//! computed by the same formula from the same neighbour values as in an untiled sweep, so the field
//! is bitwise the same. The regions come from [`crate::grid::Layout::grown`]: each one is the one
//! before shrunk by one cell towards every neighbour, and ghost cells on physical edges (never in a
//! region) hold the fixed boundary values every sweep reads.

use super::kernels::{row_change, sweep_rows, worse, Kernel, Stores, View, ViewMut};
use crate::decomp::Rect;
use rayon::prelude::*;
use std::ops::Range;

/// A pass of `regions.len()` sweeps, each over its region of the ghosted local arrays.
#[derive(Debug, Clone)]
pub struct Pass<'a> {
    /// The update rule.
    pub kernel: Kernel,
    /// The cells each sweep updates, in local coordinates; each the one before shrunk by one cell
    /// on some sides (those facing neighbours) and by none on the others.
    pub regions: &'a [Rect],
    /// The rows and columns of one tile of the last region.
    pub tile: (usize, usize),
    /// The stores of the last sweep, into the output array.
    pub stores: Stores,
    /// When the pass ends on a residual check: the cells (the interior) whose change in the last
    /// sweep is measured.
    pub check: Option<Rect>,
}

/// The tile shape for a pass of `steps` sweeps over `region` whose two scratch buffers fit in
/// `budget` bytes: as many whole columns as fit up to a width of 512 cells (longer rows stream
/// better from memory, shorter ones leave room for taller tiles), then as many rows as the budget
/// allows, at least one.
pub fn tile_shape(region: &Rect, steps: usize, budget: usize) -> (usize, usize) {
    let pad = 2 * steps;
    let cols = region.cols.len().clamp(1, 512);
    let per_row = 2 * (cols + pad) * std::mem::size_of::<f64>();
    let rows = (budget / per_row).saturating_sub(pad).max(1);
    (rows.min(region.rows.len().max(1)), cols)
}

/// `r` grown by `e` on every side, clipped to `within`.
fn grow(r: &Rect, e: usize, within: &Rect) -> Rect {
    Rect {
        rows: r.rows.start.saturating_sub(e).max(within.rows.start)
            ..(r.rows.end + e).min(within.rows.end),
        cols: r.cols.start.saturating_sub(e).max(within.cols.start)
            ..(r.cols.end + e).min(within.cols.end),
    }
}

/// The cells both `a` and `b` hold (possibly empty).
fn intersect(a: &Rect, b: &Rect) -> Rect {
    let clip = |x: &Range<usize>, y: &Range<usize>| {
        let (s, e) = (x.start.max(y.start), x.end.min(y.end));
        s..e.max(s)
    };
    Rect {
        rows: clip(&a.rows, &b.rows),
        cols: clip(&a.cols, &b.cols),
    }
}

/// Splits `r` into consecutive ranges of `n` (the last one shorter).
fn chunks(r: &Range<usize>, n: usize) -> impl Iterator<Item = Range<usize>> + '_ {
    (r.start..r.end)
        .step_by(n)
        .map(move |s| s..(s + n).min(r.end))
}

/// Runs `pass` over `u` (the field before it) into `v` (the field after it, at the last region's
/// cells); `f` is the right-hand side or empty; all three have `stride` columns. Tile rows go to
/// the current rayon pool when `parallel`. Returns the largest change of the last sweep over
/// `pass.check` and whether any value there is not finite (zero and false without a check).
pub fn run_pass(
    pass: &Pass,
    u: &[f64],
    v: &mut [f64],
    f: &[f64],
    stride: usize,
    parallel: bool,
) -> (f64, bool) {
    let steps = pass.regions.len();
    let last = pass.regions.last().expect("a pass has at least one sweep");
    if last.cells() == 0 {
        return (0.0, false);
    }
    let bounds = Rect {
        rows: 0..u.len() / stride,
        cols: 0..stride,
    };
    let (th, tw) = pass.tile;
    let scratch_len = (th + 2 * steps) * (tw + 2 * steps);
    let out = &mut v[last.rows.start * stride..last.rows.end * stride];
    let strip = |scratch: &mut Vec<f64>, (s, rows): (usize, &mut [f64])| {
        let r0 = last.rows.start + s * th;
        let mut dst = ViewMut {
            data: rows,
            stride,
            row0: r0,
            col0: 0,
        };
        let mut worst = (0.0f64, false);
        for cols in chunks(&last.cols, tw) {
            let tile = Rect {
                rows: r0..(r0 + th).min(last.rows.end),
                cols,
            };
            worst = worse(
                worst,
                run_tile(pass, &tile, &bounds, u, f, stride, scratch, &mut dst),
            );
        }
        worst
    };
    if parallel {
        out.par_chunks_mut(th * stride)
            .enumerate()
            .map_init(|| vec![0.0; 2 * scratch_len], strip)
            .reduce(|| (0.0, false), worse)
    } else {
        let mut scratch = vec![0.0; 2 * scratch_len];
        out.chunks_mut(th * stride)
            .enumerate()
            .map(|x| strip(&mut scratch, x))
            .fold((0.0, false), worse)
    }
}

/// The sweeps of `pass` on one tile, the last into `dst`; the residual of the tile's checked cells.
#[allow(clippy::too_many_arguments)]
fn run_tile(
    pass: &Pass,
    tile: &Rect,
    bounds: &Rect,
    u: &[f64],
    f: &[f64],
    stride: usize,
    scratch: &mut [f64],
    dst: &mut ViewMut,
) -> (f64, bool) {
    let steps = pass.regions.len();
    // Everything any sweep of this tile reads.
    let span = grow(tile, steps, bounds);
    let sw = span.cols.len();
    let (mut a, mut b) = scratch[..2 * span.cells()].split_at_mut(span.cells());
    // Cells outside the first region that sweeps read are fixed boundary values: give both
    // buffers their copy (sweep 0 reads the field itself).
    if steps > 1 {
        let first = &pass.regions[0];
        for i in span.rows.clone() {
            let row = &u[i * stride..][span.cols.clone()];
            let at = (i - span.rows.start) * sw;
            let keep = if first.rows.contains(&i) {
                intersect(first, &span).cols
            } else {
                span.cols.start..span.cols.start
            };
            for part in [span.cols.start..keep.start, keep.end..span.cols.end] {
                let (x, y) = (part.start - span.cols.start, part.end - span.cols.start);
                a[at + x..at + y].copy_from_slice(&row[x..y]);
                b[at + x..at + y].copy_from_slice(&row[x..y]);
            }
        }
    }
    let fv = View::whole(f, stride);
    let (r0, c0) = (span.rows.start, span.cols.start);
    fn view(data: &[f64], stride: usize, row0: usize, col0: usize) -> View<'_> {
        View {
            data,
            stride,
            row0,
            col0,
        }
    }
    for (k, region) in pass.regions.iter().enumerate() {
        let rect = intersect(&grow(tile, steps - 1 - k, bounds), region);
        let src = if k == 0 {
            View::whole(u, stride)
        } else {
            view(a, sw, r0, c0)
        };
        if k + 1 == steps {
            // The last sweep writes the output: cached when the residual is read back at once.
            let stores = match pass.check {
                Some(_) => Stores::Cached,
                None => pass.stores,
            };
            sweep_rows(pass.kernel, stores, src, fv, dst, rect.rows, &rect.cols);
        } else {
            let mut out = ViewMut {
                data: b,
                stride: sw,
                row0: span.rows.start,
                col0: span.cols.start,
            };
            let cols = rect.cols.clone();
            sweep_rows(
                pass.kernel,
                Stores::Cached,
                src,
                fv,
                &mut out,
                rect.rows,
                &cols,
            );
            std::mem::swap(&mut a, &mut b);
        }
    }
    match &pass.check {
        None => (0.0, false),
        Some(interior) => {
            // `a` holds the second-last sweep (or the field itself for a pass of one sweep).
            let before = if steps == 1 {
                View::whole(u, stride)
            } else {
                view(a, sw, r0, c0)
            };
            let after = View {
                data: dst.data,
                stride: dst.stride,
                row0: dst.row0,
                col0: dst.col0,
            };
            let cells = intersect(tile, interior);
            cells
                .rows
                .map(|i| row_change(before, after, i, &cells.cols))
                .fold((0.0, false), worse)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solver::kernels::sweep;

    #[test]
    fn tiles_fit_the_budget() {
        let r = Rect {
            rows: 4..4100,
            cols: 4..4100,
        };
        let (th, tw) = tile_shape(&r, 4, 1 << 20);
        assert_eq!(tw, 512);
        assert!(2 * (th + 8) * (tw + 8) * 8 <= 1 << 20 && th > 64, "{th}");
        let small = Rect {
            rows: 1..6,
            cols: 1..4,
        };
        assert_eq!(tile_shape(&small, 3, 1 << 20), (5, 3));
        assert_eq!(tile_shape(&r, 4, 0).0, 1);
    }

    /// `steps` untiled Laplace sweeps of a `rows × cols` array whose outer ring is fixed, each over
    /// the region `regions[k]`, and the last sweep's change over `check`.
    fn untiled(u0: &[f64], cols: usize, regions: &[Rect], check: &Rect) -> (Vec<f64>, f64) {
        let (mut u, mut v) = (u0.to_vec(), u0.to_vec());
        for r in regions {
            let k = Kernel::Laplace;
            sweep(
                k,
                Stores::Cached,
                &u,
                &mut v,
                &[],
                cols,
                r.rows.clone(),
                r.cols.clone(),
                false,
            );
            std::mem::swap(&mut u, &mut v);
        }
        let (m, _) = crate::solver::kernels::max_change(
            &v,
            &u,
            cols,
            check.rows.clone(),
            check.cols.clone(),
            false,
        );
        (u, m)
    }

    #[test]
    fn a_tiled_pass_equals_untiled_sweeps_bit_for_bit() {
        // A 3-layer ghost zone: regions shrink towards the neighbours west and south only (the
        // north and east edges are physical), as Layout::grown gives them.
        let (rows, cols, w) = (41, 67, 3);
        let u0: Vec<f64> = (0..rows * cols)
            .map(|x| ((x * 37) % 101) as f64 / 13.0)
            .collect();
        let interior = Rect {
            rows: w..rows - w,
            cols: w..cols - w,
        };
        let regions: Vec<Rect> = (0..w)
            .map(|k| {
                let e = w - 1 - k;
                Rect {
                    rows: w..rows - w + e,
                    cols: w - e..cols - w,
                }
            })
            .collect();
        let (want, want_change) = untiled(&u0, cols, &regions, &interior);
        for tile in [(1, 1), (5, 7), (8, 64), (100, 100)] {
            for (parallel, stores) in [(false, Stores::Cached), (true, Stores::Streaming)] {
                for check in [None, Some(interior.clone())] {
                    let pass = Pass {
                        kernel: Kernel::Laplace,
                        regions: &regions,
                        tile,
                        stores,
                        check: check.clone(),
                    };
                    let mut v = u0.clone();
                    let (change, bad) = run_pass(&pass, &u0, &mut v, &[], cols, parallel);
                    // Only the last region's cells are the pass's output.
                    let last = regions.last().unwrap();
                    for i in last.rows.clone() {
                        for j in last.cols.clone() {
                            assert_eq!(
                                v[i * cols + j].to_bits(),
                                want[i * cols + j].to_bits(),
                                "cell ({i}, {j}), tile {tile:?}"
                            );
                        }
                    }
                    let expected = if check.is_some() { want_change } else { 0.0 };
                    assert_eq!(change, expected, "tile {tile:?}");
                    assert!(!bad);
                }
            }
        }
    }
}
