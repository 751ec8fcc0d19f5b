//! One level of the hierarchy on a group of ranks: its layout, its arrays, its exchange, and the
//! arithmetic on them — the operator, the smoothers, and the transfers to and from the next
//! coarser level.
//!
//! The operator is the 5-point Laplacian in flux form, scaled by each node's dual cell so that it
//! is symmetric on any spacing (see [`super::axis`]):
//!
//! ```text
//! (S u)ᵢⱼ = wyᵢ·(cwⱼ·(u − u_w) + ceⱼ·(u − u_e)) + wxⱼ·(cnᵢ·(u − u_n) + csᵢ·(u − u_s))
//! ```
//!
//! with `cw = 1/h_west`, …, `wx = (h_west + h_east)/2`, `wy` likewise, plus `σ·wx·wy·u` for an
//! implicit time step's shifted operator. On a uniform grid
//! `S = hx·hy·(−∇²_h)`, so `S u = b` with `b = hx·hy·f` is the usual discretisation, with the
//! same relative residuals. Every formula is evaluated in one fixed order without fused
//! multiply-adds, from global indices alone, so a cell's value never depends on the rank, block
//! or thread that computes it. Red and black are the parities of the global `row + col`.
//!
//! Levels have two ghost layers. A red-black Gauss–Seidel sweep then needs one exchange: the
//! first colour is updated on the interior and, redundantly, on the first ghost layer next to
//! neighbours (from the second layer's old values), so the second colour has all it reads; and
//! the two colours run in one pass over the rows, the second one row behind the first. Cubic
//! interpolation (full multigrid) reads two coarse cells beyond the block.

use super::axis::{Axis, Transfer};
use crate::comm::Comm;
use crate::decomp::{Block, Decomposition, ExchangeKind, ProcGrid, Rect, Stencil};
use crate::error::Result;
use crate::grid::{Boundaries, DistArray, HaloExchange, Layout};
use crate::solver::exact::ExactSum;
use std::ops::Range;

/// The smoothers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Smoother {
    /// Weighted (damped) Jacobi, ω = 4/5.
    Jacobi,
    /// Red-black Gauss–Seidel: red then black before the coarse correction, black then red after
    /// it, so a V- or W-cycle with as many sweeps after as before is symmetric (a valid
    /// preconditioner for CG; an F-cycle, which runs two different cycles below, is not).
    Rbgs,
}

impl std::fmt::Display for Smoother {
    /// `jacobi` or `rbgs`, as on the command line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Smoother::Jacobi => "jacobi",
            Smoother::Rbgs => "rbgs",
        })
    }
}

/// Ghost layers of every level.
pub const GHOST: usize = 2;

/// The damping of weighted Jacobi: the best smoothing factor (3/5) for the 2D 5-point Laplacian.
const OMEGA: f64 = 0.8;

/// One node's couplings along an axis: `1/h_left`, `1/h_right`, and its dual length.
type Coupling = (f64, f64, f64);

/// Where a prolongation puts the interpolated correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Added to the fine level's `u`.
    AddToU,
    /// Stored in the fine level's `r`, to be sent to the ranks that own it and added there.
    StoreInR,
}

/// How a prolongation interpolates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Linear: the coarse-grid correction of a cycle.
    Linear,
    /// Cubic: full multigrid's step up to a finer level, whose error must stay at the
    /// discretisation's.
    Cubic,
}

/// One level on a group of ranks.
pub(crate) struct Level {
    /// The arrays' layout: two ghost layers, faces and corners exchanged.
    pub layout: Layout,
    /// The approximation (on coarse levels, the correction).
    pub u: DistArray,
    /// The right-hand side.
    pub b: DistArray,
    /// Scratch: the residual, or a correction coming in.
    pub r: DistArray,
    exchange: HaloExchange,
    /// The operator on this rank's block.
    op: Operator,
    /// Global nodes of the level along x and y.
    pub n: (usize, usize),
    /// Scratch rows.
    line: Vec<f64>,
    /// Seconds spent in halo exchanges.
    halo_seconds: f64,
    /// Global index of the first interior column and row.
    origin: (usize, usize),
}

/// The block of `rank` on `grid` between consecutive cuts.
pub(crate) fn block_of(rank: usize, grid: ProcGrid, xcuts: &[usize], ycuts: &[usize]) -> Block {
    let (cx, cy) = grid.coords(rank);
    Block {
        rank,
        coords: (cx, cy),
        cols: xcuts[cx]..xcuts[cx + 1],
        rows: ycuts[cy]..ycuts[cy + 1],
    }
}

/// An axis's couplings for every local index of a ghosted array (`start` is the block's first
/// global index): NaN for indices outside the domain, which are never updated.
fn local_couplings(all: &[Coupling], start: usize, len: usize) -> Vec<Coupling> {
    (0..len + 2 * GHOST)
        .map(|k| {
            let g = start as isize + k as isize - GHOST as isize;
            usize::try_from(g)
                .ok()
                .and_then(|g| all.get(g).copied())
                .unwrap_or((f64::NAN, f64::NAN, f64::NAN))
        })
        .collect()
}

impl Level {
    /// The level with axes `x`, `y` on `comm`, whose ranks form `grid` and own the columns and
    /// rows between consecutive cuts (every part's start, then the node count). `bc` holds the
    /// finest level's boundary values; coarse levels (corrections) have zero walls. Collective
    /// (the exchange duplicates `comm`); a rank that cannot allocate is an error on every rank.
    /// Every block must have at least [`GHOST`] nodes along each axis, or be the whole level.
    /// The layout's `decomp` names the level's size and process grid only: its blocks come from
    /// the cuts, not from `decomp.block(rank)`, so nothing may gather or checkpoint a coarse
    /// level through `decomp`.
    /// `shift` is σ of the operator `S + σ·M` (0 for `S` alone); `exchange` is how its ghost
    /// updates travel.
    pub fn new(
        comm: &Comm,
        (x, y): (&Axis, &Axis),
        grid: ProcGrid,
        (xcuts, ycuts): (&[usize], &[usize]),
        bc: Boundaries,
        shift: f64,
        exchange: ExchangeKind,
    ) -> Result<Level> {
        let block = block_of(comm.rank(), grid, xcuts, ycuts);
        let layout = Layout {
            decomp: Decomposition::new(x.n(), y.n(), grid)?,
            rank: comm.rank(),
            block,
            ghost: GHOST,
            stencil: Stencil::Box,
            bc,
            exchange,
        };
        let arrays = (|| -> Result<_> {
            // The walls' values come with the zeros (`try_zeros` applies the boundaries).
            let u = DistArray::try_zeros(layout.clone())?;
            let b = DistArray::try_zeros(layout.clone())?;
            let r = DistArray::try_zeros(layout.clone())?;
            Ok((u, b, r))
        })();
        let (u, b, r) = comm.agree(arrays)?;
        let blk = &layout.block;
        let (sx, sy) = (x.stiffness(), y.stiffness());
        let xs = local_couplings(&sx, blk.cols.start, blk.nx());
        let ys = local_couplings(&sy, blk.rows.start, blk.ny());
        // Every node but an axis's last has the first one's couplings: the fast loops stop at
        // the last node's local column, when it is in reach and differs.
        let typical = sx[0];
        let last = (x.n() - 1 + GHOST).checked_sub(blk.cols.start);
        let uniform_until = match last {
            Some(k) if k < xs.len() && sx[x.n() - 1] != typical => k,
            _ => xs.len(),
        };
        Ok(Level {
            exchange: HaloExchange::new(comm, &layout),
            op: Operator {
                shift,
                xs,
                ys,
                typical,
                uniform_until,
                stride: blk.nx() + 2 * GHOST,
            },
            line: Vec::new(),
            halo_seconds: 0.0,
            n: (x.n(), y.n()),
            origin: (blk.cols.start, blk.rows.start),
            layout,
            u,
            b,
            r,
        })
    }

    /// Interior cells on this rank.
    pub fn cells(&self) -> usize {
        self.layout.block.cells()
    }

    /// Global cells of the level.
    pub fn global_cells(&self) -> usize {
        self.n.0 * self.n.1
    }

    /// Fills `u`'s ghost cells from the neighbours.
    pub fn exchange_u(&mut self) {
        Self::timed(&mut self.halo_seconds, || {
            self.exchange.exchange(&mut self.u)
        });
    }

    /// Fills `b`'s ghost cells from the neighbours (the first colour of a sweep is updated on the
    /// first ghost layer too).
    pub fn exchange_b(&mut self) {
        Self::timed(&mut self.halo_seconds, || {
            self.exchange.exchange(&mut self.b)
        });
    }

    /// Fills `r`'s ghost cells from the neighbours.
    pub fn exchange_r(&mut self) {
        Self::timed(&mut self.halo_seconds, || {
            self.exchange.exchange(&mut self.r)
        });
    }

    /// Runs `f`, adding its seconds to `total`.
    fn timed(total: &mut f64, f: impl FnOnce()) {
        let t = Comm::wtime();
        f();
        *total += Comm::wtime() - t;
    }

    /// Seconds spent in halo exchanges so far.
    pub fn halo_seconds(&self) -> f64 {
        self.halo_seconds
    }

    /// Halo bytes and messages sent.
    pub fn traffic(&self) -> (u64, u64) {
        (self.exchange.bytes_sent(), self.exchange.messages_sent())
    }

    /// Local interior rows and columns of the ghosted arrays.
    fn interior(&self) -> Rect {
        self.layout.interior()
    }

    /// `r = b − S u` over the interior; `u`'s ghosts must be current.
    pub fn residual(&mut self) {
        let rect = self.interior();
        self.op
            .apply(&self.u, Some(&self.b), &mut self.r, &rect, None);
    }

    /// [`Level::residual`], adding `r·r` exactly to `norm` as each row is made (one pass over
    /// memory, not two).
    pub fn residual_and_square(&mut self, norm: &mut ExactSum) {
        let rect = self.interior();
        self.op
            .apply(&self.u, Some(&self.b), &mut self.r, &rect, Some(norm));
    }

    /// `out = S x` over the interior (`x` with zero walls: a search direction); exchanges `x`
    /// first.
    pub fn apply(&mut self, x: &mut DistArray, out: &mut DistArray) {
        Self::timed(&mut self.halo_seconds, || self.exchange.exchange(x));
        let rect = self.interior();
        self.op.apply(x, None, out, &rect, None);
    }

    /// `out = S x` over the interior, adding `x·out` exactly to `dot` as each row is made;
    /// exchanges `x` first.
    pub fn apply_and_dot(&mut self, x: &mut DistArray, out: &mut DistArray, dot: &mut ExactSum) {
        Self::timed(&mut self.halo_seconds, || self.exchange.exchange(x));
        let rect = self.interior();
        let s = self.op.stride;
        for i in rect.rows.clone() {
            let row = Rect {
                rows: i..i + 1,
                cols: rect.cols.clone(),
            };
            self.op.apply(x, None, out, &row, None);
            let span = i * s + rect.cols.start..i * s + rect.cols.end;
            dot.add_products(&x.as_slice()[span.clone()], &out.as_slice()[span]);
        }
    }

    /// `b = r − S x` over the interior, where `r` holds a right-hand side: the first residual of
    /// a Krylov solve, whose residual lives in `b` (the preconditioner's input); exchanges `x`
    /// first (its walls hold the boundary values) and `b` after.
    pub fn first_residual(&mut self, x: &mut DistArray) {
        Self::timed(&mut self.halo_seconds, || self.exchange.exchange(x));
        let rect = self.interior();
        self.op.apply(x, Some(&self.r), &mut self.b, &rect, None);
        self.exchange_b();
    }

    /// `out = S u` over the interior; exchanges `u` first.
    pub fn apply_u(&mut self, out: &mut DistArray) {
        Self::timed(&mut self.halo_seconds, || {
            self.exchange.exchange(&mut self.u)
        });
        let rect = self.interior();
        self.op.apply(&self.u, None, out, &rect, None);
    }

    /// `out = b − S x` over the interior; exchanges `x` first (its walls hold the boundary
    /// values).
    pub fn residual_of(&mut self, x: &mut DistArray, b: &DistArray, out: &mut DistArray) {
        Self::timed(&mut self.halo_seconds, || self.exchange.exchange(x));
        let rect = self.interior();
        self.op.apply(x, Some(b), out, &rect, None);
    }

    /// `sweeps` sweeps of `smoother`; `reverse` runs red-black Gauss–Seidel's colours black then
    /// red. Each sweep starts with an exchange of `u`.
    pub fn smooth(&mut self, smoother: Smoother, sweeps: usize, reverse: bool) {
        let inner = self.interior();
        let grown = self.layout.grown(1);
        for _ in 0..sweeps {
            self.exchange_u();
            match smoother {
                Smoother::Jacobi => {
                    self.residual();
                    self.op.jacobi_update(&self.r, &mut self.u, &inner);
                }
                Smoother::Rbgs => {
                    // The colour of local cell (0, 0) is the parity of its global row + col.
                    let (gx, gy) = self.origin;
                    let parity = (gx + gy + 2 * GHOST) % 2;
                    let first = usize::from(reverse);
                    self.op.gauss_seidel(
                        &self.b,
                        &mut self.u,
                        (first + parity) % 2,
                        (&grown, &inner),
                        &mut self.line,
                    );
                }
            }
        }
    }

    /// Restricts this level's residual `r` (ghosts current) into `coarse.b`: `b_c = Pᵀ r`,
    /// along x first, then along y.
    pub fn restrict_into(&mut self, coarse: &mut Level, (tx, ty): (&Transfer, &Transfer)) {
        let g = GHOST;
        let s = self.op.stride;
        let (fx, fy) = self.origin;
        let (cx0, cy0) = coarse.origin;
        let inner = coarse.interior();
        let (rows, cols) = (inner.rows, inner.cols);
        let cs = coarse.op.stride;
        let r = self.r.as_slice();
        let b = coarse.b.as_slice_mut();
        let w = cols.len();
        // Per coarse column: the local fine centre and its neighbours' weights.
        let xw: Vec<(usize, f64, f64)> = cols
            .clone()
            .map(|j| {
                let (c, lw, rw) = tx.restrict[cx0 + j - g];
                ((c - fx as isize) as usize + g, lw, rw)
            })
            .collect();
        let along = &mut self.line;
        along.resize(3 * w, 0.0);
        for i in rows {
            let (ci, lwy, rwy) = ty.restrict[cy0 + i - g];
            let fi = (ci - fy as isize) as usize + g;
            for (k, t) in along.chunks_exact_mut(w).enumerate() {
                let row = &r[(fi + k - 1) * s..(fi + k) * s];
                for (t, &(c, lw, rw)) in t.iter_mut().zip(&xw) {
                    *t = lw * row[c - 1] + row[c] + rw * row[c + 1];
                }
            }
            let (t0, rest) = along.split_at(w);
            let (t1, t2) = rest.split_at(w);
            let out = &mut b[i * cs + cols.start..i * cs + cols.end];
            for (((o, &a), &m), &c) in out.iter_mut().zip(t0).zip(t1).zip(t2) {
                *o = lwy * a + m + rwy * c;
            }
        }
    }

    /// Interpolates `coarse.u` (ghosts current) to this level's interior, into `target`: along y
    /// first (into a coarse row), then along x.
    pub fn prolong_from(
        &mut self,
        coarse: &Level,
        (tx, ty): (&Transfer, &Transfer),
        target: Target,
        order: Order,
    ) {
        let g = GHOST;
        let s = self.op.stride;
        let (fx, fy) = self.origin;
        let (cx0, cy0) = coarse.origin;
        let cs = coarse.op.stride;
        let inner = self.interior();
        let (rows, cols) = (inner.rows, inner.cols);
        let e = coarse.u.as_slice();
        // Local coarse index of global coarse index k along an axis starting at k0.
        let local = |k: isize, k0: usize| (k - k0 as isize + g as isize) as usize;
        let stencil = |t: &Transfer, k: usize| -> [(isize, f64); 4] {
            match order {
                Order::Linear => {
                    let (l, wl, r, wr) = t.interpolate[k];
                    [(l, wl), (r, wr), (r, 0.0), (r, 0.0)]
                }
                Order::Cubic => t.cubic[k],
            }
        };
        let taps = match order {
            Order::Linear => 2,
            Order::Cubic => 4,
        };
        let xw: Vec<[(usize, f64); 4]> = cols
            .clone()
            .map(|j| stencil(tx, fx + j - g).map(|(k, w)| (local(k, cx0), w)))
            .collect();
        let line = &mut self.line;
        line.resize(cs, 0.0);
        let out = match target {
            Target::AddToU => self.u.as_slice_mut(),
            Target::StoreInR => self.r.as_slice_mut(),
        };
        for i in rows {
            let yw = stencil(ty, fy + i - g).map(|(k, w)| (local(k, cy0) * cs, w));
            // Along y into one coarse row, summing the taps in order.
            let (r0, w0) = yw[0];
            for (t, &a) in line.iter_mut().zip(&e[r0..r0 + cs]) {
                *t = w0 * a;
            }
            for &(rk, wk) in &yw[1..taps] {
                for (t, &a) in line.iter_mut().zip(&e[rk..rk + cs]) {
                    *t += wk * a;
                }
            }
            let o = &mut out[i * s + cols.start..i * s + cols.end];
            for (o, xk) in o.iter_mut().zip(&xw) {
                let mut v = xk[0].1 * line[xk[0].0];
                for &(jk, wk) in &xk[1..taps] {
                    v += wk * line[jk];
                }
                match target {
                    Target::AddToU => *o += v,
                    Target::StoreInR => *o = v,
                }
            }
        }
    }

    /// `u += r` over the interior (a correction that came in `r`).
    pub fn add_r_to_u(&mut self) {
        let rect = self.interior();
        let s = self.op.stride;
        let r = self.r.as_slice();
        let u = self.u.as_slice_mut();
        for i in rect.rows {
            let at = i * s;
            let (u, r) = (
                &mut u[at + rect.cols.start..at + rect.cols.end],
                &r[at + rect.cols.start..at + rect.cols.end],
            );
            for (u, r) in u.iter_mut().zip(r) {
                *u += r;
            }
        }
    }

    /// Zeroes `u`'s interior (a coarse level's correction before its cycle).
    pub fn zero_u(&mut self) {
        self.u.interior_mut().fill(0.0);
    }
}

/// The operator on one rank's ghosted block: the couplings of every local column and row. All
/// columns before `uniform_until` that lie in the domain share `typical` (every node of an axis
/// but its last does: see [`super::axis`]), so the inner loops run on constants and vectorise.
struct Operator {
    /// σ of a shifted operator `S + σ·M` (`M` the dual cells' areas, `wx·wy`): an implicit time
    /// step's; 0 for Laplace's and Poisson's.
    shift: f64,
    xs: Vec<Coupling>,
    ys: Vec<Coupling>,
    typical: Coupling,
    uniform_until: usize,
    stride: usize,
}

/// The instruction sets the level kernels are compiled for, chosen at run time.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Isa {
    Baseline,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

fn isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        return Isa::Avx2;
    }
    Isa::Baseline
}

/// Runs `$body` (a call of an `#[inline(always)]` function) compiled for the widest vectors the
/// CPU has. AVX2 adds wider registers only: Rust never fuses a multiply and an add, so the bits
/// are the same on every instruction set.
macro_rules! widest {
    ($body:expr) => {{
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        match isa() {
            // SAFETY: `isa` detected AVX2 on this CPU.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2(|| $body) },
            Isa::Baseline => $body,
        }
    }};
}

impl Operator {
    /// `1/D` of a node from its couplings: `D = wy·(cw + ce) + wx·(cn + cs)`, plus `σ·wx·wy`
    /// with a shift.
    #[inline(always)]
    fn inv_diag(&self, (cw, ce, wx): Coupling, (cn, cs, wy): Coupling) -> f64 {
        let d = wy * (cw + ce) + wx * (cn + cs);
        if self.shift == 0.0 {
            1.0 / d
        } else {
            1.0 / (d + self.shift * (wx * wy))
        }
    }

    /// The columns `cols` split where the uniform couplings end.
    #[inline(always)]
    fn split(&self, cols: &Range<usize>) -> (Range<usize>, Range<usize>) {
        let m = self.uniform_until.clamp(cols.start, cols.end);
        (cols.start..m, m..cols.end)
    }

    /// `out = b − S u` (or `S u` without `b`) over `rect`; with `norm`, each row's squares are
    /// added to it, exactly, while the row is in the cache.
    fn apply(
        &self,
        u: &DistArray,
        b: Option<&DistArray>,
        out: &mut DistArray,
        rect: &Rect,
        mut norm: Option<&mut ExactSum>,
    ) {
        let (u, out) = (u.as_slice(), out.as_slice_mut());
        let b = b.map(DistArray::as_slice);
        let s = self.stride;
        for i in rect.rows.clone() {
            let one = i..i + 1;
            let row = Rect {
                rows: one,
                cols: rect.cols.clone(),
            };
            widest!(self.apply_rows(u, b, out, &row));
            if let Some(n) = norm.as_deref_mut() {
                n.add_squares(&out[i * s + rect.cols.start..i * s + rect.cols.end]);
            }
        }
    }

    #[inline(always)]
    fn apply_rows(&self, u: &[f64], b: Option<&[f64]>, out: &mut [f64], rect: &Rect) {
        let s = self.stride;
        let (fast, slow) = self.split(&rect.cols);
        for i in rect.rows.clone() {
            let (cn, cs, wy) = self.ys[i];
            let at = i * s;
            let (up, mid, down) = (&u[at - s..at], &u[at..at + s], &u[at + s..at + 2 * s]);
            let op = |j: usize, (cw, ce, wx): Coupling| {
                let c = mid[j];
                let s = wy * (cw * (c - mid[j - 1]) + ce * (c - mid[j + 1]))
                    + wx * (cn * (c - up[j]) + cs * (c - down[j]));
                if self.shift == 0.0 {
                    s
                } else {
                    s + self.shift * (wx * wy) * c
                }
            };
            let o = &mut out[at..at + s];
            let x0 = self.typical;
            match b {
                Some(b) => {
                    let b = &b[at..at + s];
                    for j in fast.clone() {
                        o[j] = b[j] - op(j, x0);
                    }
                    for j in slow.clone() {
                        o[j] = b[j] - op(j, self.xs[j]);
                    }
                }
                None => {
                    for j in fast.clone() {
                        o[j] = op(j, x0);
                    }
                    for j in slow.clone() {
                        o[j] = op(j, self.xs[j]);
                    }
                }
            }
        }
    }

    /// `u += ω·r/D` over `rect`.
    fn jacobi_update(&self, r: &DistArray, u: &mut DistArray, rect: &Rect) {
        let (r, u) = (r.as_slice(), u.as_slice_mut());
        widest!(self.jacobi_rows(r, u, rect))
    }

    #[inline(always)]
    fn jacobi_rows(&self, r: &[f64], u: &mut [f64], rect: &Rect) {
        let s = self.stride;
        let (fast, slow) = self.split(&rect.cols);
        for i in rect.rows.clone() {
            let y = self.ys[i];
            let at = i * s;
            let (ur, rr) = (&mut u[at..at + s], &r[at..at + s]);
            let d0 = self.inv_diag(self.typical, y);
            for j in fast.clone() {
                ur[j] += OMEGA * rr[j] * d0;
            }
            for j in slow.clone() {
                ur[j] += OMEGA * rr[j] * self.inv_diag(self.xs[j], y);
            }
        }
    }

    /// One red-black Gauss–Seidel sweep in one pass: the first colour (local cells whose
    /// `row + col` has parity `first`) over `grown`, the second over `inner`, one row behind.
    fn gauss_seidel(
        &self,
        b: &DistArray,
        u: &mut DistArray,
        first: usize,
        (grown, inner): (&Rect, &Rect),
        line: &mut Vec<f64>,
    ) {
        let (b, u) = (b.as_slice(), u.as_slice_mut());
        line.resize(self.stride, 0.0);
        widest!(self.gauss_seidel_rows(b, u, first, (grown, inner), line))
    }

    #[inline(always)]
    fn gauss_seidel_rows(
        &self,
        b: &[f64],
        u: &mut [f64],
        first: usize,
        (grown, inner): (&Rect, &Rect),
        line: &mut [f64],
    ) {
        for i in grown.rows.start..grown.rows.end + 1 {
            if i < grown.rows.end {
                self.colour_row(b, u, i, &grown.cols, first, line);
            }
            if i > inner.rows.start && inner.rows.contains(&(i - 1)) {
                self.colour_row(b, u, i - 1, &inner.cols, 1 - first, line);
            }
        }
    }

    /// Gauss–Seidel on the cells of row `i`, columns `cols`, whose local `row + col` has parity
    /// `colour`: the row's new values are computed for every cell into `line` (vectorised; the
    /// other colour, which they read, is not written in this pass), and this colour's copied
    /// back.
    #[inline(always)]
    fn colour_row(
        &self,
        b: &[f64],
        u: &mut [f64],
        i: usize,
        cols: &Range<usize>,
        colour: usize,
        line: &mut [f64],
    ) {
        let s = self.stride;
        let at = i * s;
        let (cn, cs, wy) = self.ys[i];
        let (fast, slow) = self.split(cols);
        {
            let (up, mid, down) = (&u[at - s..at], &u[at..at + s], &u[at + s..at + 2 * s]);
            let br = &b[at..at + s];
            let new = |j: usize, (cw, ce, wx): Coupling, inv: f64| {
                (br[j]
                    + (wy * (cw * mid[j - 1] + ce * mid[j + 1]) + wx * (cn * up[j] + cs * down[j])))
                    * inv
            };
            let x0 = self.typical;
            let d0 = self.inv_diag(x0, (cn, cs, wy));
            for j in fast {
                line[j] = new(j, x0, d0);
            }
            for j in slow {
                line[j] = new(j, self.xs[j], self.inv_diag(self.xs[j], (cn, cs, wy)));
            }
        }
        let row = &mut u[at..at + s];
        let mut j = cols.start + (colour + i + cols.start) % 2;
        while j < cols.end {
            row[j] = line[j];
            j += 2;
        }
    }
}
