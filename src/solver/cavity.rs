//! The lid-driven cavity: incompressible Navier–Stokes in vorticity–stream-function form.
//!
//! On the unit square with the lid (the edge before row 0) moving at speed 1 and no-slip walls:
//! - the vorticity ω is advanced by explicit Euler steps of
//!   `ω_t + u ω_x + v ω_y = (1/Re) ∇²ω`, central differences throughout;
//! - each step, the stream function ψ follows from `∇²ψ = −ω` by red-black SOR sweeps, with a
//!   halo exchange before each colour;
//! - the velocity is `u = ψ_y`, `v = −ψ_x`; on the walls (the ghost layer) ψ = 0 and ω comes from
//!   Thom's formula, `ω = −2ψ_adjacent/h² − 2U/h` (U = 1 on the lid, 0 elsewhere);
//! - the time step is the stable one for the grid, Re and the largest speed on any rank
//!   (an allreduce): `dt = 0.9·min(1/(2ν(1/hx² + 1/hy²)), 2ν/|u|²max, 1/(|u|max(1/hx + 1/hy)))`.
//!
//! The run stops at a steady state, when `max |ω' − ω|/dt` falls below the tolerance, or after
//! the steps asked for. Red-black ordering follows global indices, so results are bitwise the
//! same on any decomposition.

use super::run::Looped;
use super::{Config, Progress};
use crate::comm::{Comm, ReduceOp};
use crate::grid::{DistArray, HaloExchange, Layout, Side};
use crate::Result;
use ndarray::Array2;
use std::ops::Range;

/// Ghia, Ghia & Shin (1982), Table I, the Re = 100 column: `(y, u)` along the vertical
/// centreline x = 0.5, on their uniform 129 × 129 grid (walls included). U. Ghia, K. N. Ghia and
/// C. T. Shin, "High-Re solutions for incompressible flow using the Navier–Stokes equations and a
/// multigrid method", J. Comput. Phys. 48 (1982) 387–411.
pub const GHIA_RE100_U: [(f64, f64); 17] = [
    (1.0000, 1.00000),
    (0.9766, 0.84123),
    (0.9688, 0.78871),
    (0.9609, 0.73722),
    (0.9531, 0.68717),
    (0.8516, 0.23151),
    (0.7344, 0.00332),
    (0.6172, -0.13641),
    (0.5000, -0.20581),
    (0.4531, -0.21090),
    (0.2813, -0.15662),
    (0.1719, -0.10150),
    (0.1016, -0.06434),
    (0.0703, -0.04775),
    (0.0625, -0.04192),
    (0.0547, -0.03717),
    (0.0000, 0.00000),
];

/// Ghia, Ghia & Shin (1982), Table II, the Re = 100 column: `(x, v)` along the horizontal
/// centreline y = 0.5 (see [`GHIA_RE100_U`]).
pub const GHIA_RE100_V: [(f64, f64); 17] = [
    (1.0000, 0.00000),
    (0.9688, -0.05906),
    (0.9609, -0.07391),
    (0.9531, -0.08864),
    (0.9453, -0.10313),
    (0.9063, -0.16914),
    (0.8594, -0.22445),
    (0.8047, -0.24533),
    (0.5000, 0.05454),
    (0.2344, 0.17527),
    (0.2266, 0.17507),
    (0.1563, 0.16077),
    (0.0938, 0.12317),
    (0.0781, 0.10890),
    (0.0703, 0.10091),
    (0.0625, 0.09233),
    (0.0000, 0.00000),
];

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

/// Local row/column ranges and the flat-array stride of a block with one ghost layer.
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

/// Writes the wall vorticity (Thom's formula) into the ghost cells of `omega` on the physical
/// edges `[north, south, west, east]` of the block.
pub fn wall_vorticity(c: &Cavity, b: &Block, walls: [bool; 4], psi: &[f64], omega: &mut [f64]) {
    let s = b.stride;
    let (ix2, iy2) = (2.0 / (c.hx * c.hx), 2.0 / (c.hy * c.hy));
    let (r0, r1, c0, c1) = (b.rows.start, b.rows.end, b.cols.start, b.cols.end);
    if walls[0] {
        for j in b.cols.clone() {
            omega[(r0 - 1) * s + j] = -psi[r0 * s + j] * iy2 - 2.0 * c.lid / c.hy;
        }
    }
    if walls[1] {
        for j in b.cols.clone() {
            omega[r1 * s + j] = -psi[(r1 - 1) * s + j] * iy2;
        }
    }
    for i in b.rows.clone() {
        if walls[2] {
            omega[i * s + c0 - 1] = -psi[i * s + c0] * ix2;
        }
        if walls[3] {
            omega[i * s + c1] = -psi[i * s + c1 - 1] * ix2;
        }
    }
}

/// One explicit Euler step of the vorticity equation over the interior, from `omega` into
/// `next`. Returns the largest `|ω' − ω|`, or NaN if any new value is not finite.
pub fn vorticity_step(
    c: &Cavity,
    b: &Block,
    dt: f64,
    psi: &[f64],
    omega: &[f64],
    next: &mut [f64],
) -> f64 {
    let s = b.stride;
    let (ax, ay) = (1.0 / (2.0 * c.hx), 1.0 / (2.0 * c.hy));
    let (dx, dy) = (c.nu / (c.hx * c.hx), c.nu / (c.hy * c.hy));
    let mut change = 0.0f64;
    for i in b.rows.clone() {
        for j in b.cols.clone() {
            let k = i * s + j;
            let u = (psi[k - s] - psi[k + s]) * ay;
            let v = -(psi[k + 1] - psi[k - 1]) * ax;
            let w = omega[k];
            let advect =
                u * (omega[k + 1] - omega[k - 1]) * ax + v * (omega[k - s] - omega[k + s]) * ay;
            let diffuse = dx * ((omega[k + 1] + omega[k - 1]) - 2.0 * w)
                + dy * ((omega[k - s] + omega[k + s]) - 2.0 * w);
            let n = w + dt * (diffuse - advect);
            next[k] = n;
            // Keep a NaN once seen (f64::max would drop it): nothing compares greater than NaN.
            let d = (n - w).abs();
            if d.is_nan() || d > change {
                change = d;
            }
        }
    }
    change
}

/// The largest speed `|(u, v)|` over the interior.
pub fn max_speed(c: &Cavity, b: &Block, psi: &[f64]) -> f64 {
    let s = b.stride;
    let (ax, ay) = (1.0 / (2.0 * c.hx), 1.0 / (2.0 * c.hy));
    let mut m = 0.0f64;
    for i in b.rows.clone() {
        for j in b.cols.clone() {
            let k = i * s + j;
            let u = (psi[k - s] - psi[k + s]) * ay;
            let v = (psi[k + 1] - psi[k - 1]) * ax;
            m = m.max((u * u + v * v).sqrt());
        }
    }
    m
}

/// One SOR half-sweep of `∇²ψ = −ω` over the interior cells whose global `row + col` has parity
/// `colour`. Cells of one colour only read cells of the other, so the order within is free.
pub fn sor_colour(c: &Cavity, b: &Block, colour: usize, omega: &[f64], psi: &mut [f64]) {
    let s = b.stride;
    let (cx, cy) = (1.0 / (c.hx * c.hx), 1.0 / (c.hy * c.hy));
    let inv_d = 1.0 / (2.0 * cx + 2.0 * cy);
    for i in b.rows.clone() {
        let gi = b.origin.0 + i as isize;
        let first = b.cols.start
            + ((colour as isize + gi + b.origin.1 + b.cols.start as isize).rem_euclid(2)) as usize;
        for j in (first..b.cols.end).step_by(2) {
            let k = i * s + j;
            let gs = ((psi[k - s] + psi[k + s]) * cy + (psi[k - 1] + psi[k + 1]) * cx + omega[k])
                * inv_d;
            psi[k] += c.sor * (gs - psi[k]);
        }
    }
}

/// The velocity `(u, v)` at every interior cell, as two `(rows, cols)` arrays in row-major order.
pub fn velocity(c: &Cavity, b: &Block, psi: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let s = b.stride;
    let (ax, ay) = (1.0 / (2.0 * c.hx), 1.0 / (2.0 * c.hy));
    let mut u = Vec::with_capacity(b.rows.len() * b.cols.len());
    let mut v = Vec::with_capacity(u.capacity());
    for i in b.rows.clone() {
        for j in b.cols.clone() {
            let k = i * s + j;
            u.push((psi[k - s] - psi[k + s]) * ay);
            v.push(-(psi[k + 1] - psi[k - 1]) * ax);
        }
    }
    (u, v)
}

/// The state of a cavity run on one rank.
pub struct CavityState {
    /// The constants.
    pub c: Cavity,
    /// The stream function, ghosted.
    pub psi: DistArray,
    /// The vorticity, ghosted.
    pub omega: DistArray,
    /// Steps done.
    pub steps: usize,
    /// Simulated time.
    pub time: f64,
}

/// What [`advance`] did.
pub struct Advance {
    /// The residual `max |ω' − ω|/dt` at the last check.
    pub residual: f64,
    /// Whether the tolerance was reached.
    pub converged: bool,
    /// Seconds in computation.
    pub compute: f64,
    /// Seconds in halo exchanges.
    pub halo: f64,
    /// Seconds in allreduces.
    pub reduce: f64,
    /// Seconds in the `after_step` hook (checkpoints).
    pub saving: f64,
}

/// Runs steps until `max_steps` (counted from the start of the run) or the tolerance, calling
/// `after_step(state)` (to checkpoint) and then `progress(step, residual)` after each. Collective.
#[allow(clippy::too_many_arguments)]
pub fn advance(
    comm: &Comm,
    st: &mut CavityState,
    ex: &mut HaloExchange,
    max_steps: usize,
    tol: Option<f64>,
    check_every: usize,
    sweeps: usize,
    mut after_step: impl FnMut(&mut CavityState) -> Result<()>,
    mut progress: impl FnMut(usize, Option<f64>),
) -> Result<Advance> {
    let layout = st.psi.layout().clone();
    let r = layout.interior();
    let b = Block {
        stride: layout.local_shape().1,
        rows: r.rows.clone(),
        cols: r.cols.clone(),
        origin: layout.global_of(0, 0),
    };
    let walls = [Side::North, Side::South, Side::West, Side::East].map(|s| layout.is_physical(s));
    let mut next = st.omega.clone();
    let mut out = Advance {
        residual: f64::NAN,
        converged: false,
        compute: 0.0,
        halo: 0.0,
        reduce: 0.0,
        saving: 0.0,
    };
    while st.steps < max_steps {
        let t0 = Comm::wtime();
        ex.exchange(&mut st.psi);
        let t1 = Comm::wtime();
        {
            let psi = st.psi.local().as_slice().expect("contiguous");
            let om = st.omega.local_mut().as_slice_mut().expect("contiguous");
            wall_vorticity(&st.c, &b, walls, psi, om);
        }
        let t2 = Comm::wtime();
        ex.exchange(&mut st.omega);
        let t3 = Comm::wtime();
        let umax = max_speed(&st.c, &b, st.psi.local().as_slice().expect("contiguous"));
        let t4 = Comm::wtime();
        let umax = comm.all_reduce_value(umax, ReduceOp::Max)?;
        let dt = st.c.dt(umax);
        let t5 = Comm::wtime();
        let change = vorticity_step(
            &st.c,
            &b,
            dt,
            st.psi.local().as_slice().expect("contiguous"),
            st.omega.local().as_slice().expect("contiguous"),
            next.local_mut().as_slice_mut().expect("contiguous"),
        );
        std::mem::swap(&mut st.omega, &mut next);
        st.steps += 1;
        st.time += dt;
        let mut halo = (t1 - t0) + (t3 - t2);
        let mut compute = (t2 - t1) + (t4 - t3) + (Comm::wtime() - t5);
        for sweep in 0..sweeps {
            for colour in 0..2 {
                let a = Comm::wtime();
                // ψ has not changed since the exchange that began this step.
                if sweep + colour > 0 {
                    ex.exchange(&mut st.psi);
                }
                let m = Comm::wtime();
                let om = st.omega.local().as_slice().expect("contiguous");
                sor_colour(
                    &st.c,
                    &b,
                    colour,
                    om,
                    st.psi.local_mut().as_slice_mut().expect("contiguous"),
                );
                halo += m - a;
                compute += Comm::wtime() - m;
            }
        }
        out.compute += compute;
        out.halo += halo;
        let check = st.steps.is_multiple_of(check_every) || st.steps == max_steps;
        let mut seen = None;
        if check {
            let a = Comm::wtime();
            // MPI's MAX may drop a NaN; infinity survives it.
            let mine = if change.is_nan() {
                f64::INFINITY
            } else {
                change / dt
            };
            let worst = comm.all_reduce_value(mine, ReduceOp::Max)?;
            out.reduce += Comm::wtime() - a;
            if !worst.is_finite() {
                let what = format!("cavity: the vorticity at t = {:.6}", st.time);
                return Err(super::run::diverged(comm, &st.omega, &what, st.steps));
            }
            out.residual = worst;
            seen = Some(worst);
        }
        out.reduce += t5 - t4;
        let a = Comm::wtime();
        after_step(st)?;
        out.saving += Comm::wtime() - a;
        progress(st.steps, seen);
        if seen.is_some_and(|r| tol.is_some_and(|t| r <= t)) {
            out.converged = true;
            break;
        }
    }
    Ok(out)
}

/// The cavity's loop inside [`super::solve`]: from rest to `cfg.iters` steps or the tolerance.
pub(crate) fn cavity_loop(
    comm: &Comm,
    cfg: &Config,
    layout: &Layout,
    mut progress: Option<&mut dyn FnMut(Progress)>,
) -> Result<Looped> {
    let mut st = CavityState {
        c: Cavity::new(cfg.nx, cfg.ny, cfg.re),
        psi: DistArray::zeros(layout.clone()),
        omega: DistArray::zeros(layout.clone()),
        steps: 0,
        time: 0.0,
    };
    if cfg.restart.is_some() {
        let r = super::checkpoint::restore(comm, cfg, layout, &["psi", "omega"])?;
        let mut f = r.fields.into_iter();
        st.psi = f.next().expect("psi");
        st.omega = f.next().expect("omega");
        (st.steps, st.time) = (r.iters, r.time);
    }
    let first = st.steps;
    let mut ex = HaloExchange::new(comm, layout);
    let after_step = |s: &mut CavityState| {
        if let Some(f) = &cfg.fault {
            let r = layout.interior();
            let centre = (
                r.rows.start + r.rows.len() / 2,
                r.cols.start + r.cols.len() / 2,
            );
            if let Some(cell) = f.strike(comm.rank(), s.steps, centre) {
                s.omega.local_mut()[cell] = f64::NAN;
            }
        }
        match cfg.checkpoint_every {
            Some(n) if s.steps.is_multiple_of(n) => super::checkpoint::save(
                comm,
                cfg,
                s.steps,
                s.time,
                &[("psi", &s.psi), ("omega", &s.omega)],
            ),
            _ => Ok(()),
        }
    };
    let iters = cfg.iters;
    let a = advance(
        comm,
        &mut st,
        &mut ex,
        iters,
        cfg.tol,
        cfg.check_every,
        cfg.sweeps,
        after_step,
        |step, residual| {
            if let Some(p) = progress.as_mut() {
                p(Progress {
                    iter: step,
                    iters,
                    residual,
                });
            }
        },
    )?;
    Ok(Looped {
        bytes: ex.bytes_sent(),
        messages: ex.messages_sent(),
        u: st.psi,
        vorticity: Some(st.omega),
        done: st.steps,
        residual: a.residual,
        converged: a.converged,
        compute: a.compute,
        halo: a.halo,
        reduce: a.reduce,
        // The cavity's exchanges are blocking: all their time is waiting.
        wait: a.halo,
        time: Some(st.time),
        first,
        untimed: a.saving,
    })
}

/// The velocity `(u, v)` on the whole grid from the gathered stream function `psi` (shape
/// `(ny, nx)`, row 0 next to the lid): central differences, ψ = 0 on the walls.
pub fn velocity_field(psi: &Array2<f64>) -> (Array2<f64>, Array2<f64>) {
    let (ny, nx) = psi.dim();
    let (hx, hy) = (1.0 / (nx + 1) as f64, 1.0 / (ny + 1) as f64);
    let at = |i: isize, j: isize| {
        if i < 0 || j < 0 || i >= ny as isize || j >= nx as isize {
            0.0
        } else {
            psi[[i as usize, j as usize]]
        }
    };
    let u = Array2::from_shape_fn((ny, nx), |(i, j)| {
        let (i, j) = (i as isize, j as isize);
        (at(i - 1, j) - at(i + 1, j)) / (2.0 * hy)
    });
    let v = Array2::from_shape_fn((ny, nx), |(i, j)| {
        let (i, j) = (i as isize, j as isize);
        -(at(i, j + 1) - at(i, j - 1)) / (2.0 * hx)
    });
    (u, v)
}

/// `u` along the vertical centreline `x = 0.5` as `(y, u)` from the bottom wall to the lid,
/// walls included (`u = 0` below, the lid speed 1 above); where no column of nodes lies on
/// `x = 0.5` (an even `nx`), `u` is interpolated linearly between the two around it.
pub fn centerline_u(psi: &Array2<f64>) -> Vec<(f64, f64)> {
    let (u, _) = velocity_field(psi);
    let (ny, nx) = u.dim();
    let (hx, hy) = (1.0 / (nx + 1) as f64, 1.0 / (ny + 1) as f64);
    let fj = 0.5 / hx - 1.0;
    let (j0, w) = (fj.floor() as usize, fj - fj.floor());
    let mut out = vec![(0.0, 0.0)];
    for i in (0..ny).rev() {
        let y = 1.0 - (i + 1) as f64 * hy;
        let val = if w == 0.0 {
            u[[i, j0]]
        } else {
            u[[i, j0]] * (1.0 - w) + u[[i, j0 + 1]] * w
        };
        out.push((y, val));
    }
    out.push((1.0, 1.0));
    out
}

/// `v` along the horizontal centreline `y = 0.5` as `(x, v)` from the left wall to the right,
/// walls included (`v = 0`); interpolated between the two rows around `y = 0.5` when no row lies
/// on it (an even `ny`).
pub fn centerline_v(psi: &Array2<f64>) -> Vec<(f64, f64)> {
    let (_, v) = velocity_field(psi);
    let (ny, nx) = v.dim();
    let (hx, hy) = (1.0 / (nx + 1) as f64, 1.0 / (ny + 1) as f64);
    let fi = 0.5 / hy - 1.0;
    let (i0, w) = (fi.floor() as usize, fi - fi.floor());
    let mut out = vec![(0.0, 0.0)];
    for j in 0..nx {
        let x = (j + 1) as f64 * hx;
        let val = if w == 0.0 {
            v[[i0, j]]
        } else {
            v[[i0, j]] * (1.0 - w) + v[[i0 + 1, j]] * w
        };
        out.push((x, val));
    }
    out.push((1.0, 0.0));
    out
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
        sor_colour(&c, &b, 0, &omega, &mut psi);
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

    #[test]
    fn the_step_respects_every_limit() {
        let c = Cavity::new(127, 127, 100.0);
        let h = 1.0 / 128.0;
        assert!((c.dt(1.0) - 0.9 * h * h * 100.0 / 4.0).abs() < 1e-15);
        let c = Cavity::new(127, 127, 1000.0);
        assert!((c.dt(1.0) - 0.9 * 2.0 / 1000.0).abs() < 1e-15);
    }
}
