//! What to solve and how, in parts that each go to the room that uses them: the problem and its
//! own parameters, the domain and its split, the stopping rules of the driver, the Jacobi
//! family's speed options. [`Config`] bundles them for [`super::solve`]; each part checks itself,
//! and its errors name the quantity ([`Error::Invalid`]), which a front end may rename after its
//! own option.

use super::kernels::Stores;
use crate::decomp::{ExchangeKind, ProcGrid};
use crate::error::{Error, Result};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// The stencil problems `halo` solves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Problem {
    /// Jacobi iteration for Laplace's equation: the edge before row 0 held at 1, the others at 0,
    /// the interior starting at 0, `u'[i][j] = 0.25 * (u[i-1][j] + u[i+1][j] + u[i][j-1] +
    /// u[i][j+1])`, summed left to right.
    Laplace,
    /// Jacobi iteration for `-∇²u = f` on the unit square with the manufactured solution
    /// `u = sin(πx)·sin(πy)` (so `f = 2π²·sin(πx)·sin(πy)`, zero on the edges).
    Poisson,
    /// Time steps of `u_t = α∇²u` on the unit square, zero on the edges, from
    /// `u = sin(πx)·sin(πy)`, whose exact solution decays as `exp(-2π²αt)`: explicit (forward
    /// Euler) by default, or implicit, each step solved by multigrid ([`Scheme`]).
    Heat,
    /// The lid-driven cavity: incompressible Navier–Stokes in vorticity–stream-function form,
    /// lid speed 1, no-slip walls in the ghost layer (see [`super::cavity`]).
    Cavity,
}

impl Problem {
    /// Every problem, in the order `--help` lists them.
    pub const ALL: [Problem; 4] = [
        Problem::Laplace,
        Problem::Poisson,
        Problem::Heat,
        Problem::Cavity,
    ];

    /// The problem's name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Problem::Laplace => "laplace",
            Problem::Poisson => "poisson",
            Problem::Heat => "heat",
            Problem::Cavity => "cavity",
        }
    }
}

impl Default for Problem {
    /// Laplace: the classic Jacobi benchmark.
    fn default() -> Self {
        Problem::Laplace
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Problem {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Problem::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown problem '{s}' (choose laplace, poisson, heat or cavity)"
                ))
            })
    }
}

/// The error for a parameter out of range.
pub(crate) fn invalid<T>(quantity: &'static str, value: impl fmt::Display, why: &str) -> Result<T> {
    Err(Error::Invalid {
        quantity,
        value: value.to_string(),
        why: why.to_string(),
    })
}

/// `x` as people write it: `1e8` rather than `100000000`, `0.25` as it is.
fn compact(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-3..1e6).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Checks that `x` is a finite positive number.
fn positive(quantity: &'static str, x: f64) -> Result<()> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        invalid(quantity, compact(x), "must be a positive number")
    }
}

/// The grid, how it is split over ranks, and how each rank works on its block.
#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    /// Interior cells along x.
    pub nx: usize,
    /// Interior cells along y.
    pub ny: usize,
    /// The process grid; `None` chooses one ([`ProcGrid::auto`]).
    pub procs: Option<ProcGrid>,
    /// Ghost width W: halos are exchanged once every W iterations and the ghost zone is updated
    /// redundantly in between. Results are bitwise the same for every W.
    pub ghost: usize,
    /// Rayon threads per rank.
    pub threads: usize,
    /// How halo exchanges travel; the field is the same to the last bit with any.
    pub exchange: ExchangeKind,
    /// Whether the ranks run on a Cartesian communicator (see [`Topology`]).
    pub topology: Topology,
}

impl Default for Domain {
    /// 1024×1024, split as [`ProcGrid::auto`] chooses, ghost width 1, one thread per rank, the
    /// default exchange, neighbours by index arithmetic.
    fn default() -> Self {
        Domain {
            nx: 1024,
            ny: 1024,
            procs: None,
            ghost: 1,
            threads: 1,
            exchange: ExchangeKind::default(),
            topology: Topology::Index,
        }
    }
}

/// How a run's ranks find their neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Topology {
    /// Ranks numbered row-major over the process grid by `halo`'s own arithmetic, on the
    /// communicator the run was given.
    #[default]
    Index,
    /// A Cartesian communicator made by MPI (`MPI_Cart_create` with reorder allowed, see
    /// [`crate::solver::cartesian`]): MPI knows the process grid, may renumber ranks to fit the
    /// machine, and answers neighbour queries. The run must be given that communicator.
    Cart,
}

impl Topology {
    /// The name `--topology` takes.
    pub fn name(self) -> &'static str {
        match self {
            Topology::Index => "index",
            Topology::Cart => "cart",
        }
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Topology {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "index" => Ok(Topology::Index),
            "cart" => Ok(Topology::Cart),
            _ => Err(format!("unknown topology '{s}' (known: index, cart)")),
        }
    }
}

impl Domain {
    /// Grid spacing along x on the unit square: the walls sit in the ghost layer.
    pub fn hx(&self) -> f64 {
        1.0 / (self.nx + 1) as f64
    }

    /// Grid spacing along y.
    pub fn hy(&self) -> f64 {
        1.0 / (self.ny + 1) as f64
    }

    /// Checks the sizes; the same on every rank.
    pub fn validate(&self) -> Result<()> {
        let grid = format!("{}x{}", self.nx, self.ny);
        if self.nx == 0 || self.ny == 0 {
            return invalid("grid", grid, "both sides must be at least 1");
        }
        if self.nx.checked_mul(self.ny).is_none_or(|c| c > 1 << 34) {
            return invalid("grid", grid, "more than 2^34 cells");
        }
        if self.ghost == 0 {
            return invalid("ghost width", 0, "must be at least 1");
        }
        if self.threads == 0 || self.threads > 1024 {
            return invalid("threads", self.threads, "choose 1 to 1024");
        }
        Ok(())
    }
}

/// When the driver stops: after `iters` iterations, or once the residual, checked every
/// `check_every` iterations, is at most `tol` (and the simulated time at least `min_time`); or,
/// with a tolerance and `stall_window`, once the residual has stopped falling.
#[derive(Debug, Clone, PartialEq)]
pub struct Stopping {
    /// Iterations (time steps, for heat and the cavity) at most, counted from the start of the
    /// run (not of a restart).
    pub iters: usize,
    /// Stop once the residual is at most this.
    pub tol: Option<f64>,
    /// Iterations between residual checks (each one an allreduce).
    pub check_every: usize,
    /// Time-stepping to a steady state: the tolerance counts only from this simulated time on (a
    /// flow that has barely started changes little per step without being steady).
    pub min_time: Option<f64>,
    /// With a tolerance: give up once the lowest residual of the last `stall_window` checks is
    /// no lower than 0.9 × the lowest before them (the run has stopped getting closer).
    pub stall_window: Option<usize>,
}

impl Default for Stopping {
    /// 1000 iterations, checked every 100, no tolerance.
    fn default() -> Self {
        Stopping {
            iters: 1000,
            tol: None,
            check_every: 100,
            min_time: None,
            stall_window: None,
        }
    }
}

impl Stopping {
    /// Checks the counts and the tolerance.
    pub fn validate(&self) -> Result<()> {
        if self.iters == 0 {
            return invalid("iterations", 0, "must be at least 1");
        }
        if self.check_every == 0 {
            return invalid("check interval", 0, "must be at least 1");
        }
        if let Some(t) = self.tol {
            positive("tolerance", t)?;
        }
        if let Some(t) = self.min_time {
            positive("least simulated time", t)?;
        }
        if self.stall_window == Some(0) {
            return invalid("stall window", 0, "must be at least 1 check");
        }
        Ok(())
    }

    /// Whether the residual is checked after iteration `done`.
    pub fn checks_at(&self, done: usize) -> bool {
        done.is_multiple_of(self.check_every) || done == self.iters
    }
}

/// Where and how often the driver writes checkpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpointing {
    /// A checkpoint after every this many iterations.
    pub every: usize,
    /// The directory they go to.
    pub dir: PathBuf,
    /// Keep only the newest this many (`None`: keep them all).
    pub keep: Option<usize>,
}

/// How the Jacobi family (laplace, poisson, heat) sweeps: options of speed, never of the result.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweeps {
    /// Update the cells that need no ghost while the halo exchange is in flight.
    pub overlap: bool,
    /// How sweeps store their results; `None` chooses by the arrays' size against the
    /// last-level cache ([`super::memory::stores_for`]).
    pub stores: Option<Stores>,
    /// Temporal blocking: sweeps per pass over cache-sized tiles (1: one sweep per pass over the
    /// whole block). At most the ghost width, since a pass runs between two halo exchanges.
    pub time_block: usize,
}

impl Default for Sweeps {
    /// Overlapped exchanges, stores chosen by size, no temporal blocking.
    fn default() -> Self {
        Sweeps {
            overlap: true,
            stores: None,
            time_block: 1,
        }
    }
}

impl Sweeps {
    /// Checks the time block against the ghost width.
    pub fn validate(&self, ghost: usize) -> Result<()> {
        if self.time_block == 0 || self.time_block > ghost {
            return invalid(
                "time block",
                self.time_block,
                &format!("choose 1 to the ghost width ({ghost}): a pass of sweeps runs between two halo exchanges, so the ghost width must be at least the time block"),
            );
        }
        Ok(())
    }
}

/// How heat steps in time. With `L` the 5-point Laplacian of the grid and `dt` the step:
///
/// | scheme | step | error in `dt` | stable |
/// |---|---|---|---|
/// | explicit (forward Euler) | `uⁿ⁺¹ = uⁿ + α·dt·L uⁿ`, one sweep | first order | for `dt` up to [`HeatParams::dt_limit`] (∝ h²) |
/// | implicit (backward Euler) | `(I − α·dt·L) uⁿ⁺¹ = uⁿ` | first order | for every `dt` |
/// | cn (Crank–Nicolson) | `(I − α·dt/2·L) uⁿ⁺¹ = (I + α·dt/2·L) uⁿ` | second order | for every `dt` |
///
/// The implicit schemes solve one linear system per step by multigrid (see
/// [`super::implicit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Forward Euler: the default, one sweep per step, `dt` tied to h².
    #[default]
    Explicit,
    /// Backward Euler, each step solved by multigrid: any `dt`, first order in it.
    Implicit,
    /// Crank–Nicolson, each step solved by multigrid: any `dt`, second order in it.
    Cn,
}

impl Scheme {
    /// Every scheme, in the order `--help` lists them.
    pub const ALL: [Scheme; 3] = [Scheme::Explicit, Scheme::Implicit, Scheme::Cn];

    /// The name on the command line and in checkpoints.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Explicit => "explicit",
            Scheme::Implicit => "implicit",
            Scheme::Cn => "cn",
        }
    }

    /// Whether each step solves a linear system (and so has no stability limit).
    pub fn implicit(self) -> bool {
        self != Scheme::Explicit
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The heat problem's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatParams {
    /// The diffusivity α.
    pub alpha: f64,
    /// The time step; `None` takes the scheme's default ([`HeatParams::time_step`]).
    pub dt: Option<f64>,
    /// How each step is taken.
    pub scheme: Scheme,
}

impl Default for HeatParams {
    /// α = 1, explicit steps, the default step.
    fn default() -> Self {
        HeatParams {
            alpha: 1.0,
            dt: None,
            scheme: Scheme::Explicit,
        }
    }
}

impl HeatParams {
    /// The default explicit time step as a fraction of the stability limit.
    pub const DT_SAFETY: f64 = 0.5;

    /// The largest stable explicit step on `domain`: `1 / (2α(1/hx² + 1/hy²))`.
    pub fn dt_limit(&self, domain: &Domain) -> f64 {
        let (hx, hy) = (domain.hx(), domain.hy());
        1.0 / (2.0 * self.alpha * (1.0 / (hx * hx) + 1.0 / (hy * hy)))
    }

    /// The default step of the implicit schemes on `domain`: `h/(2πα)`, with `h` the root mean
    /// square of `hx` and `hy`. It is the step at which Crank–Nicolson's error in time matches
    /// the grid's error in space: over a time `t` the discrete decay rate of the sine mode,
    /// `λ = 2π²α`, is off by `λ·π²(hx² + hy²)/24` from the grid and by `λ·(λ·dt)²/12` from the
    /// steps, equal when `λ·dt = π·h`. So it shrinks with `h`, not `h²`: on 1023² it is 1.6e-4,
    /// 650 times the explicit limit. Backward Euler at this step is first order, its error in
    /// time far above the grid's.
    pub fn implicit_dt(&self, domain: &Domain) -> f64 {
        let (hx, hy) = (domain.hx(), domain.hy());
        let h = (0.5 * (hx * hx + hy * hy)).sqrt();
        h / (2.0 * std::f64::consts::PI * self.alpha)
    }

    /// The time step this run uses on `domain`: as given, else [`Self::DT_SAFETY`] of the
    /// stability limit for explicit steps and [`Self::implicit_dt`] for implicit ones.
    pub fn time_step(&self, domain: &Domain) -> f64 {
        match (self.dt, self.scheme) {
            (Some(dt), _) => dt,
            (None, Scheme::Explicit) => Self::DT_SAFETY * self.dt_limit(domain),
            (None, _) => self.implicit_dt(domain),
        }
    }

    /// The shortest implicit step on `domain`, as a fraction of the explicit limit: a shorter one
    /// changes the field by less than its rounding (the shift `σ·M` of the system outweighs the
    /// Laplacian by more than `1/ε`), and nothing an implicit step buys is left.
    pub const IMPLICIT_MIN_STEP: f64 = f64::EPSILON;

    /// Checks α and the step on `domain`: explicit steps must be stable; implicit ones must be
    /// positive and longer than [`Self::IMPLICIT_MIN_STEP`] of the explicit limit.
    pub fn validate(&self, domain: &Domain) -> Result<()> {
        positive("diffusivity", self.alpha)?;
        let limit = self.dt_limit(domain);
        if !(limit.is_finite() && limit > 0.0) {
            return invalid(
                "diffusivity",
                compact(self.alpha),
                &format!("gives no usable time step on this grid (the stable limit is {limit:e})"),
            );
        }
        if self.scheme.implicit() {
            let dt = self.time_step(domain);
            match self.dt {
                Some(dt) => positive("time step", dt)?,
                None if !(dt.is_finite() && dt > 0.0) => {
                    return invalid(
                        "diffusivity",
                        compact(self.alpha),
                        &format!("gives no usable time step on this grid (the default implicit step would be {dt:e})"),
                    )
                }
                None => {}
            }
            let least = Self::IMPLICIT_MIN_STEP * limit;
            if dt < least {
                return invalid(
                    "time step",
                    compact(dt),
                    &format!(
                        "too short for an implicit step on a {}x{} grid (alpha {}): below {least:e}, a step changes the field by less than its rounding; use the explicit scheme",
                        domain.nx, domain.ny, self.alpha
                    ),
                );
            }
            return Ok(());
        }
        if let Some(dt) = self.dt {
            positive("time step", dt)?;
            if dt > self.dt_limit(domain) {
                return invalid(
                    "time step",
                    dt,
                    &format!(
                        "unstable on a {}x{} grid: explicit heat steps need dt <= {:e} (alpha {}); the implicit schemes (implicit, cn) take any step",
                        domain.nx,
                        domain.ny,
                        self.dt_limit(domain),
                        self.alpha
                    ),
                );
            }
        }
        Ok(())
    }
}

/// The lid-driven cavity's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct CavityParams {
    /// The Reynolds number (lid speed 1, side 1).
    pub re: f64,
    /// Red-black SOR sweeps of the stream function per time step.
    pub sweeps: usize,
    /// Anderson acceleration of the march to a steady state (`None`: plain time steps, the
    /// flow's own history).
    pub anderson: Option<AndersonParams>,
}

impl Default for CavityParams {
    /// Re 100, two SOR sweeps per step, plain time steps.
    fn default() -> Self {
        CavityParams {
            re: 100.0,
            sweeps: 2,
            anderson: None,
        }
    }
}

/// Anderson acceleration of the cavity's time loop (see [`super::cavity::anderson`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct AndersonParams {
    /// Windows whose differences are kept, `m`.
    pub depth: usize,
    /// Time steps per window, `K`.
    pub window: usize,
}

impl Default for AndersonParams {
    /// Measured on the cavity at Re 100, 400 and 1000 on 127² (with the first restart rule):
    /// windows of 500 steps (about one time unit at Re 1000) and a depth of 20 take a third of the
    /// steps of plain stepping; depths of 5 or 10 gain little, 30 or 40 no more than 20 (250-step
    /// windows with depth 10 gained nothing). `BENCHMARKS.md` has the steps and times of the
    /// defaults at Re 1000 on 127² to 511².
    fn default() -> Self {
        AndersonParams {
            depth: 20,
            window: 500,
        }
    }
}

impl AndersonParams {
    /// The deepest history accepted: each window solves a least-squares problem of this order,
    /// and keeps three arrays per difference.
    pub const MAX_DEPTH: usize = 100;

    /// Checks that the depth is 1 to [`Self::MAX_DEPTH`] and the window at least 1.
    pub fn validate(&self) -> Result<()> {
        if self.depth == 0 || self.depth > Self::MAX_DEPTH {
            return invalid(
                "Anderson depth",
                self.depth,
                &format!("choose 1 to {}", Self::MAX_DEPTH),
            );
        }
        if self.window == 0 {
            return invalid("Anderson window", 0, "must be at least 1 step");
        }
        Ok(())
    }
}

impl CavityParams {
    /// The default steady-state tolerance on `max |ω' − ω|/dt`, the largest residual of the
    /// discrete steady vorticity equation `|u·∇ω − ν∇²ω|` over the cells, for a run given
    /// neither a step count nor a tolerance. Strict: at Re 1000 on 63² the quantities read off
    /// the flow (ψ min, the centreline extrema) are then within a few parts in 10⁶ of their
    /// values at 10⁻⁹ (measured: 2.2·10⁻⁶ with plain steps, 3·10⁻⁷ with Anderson's), far below
    /// the discretisation's error; 10⁻³ gives
    /// Ghia's centreline values at Re 100 to within 0.01, but not the digits a refinement study
    /// needs.
    pub const STEADY_TOL: f64 = 1e-6;

    /// The most steps a run to a steady state takes before it says none was reached.
    pub const STEP_CAP: usize = 10_000_000;

    /// The least simulated time before a steady state counts: one passage of the lid (side 1
    /// at speed 1). Before it, a small change per unit time says only that the flow has barely
    /// started: at high Re the stable step is tiny, and the change per step tinier.
    pub const MIN_STEADY_TIME: f64 = 1.0;

    /// Steps over which a run to a steady state must get its residual 10 % lower than ever
    /// before, or end as stalled: counted in steps, not checks, so that checking more often
    /// does not shorten the patience (20,000 steps of Re 1000 on 127² are 36 time units).
    pub const STALL_STEPS: usize = 20_000;

    /// Simulated time over which a run to a steady state must get its residual 10 % lower than
    /// ever before, when [`Self::STALL_STEPS`] steps cover less: at high Re the stable step is
    /// short and the flow slow to settle (at Re 5000 on 127², plain steps hold the residual
    /// near 1 from t = 25 to t = 90 before it falls again; 20,000 steps are 7 time units there).
    pub const STALL_TIME: f64 = 20.0;

    /// The steps of the stall window of a run on an `nx × ny` grid at this Re: [`Self::STALL_STEPS`],
    /// or as many as cover [`Self::STALL_TIME`] at the longest stable step (the lid's speed),
    /// whichever is more.
    pub fn stall_steps(&self, nx: usize, ny: usize) -> usize {
        let dt = super::cavity::Cavity::new(nx, ny, self.re).dt(1.0);
        let steps = (Self::STALL_TIME / dt).ceil();
        if steps.is_finite() && steps < Self::STEP_CAP as f64 {
            (steps as usize).max(Self::STALL_STEPS)
        } else {
            Self::STEP_CAP
        }
    }

    /// The cell Reynolds number beyond which the scheme is not expected to settle: measured here,
    /// Re 5000 on 63² (cell Re 78) still reaches a steady state and Re 10⁴ on 31² (312) stalls.
    pub const CELL_RE_LIMIT: f64 = 100.0;

    /// The stopping rules of a run to a steady state at tolerance `tol`, checked every
    /// `check_every` steps: at most [`Self::STEP_CAP`] steps, steady only from
    /// [`Self::MIN_STEADY_TIME`] on, given up when stalled over [`Self::STALL_STEPS`] steps
    /// (in whole checks, at least 10); [`Self::stall_window`] lengthens the window for a grid
    /// and Re.
    pub fn steady_state(tol: f64, check_every: usize) -> Stopping {
        Stopping {
            iters: Self::STEP_CAP,
            tol: Some(tol),
            check_every,
            min_time: Some(Self::MIN_STEADY_TIME),
            stall_window: Some(Self::STALL_STEPS.div_ceil(check_every.max(1)).max(10)),
        }
    }

    /// `stop` with its stall window (if any) covering [`Self::stall_steps`] on an `nx × ny` grid.
    pub fn stall_window(&self, stop: Stopping, nx: usize, ny: usize) -> Stopping {
        let checks = self
            .stall_steps(nx, ny)
            .div_ceil(stop.check_every.max(1))
            .max(10);
        Stopping {
            stall_window: stop.stall_window.map(|_| checks),
            ..stop
        }
    }

    /// The least ghost width with which a time step exchanges halos once (ψ and ω together):
    /// each of the `2·sweeps` SOR half-sweeps reads one layer beyond the cells of the next,
    /// and the vorticity step none beyond the first half-sweep's (see [`super::cavity`]). A
    /// narrower ghost exchanges ψ again within the step; a wider one sends layers no one reads.
    pub fn one_exchange_ghost(&self) -> usize {
        2 * self.sweeps
    }

    /// Checks what the solver itself needs: a positive Re, at least one SOR sweep, a valid
    /// acceleration ([`AndersonParams::validate`]).
    pub fn check(&self) -> Result<()> {
        positive("Reynolds number", self.re)?;
        if self.sweeps == 0 {
            return invalid("SOR sweeps", 0, "must be at least 1");
        }
        if let Some(a) = &self.anderson {
            a.validate()?;
        }
        Ok(())
    }

    /// Checks Re and the sweeps, that the cavity runs as it must on `sweeps` (one step per
    /// pass; any ghost width and thread count), and that a run to a steady state
    /// (`stop` with a tolerance and a least time) can reach that time within its steps.
    pub fn validate(&self, domain: &Domain, jacobi: &Sweeps, stop: &Stopping) -> Result<()> {
        self.check()?;
        // No step is longer than the one at the lid's speed.
        let dt = super::cavity::Cavity::new(domain.nx, domain.ny, self.re).dt(1.0);
        if !(dt.is_finite() && dt > 0.0) {
            return invalid(
                "Reynolds number",
                compact(self.re),
                &format!("gives no usable time step (the stable step would be {dt:e})"),
            );
        }
        if jacobi.time_block != 1 {
            return invalid(
                "time block",
                jacobi.time_block,
                "the cavity takes one step per pass",
            );
        }
        if let (Some(least), Some(_)) = (stop.min_time, stop.tol) {
            let steps = (least / dt).ceil();
            if steps > stop.iters as f64 {
                let why = format!(
                    "at Re {} on a {}x{} grid the stable step is at most {dt:.2e}, so the least simulated time of a steady state ({least}) takes at least {steps:.2e} steps, more than the {} allowed",
                    compact(self.re),
                    domain.nx,
                    domain.ny,
                    stop.iters
                );
                return if stop.iters >= Self::STEP_CAP {
                    invalid("Reynolds number", compact(self.re), &why)
                } else {
                    invalid("iterations", stop.iters, &why)
                };
            }
        }
        Ok(())
    }
}

/// The Poisson problem's manufactured solutions (each zero on the walls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Manufactured {
    /// `u = sin(πx)·sin(πy)`, `f = 2π²·u`: an eigenvector of the discrete Laplacian, which CG
    /// solves in one step.
    #[default]
    Sine,
    /// `u = x(1−x)·y(1−y)·eˣ`, `f = x·eˣ·((3+x)·y(1−y) + 2(1−x))`: every mode present, a fair test
    /// of a Krylov solver.
    Polyexp,
}

impl Manufactured {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Manufactured::Sine => "sine",
            Manufactured::Polyexp => "polyexp",
        }
    }
}

/// The solvers of the Laplace and Poisson problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Jacobi sweeps (the default; the only one for heat and the cavity).
    #[default]
    Jacobi,
    /// Conjugate gradients, unpreconditioned.
    Cg,
    /// Multigrid cycles as the solver.
    Mg,
    /// Conjugate gradients preconditioned by one multigrid cycle.
    Mgcg,
    /// Full multigrid, then cycles until the tolerance.
    Fmg,
    /// Pipelined CG (Ghysels & Vanroose) preconditioned by one multigrid cycle: its reductions
    /// overlap the preconditioner and the operator.
    Pipecg,
}

impl Method {
    /// Every solver, in the order `--help` lists them.
    pub const ALL: [Method; 6] = [
        Method::Jacobi,
        Method::Cg,
        Method::Mg,
        Method::Mgcg,
        Method::Fmg,
        Method::Pipecg,
    ];

    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Method::Jacobi => "jacobi",
            Method::Cg => "cg",
            Method::Mg => "mg",
            Method::Mgcg => "mgcg",
            Method::Fmg => "fmg",
            Method::Pipecg => "pipecg",
        }
    }

    /// Whether it uses a multigrid hierarchy (and so the cycle options).
    pub fn multigrid(self) -> bool {
        matches!(
            self,
            Method::Mg | Method::Mgcg | Method::Fmg | Method::Pipecg
        )
    }

    /// The default tolerance on the relative residual `‖r‖/‖r₀‖` for the solvers that stop on
    /// one (all but Jacobi, whose runs count sweeps).
    pub const DEFAULT_RTOL: f64 = 1e-8;

    /// The default bound on cycles or iterations of the solvers other than Jacobi (PETSc's
    /// `max_it`).
    pub const DEFAULT_ITERS: usize = 10_000;
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How `laplace` and `poisson` are solved: the solver and, for those built on multigrid, its
/// cycles.
#[derive(Debug, Clone, PartialEq)]
pub struct Solving {
    /// The solver.
    pub method: Method,
    /// The multigrid cycles (used by the multigrid solvers).
    pub cycling: super::multigrid::Cycling,
    /// The dot products of the CG family are exact, so their iterates are the same bits on every
    /// decomposition; `false` sums each rank's part in floating point and adds the parts with a
    /// plain allreduce (faster, not reproducible across rank counts).
    pub exact_dots: bool,
}

impl Default for Solving {
    /// Jacobi; for the others V(2,2) cycles with red-black Gauss–Seidel and exact dot products.
    fn default() -> Self {
        Solving {
            method: Method::Jacobi,
            cycling: super::multigrid::Cycling::default(),
            exact_dots: true,
        }
    }
}

impl Solving {
    /// The most smoothing sweeps before or after a coarse correction.
    pub const MAX_SWEEPS: usize = 100;

    /// Checks the cycle's sweeps (for a solver built on multigrid, and implicit heat steps).
    pub fn validate_cycling(&self) -> Result<()> {
        let c = &self.cycling;
        if c.pre + c.post == 0 {
            return invalid(
                "smoothing sweeps",
                0,
                "a cycle needs at least one sweep before or after its coarse correction",
            );
        }
        for n in [c.pre, c.post] {
            if n > Self::MAX_SWEEPS {
                return invalid(
                    "smoothing sweeps",
                    n,
                    &format!("choose 0 to {}", Self::MAX_SWEEPS),
                );
            }
        }
        Ok(())
    }

    /// Checks the solver against the problem and the cycle's sweeps.
    pub fn validate(&self, problem: Problem, checkpoints: bool) -> Result<()> {
        if self.method != Method::Jacobi && !matches!(problem, Problem::Laplace | Problem::Poisson)
        {
            return invalid(
                "solver",
                self.method,
                &match problem {
                    Problem::Heat => "solves laplace and poisson only; heat takes explicit steps, or implicit ones solved by multigrid with --scheme implicit|cn".to_string(),
                    _ => format!("solves laplace and poisson only; {problem} runs with jacobi (the default)"),
                },
            );
        }
        if self.method.multigrid() {
            self.validate_cycling()?;
        }
        let preconditions = matches!(self.method, Method::Mgcg | Method::Pipecg);
        if preconditions && self.cycling.cycle == super::multigrid::Cycle::F {
            return invalid(
                "cycle",
                "f",
                &format!(
                    "{} needs a symmetric preconditioner, and an F-cycle (an F-cycle then a V-cycle below each level) is not one; use v or w",
                    self.method
                ),
            );
        }
        if preconditions && self.cycling.pre != self.cycling.post {
            return invalid(
                "smoothing sweeps",
                format!("{} before, {} after", self.cycling.pre, self.cycling.post),
                &format!(
                    "{} needs a symmetric preconditioner: give the same count before and after the coarse correction",
                    self.method
                ),
            );
        }
        if self.method == Method::Pipecg && checkpoints {
            return invalid(
                "solver",
                self.method,
                "keeps eight vectors and four scalars between iterations and does not checkpoint; use mgcg, whose checkpoints restart to the same bits",
            );
        }
        Ok(())
    }
}

/// Which fingerprints of its final field a run computes (see [`crate::io::distributed_sha256`]
/// and [`crate::io::band_digest`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fingerprints {
    /// `field_sha256` and `checksum`, streamed through rank 0, and `field_digest`.
    #[default]
    Both,
    /// `field_digest` alone, computed by all ranks at once: for fields too large to stream
    /// through one rank in reasonable time.
    Digest,
}

/// A whole run for [`super::solve`]: the problem, its parameters, the domain, the stopping rules,
/// checkpoints and restart. Each part goes to the room that uses it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// What to solve.
    pub problem: Problem,
    /// The grid and its split.
    pub domain: Domain,
    /// When to stop.
    pub stop: Stopping,
    /// Write checkpoints.
    pub checkpoint: Option<Checkpointing>,
    /// Resume from the newest checkpoint in this directory.
    pub restart: Option<PathBuf>,
    /// The Jacobi family's speed options.
    pub sweeps: Sweeps,
    /// Heat's parameters (used by heat only).
    pub heat: HeatParams,
    /// The cavity's parameters (used by the cavity only).
    pub cavity: CavityParams,
    /// Poisson's manufactured solution.
    pub manufactured: Manufactured,
    /// How laplace and poisson are solved.
    pub solving: Solving,
    /// The final field's fingerprints.
    pub fingerprints: Fingerprints,
}

impl Config {
    /// Checks every part that the problem uses; the same on every rank.
    pub fn validate(&self) -> Result<()> {
        self.domain.validate()?;
        self.stop.validate()?;
        if let Some(c) = &self.checkpoint {
            if c.every == 0 {
                return invalid("checkpoint interval", 0, "must be at least 1");
            }
            if c.keep == Some(0) {
                return invalid(
                    "checkpoints to keep",
                    0,
                    "must be at least 1 (leave it out to keep them all)",
                );
            }
        }
        self.solving.validate(
            self.problem,
            self.checkpoint.is_some() || self.restart.is_some(),
        )?;
        if self.solving.method != Method::Jacobi && self.domain.threads != 1 {
            return invalid(
                "threads",
                self.domain.threads,
                &format!(
                    "{} runs one thread per rank; use more ranks",
                    self.solving.method
                ),
            );
        }
        if self.manufactured != Manufactured::Sine && self.problem != Problem::Poisson {
            return invalid(
                "manufactured solution",
                self.manufactured.name(),
                &format!("belongs to poisson, not {}", self.problem),
            );
        }
        if self.heat.scheme != Scheme::Explicit && self.problem != Problem::Heat {
            return invalid(
                "scheme",
                self.heat.scheme,
                &format!("belongs to heat, not {}", self.problem),
            );
        }
        match self.problem {
            Problem::Cavity => self.cavity.validate(&self.domain, &self.sweeps, &self.stop),
            Problem::Heat => {
                self.sweeps.validate(self.domain.ghost)?;
                if self.heat.scheme.implicit() {
                    self.solving.validate_cycling()?;
                    if self.domain.threads != 1 {
                        return invalid(
                            "threads",
                            self.domain.threads,
                            &format!(
                                "heat's {} scheme runs one thread per rank, as multigrid does; use more ranks",
                                self.heat.scheme
                            ),
                        );
                    }
                }
                self.heat.validate(&self.domain)
            }
            Problem::Laplace | Problem::Poisson => self.sweeps.validate(self.domain.ghost),
        }
    }

    /// The parameters a checkpoint must share with a run that restarts from it, as exact text:
    /// the problem's own, and with a tolerance the stopping rules that decide where the run ends
    /// (not the step count: extending a run is what restarts are for).
    pub fn state_params(&self) -> Vec<(String, String)> {
        let p = |k: &str, v: f64| (k.to_string(), v.to_string());
        let mut params = self.problem_params();
        if let Some(tol) = self.stop.tol {
            let s = &self.stop;
            params.push(p("tol", tol));
            params.push(p("check_every", s.check_every as f64));
            if let Some(t) = s.min_time {
                params.push(p("min_time", t));
            }
            if let Some(w) = s.stall_window {
                params.push(p("stall_window", w as f64));
            }
        }
        params
    }

    /// The parameters of the problem itself.
    fn problem_params(&self) -> Vec<(String, String)> {
        let p = |k: &str, v: f64| (k.to_string(), v.to_string());
        let mut solver = vec![];
        if self.solving.method != Method::Jacobi {
            solver.push(("solver".to_string(), self.solving.method.to_string()));
            if self.solving.method.multigrid() {
                solver.extend(self.solving.cycling.params());
            }
            let dots = matches!(
                self.solving.method,
                Method::Cg | Method::Mgcg | Method::Pipecg
            );
            if dots && !self.solving.exact_dots {
                solver.push(("exact_dots".into(), "false".into()));
            }
        }
        if self.manufactured != Manufactured::Sine {
            solver.push(("manufactured".into(), self.manufactured.name().into()));
        }
        solver.extend(match self.problem {
            Problem::Laplace | Problem::Poisson => vec![],
            Problem::Heat => {
                let mut heat = vec![
                    p("alpha", self.heat.alpha),
                    p("dt", self.heat.time_step(&self.domain)),
                ];
                // Explicit runs keep the parameters they always had, so their checkpoints stay
                // valid; an implicit step's bits depend on its scheme and its cycles.
                if self.heat.scheme.implicit() {
                    heat.push(("scheme".to_string(), self.heat.scheme.to_string()));
                    heat.extend(self.solving.cycling.params());
                }
                heat
            }
            Problem::Cavity => {
                let mut cavity = vec![
                    p("re", self.cavity.re),
                    p("sweeps", self.cavity.sweeps as f64),
                ];
                // Plain runs keep the parameters they always had, so their checkpoints stay valid.
                if let Some(a) = self.cavity.anderson {
                    cavity.push(p("anderson_depth", a.depth as f64));
                    cavity.push(p("anderson_window", a.window as f64));
                }
                cavity
            }
        });
        solver
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_problems_parse() {
        Config::default().validate().unwrap();
        assert_eq!("heat".parse::<Problem>().unwrap(), Problem::Heat);
        let e = "wave".parse::<Problem>().unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown problem 'wave' (choose laplace, poisson, heat or cavity)"
        );
    }

    #[test]
    fn the_stability_limit_is_the_textbook_one() {
        let domain = Domain {
            nx: 9,
            ny: 9,
            ..Domain::default()
        };
        let heat = HeatParams::default();
        // h = 0.1: dt <= h²/4 for alpha 1.
        assert!((heat.dt_limit(&domain) - 0.0025).abs() < 1e-15);
        assert!((heat.time_step(&domain) - 0.00125).abs() < 1e-15);
        let unstable = HeatParams {
            dt: Some(0.003),
            ..heat.clone()
        };
        let e = unstable.validate(&domain).unwrap_err().to_string();
        assert!(
            e.starts_with("time step 0.003: unstable on a 9x9 grid"),
            "{e}"
        );
        let limit = HeatParams {
            dt: Some(0.0025),
            ..heat.clone()
        };
        assert!(limit.validate(&domain).is_ok());
        // The limit is printed exactly: a step at the printed limit is accepted.
        let e = HeatParams {
            dt: Some(0.0026),
            ..heat.clone()
        }
        .validate(&domain)
        .unwrap_err()
        .to_string();
        let printed: f64 = e
            .split("need dt <= ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("{e}"));
        let at_limit = HeatParams {
            dt: Some(printed),
            ..heat.clone()
        };
        assert!(at_limit.validate(&domain).is_ok(), "{e}");
        let tiny = HeatParams {
            alpha: 1e-320,
            ..HeatParams::default()
        };
        let e = tiny.validate(&domain).unwrap_err().to_string();
        assert!(
            e.starts_with("diffusivity 1e-320: gives no usable time step"),
            "{e}"
        );
    }

    #[test]
    fn implicit_steps_have_no_stability_limit_and_default_to_h_over_two_pi_alpha() {
        let domain = Domain {
            nx: 9,
            ny: 9,
            ..Domain::default()
        };
        for scheme in [Scheme::Implicit, Scheme::Cn] {
            let heat = HeatParams {
                alpha: 2.0,
                dt: None,
                scheme,
            };
            // h = 0.1.
            let dt = heat.time_step(&domain);
            assert!(
                (dt - 0.1 / (4.0 * std::f64::consts::PI)).abs() < 1e-17,
                "{dt}"
            );
            heat.validate(&domain).unwrap();
            // A thousand times the explicit limit is a step like any other.
            let long = HeatParams {
                dt: Some(1000.0 * heat.dt_limit(&domain)),
                ..heat.clone()
            };
            long.validate(&domain).unwrap();
            for (dt, says) in [
                (-1.0, "time step -1: must be a positive number"),
                (0.0, "time step 0: must be a positive number"),
                (f64::INFINITY, "time step inf: must be a positive number"),
                (
                    1e-30,
                    "time step 1e-30: too short for an implicit step on a 9x9 grid",
                ),
            ] {
                let e = HeatParams {
                    dt: Some(dt),
                    ..heat.clone()
                }
                .validate(&domain)
                .unwrap_err()
                .to_string();
                assert!(e.starts_with(says), "{scheme}: {e}");
            }
        }
        // On a 2x1 grid the cells are 1/3 by 1/2: h is their root mean square.
        let stretched = Domain {
            nx: 2,
            ny: 1,
            ..Domain::default()
        };
        let heat = HeatParams {
            scheme: Scheme::Cn,
            ..HeatParams::default()
        };
        let h = ((1.0 / 9.0 + 1.0 / 4.0) / 2.0f64).sqrt();
        let dt = heat.time_step(&stretched);
        assert!(
            (dt - h / (2.0 * std::f64::consts::PI)).abs() < 1e-16,
            "{dt}"
        );
    }

    #[test]
    fn the_scheme_belongs_to_heat_and_is_part_of_a_checkpoint() {
        let heat = |scheme| Config {
            problem: Problem::Heat,
            heat: HeatParams {
                dt: Some(1e-3),
                scheme,
                ..HeatParams::default()
            },
            domain: Domain {
                nx: 63,
                ny: 63,
                ..Domain::default()
            },
            ..Config::default()
        };
        let explicit = heat(Scheme::Explicit).state_params();
        // Explicit runs name what they always named, so their checkpoints still restart.
        let named = |p: &[(String, String)]| p.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        assert_eq!(named(&explicit), ["alpha", "dt"]);
        let cn = heat(Scheme::Cn).state_params();
        let implicit = heat(Scheme::Implicit).state_params();
        assert_ne!(cn, implicit);
        assert_ne!(cn, explicit);
        assert!(cn.contains(&("scheme".into(), "cn".into())), "{cn:?}");
        let mut w = heat(Scheme::Cn);
        w.solving.cycling.cycle = crate::solver::multigrid::Cycle::W;
        assert_ne!(w.state_params(), cn, "the cycle changes the bits of a step");
        let poisson = Config {
            problem: Problem::Poisson,
            heat: HeatParams {
                scheme: Scheme::Implicit,
                ..HeatParams::default()
            },
            ..Config::default()
        };
        let e = poisson.validate().unwrap_err().to_string();
        assert_eq!(e, "scheme implicit: belongs to heat, not poisson");
        let mut none = heat(Scheme::Implicit);
        none.solving.cycling.pre = 0;
        none.solving.cycling.post = 0;
        let e = none.validate().unwrap_err().to_string();
        assert!(e.starts_with("smoothing sweeps 0: "), "{e}");
        // Explicit heat does not cycle, so its sweeps are not checked.
        none.heat.scheme = Scheme::Explicit;
        none.heat.dt = None;
        none.validate().unwrap();
    }

    #[test]
    fn bad_values_name_their_quantity() {
        let d = Config::default();
        let heat = |h: HeatParams| Config {
            problem: Problem::Heat,
            heat: h,
            ..d.clone()
        };
        let domain = |f: fn(&mut Domain)| {
            let mut c = d.clone();
            f(&mut c.domain);
            c
        };
        let stop = |f: fn(&mut Stopping)| {
            let mut c = d.clone();
            f(&mut c.stop);
            c
        };
        for (c, quantity) in [
            (domain(|d| d.nx = 0), "grid"),
            (domain(|d| d.ghost = 0), "ghost width"),
            (domain(|d| d.threads = 0), "threads"),
            (stop(|s| s.iters = 0), "iterations"),
            (stop(|s| s.check_every = 0), "check interval"),
            (stop(|s| s.tol = Some(-1.0)), "tolerance"),
            (stop(|s| s.tol = Some(f64::NAN)), "tolerance"),
            (
                heat(HeatParams {
                    dt: Some(1.0),
                    ..HeatParams::default()
                }),
                "time step",
            ),
            (
                heat(HeatParams {
                    alpha: 0.0,
                    ..HeatParams::default()
                }),
                "diffusivity",
            ),
            (
                Config {
                    sweeps: Sweeps {
                        time_block: 2,
                        ..Sweeps::default()
                    },
                    ..d.clone()
                },
                "time block",
            ),
        ] {
            match c.validate() {
                Err(Error::Invalid { quantity: q, .. }) => assert_eq!(q, quantity),
                other => panic!("{quantity}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_cavity_refuses_what_it_cannot_run() {
        let c = Config {
            problem: Problem::Cavity,
            ..Config::default()
        };
        c.validate().unwrap();
        // Threads split each kernel's rows, to the same bits.
        let mut threads = c.clone();
        threads.domain.threads = 3;
        threads.validate().unwrap();
        let mut ghost = c.clone();
        ghost.domain.ghost = 2;
        ghost.sweeps.time_block = 2;
        let e = ghost.validate().unwrap_err().to_string();
        assert_eq!(e, "time block 2: the cavity takes one step per pass");
        // Any ghost width: a narrow one exchanges ψ more often within a step.
        for g in [2, 3, c.cavity.one_exchange_ghost(), 7] {
            ghost.domain.ghost = g;
            ghost.sweeps.time_block = 1;
            ghost.validate().unwrap();
        }
        let mut steady = c.clone();
        steady.domain = Domain {
            nx: 31,
            ny: 31,
            ..Domain::default()
        };
        steady.stop = CavityParams::steady_state(1e-3, 100);
        steady.cavity.re = 1e4;
        steady.validate().unwrap();
        steady.cavity.re = 1e8;
        let e = steady.validate().unwrap_err().to_string();
        assert!(
            e.starts_with(
                "Reynolds number 1e8: at Re 1e8 on a 31x31 grid the stable step is at most 1.80e-8"
            ),
            "{e}"
        );
        steady.cavity.re = 100.0;
        steady.stop.iters = 50;
        let e = steady.validate().unwrap_err().to_string();
        assert!(e.starts_with("iterations 50: "), "{e}");
        let mut tiny = c.clone();
        tiny.cavity.re = 1e-310;
        let e = tiny.validate().unwrap_err().to_string();
        assert!(
            e.starts_with("Reynolds number 1e-310: gives no usable time step"),
            "{e}"
        );
        let mut re = c;
        re.cavity.re = -5.0;
        let e = re.validate().unwrap_err().to_string();
        assert_eq!(e, "Reynolds number -5: must be a positive number");
    }
}
