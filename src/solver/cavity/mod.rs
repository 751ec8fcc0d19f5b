//! The lid-driven cavity: incompressible Navier–Stokes in vorticity–stream-function form.
//!
//! On the unit square with the lid (the edge before row 0) moving at speed 1 and no-slip walls:
//! - the vorticity ω is advanced by explicit Euler steps of
//!   `ω_t + u ω_x + v ω_y = (1/Re) ∇²ω`, central differences throughout;
//! - each step, the stream function ψ follows from `∇²ψ = −ω` by red-black SOR sweeps;
//! - the velocity is `u = ψ_y`, `v = −ψ_x`; on the walls (the first ghost layer) ψ = 0 and ω
//!   comes from Thom's formula, `ω = −2ψ_adjacent/h² − 2U/h` (U = 1 on the lid, 0 elsewhere);
//! - the time step is the stable one for the grid, Re and the largest speed on any rank
//!   (an allreduce): `dt = 0.9·min(1/(2ν(1/hx² + 1/hy²)), 2ν/|u|²max, 1/(|u|max(1/hx + 1/hy)))`.
//!
//! The residual is `max |ω' − ω|/dt`, the largest residual of the discrete steady vorticity
//! equation: the driver stops at a steady state when it falls below the tolerance, or after the
//! steps asked for. Red-black ordering follows global indices, so results are bitwise the same
//! on any decomposition, thread count and ghost width.
//!
//! **Halos.** Each stage of a step reads one cell beyond the cells it computes: the vorticity
//! step reads ψ and ω, each SOR half-sweep ψ, the largest speed ψ (Thom's wall values read the ψ
//! next to the wall). A step starts with one exchange of ψ and ω together (two messages per
//! neighbour, in flight at once). With ghost width 1 every half-sweep after the first exchanges
//! ψ again: `2·sweeps + 1` exchanges per step. A ghost width `G > 1` (a box stencil: corners
//! too) lets the stages compute redundantly over the ghost zone towards neighbours, one layer
//! less per stage and never past a wall (walls are the first ghost layer; nothing lies beyond),
//! so that up to `G` half-sweeps run between two exchanges of ψ. From `G = 2·sweeps` on, a step
//! exchanges once: the vorticity step and the first half-sweep cover the interior grown by
//! `2·sweeps − 1` layers, the last half-sweep the interior alone ([`CavityParams::one_exchange_ghost`]).
//! A narrower `G` exchanges ψ again after every `G` half-sweeps; a wider one sends layers no
//! stage reads. The allreduce of the largest speed stays once per step.
//!
//! **Threads.** With a rayon pool ([`CavitySolver::with_pool`]), the kernels (the vorticity step,
//! the largest speed, each SOR colour) and the Anderson window's arithmetic and exact inner
//! products split their rows over it; MPI stays on the calling thread. Each is pointwise, or a
//! reduction free of order (a largest value; an exact sum), so every thread count gives the
//! same bits.
//!
//! Time steps follow the flow's own history, and near the steady state that history is slow: its
//! least-damped transient sets the pace, about 150 time units from rest to a residual of 10⁻⁶ at
//! Re 1000 on any grid. A more accurate stream function per step does not shorten it (1, 2, 8 or
//! 30 SOR sweeps per step reach 10⁻⁶ in 76,500 to 83,100 steps at Re 1000 on 127²), so neither
//! would a multigrid solve of it. What does is [`anderson`] acceleration over windows of steps,
//! when asked for ([`CavityParams::anderson`]): the same steady state in 2.1 to 2.8 times
//! fewer steps at Re 1000 (BENCHMARKS.md), the path to it no longer a history of the flow.
//!
//! Rooms: [`scheme`] holds the arithmetic, [`anderson`] the acceleration, [`reference`](mod@reference)
//! published solutions, [`post`] and [`vortex`] what is read off a solution; [`CavitySolver`] is
//! the time loop's step. Example: `examples/cavity.rs` drives it with [`super::drive`] and checks
//! it against Ghia et al.

pub mod anderson;
pub mod post;
pub mod reference;
pub mod scheme;
pub mod vortex;

pub use post::{
    centerline_u, centerline_u_columns, centerline_u_of_columns, centerline_v,
    centerline_v_of_rows, centerline_v_rows, velocity_dist, velocity_field,
};
pub use reference::{GHIA_RE100_U, GHIA_RE100_V};
pub use scheme::{Block, Cavity};
pub use vortex::CavityQuantities;

use super::driver::{Advanced, LocalResidual, Pass, Solver, Timings};
use super::options::CavityParams;
use crate::comm::{Comm, ReduceOp};
use crate::decomp::{Rect, Stencil};
use crate::error::Result;
use crate::grid::{DistArray, HaloExchange, Layout, Side};
use scheme::{max_speed, sor_colour, vorticity_step, wall_vorticity};

/// Runs `job` on `pool`, or here; `job` is told whether it runs on a pool (whether to split its
/// rows over the pool's threads).
fn on<R: Send>(pool: Option<&rayon::ThreadPool>, job: impl FnOnce(bool) -> R + Send) -> R {
    match pool {
        Some(p) => p.install(|| job(true)),
        None => job(false),
    }
}

/// How one time step runs on `depth` usable ghost layers: after the exchange of ψ and ω that
/// begins it, the wall vorticity and the vorticity step cover the interior grown by `step`
/// layers (towards neighbours only); SOR half-sweep `h` covers it grown by `colours[h].1`
/// layers, after an exchange of ψ alone when `colours[h].0`.
///
/// Each stage reads one layer beyond the cells it computes, so between two exchanges of ψ at
/// most `depth` half-sweeps run, over `L − 1, L − 2, …, 0` extra layers for a run of `L`; the
/// first half-sweep of a step reads the ψ the step began with, so the vorticity step ahead of it
/// needs no layer of its own beyond the widest half-sweep's.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    step: usize,
    colours: Vec<(bool, usize)>,
}

impl Plan {
    /// The plan for `sweeps` red-black sweeps on `depth` ghost layers: runs of `depth`
    /// half-sweeps (the last one shorter) between exchanges of ψ.
    fn new(depth: usize, sweeps: usize) -> Plan {
        let halves = 2 * sweeps;
        let run = depth.clamp(1, halves.max(1));
        let mut colours = Vec::with_capacity(halves);
        while colours.len() < halves {
            let l = run.min(halves - colours.len());
            let first = colours.is_empty();
            colours.extend((0..l).map(|k| (k == 0 && !first, l - 1 - k)));
        }
        Plan {
            step: run - 1,
            colours,
        }
    }

    /// The end of the run of half-sweeps that starts at `h`: the next half-sweep that exchanges
    /// ψ first, or the last.
    fn run_end(&self, h: usize) -> usize {
        self.colours[h + 1..]
            .iter()
            .position(|c| c.0)
            .map_or(self.colours.len(), |k| h + 1 + k)
    }

    /// Arrays exchanged per step: ψ and ω at its start, and ψ again before some half-sweeps.
    #[cfg(test)]
    fn exchanges(&self) -> usize {
        2 + self.colours.iter().filter(|c| c.0).count()
    }
}

/// The SOR half-sweeps `hs` of `plan`'s colours (colour `h % 2`, over `regions[colours[h].1]`).
#[allow(clippy::too_many_arguments)]
fn relax(
    c: &Cavity,
    b: &Block,
    regions: &[Rect],
    colours: &[(bool, usize)],
    hs: std::ops::Range<usize>,
    omega: &[f64],
    psi: &mut [f64],
    par: bool,
) {
    for h in hs {
        sor_colour(c, b, h % 2, &regions[colours[h].1], omega, psi, par);
    }
}

/// The cavity on one rank's block: ψ and ω, and one explicit time step per pass.
pub struct CavitySolver {
    c: Cavity,
    b: Block,
    /// Whether the block's `[north, south, west, east]` edges are walls.
    walls: [bool; 4],
    comm: Comm,
    /// The exchange of ψ alone (between half-sweeps), and of ψ and ω together (at the start of
    /// a step: one message per neighbour carries both).
    ex_psi: HaloExchange,
    ex_both: HaloExchange,
    /// How a step runs on this ghost width.
    plan: Plan,
    /// The interior grown by 0, 1, … layers towards neighbours, as far as the plan reaches.
    regions: Vec<Rect>,
    psi: DistArray,
    omega: DistArray,
    /// The array the next step writes ω into.
    next: DistArray,
    /// Simulated time reached.
    time: f64,
    /// Anderson acceleration, when asked for.
    accel: Option<Accel>,
    /// The threads that run the kernels, when more than the calling one.
    pool: Option<rayon::ThreadPool>,
}

/// The cavity's Anderson acceleration: its history, its window, and the steps since the history
/// began (at the start of the run, of a restart, or after the last checkpoint).
struct Accel {
    history: anderson::Anderson,
    window: usize,
    since: usize,
}

impl CavitySolver {
    /// A cavity at rest on `layout`, a global `nx × ny` grid, with `params`. A ghost width `G`
    /// above 1 runs up to `G` stages of a step between exchanges (see the [module](self) docs);
    /// it needs the box stencil (the corners of the ghost zone), and a layout without one uses
    /// a single ghost layer. Collective (it plans the halo exchanges); an allocation that fails
    /// on any rank is the same error on every rank.
    pub fn new(comm: &Comm, layout: &Layout, params: &CavityParams) -> Result<Self> {
        // The same on every rank: all fail alike, before any collective.
        params.check()?;
        let (nx, ny) = (layout.decomp.nx, layout.decomp.ny);
        let r = layout.interior();
        let depth = match layout.stencil {
            Stencil::Box => layout.ghost,
            Stencil::Star => 1,
        };
        let plan = Plan::new(depth, params.sweeps);
        // Every array before the first collective (the duplicate, the exchange plan).
        let zeros = || DistArray::try_zeros(layout.clone());
        let (psi, omega, next) = comm.agree(zeros().and_then(|p| Ok((p, zeros()?, zeros()?))))?;
        Ok(CavitySolver {
            c: Cavity::new(nx, ny, params.re),
            b: Block {
                stride: layout.local_shape().1,
                rows: r.rows.clone(),
                cols: r.cols.clone(),
                origin: layout.global_of(0, 0),
            },
            walls: [Side::North, Side::South, Side::West, Side::East]
                .map(|s| layout.is_physical(s)),
            comm: comm.duplicate(),
            ex_psi: HaloExchange::new(comm, layout),
            ex_both: HaloExchange::for_fields(comm, layout, 2),
            regions: (0..=plan.step).map(|e| layout.grown(e)).collect(),
            plan,
            psi,
            omega,
            next,
            time: 0.0,
            accel: params.anderson.map(|a| Accel {
                history: anderson::Anderson::new(a.depth),
                window: a.window,
                since: 0,
            }),
            pool: None,
        })
    }

    /// The same solver with its kernels run on `pool` (by rows; MPI stays on the calling
    /// thread), to the same bits as on one thread; `None` runs them on the calling thread.
    pub fn with_pool(mut self, pool: Option<rayon::ThreadPool>) -> Self {
        self.pool = pool;
        self
    }

    /// The stream function.
    pub fn psi(&self) -> &DistArray {
        &self.psi
    }
}

impl Solver for CavitySolver {
    fn name(&self) -> &str {
        "cavity"
    }

    /// One time step: wall vorticity, the vorticity step at the stable dt, `sweeps` red-black SOR
    /// sweeps of the stream function.
    fn advance(&mut self, pass: Pass, time: &mut Timings) -> Result<Advanced> {
        let pool = self.pool.as_ref();
        if let Some(a) = self.accel.as_mut() {
            // A window ends before its next step, so the state a check measures, and the one a
            // run ends with, is always a stepped one, never a bare extrapolation.
            if a.since % a.window == 0 {
                let t = Comm::wtime();
                a.history.window_end(
                    &self.comm,
                    &self.b,
                    &mut [self.psi.as_slice_mut(), self.omega.as_slice_mut()],
                    1,
                    pool,
                )?;
                time.reduce += Comm::wtime() - t;
            }
            a.since += 1;
        }
        let (c, b, regions) = (&self.c, &self.b, &self.regions);
        let t0 = Comm::wtime();
        // ψ and ω together, in the same messages.
        self.ex_both
            .exchange_all(&mut [&mut self.psi, &mut self.omega]);
        let t1 = Comm::wtime();
        let wide = &regions[self.plan.step];
        wall_vorticity(
            c,
            b,
            self.walls,
            wide,
            self.psi.as_slice(),
            self.omega.as_slice_mut(),
        );
        let psi = self.psi.as_slice();
        let umax = on(pool, |par| max_speed(c, b, psi, par));
        let t2 = Comm::wtime();
        let umax = self.comm.all_reduce_value(umax, ReduceOp::Max)?;
        let dt = c.dt(umax);
        let t3 = Comm::wtime();
        // The vorticity step and the half-sweeps up to the next exchange of ψ, in one job.
        let colours = &self.plan.colours;
        let first = self.plan.run_end(0);
        let interior = b.interior();
        let (psi, omega, next) = (
            self.psi.as_slice_mut(),
            self.omega.as_slice(),
            self.next.as_slice_mut(),
        );
        let change = on(pool, |par| {
            let change = vorticity_step(c, b, dt, wide, &interior, psi, omega, next, par);
            relax(c, b, regions, colours, 0..first, next, psi, par);
            change
        });
        std::mem::swap(&mut self.omega, &mut self.next);
        self.time += dt;
        let mut halo = t1 - t0;
        let mut compute = (t2 - t1) + (Comm::wtime() - t3);
        let mut h = first;
        while h < colours.len() {
            let a = Comm::wtime();
            self.ex_psi.exchange(&mut self.psi);
            let m = Comm::wtime();
            let end = self.plan.run_end(h);
            let (omega, psi) = (self.omega.as_slice(), self.psi.as_slice_mut());
            on(pool, |par| {
                relax(c, b, regions, colours, h..end, omega, psi, par)
            });
            h = end;
            halo += m - a;
            compute += Comm::wtime() - m;
        }
        time.reduce += t3 - t2;
        time.compute += compute;
        // The cavity's exchanges are blocking: all their time is waiting.
        time.halo += halo;
        time.wait += halo;
        let check = pass.check && pass.done + 1 == pass.until;
        // MPI's MAX may drop a NaN; infinity survives it.
        let value = if change.is_nan() {
            f64::INFINITY
        } else {
            change / dt
        };
        Ok(Advanced {
            steps: 1,
            residual: check.then_some(LocalResidual {
                value,
                bad: !value.is_finite(),
                agreed: false,
            }),
        })
    }

    fn state(&self) -> Vec<(&'static str, &DistArray)> {
        vec![("psi", &self.psi), ("omega", &self.omega)]
    }

    fn into_fields(self: Box<Self>) -> Vec<(&'static str, DistArray)> {
        vec![("psi", self.psi), ("omega", self.omega)]
    }

    fn state_mut(&mut self) -> Vec<&mut DistArray> {
        vec![&mut self.psi, &mut self.omega]
    }

    fn restored(&mut self, time: f64) -> Result<()> {
        self.time = time;
        Ok(())
    }

    fn time(&self, _done: usize) -> Option<f64> {
        Some(self.time)
    }

    fn watched(&self) -> (String, &DistArray) {
        (
            format!("cavity: the vorticity at t = {:.6}", self.time),
            &self.omega,
        )
    }

    fn watched_mut(&mut self) -> &mut DistArray {
        &mut self.omega
    }

    /// The Anderson history is not in the checkpoint: it restarts here, as a run restarted from
    /// this checkpoint starts without one.
    fn checkpointed(&mut self) {
        if let Some(a) = self.accel.as_mut() {
            a.history.clear();
            a.since = 0;
        }
    }

    fn keeps_history(&self) -> bool {
        self.accel.is_some()
    }

    fn traffic(&self) -> (u64, u64) {
        let (p, o) = (&self.ex_psi, &self.ex_both);
        (
            p.bytes_sent() + o.bytes_sent(),
            p.messages_sent() + o.messages_sent(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_exchanges_psi_only_when_its_ghost_layers_run_out() {
        // Ghost width 1: ψ again before every half-sweep but the first, 2·sweeps + 1 in all.
        let one = Plan::new(1, 2);
        assert_eq!(one.step, 0);
        assert_eq!(one.colours, [(false, 0), (true, 0), (true, 0), (true, 0)]);
        assert_eq!(one.exchanges(), 5);
        // Runs of G half-sweeps, each one layer narrower than the one before.
        let two = Plan::new(2, 2);
        assert_eq!((two.step, two.exchanges()), (1, 3));
        assert_eq!(two.colours, [(false, 1), (false, 0), (true, 1), (false, 0)]);
        let three = Plan::new(3, 2);
        assert_eq!((three.step, three.exchanges()), (2, 3));
        assert_eq!(
            three.colours,
            [(false, 2), (false, 1), (false, 0), (true, 0)]
        );
        // 2·sweeps layers: one exchange of ψ and ω per step, and no use for more.
        let params = CavityParams::default();
        let g = params.one_exchange_ghost();
        let once = Plan::new(g, params.sweeps);
        assert_eq!((once.step, once.exchanges()), (g - 1, 2));
        assert_eq!(Plan::new(g + 3, params.sweeps), once);
        assert!(Plan::new(g - 1, params.sweeps).exchanges() > 2);
        for sweeps in 1..6 {
            for depth in 1..13 {
                let p = Plan::new(depth, sweeps);
                let runs = (2 * sweeps).div_ceil(depth.min(2 * sweeps));
                assert_eq!(p.exchanges(), 1 + runs, "{depth} layers, {sweeps} sweeps");
                assert_eq!(p.colours.len(), 2 * sweeps);
                assert_eq!(
                    p.colours.last().unwrap().1,
                    0,
                    "the last covers the interior"
                );
                assert!(p.colours.iter().all(|c| c.1 <= p.step && p.step < depth));
            }
        }
    }
}
