//! Geometric multigrid on the distributed grid, matrix-free: a hierarchy of ever coarser grids,
//! each swept by its own smoother and exchanged by its own [`crate::grid::HaloExchange`], and the
//! cycles that run through them (V, W, F, and full multigrid), as PETSc's PCMG and HPGMG do.
//!
//! - [`axis`]: pure index math — where each level's nodes sit, the coarsening rule (any grid
//!   size; semi-coarsening of stretched cells), the transfer weights, the parts of each coarse
//!   level that each rank keeps.
//! - `level.rs`: one level's arrays and arithmetic on a group of ranks.
//! - this file: the hierarchy and its cycles, and agglomeration: once a level's blocks would be
//!   narrower than [`AGGLOMERATE_BELOW`] cells, the rest of the hierarchy lives on rank 0 alone
//!   (its residual gathered there, its correction scattered back), where no message is needed.
//!
//! Every level is split the way the finest one is: a rank keeps the coarse nodes that sit on its
//! fine nodes, so restriction and interpolation need only the neighbours' first ghost layer. The
//! same formulas run on the same global values wherever a level lives, so a cycle gives the same
//! bits on any rank count, process grid or agglomeration point.

pub mod axis;
mod level;

pub use level::Smoother;
pub use level::GHOST;

use crate::comm::Comm;
use crate::decomp::Block;
use crate::decomp::ProcGrid;
use crate::error::Result;
use crate::grid::{Boundaries, Boundary, DistArray, Layout};
use crate::solver::exact::{all_sums, ExactSum};
use crate::solver::report::LevelStats;
use axis::{coarse_cuts, Transfer};
use level::{block_of, Level, Order, Target};
use mpi::datatype::{Partition, PartitionMut};
use mpi::topology::Color;
use mpi::traits::*;
use std::rc::Rc;

/// A level whose narrowest block would have fewer cells than this along either axis is not split
/// over ranks: it and every coarser level live on rank 0 (the finest level is always split).
/// Below this a block's exchange costs more than its sweeps.
///
/// Measured (`mgcg` on 1023², 2 ranks, solve time, medians of alternating rounds; shared memory
/// and two simulated hosts over TCP): thresholds of 8 and 16 within 3 % of each other, 32 and
/// 64 slower by 2-5 % and 5-15 %. 16 keeps a margin for networks with more latency than these.
pub const AGGLOMERATE_BELOW: usize = 16;

/// Symmetric red-black Gauss–Seidel sweep pairs on the coarsest level (at most 3×3 nodes): enough
/// to solve it to rounding.
const COARSE_SWEEPS: usize = 30;

/// The multigrid cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cycle {
    /// One coarse-grid correction per level.
    V,
    /// Two per level.
    W,
    /// An F-cycle then a V-cycle below each level.
    F,
}

impl std::fmt::Display for Cycle {
    /// `v`, `w` or `f`, as on the command line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Cycle::V => "v",
            Cycle::W => "w",
            Cycle::F => "f",
        })
    }
}

impl Cycle {
    /// The cycles run on the next coarser level.
    fn below(self) -> &'static [Cycle] {
        match self {
            Cycle::V => &[Cycle::V],
            Cycle::W => &[Cycle::W, Cycle::W],
            Cycle::F => &[Cycle::F, Cycle::V],
        }
    }
}

/// How each cycle runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cycling {
    /// V, W or F.
    pub cycle: Cycle,
    /// The smoother.
    pub smoother: Smoother,
    /// Sweeps before the coarse correction.
    pub pre: usize,
    /// Sweeps after it.
    pub post: usize,
}

impl Cycling {
    /// The cycles as a checkpoint's parameters: a run restarting from it must cycle the same
    /// way to compute the same bits.
    pub fn params(&self) -> Vec<(String, String)> {
        vec![
            ("cycle".into(), self.cycle.to_string()),
            ("smoother".into(), self.smoother.to_string()),
            ("pre".into(), (self.pre as f64).to_string()),
            ("post".into(), (self.post as f64).to_string()),
        ]
    }
}

impl Default for Cycling {
    /// V(2,2) with red-black Gauss–Seidel.
    fn default() -> Self {
        Cycling {
            cycle: Cycle::V,
            smoother: Smoother::Rbgs,
            pre: 2,
            post: 2,
        }
    }
}

/// Where the levels below a group's last one live: on rank 0, as a group of its own.
struct Agglomerated {
    /// On rank 0: the group whose first level is a copy of this group's last level, whole.
    sub: Option<Box<Group>>,
    /// Every rank's block of the last level, and its cells, in rank order.
    blocks: Vec<Block>,
    counts: Vec<i32>,
    displs: Vec<i32>,
    /// Scratch for a packed interior (this rank's) and the gathered ones (rank 0).
    mine: Vec<f64>,
    all: Vec<f64>,
    /// Seconds in the gathers and scatters.
    moving: f64,
}

/// Consecutive levels on one group of ranks.
struct Group {
    comm: Comm,
    levels: Vec<Level>,
    /// The global index of `levels[0]`.
    first: usize,
    /// The transfers between global levels `l` and `l + 1`, for all levels.
    transfers: Rc<Vec<(Transfer, Transfer)>>,
    below: Option<Agglomerated>,
    /// Seconds spent on each level.
    seconds: Vec<f64>,
}

/// One level of the hierarchy as planned for a process grid: pure index math, the same on every
/// rank (`halo decomp --levels` prints it).
#[derive(Debug, Clone, PartialEq)]
pub struct LevelPlan {
    /// Nodes along x and y.
    pub n: (usize, usize),
    /// Whether the level is split over every rank (else it lives on rank 0 alone).
    pub split: bool,
    /// Where each process-grid column's and row's part starts, then the node count; a level on
    /// rank 0 alone is planned as it would have been split, to show why it is not.
    pub xcuts: Vec<usize>,
    /// As `xcuts`, along y.
    pub ycuts: Vec<usize>,
}

impl LevelPlan {
    /// The narrowest part along either axis, in nodes.
    pub fn narrowest(&self) -> usize {
        let w = |c: &[usize]| c.windows(2).map(|p| p[1] - p[0]).min().unwrap_or(0);
        w(&self.xcuts).min(w(&self.ycuts))
    }

    /// The block of `rank` when split over `grid`.
    pub fn block(&self, rank: usize, grid: ProcGrid) -> Block {
        block_of(rank, grid, &self.xcuts, &self.ycuts)
    }
}

/// The hierarchy of an `nx × ny` grid split over `grid`: every level, finest first, with its
/// parts, and whether it is split over the ranks or agglomerated onto rank 0 (every level from
/// the first whose narrowest part would have fewer than [`AGGLOMERATE_BELOW`] nodes).
pub fn plan(nx: usize, ny: usize, grid: ProcGrid) -> Vec<LevelPlan> {
    let axes = axis::levels(nx, ny, 1.0 / (nx + 1) as f64, 1.0 / (ny + 1) as f64);
    plan_cuts(&axes, nx, ny, grid)
}

/// [`plan`] for levels whose axes are known.
fn plan_cuts(
    axes: &[(axis::Axis, axis::Axis)],
    nx: usize,
    ny: usize,
    grid: ProcGrid,
) -> Vec<LevelPlan> {
    let starts = |n: usize, parts: usize| -> Vec<usize> {
        let mut c: Vec<usize> = (0..parts)
            .map(|k| crate::decomp::split(n, parts, k).start)
            .collect();
        c.push(n);
        c
    };
    let mut out: Vec<LevelPlan> = Vec::with_capacity(axes.len());
    for (l, (x, y)) in axes.iter().enumerate() {
        let (xcuts, ycuts) = match out.last() {
            None => (starts(nx, grid.px), starts(ny, grid.py)),
            Some(prev) => (
                coarse_cuts(&prev.xcuts, x.n() < prev.n.0),
                coarse_cuts(&prev.ycuts, y.n() < prev.n.1),
            ),
        };
        let mut level = LevelPlan {
            n: (x.n(), y.n()),
            split: true,
            xcuts,
            ycuts,
        };
        // The finest level is always split; below it, while every rank's part is wide enough.
        let above_split = out.last().is_none_or(|p| p.split);
        level.split =
            grid.size() == 1 || l == 0 || (above_split && level.narrowest() >= AGGLOMERATE_BELOW);
        out.push(level);
    }
    out
}

/// A multigrid hierarchy over a distributed grid, ready to cycle.
pub struct Multigrid {
    top: Group,
    cycling: Cycling,
    /// Fine-grid sweep equivalents done so far (counted on every rank for the levels it runs;
    /// rank 0 runs them all).
    work: f64,
    /// Global cells of each level, finest first.
    sizes: Vec<(usize, usize)>,
    /// The first level that lives on rank 0 alone, if any does.
    agglomerated_at: Option<usize>,
    /// Seconds in the residual norms' allreduces.
    reduce_seconds: f64,
}

impl Multigrid {
    /// The hierarchy under the finest level `layout` (whose decomposition it follows, with
    /// two ghost layers), its walls holding `bc` on the finest level and zero below, for the
    /// operator `S + σ·M` with `shift` σ (0 for Laplace's and Poisson's `S`); collective. With
    /// `only_finest`, the finest level alone: an operator, not a preconditioner.
    pub fn new(
        comm: &Comm,
        layout: &Layout,
        bc: Boundaries,
        cycling: Cycling,
        only_finest: bool,
        shift: f64,
    ) -> Result<Self> {
        let d = &layout.decomp;
        let (px, py) = (d.grid.px, d.grid.py);
        if (px > 1 && d.nx / px < GHOST) || (py > 1 && d.ny / py < GHOST) {
            return Err(crate::error::Error::Invalid {
                quantity: "grid",
                value: format!("{}x{}", d.nx, d.ny),
                why: format!(
                    "too small for the {} process grid with this solver: its grids keep {GHOST} ghost layers, so every block needs at least {GHOST} cells along each axis; use fewer ranks, or Jacobi's sweeps, which need one (--solver jacobi; for heat, --scheme explicit)",
                    d.grid
                ),
            });
        }
        let (hx, hy) = (1.0 / (d.nx + 1) as f64, 1.0 / (d.ny + 1) as f64);
        let mut axes = axis::levels(d.nx, d.ny, hx, hy);
        if only_finest {
            axes.truncate(1);
        }
        let transfers: Vec<(Transfer, Transfer)> = axes
            .windows(2)
            .map(|w| (w[0].0.transfer(&w[1].0), w[0].1.transfer(&w[1].1)))
            .collect();
        let transfers = Rc::new(transfers);
        let grid = d.grid;
        let plan = plan_cuts(&axes, d.nx, d.ny, grid);
        let cuts: Vec<(Vec<usize>, Vec<usize>)> = plan
            .iter()
            .map(|p| (p.xcuts.clone(), p.ycuts.clone()))
            .collect();
        let split_levels = plan.iter().take_while(|p| p.split).count();
        let zero = Boundaries::all(Boundary::Dirichlet(0.0));
        let mut levels = Vec::with_capacity(split_levels);
        for l in 0..split_levels {
            let (x, y) = (&cuts[l].0, &cuts[l].1);
            let walls = if l == 0 { bc } else { zero };
            levels.push(Level::new(
                comm,
                (&axes[l].0, &axes[l].1),
                grid,
                (x, y),
                walls,
                shift,
                layout.exchange,
            )?);
        }
        let below = if split_levels < axes.len() {
            let last = split_levels - 1;
            let (x, y) = (&cuts[last].0, &cuts[last].1);
            let blocks: Vec<_> = (0..comm.size()).map(|r| block_of(r, grid, x, y)).collect();
            // Checked against MPI's counts: the same answer on every rank.
            let lens: Vec<usize> = blocks.iter().map(|b| b.cells()).collect();
            let (counts, displs) =
                crate::comm::counts_and_displs("gathering a level onto rank 0", &lens)?;
            let root = comm.rank() == 0;
            let solo = comm.raw().split_by_color(if root {
                Color::with_value(0)
            } else {
                Color::undefined()
            });
            // Built on rank 0 alone; agreed over all, so a rank 0 short of memory fails everyone.
            let sub = match solo {
                Some(raw) => {
                    let solo = Comm::new(raw);
                    let built = (|| -> Result<Box<Group>> {
                        let one = ProcGrid::new(1, 1)?;
                        let mut sub_levels = Vec::new();
                        for ax in &axes[last..] {
                            let (nx, ny) = (ax.0.n(), ax.1.n());
                            let whole = (&[0, nx][..], &[0, ny][..]);
                            sub_levels.push(Level::new(
                                &solo,
                                (&ax.0, &ax.1),
                                one,
                                whole,
                                zero,
                                shift,
                                layout.exchange,
                            )?);
                        }
                        Ok(Box::new(Group {
                            comm: solo,
                            seconds: vec![0.0; sub_levels.len()],
                            levels: sub_levels,
                            first: last,
                            transfers: Rc::clone(&transfers),
                            below: None,
                        }))
                    })();
                    built.map(Some)
                }
                None => Ok(None),
            };
            let sub = comm.agree(sub)?;
            Some(Agglomerated {
                sub,
                blocks,
                all: if root {
                    vec![0.0; counts.iter().map(|&c| c as usize).sum()]
                } else {
                    Vec::new()
                },
                mine: vec![0.0; levels[last].cells()],
                moving: 0.0,
                counts,
                displs,
            })
        } else {
            None
        };
        Ok(Multigrid {
            top: Group {
                comm: comm.duplicate(),
                seconds: vec![0.0; levels.len()],
                levels,
                first: 0,
                transfers,
                below,
            },
            cycling,
            work: 0.0,
            sizes: axes.iter().map(|(x, y)| (x.n(), y.n())).collect(),
            agglomerated_at: (split_levels < axes.len()).then_some(split_levels),
            reduce_seconds: 0.0,
        })
    }

    /// Every level, finest first: its nodes, the ranks it is split over, and this rank's seconds
    /// on it.
    pub fn levels(&self, ranks: usize) -> Vec<LevelStats> {
        let mut seconds = self.top.seconds.clone();
        if let Some(sub) = self.top.below.as_ref().and_then(|b| b.sub.as_ref()) {
            // The sub-group's first level is the last split one, whole on rank 0.
            *seconds.last_mut().expect("a split level") += sub.seconds[0];
            seconds.extend(&sub.seconds[1..]);
        }
        seconds.resize(self.sizes.len(), 0.0);
        let split = self.agglomerated_at.unwrap_or(self.sizes.len());
        self.sizes
            .iter()
            .zip(seconds)
            .enumerate()
            .map(|(l, (&(nx, ny), seconds))| LevelStats {
                nx,
                ny,
                ranks: if l < split { ranks } else { 1 },
                seconds,
            })
            .collect()
    }

    /// Fine-grid sweep equivalents done so far.
    pub fn work(&self) -> f64 {
        self.work
    }

    /// The finest level's approximation.
    pub fn u(&self) -> &DistArray {
        &self.top.levels[0].u
    }

    /// The finest level's solution, taking the hierarchy apart.
    pub fn into_u(mut self) -> DistArray {
        self.top.levels.swap_remove(0).u
    }

    /// The finest level's approximation, to change.
    pub fn u_mut(&mut self) -> &mut DistArray {
        &mut self.top.levels[0].u
    }

    /// The finest level.
    pub(crate) fn fine(&self) -> &Level {
        &self.top.levels[0]
    }

    /// The finest level, to change.
    pub(crate) fn fine_mut(&mut self) -> &mut Level {
        &mut self.top.levels[0]
    }

    /// The finest level's right-hand side, to set.
    pub fn b_mut(&mut self) -> &mut DistArray {
        &mut self.top.levels[0].b
    }

    /// Seconds this rank has spent in halo exchanges on every level, and gathering and
    /// scattering agglomerated levels.
    pub fn halo_seconds(&self) -> f64 {
        self.top.halo_seconds()
    }

    /// Splits the seconds of a pass that started at `start` (from [`Multigrid::clocks`]) into
    /// computation, halo exchanges and reductions, `extra_reduce` more of them the caller's own.
    pub fn split_time(
        &self,
        start: (f64, f64, f64),
        extra_reduce: f64,
        time: &mut crate::solver::Timings,
    ) {
        let (t0, h0, r0) = start;
        let total = Comm::wtime() - t0;
        let halo = self.halo_seconds() - h0;
        let reduce = self.reduce_seconds - r0 + extra_reduce;
        time.halo += halo;
        time.reduce += reduce;
        time.compute += total - halo - reduce;
    }

    /// The clocks [`Multigrid::split_time`] starts from: now, halo and reduce seconds so far.
    pub fn clocks(&self) -> (f64, f64, f64) {
        (Comm::wtime(), self.halo_seconds(), self.reduce_seconds)
    }

    /// Halo bytes and messages this rank has sent on every level.
    pub fn traffic(&self) -> (u64, u64) {
        self.top.traffic()
    }

    /// `M v` into the finest level's `u`: one cycle from a zero guess with `v` as the right-hand
    /// side (a preconditioner's application).
    pub fn precondition(&mut self, v: &DistArray) {
        let level = self.fine_mut();
        level.b.interior_mut().assign(&v.interior());
        level.exchange_b();
        level.zero_u();
        self.cycle();
    }

    /// One cycle on the finest level: `u` moves towards the solution of `S u = b`.
    pub fn cycle(&mut self) {
        let c = self.cycling;
        let fine = self.top.levels[0].global_cells() as f64;
        self.top.cycle(0, c.cycle, &c, fine, &mut self.work);
    }

    /// Full multigrid from the present `u`: the correction's equation is solved on the coarsest
    /// level, interpolated (cubic) up one level at a time and improved there by one cycle of the
    /// configured kind (F for `fmg` by default), then one such cycle on the finest level.
    pub fn full(&mut self) {
        let c = self.cycling;
        let fine = self.top.levels[0].global_cells() as f64;
        let w = &mut self.work;
        let top = &mut self.top;
        if top.coarsest(0) {
            // One level: nothing to nest.
            top.cycle(0, c.cycle, &c, fine, w);
            return;
        }
        top.levels[0].exchange_u();
        top.levels[0].residual();
        *w += 1.0;
        top.descend(0, Inner::Full, Target::AddToU, &c, fine, w);
        top.cycle(0, c.cycle, &c, fine, w);
    }

    /// `‖b − S u‖₂` on the finest level, the same bits on every rank; collective.
    pub fn residual_norm(&mut self) -> Result<f64> {
        let l = &mut self.top.levels[0];
        l.exchange_u();
        let mut s = ExactSum::new();
        l.residual_and_square(&mut s);
        self.work += 1.0;
        let t = Comm::wtime();
        let sum = all_sums(&self.top.comm, &[s])?[0];
        self.reduce_seconds += Comm::wtime() - t;
        Ok(sum.sqrt())
    }
}

/// What a group does below a level, between sending the residual down and taking the correction
/// back.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Inner {
    /// Cycles of these kinds on the coarser level, from a zero correction.
    Cycles(Cycle),
    /// Full multigrid on the coarser level.
    Full,
}

impl Inner {
    /// How the result comes back up: full multigrid's step up needs cubic interpolation to keep
    /// the error at the discretisation's; a coarse-grid correction, linear.
    fn order(self) -> Order {
        match self {
            Inner::Cycles(_) => Order::Linear,
            Inner::Full => Order::Cubic,
        }
    }
}

impl Group {
    fn halo_seconds(&self) -> f64 {
        let mine: f64 = self.levels.iter().map(Level::halo_seconds).sum();
        let below = self.below.as_ref().map_or(0.0, |b| {
            b.moving + b.sub.as_ref().map_or(0.0, |s| s.halo_seconds())
        });
        mine + below
    }

    fn traffic(&self) -> (u64, u64) {
        let mut t = self
            .levels
            .iter()
            .map(Level::traffic)
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        if let Some(sub) = self.below.as_ref().and_then(|b| b.sub.as_ref()) {
            let s = sub.traffic();
            t = (t.0 + s.0, t.1 + s.1);
        }
        t
    }

    /// Whether `l` is the coarsest level of the whole hierarchy.
    fn coarsest(&self, l: usize) -> bool {
        l + 1 == self.levels.len() && self.below.is_none()
    }

    /// One cycle of kind `kind` on level `l`.
    fn cycle(&mut self, l: usize, kind: Cycle, c: &Cycling, fine: f64, work: &mut f64) {
        let share = self.levels[l].global_cells() as f64 / fine;
        let t = Comm::wtime();
        if self.coarsest(l) {
            for _ in 0..COARSE_SWEEPS {
                self.levels[l].smooth(Smoother::Rbgs, 1, false);
                self.levels[l].smooth(Smoother::Rbgs, 1, true);
            }
            *work += share * (2 * COARSE_SWEEPS) as f64;
            self.seconds[l] += Comm::wtime() - t;
            return;
        }
        self.levels[l].smooth(c.smoother, c.pre, false);
        self.levels[l].exchange_u();
        self.levels[l].residual();
        *work += share * (c.pre + 1) as f64;
        self.seconds[l] += Comm::wtime() - t;
        self.descend(l, Inner::Cycles(kind), Target::AddToU, c, fine, work);
        let t = Comm::wtime();
        self.levels[l].smooth(c.smoother, c.post, true);
        *work += share * c.post as f64;
        self.seconds[l] += Comm::wtime() - t;
    }

    /// Full multigrid on level `l` (below the finest): `u` from zero to an approximate solution
    /// of `S u = b`.
    fn full(&mut self, l: usize, c: &Cycling, fine: f64, work: &mut f64) {
        self.levels[l].zero_u();
        if self.coarsest(l) {
            self.cycle(l, Cycle::V, c, fine, work);
            return;
        }
        // The residual of a zero guess is the right-hand side.
        let level = &mut self.levels[l];
        let (b, r) = (&level.b, &mut level.r);
        r.interior_mut().assign(&b.interior());
        self.descend(l, Inner::Full, Target::AddToU, c, fine, work);
        self.cycle(l, c.cycle, c, fine, work);
    }

    /// Runs `inner` on level `l` (below the one that sent it a right-hand side).
    fn below_level(&mut self, l: usize, inner: Inner, c: &Cycling, fine: f64, work: &mut f64) {
        match inner {
            Inner::Cycles(kind) => {
                self.levels[l].zero_u();
                for &k in kind.below() {
                    self.cycle(l, k, c, fine, work);
                }
            }
            Inner::Full => self.full(l, c, fine, work),
        }
    }

    /// Sends level `l`'s residual `r` down, runs `inner` on the next level, and puts the
    /// interpolated result into `target` on level `l`.
    fn descend(
        &mut self,
        l: usize,
        inner: Inner,
        target: Target,
        c: &Cycling,
        fine: f64,
        work: &mut f64,
    ) {
        let t0 = Comm::wtime();
        if l + 1 < self.levels.len() {
            let t = Rc::clone(&self.transfers);
            let tr = &t[self.first + l];
            let (upper, lower) = self.levels.split_at_mut(l + 1);
            upper[l].exchange_r();
            upper[l].restrict_into(&mut lower[0], (&tr.0, &tr.1));
            lower[0].exchange_b();
            self.seconds[l] += Comm::wtime() - t0;
            self.below_level(l + 1, inner, c, fine, work);
            let t1 = Comm::wtime();
            let (upper, lower) = self.levels.split_at_mut(l + 1);
            lower[0].exchange_u();
            upper[l].prolong_from(&lower[0], (&tr.0, &tr.1), target, inner.order());
            self.seconds[l] += Comm::wtime() - t1;
            return;
        }
        // Agglomerated: the rest of the hierarchy runs on rank 0, from the gathered residual.
        let Group {
            comm,
            levels,
            below,
            seconds,
            ..
        } = self;
        let a = below.as_mut().expect("a level below the last split one");
        let level = &mut levels[l];
        pack(&level.r, &mut a.mine);
        let root = comm.raw().process_at_rank(0);
        // The gathers and scatters, waits for rank 0's coarse levels included, count as
        // communication (`moving`), not as this level's time: the coarse levels' own time is
        // theirs, on rank 0.
        let before = a.moving;
        if let Some(sub) = a.sub.as_mut() {
            {
                let t = Comm::wtime();
                let mut part = PartitionMut::new(&mut a.all[..], &a.counts[..], &a.displs[..]);
                root.gather_varcount_into_root(&a.mine[..], &mut part);
                a.moving += Comm::wtime() - t;
            }
            unpack_blocks(&a.all, &a.blocks, &a.displs, &mut sub.levels[0].r);
            seconds[l] += Comm::wtime() - t0 - (a.moving - before);
            sub.descend(0, inner, Target::StoreInR, c, fine, work);
            let t1 = Comm::wtime();
            pack_blocks(&sub.levels[0].r, &a.blocks, &a.displs, &mut a.all);
            let t = Comm::wtime();
            let part = Partition::new(&a.all[..], &a.counts[..], &a.displs[..]);
            root.scatter_varcount_into_root(&part, &mut a.mine[..]);
            a.moving += Comm::wtime() - t;
            seconds[l] += t - t1;
        } else {
            let t = Comm::wtime();
            root.gather_varcount_into(&a.mine[..]);
            root.scatter_varcount_into(&mut a.mine[..]);
            a.moving += Comm::wtime() - t;
            seconds[l] += t - t0;
        }
        let t2 = Comm::wtime();
        unpack(&a.mine, &mut level.r);
        if target == Target::AddToU {
            level.add_r_to_u();
        }
        seconds[l] += Comm::wtime() - t2;
    }
}

/// Copies `a`'s interior, row by row, into `out`.
fn pack(a: &DistArray, out: &mut [f64]) {
    for (o, x) in out.iter_mut().zip(a.interior().iter()) {
        *o = *x;
    }
}

/// Copies `data`, row by row, into `a`'s interior.
fn unpack(data: &[f64], a: &mut DistArray) {
    for (x, d) in a.interior_mut().iter_mut().zip(data) {
        *x = *d;
    }
}

/// Places every rank's packed block (at its displacement in `all`) into the whole-level array
/// `a`.
fn unpack_blocks(all: &[f64], blocks: &[Block], displs: &[i32], a: &mut DistArray) {
    let mut whole = a.interior_mut();
    for (b, &at) in blocks.iter().zip(displs) {
        let at = at as usize;
        let chunk = &all[at..at + b.cells()];
        let mut view = whole.slice_mut(ndarray::s![b.rows.clone(), b.cols.clone()]);
        for (x, d) in view.iter_mut().zip(chunk) {
            *x = *d;
        }
    }
}

/// Packs every rank's block of the whole-level array `a` at its displacement in `all`.
fn pack_blocks(a: &DistArray, blocks: &[Block], displs: &[i32], all: &mut [f64]) {
    let whole = a.interior();
    for (b, &at) in blocks.iter().zip(displs) {
        let at = at as usize;
        let view = whole.slice(ndarray::s![b.rows.clone(), b.cols.clone()]);
        for (o, x) in all[at..at + b.cells()].iter_mut().zip(view.iter()) {
            *o = *x;
        }
    }
}
