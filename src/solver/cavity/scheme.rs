//! The cavity's discretisation on one rank's block: its constants, the stable time step, and the
//! kernels of one time step (wall vorticity, the vorticity step, SOR of the stream function).
//!
//! Each kernel works on a region of the ghosted local arrays, a [`Rect`] in local indices: the
//! block's interior, or the interior grown into the ghost zone towards neighbours, where a step
//! with a ghost width wider than 1 computes redundantly what the neighbour computes too (see
//! [`super`]). Every cell's value is a function of its neighbours' values alone, and red-black
//! colours follow global indices, so a cell computed redundantly gets exactly its owner's bits.
//!
//! With `parallel`, the kernels split their region by rows over the current rayon pool (the
//! caller installs the rank's pool): the vorticity step and the largest speed are pointwise, an
//! SOR colour reads only cells of the other colour, and the largest-value reductions are free of
//! order, so every thread count gives the same bits.
//!
//! The kernels are `#[inline]`: the solver calls them from another module, and inlined into its
//! step they ran 5–8 % faster here (255² on one rank, against the same code called across).

use crate::decomp::Rect;
use rayon::prelude::*;
use std::ops::Range;

/// Constants of one cavity run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cavity {
    /// Grid spacing along x and y.
    pub hx: f64,
    /// Grid spacing along y.
    pub hy: f64,
    /// Kinematic viscosity, 1/Re.
    pub nu: f64,
    /// Lid speed.
    pub lid: f64,
    /// The SOR relaxation factor for the stream function.
    pub sor: f64,
}

impl Cavity {
    /// The constants for an `nx × ny` interior at Reynolds number `re`; the SOR factor is the
    /// optimal one for the model problem, `2/(1 + sin(π h))`.
    pub fn new(nx: usize, ny: usize, re: f64) -> Self {
        let (hx, hy) = (1.0 / (nx + 1) as f64, 1.0 / (ny + 1) as f64);
        let h = hx.max(hy);
        Cavity {
            hx,
            hy,
            nu: 1.0 / re,
            lid: 1.0,
            sor: 2.0 / (1.0 + (std::f64::consts::PI * h).sin()),
        }
    }

    /// The cell Reynolds number `U·h/ν` of the coarser direction: central differences of the
    /// advection term stay free of wiggles below 2, and the grid resolves the wall layers only
    /// while it is moderate.
    pub fn cell_reynolds(&self) -> f64 {
        self.lid * self.hx.max(self.hy) / self.nu
    }

    /// The stable step for the largest speed `umax` (at least the lid's).
    pub fn dt(&self, umax: f64) -> f64 {
        let (ix2, iy2) = (1.0 / (self.hx * self.hx), 1.0 / (self.hy * self.hy));
        let u = umax.max(self.lid);
        let diffusive = 1.0 / (2.0 * self.nu * (ix2 + iy2));
        let cell_peclet = 2.0 * self.nu / (u * u);
        let cfl = 1.0 / (u * (1.0 / self.hx + 1.0 / self.hy));
        0.9 * diffusive.min(cell_peclet).min(cfl)
    }
}

/// Local row/column ranges and the flat-array stride of a block.
#[derive(Debug, Clone)]
pub struct Block {
    /// Columns per local row.
    pub stride: usize,
    /// Interior rows, local indices.
    pub rows: Range<usize>,
    /// Interior columns, local indices.
    pub cols: Range<usize>,
    /// The global row and column of local cell (0, 0).
    pub origin: (isize, isize),
}

impl Block {
    /// The interior as a region.
    pub fn interior(&self) -> Rect {
        Rect {
            rows: self.rows.clone(),
            cols: self.cols.clone(),
        }
    }
}

/// Rows per rayon task for `rows` rows: four tasks per thread of the current pool, so that a
/// thread slowed by another process on its core does not hold up the others long.
fn rows_per_task(rows: usize) -> usize {
    rows.div_ceil(4 * rayon::current_num_threads()).max(1)
}

/// The larger of two changes, NaN if either is: `f64::max` would drop a NaN, and nothing
/// compares greater than NaN, so a NaN kept on the left stays. Free of order.
#[inline]
fn worse(a: f64, b: f64) -> f64 {
    if b.is_nan() || b > a {
        b
    } else {
        a
    }
}

/// Writes the wall vorticity (Thom's formula) into the ghost cells of `omega` next to the region
/// `r` on the physical edges `[north, south, west, east]` of the block (`r` reaches those edges:
/// it never grows past a wall). It reads ψ in the first layer of `r` along each wall. Work along
/// the perimeter only, so it runs on the calling thread.
#[inline]
pub fn wall_vorticity(
    c: &Cavity,
    b: &Block,
    walls: [bool; 4],
    r: &Rect,
    psi: &[f64],
    omega: &mut [f64],
) {
    let s = b.stride;
    let (ix2, iy2) = (2.0 / (c.hx * c.hx), 2.0 / (c.hy * c.hy));
    let (r0, r1, c0, c1) = (r.rows.start, r.rows.end, r.cols.start, r.cols.end);
    if walls[0] {
        for j in r.cols.clone() {
            omega[(r0 - 1) * s + j] = -psi[r0 * s + j] * iy2 - 2.0 * c.lid / c.hy;
        }
    }
    if walls[1] {
        for j in r.cols.clone() {
            omega[r1 * s + j] = -psi[(r1 - 1) * s + j] * iy2;
        }
    }
    for i in r.rows.clone() {
        if walls[2] {
            omega[i * s + c0 - 1] = -psi[i * s + c0] * ix2;
        }
        if walls[3] {
            omega[i * s + c1] = -psi[i * s + c1 - 1] * ix2;
        }
    }
}

/// The constants of the vorticity step.
struct Step {
    ax: f64,
    ay: f64,
    dx: f64,
    dy: f64,
    dt: f64,
}

impl Step {
    /// The new ω of the cell at flat index `k`, and its old one.
    #[inline(always)]
    fn cell(&self, s: usize, k: usize, psi: &[f64], omega: &[f64]) -> (f64, f64) {
        let (ax, ay, dx, dy) = (self.ax, self.ay, self.dx, self.dy);
        let u = (psi[k - s] - psi[k + s]) * ay;
        let v = -(psi[k + 1] - psi[k - 1]) * ax;
        let w = omega[k];
        let advect =
            u * (omega[k + 1] - omega[k - 1]) * ax + v * (omega[k - s] - omega[k + s]) * ay;
        let diffuse = dx * ((omega[k + 1] + omega[k - 1]) - 2.0 * w)
            + dy * ((omega[k - s] + omega[k + s]) - 2.0 * w);
        (w + self.dt * (diffuse - advect), w)
    }

    /// Steps the cells `cols` of row `i` into `out` (that row of `next`); the largest change
    /// over the cells `measured` of them (NaN if any is), 0 if none.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn row(
        &self,
        s: usize,
        i: usize,
        cols: &Range<usize>,
        measured: &Range<usize>,
        psi: &[f64],
        omega: &[f64],
        out: &mut [f64],
    ) -> f64 {
        let m0 = measured.start.clamp(cols.start, cols.end);
        let m1 = measured.end.clamp(m0, cols.end);
        for j in (cols.start..m0).chain(m1..cols.end) {
            out[j] = self.cell(s, i * s + j, psi, omega).0;
        }
        let mut change = 0.0f64;
        for (j, o) in out.iter_mut().enumerate().take(m1).skip(m0) {
            let (n, w) = self.cell(s, i * s + j, psi, omega);
            *o = n;
            change = worse(change, (n - w).abs());
        }
        change
    }
}

/// One explicit Euler step of the vorticity equation over the region `r`, from `omega` into
/// `next`; it reads ψ and ω one cell beyond `r`. Returns the largest `|ω' − ω|` over the cells
/// of `measured` (the interior: a cell computed redundantly is its owner's to measure), or NaN
/// if any new value there is not finite.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn vorticity_step(
    c: &Cavity,
    b: &Block,
    dt: f64,
    r: &Rect,
    measured: &Rect,
    psi: &[f64],
    omega: &[f64],
    next: &mut [f64],
    parallel: bool,
) -> f64 {
    let s = b.stride;
    let q = Step {
        ax: 1.0 / (2.0 * c.hx),
        ay: 1.0 / (2.0 * c.hy),
        dx: c.nu / (c.hx * c.hx),
        dy: c.nu / (c.hy * c.hy),
        dt,
    };
    if r.cells() == 0 {
        return 0.0;
    }
    let none = 0..0;
    let rows = |first: usize, out: &mut [f64]| {
        out.chunks_mut(s)
            .enumerate()
            .map(|(t, row)| {
                let i = first + t;
                let m = if measured.rows.contains(&i) {
                    &measured.cols
                } else {
                    &none
                };
                q.row(s, i, &r.cols, m, psi, omega, row)
            })
            .fold(0.0, worse)
    };
    let out = &mut next[r.rows.start * s..r.rows.end * s];
    if parallel {
        let per = rows_per_task(r.rows.len());
        out.par_chunks_mut(per * s)
            .enumerate()
            .map(|(t, chunk)| rows(r.rows.start + t * per, chunk))
            .reduce(|| 0.0, worse)
    } else {
        rows(r.rows.start, out)
    }
}

/// The largest speed `|(u, v)|` over the interior (NaN speeds are dropped, as `f64::max` does;
/// the vorticity step's residual catches them).
#[inline]
pub fn max_speed(c: &Cavity, b: &Block, psi: &[f64], parallel: bool) -> f64 {
    let s = b.stride;
    let (ax, ay) = (1.0 / (2.0 * c.hx), 1.0 / (2.0 * c.hy));
    let row = |i: usize| {
        let mut m = 0.0f64;
        for j in b.cols.clone() {
            let k = i * s + j;
            let u = (psi[k - s] - psi[k + s]) * ay;
            let v = (psi[k + 1] - psi[k - 1]) * ax;
            m = m.max((u * u + v * v).sqrt());
        }
        m
    };
    if parallel {
        let per = rows_per_task(b.rows.len());
        b.rows
            .clone()
            .into_par_iter()
            .with_min_len(per)
            .map(row)
            .reduce(|| 0.0, f64::max)
    } else {
        b.rows.clone().map(row).fold(0.0, f64::max)
    }
}

/// The constants of an SOR half-sweep.
struct Sor {
    cx: f64,
    cy: f64,
    inv_d: f64,
    sor: f64,
}

impl Sor {
    /// Relaxes the cells `first, first + 2, …` below `end` of one row: `mid` is the row of ψ,
    /// `up` and `down` the rows above and below it, `omega` the row of ω (whole rows each).
    #[inline(always)]
    fn row(
        &self,
        first: usize,
        end: usize,
        up: &[f64],
        mid: &mut [f64],
        down: &[f64],
        omega: &[f64],
    ) {
        let (cx, cy, inv_d) = (self.cx, self.cy, self.inv_d);
        for j in (first..end).step_by(2) {
            let gs = ((up[j] + down[j]) * cy + (mid[j - 1] + mid[j + 1]) * cx + omega[j]) * inv_d;
            mid[j] += self.sor * (gs - mid[j]);
        }
    }
}

/// One SOR half-sweep of `∇²ψ = −ω` over the cells of region `r` whose global `row + col` has
/// parity `colour`; it reads ψ one cell beyond `r`. Cells of one colour only read cells of the
/// other, so the order within is free: with `parallel`, bands of rows go to the current pool,
/// each given its own copy of the rows just outside it (cells of the other colour, which this
/// half-sweep does not change).
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn sor_colour(
    c: &Cavity,
    b: &Block,
    colour: usize,
    r: &Rect,
    omega: &[f64],
    psi: &mut [f64],
    parallel: bool,
) {
    let s = b.stride;
    if r.cells() == 0 {
        return;
    }
    let (cx, cy) = (1.0 / (c.hx * c.hx), 1.0 / (c.hy * c.hy));
    let q = Sor {
        cx,
        cy,
        inv_d: 1.0 / (2.0 * cx + 2.0 * cy),
        sor: c.sor,
    };
    let first = |i: usize| {
        let gi = b.origin.0 + i as isize;
        r.cols.start
            + ((colour as isize + gi + b.origin.1 + r.cols.start as isize).rem_euclid(2)) as usize
    };
    // Rows `top..` of ψ held in `band`, with the rows just above and below it in `edges`.
    let relax = |top: usize, band: &mut [f64], edges: &[f64]| {
        let n = band.len() / s;
        for t in 0..n {
            let (before, rest) = band.split_at_mut(t * s);
            let (mid, after) = rest.split_at_mut(s);
            let up = if t == 0 {
                &edges[..s]
            } else {
                &before[(t - 1) * s..]
            };
            let down = if t + 1 == n { &edges[s..] } else { &after[..s] };
            let i = top + t;
            q.row(
                first(i),
                r.cols.end,
                up,
                mid,
                down,
                &omega[i * s..(i + 1) * s],
            );
        }
    };
    let per = if parallel {
        rows_per_task(r.rows.len())
    } else {
        r.rows.len()
    };
    let bands: Vec<usize> = r.rows.clone().step_by(per).collect();
    let mut edges = vec![0.0; 2 * s * bands.len()];
    for (&top, e) in bands.iter().zip(edges.chunks_mut(2 * s)) {
        let bottom = (top + per).min(r.rows.end);
        e[..s].copy_from_slice(&psi[(top - 1) * s..top * s]);
        e[s..].copy_from_slice(&psi[bottom * s..(bottom + 1) * s]);
    }
    let all = &mut psi[r.rows.start * s..r.rows.end * s];
    if parallel {
        all.par_chunks_mut(per * s)
            .zip(edges.par_chunks(2 * s))
            .enumerate()
            .for_each(|(t, (band, e))| relax(r.rows.start + t * per, band, e));
    } else {
        relax(r.rows.start, all, &edges);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn red_and_black_cells_alternate_by_global_index() {
        // A 4x5 interior at global offset (1, 2): colour 0 is (row + col) even.
        let b = Block {
            stride: 7,
            rows: 1..5,
            cols: 1..6,
            origin: (0, 1),
        };
        let c = Cavity::new(10, 10, 100.0);
        let omega = vec![0.0; 6 * 7];
        let mut psi = vec![0.0; 6 * 7];
        // With ω = 0 and ψ = 1 on cells of colour 1, a colour-0 sweep leaves colour 1 alone.
        for i in 1..5 {
            for j in 1..6 {
                let (gi, gj) = (i as isize, j as isize + 1);
                if (gi + gj) % 2 == 1 {
                    psi[i * 7 + j] = 1.0;
                }
            }
        }
        let before = psi.clone();
        sor_colour(&c, &b, 0, &b.interior(), &omega, &mut psi, false);
        for i in 1..5 {
            for j in 1..6 {
                let k = i * 7 + j;
                if (i as isize + j as isize + 1) % 2 == 1 {
                    assert_eq!(psi[k], before[k]);
                } else {
                    assert!(psi[k] > 0.0, "colour-0 cell ({i},{j}) was not updated");
                }
            }
        }
    }

    /// Bits of a slice, to compare fields exactly.
    fn bits(x: &[f64]) -> Vec<u64> {
        x.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn kernels_on_threads_give_the_bits_of_one_thread() {
        // A 21x17 interior with one ghost layer, at an odd global offset.
        let (rows, cols) = (23, 19);
        let b = Block {
            stride: cols,
            rows: 1..rows - 1,
            cols: 1..cols - 1,
            origin: (4, 7),
        };
        let c = Cavity::new(40, 40, 400.0);
        let field = |seed: usize| -> Vec<f64> {
            (0..rows * cols)
                .map(|x| (((x * seed) % 97) as f64 / 7.0).sin())
                .collect()
        };
        let (psi, mut omega) = (field(37), field(53));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let r = b.interior();
        let run = |par: bool, omega: &[f64]| {
            let job = || {
                let speed = max_speed(&c, &b, &psi, par);
                let mut next = omega.to_vec();
                let change = vorticity_step(&c, &b, 1e-3, &r, &r, &psi, omega, &mut next, par);
                let mut p = psi.clone();
                for colour in [0, 1, 0, 1] {
                    sor_colour(&c, &b, colour, &r, &next, &mut p, par);
                }
                (speed.to_bits(), change.to_bits(), bits(&next), bits(&p))
            };
            if par {
                pool.install(job)
            } else {
                job()
            }
        };
        let one = run(false, &omega);
        assert!(f64::from_bits(one.1) > 0.0 && one.3 != bits(&psi));
        assert_eq!(run(true, &omega), one);
        // A NaN in one cell (near the end, in one thread's band only) is the step's change on
        // any thread count.
        omega[(rows - 3) * cols + 5] = f64::NAN;
        assert!(f64::from_bits(run(false, &omega).1).is_nan());
        assert!(f64::from_bits(run(true, &omega).1).is_nan());
    }

    #[test]
    fn a_step_over_a_grown_region_measures_the_interior_alone() {
        // Ghost width 2; the region reaches one layer into the ghost zone on every side.
        let (rows, cols) = (15, 13);
        let b = Block {
            stride: cols,
            rows: 2..rows - 2,
            cols: 2..cols - 2,
            origin: (0, 0),
        };
        let c = Cavity::new(30, 30, 100.0);
        let psi: Vec<f64> = (0..rows * cols).map(|x| (x as f64 * 0.37).sin()).collect();
        let mut omega: Vec<f64> = (0..rows * cols).map(|x| (x as f64 * 0.11).cos()).collect();
        // An outer ghost cell that only the frame reads, whose change it makes dwarf the
        // interior's.
        omega[6] = 1e6;
        let grown = Rect {
            rows: 1..rows - 1,
            cols: 1..cols - 1,
        };
        let r = b.interior();
        let (mut wide, mut narrow) = (vec![0.0; rows * cols], vec![0.0; rows * cols]);
        let a = vorticity_step(&c, &b, 1e-3, &grown, &r, &psi, &omega, &mut wide, false);
        let z = vorticity_step(&c, &b, 1e-3, &r, &r, &psi, &omega, &mut narrow, false);
        assert_eq!(a.to_bits(), z.to_bits());
        assert!(a > 0.0 && a < 1e3, "{a}");
        for i in r.rows.clone() {
            let row = i * cols + r.cols.start..i * cols + r.cols.end;
            assert_eq!(bits(&wide[row.clone()]), bits(&narrow[row]));
        }
        assert!(wide[cols + 6].abs() > 1e3, "the frame is computed too");
    }

    #[test]
    fn the_step_respects_every_limit() {
        let c = Cavity::new(127, 127, 100.0);
        let h = 1.0 / 128.0;
        assert!((c.dt(1.0) - 0.9 * h * h * 100.0 / 4.0).abs() < 1e-15);
        let c = Cavity::new(127, 127, 1000.0);
        assert!((c.dt(1.0) - 0.9 * 2.0 / 1000.0).abs() < 1e-15);
    }
}
