//! The lid-driven cavity: incompressible Navier–Stokes in vorticity–stream-function form.
//!
//! On the unit square with the lid (the edge before row 0) moving at speed 1 and no-slip walls:
//! - the vorticity ω is advanced by explicit Euler steps of
//!   `ω_t + u ω_x + v ω_y = (1/Re) ∇²ω`, central differences throughout;
//! - each step, the stream function ψ follows from `∇²ψ = −ω` by red-black SOR sweeps, with a
//!   halo exchange before each colour;
//! - the velocity is `u = ψ_y`, `v = −ψ_x`; on the walls (the ghost layer) ψ = 0 and ω
//!   comes from Thom's formula, `ω = −2ψ_adjacent/h² − 2U/h` (U = 1 on the lid, 0 elsewhere);
//! - the time step is the stable one for the grid, Re and the largest speed on any rank
//!   (an allreduce): `dt = 0.9·min(1/(2ν(1/hx² + 1/hy²)), 2ν/|u|²max, 1/(|u|max(1/hx + 1/hy)))`.
//!
//! The residual is `max |ω' − ω|/dt`, the largest residual of the discrete steady vorticity
//! equation: the driver stops at a steady state when it falls below the tolerance, or after the
//! steps asked for. Red-black ordering follows global indices, so results are bitwise the same
//! on any decomposition and thread count.
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
//! when asked for ([`CavityParams::anderson`]): the same steady state in about a third of the
//! steps, the path to it no longer a history of the flow.
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

pub use post::{centerline_u, centerline_v, velocity_field};
pub use reference::{GHIA_RE100_U, GHIA_RE100_V};
pub use scheme::{Block, Cavity};
pub use vortex::CavityQuantities;

use super::driver::{Advanced, LocalResidual, Pass, Solver, Timings};
use super::options::CavityParams;
use crate::comm::{Comm, ReduceOp};
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

/// The cavity on one rank's block: ψ and ω, and one explicit time step per pass.
pub struct CavitySolver {
    c: Cavity,
    sweeps: usize,
    b: Block,
    /// Whether the block's `[north, south, west, east]` edges are walls.
    walls: [bool; 4],
    comm: Comm,
    ex: HaloExchange,
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
    /// A cavity at rest on `layout` (ghost width 1), a global `nx × ny` grid, with `params`.
    /// Collective (it plans the halo exchange); an allocation that fails on any rank is the same
    /// error on every rank.
    pub fn new(comm: &Comm, layout: &Layout, params: &CavityParams) -> Result<Self> {
        let (nx, ny) = (layout.decomp.nx, layout.decomp.ny);
        let r = layout.interior();
        // Every array before the first collective (the duplicate, the exchange plan).
        let zeros = || DistArray::try_zeros(layout.clone());
        let (psi, omega, next) = comm.agree(zeros().and_then(|p| Ok((p, zeros()?, zeros()?))))?;
        Ok(CavitySolver {
            c: Cavity::new(nx, ny, params.re),
            sweeps: params.sweeps,
            b: Block {
                stride: layout.local_shape().1,
                rows: r.rows.clone(),
                cols: r.cols.clone(),
                origin: layout.global_of(0, 0),
            },
            walls: [Side::North, Side::South, Side::West, Side::East]
                .map(|s| layout.is_physical(s)),
            comm: comm.duplicate(),
            ex: HaloExchange::new(comm, layout),
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
            // A window ends before its next step, so that the step the residual is measured on
            // starts from the extrapolated state and the state that is kept is a stepped one.
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
        let (c, b) = (&self.c, &self.b);
        let interior = b.interior();
        let t0 = Comm::wtime();
        self.ex.exchange(&mut self.psi);
        let t1 = Comm::wtime();
        wall_vorticity(
            c,
            b,
            self.walls,
            &interior,
            self.psi.as_slice(),
            self.omega.as_slice_mut(),
        );
        let t2 = Comm::wtime();
        self.ex.exchange(&mut self.omega);
        let t3 = Comm::wtime();
        let psi = self.psi.as_slice();
        let umax = on(pool, |par| max_speed(c, b, psi, par));
        let t4 = Comm::wtime();
        let umax = self.comm.all_reduce_value(umax, ReduceOp::Max)?;
        let dt = c.dt(umax);
        let t5 = Comm::wtime();
        let (omega, next) = (self.omega.as_slice(), self.next.as_slice_mut());
        let change = on(pool, |par| {
            vorticity_step(c, b, dt, &interior, &interior, psi, omega, next, par)
        });
        std::mem::swap(&mut self.omega, &mut self.next);
        self.time += dt;
        let mut halo = (t1 - t0) + (t3 - t2);
        let mut compute = (t2 - t1) + (t4 - t3) + (Comm::wtime() - t5);
        for sweep in 0..self.sweeps {
            for colour in 0..2 {
                let a = Comm::wtime();
                // ψ has not changed since the exchange that began this step.
                if sweep + colour > 0 {
                    self.ex.exchange(&mut self.psi);
                }
                let m = Comm::wtime();
                let (omega, psi) = (self.omega.as_slice(), self.psi.as_slice_mut());
                on(pool, |par| {
                    sor_colour(c, b, colour, &interior, omega, psi, par)
                });
                halo += m - a;
                compute += Comm::wtime() - m;
            }
        }
        time.compute += compute;
        // The cavity's exchanges are blocking: all their time is waiting.
        time.halo += halo;
        time.wait += halo;
        time.reduce += t5 - t4;
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

    fn restore(&mut self, fields: Vec<DistArray>, time: f64) -> Result<()> {
        let mut f = fields.into_iter();
        self.psi = f.next().expect("psi");
        self.omega = f.next().expect("omega");
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

    fn traffic(&self) -> (u64, u64) {
        (self.ex.bytes_sent(), self.ex.messages_sent())
    }
}
