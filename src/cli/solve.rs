//! `halo solve`: a stencil problem on a grid split across the job's ranks.

use super::args;
use super::fault::{Fault, Injector};
use super::history::{History, Watch};
use super::progress::ProgressView;
use halo::comm::{Comm, ReduceOp};
use halo::decomp::{ExchangeKind, ProcGrid};
use halo::node::signals;
use halo::solver::cavity::CavityQuantities;
use halo::solver::kernels::Stores;
use halo::solver::multigrid::{Cycle, Cycling, Smoother};
use halo::solver::options::Scheme;
use halo::solver::{
    self, AndersonParams, CavityParams, Checkpointing, Config, Domain, HeatParams, Manufactured,
    Method, Monitor, Problem, Solving, Stopping, Sweeps, Topology,
};
use halo::Error;
use std::path::PathBuf;

/// What to solve: the options `halo solve` and `halo scale` share.
#[derive(clap::Args)]
pub struct ProblemArgs {
    /// The problem: laplace (top edge held at 1), poisson (a manufactured solution, reports its
    /// error), heat (time steps of u_t = α∇²u, reports its error against the exact decay; see
    /// --scheme) or cavity (lid-driven cavity, Navier–Stokes; runs to a steady state unless
    /// --iters/--tol say).
    #[arg(long, default_value = "laplace", value_parser = args::problem)]
    pub problem: Problem,
    /// How laplace and poisson are solved: jacobi (sweeps), cg (conjugate gradients), mg
    /// (multigrid cycles), mgcg (CG preconditioned by a multigrid cycle), fmg (full multigrid,
    /// then cycles) or pipecg (pipelined mgcg). All but jacobi stop at --tol on the relative
    /// residual ‖r‖/‖r₀‖ [default 1e-8], at most --iters cycles or iterations [default 10000].
    #[arg(long, value_enum, default_value_t = MethodArg::Jacobi)]
    pub solver: MethodArg,
    /// Poisson's manufactured solution: sine (sin(πx)sin(πy), an eigenvector of the operator)
    /// or polyexp (x(1−x)y(1−y)eˣ, every mode present).
    #[arg(long, value_enum, default_value_t = ManufacturedArg::Sine)]
    pub manufactured: ManufacturedArg,
    /// Multigrid: the cycle (v, w or f) [default: f for fmg, where it keeps the error at the
    /// discretisation's; v otherwise].
    #[arg(long, value_enum)]
    pub cycle: Option<CycleArg>,
    /// Multigrid: the smoother, rbgs (red-black Gauss–Seidel) or jacobi (weighted, ω = 4/5)
    /// [default: rbgs].
    #[arg(long, value_enum)]
    pub smoother: Option<SmootherArg>,
    /// Multigrid: smoothing sweeps before each coarse correction [default: 2].
    #[arg(long, value_name = "N")]
    pub pre: Option<usize>,
    /// Multigrid: smoothing sweeps after each coarse correction [default: 1 for fmg, whose
    /// F-cycles need less; 2 otherwise].
    #[arg(long, value_name = "N")]
    pub post: Option<usize>,
    /// CG family: sum dot products in floating point with a plain allreduce instead of exactly
    /// (faster; the iterates then differ in their last bits between rank counts).
    #[arg(long)]
    pub plain_dots: bool,
    /// Interior cells NXxNY; the walls live in the ghost layer around them, so Ghia's 129x129
    /// cavity grid (walls included) is --grid 127x127.
    #[arg(long, default_value = "1024x1024", value_name = "NXxNY", value_parser = args::grid,
          allow_hyphen_values = true)]
    pub grid: (usize, usize),
    /// Iterations (time steps for heat and cavity); with --tol, at most this many
    /// [default: 1000; cavity: until steady (--tol 1e-6, counted from simulated time 1 on),
    /// at most 10000000 steps, ending with exit 6 if the residual stalls or the steps run out].
    #[arg(long, visible_alias = "steps", value_name = "N")]
    pub iters: Option<usize>,
    /// Stop when the residual is at most this: the largest change of a cell in one iteration;
    /// for the cavity the largest change of the vorticity per unit time, counted from
    /// simulated time 1 on [cavity default: 1e-6].
    #[arg(long)]
    pub tol: Option<f64>,
    /// Iterations between residual checks (each is an allreduce) [default: 100; every
    /// iteration for the solvers other than jacobi: CG computes its residual norm anyway, a
    /// multigrid cycle's check costs one more residual, about a seventh of a V(2,2) cycle].
    #[arg(long, value_name = "K")]
    pub check_every: Option<usize>,
    /// Process grid PXxPY (PX ranks along x, PY along y); by default the one that cuts least.
    #[arg(long, value_name = "PXxPY", value_parser = args::procs, allow_hyphen_values = true)]
    pub procs: Option<ProcGrid>,
    /// Ghost width W: exchange halos every W iterations, updating the ghost zone in between
    /// [default: the --time-block]; for the cavity, every W SOR half-sweeps of a step (4, twice
    /// --sweeps, gives one exchange per step) [default: 1].
    #[arg(long, value_name = "W")]
    pub ghost: Option<usize>,
    /// Temporal blocking: run T sweeps on one cache-sized tile before moving to the next, so the
    /// field crosses the memory bus once per T sweeps (needs --ghost of at least T).
    #[arg(long, default_value_t = 1, value_name = "T")]
    pub time_block: usize,
    /// Rayon threads per rank (MPI stays on the main thread); jacobi, explicit heat and the
    /// cavity only, the other solvers and implicit heat run one thread per rank.
    #[arg(long, default_value_t = 1, value_name = "T")]
    pub threads: usize,
    /// Heat: the time step [default: explicit, half the stability limit h²/(4α); implicit and
    /// cn, h/(2πα) (h the r.m.s. of the cell sides), where cn's error in time matches the
    /// grid's in space].
    #[arg(long)]
    pub dt: Option<f64>,
    /// Heat: how each step is taken. explicit: forward Euler, one sweep per step, stable only
    /// for dt up to h²/(4α) on square cells. implicit: backward Euler, error first order in dt. cn:
    /// Crank–Nicolson, second order. implicit and cn take any dt: each step solves one linear
    /// system by multigrid cycles (--cycle, --smoother, --pre, --post) to 1e-10 of its starting
    /// residual, and the field is bitwise the same on every rank count.
    #[arg(long, value_enum, default_value_t = SchemeArg::Explicit)]
    pub scheme: SchemeArg,
    /// Heat: the diffusivity α.
    #[arg(long, default_value_t = 1.0)]
    pub alpha: f64,
    /// Cavity: the Reynolds number.
    #[arg(long, default_value_t = 100.0)]
    pub re: f64,
    /// Cavity: red-black SOR sweeps of the stream function per time step.
    #[arg(long, default_value_t = 2)]
    pub sweeps: usize,
    /// Cavity: how to march to a steady state: anderson (Anderson acceleration over windows of
    /// time steps: the same steady state in 2 to 3 times fewer steps, the path to it no
    /// longer the flow's history) or none (plain time steps). Default: anderson for a run to a
    /// steady state (no --iters, or a --tol), none for a run of --iters steps alone.
    #[arg(long, value_enum)]
    pub accelerate: Option<AccelerateArg>,
    /// Cavity, with anderson: windows of history kept (default 20).
    #[arg(long)]
    pub anderson_depth: Option<usize>,
    /// Cavity, with anderson: time steps per window (default 500).
    #[arg(long)]
    pub anderson_window: Option<usize>,
    /// Wait for each halo exchange before computing, instead of updating the cells that need no
    /// ghost while it is in flight (to measure what overlap saves). Only the methods that send
    /// when the exchange begins overlap (p2p, persistent, two-phase's first round): neighbor,
    /// the default, moves everything when it ends, so this changes nothing there.
    #[arg(long)]
    pub no_overlap: bool,
    /// How sweeps store new values: cached, streaming (non-temporal stores that skip reading the
    /// line first), or auto: streaming when the node's arrays exceed half its last-level cache.
    #[arg(long, value_enum, default_value_t = StoresArg::Auto)]
    pub stores: StoresArg,
    /// How halo exchanges travel: p2p (fresh nonblocking sends and receives), persistent (the
    /// same requests set up once), neighbor (MPI_Neighbor_alltoallw with derived datatypes), or
    /// two-phase (a box stencil's corners carried by the rows: 4 messages instead of 8). The
    /// field is the same to the last bit with any.
    #[arg(long, default_value_t = ExchangeKind::default(), value_name = "METHOD")]
    pub exchange: ExchangeKind,
    /// How ranks find their neighbours: index (halo's arithmetic on the job's ranks) or cart (a
    /// Cartesian communicator from MPI_Cart_create, which MPI may renumber to fit the machine).
    #[arg(long, default_value_t = Topology::default(), value_name = "KIND")]
    pub topology: Topology,
}

/// The choices of `--solver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// Jacobi sweeps.
    Jacobi,
    /// Conjugate gradients.
    Cg,
    /// Multigrid cycles.
    Mg,
    /// CG preconditioned by a multigrid cycle.
    Mgcg,
    /// Full multigrid, then cycles.
    Fmg,
    /// Pipelined CG preconditioned by a multigrid cycle.
    Pipecg,
}

impl MethodArg {
    /// The library's method.
    pub fn method(self) -> Method {
        match self {
            MethodArg::Jacobi => Method::Jacobi,
            MethodArg::Cg => Method::Cg,
            MethodArg::Mg => Method::Mg,
            MethodArg::Mgcg => Method::Mgcg,
            MethodArg::Fmg => Method::Fmg,
            MethodArg::Pipecg => Method::Pipecg,
        }
    }
}

/// The choices of `--scheme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemeArg {
    /// Forward Euler.
    Explicit,
    /// Backward Euler, solved by multigrid.
    Implicit,
    /// Crank–Nicolson, solved by multigrid.
    Cn,
}

impl SchemeArg {
    /// The library's scheme.
    pub fn scheme(self) -> Scheme {
        match self {
            SchemeArg::Explicit => Scheme::Explicit,
            SchemeArg::Implicit => Scheme::Implicit,
            SchemeArg::Cn => Scheme::Cn,
        }
    }
}

/// The choices of `--accelerate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AccelerateArg {
    /// Anderson acceleration over windows of time steps.
    Anderson,
    /// Plain time steps.
    None,
}

/// The choices of `--manufactured`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ManufacturedArg {
    /// sin(πx)·sin(πy).
    Sine,
    /// x(1−x)·y(1−y)·eˣ.
    Polyexp,
}

/// The choices of `--cycle`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CycleArg {
    /// V-cycles.
    V,
    /// W-cycles.
    W,
    /// F-cycles.
    F,
}

/// The choices of `--smoother`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SmootherArg {
    /// Red-black Gauss–Seidel.
    Rbgs,
    /// Weighted Jacobi.
    Jacobi,
}

/// The choices of `--stores`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoresArg {
    /// By the arrays' size against the last-level cache.
    Auto,
    /// Ordinary stores.
    Cached,
    /// Non-temporal stores.
    Streaming,
}

impl StoresArg {
    /// The solver's setting: `None` for auto.
    fn choice(self) -> Option<Stores> {
        match self {
            StoresArg::Auto => None,
            StoresArg::Cached => Some(Stores::Cached),
            StoresArg::Streaming => Some(Stores::Streaming),
        }
    }
}

/// `halo solve`'s options.
#[derive(clap::Args)]
#[command(allow_negative_numbers = true)]
pub struct SolveArgs {
    /// What to solve.
    #[command(flatten)]
    pub problem: ProblemArgs,
    /// Write the final field (field.pvti and its pieces, one per rank, for ParaView), field.png,
    /// decomposition.png, summary.json and the residual at each check (history.csv, history.png)
    /// into this directory (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Skip the field's SHA-256 (and `checksum`), which streams the whole field through rank 0
    /// (about 1–2 GB/s): for fields too large for that. `field_digest`, hashed by every rank at
    /// once, is reported all the same.
    #[arg(long)]
    pub digest_only: bool,
    /// Write a checkpoint (the whole state, checksummed, atomically) every N iterations: one
    /// file every rank writes its share of in parallel (MPI-IO).
    #[arg(long, value_name = "N", requires = "checkpoint_dir")]
    pub checkpoint_every: Option<usize>,
    /// Where checkpoints go (created if needed): files ckpt-<iteration>.halo.
    #[arg(long, value_name = "DIR", requires = "checkpoint_every")]
    pub checkpoint_dir: Option<PathBuf>,
    /// Keep only the newest K checkpoints, removing older ones once a new one is complete
    /// [default: keep them all].
    #[arg(long, value_name = "K", requires = "checkpoint_every")]
    pub checkpoint_keep: Option<usize>,
    /// Resume from the newest checkpoint in DIR, on any rank count; --iters still counts from
    /// the start of the run, so the result is the uninterrupted run's to the last bit.
    #[arg(long, value_name = "DIR")]
    pub restart: Option<PathBuf>,
    /// Stop the whole job if it has not finished after this many seconds of wall time (a batch
    /// allocation's guard): rank 0 says so and every rank exits with code 5; checkpoints already
    /// written stay intact. A run whose result is complete and written is not stopped. At most
    /// a year.
    #[arg(long, value_name = "SECONDS", value_parser = timeout_seconds)]
    pub timeout: Option<f64>,
    /// Inject a failure on purpose, to see how the job fails: KIND@ITER[:RANK] with KIND nan
    /// (poison one cell), panic, abort (crash at once) or term (SIGTERM to that rank alone, as
    /// a scheduler's stop), e.g. nan@30:1. For testing.
    #[arg(long, value_name = "KIND@ITER[:RANK]", value_parser = args::fault)]
    pub fault: Option<Fault>,
    /// Print one JSON object line with the run's figures (rank 0) instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Show a progress bar on rank 0 (iterations/s, residual).
    #[arg(long)]
    pub progress: bool,
    /// Gather every rank's compute, halo and reduce times, messages and bytes per step and peak
    /// resident memory; print them as a table (or a `per_rank` array with --json) with the
    /// imbalance across ranks.
    #[arg(long)]
    pub stats: bool,
    /// Print nothing but errors (and the JSON line with --json).
    #[arg(long)]
    pub quiet: bool,
}

impl ProblemArgs {
    /// The ghost width: as given, else the time block (a pass needs that many ghost layers).
    pub fn ghost(&self) -> usize {
        self.ghost.unwrap_or(self.time_block.max(1))
    }

    /// The solver configuration these arguments describe.
    pub fn config(&self) -> Config {
        Config {
            problem: self.problem,
            domain: Domain {
                nx: self.grid.0,
                ny: self.grid.1,
                procs: self.procs,
                ghost: self.ghost(),
                threads: self.threads,
                exchange: self.exchange,
                topology: self.topology,
            },
            stop: self.stopping(),
            sweeps: Sweeps {
                overlap: !self.no_overlap,
                stores: self.stores.choice(),
                time_block: self.time_block,
            },
            heat: HeatParams {
                alpha: self.alpha,
                dt: self.dt,
                scheme: self.scheme.scheme(),
            },
            cavity: CavityParams {
                re: self.re,
                sweeps: self.sweeps,
                anderson: self.anderson(),
            },
            manufactured: match self.manufactured {
                ManufacturedArg::Sine => Manufactured::Sine,
                ManufacturedArg::Polyexp => Manufactured::Polyexp,
            },
            solving: Solving {
                method: self.solver.method(),
                cycling: Cycling {
                    cycle: match self.cycle {
                        Some(CycleArg::V) => Cycle::V,
                        Some(CycleArg::W) => Cycle::W,
                        Some(CycleArg::F) => Cycle::F,
                        None if self.solver == MethodArg::Fmg => Cycle::F,
                        None => Cycle::V,
                    },
                    smoother: match self.smoother {
                        None | Some(SmootherArg::Rbgs) => Smoother::Rbgs,
                        Some(SmootherArg::Jacobi) => Smoother::Jacobi,
                    },
                    pre: self.pre.unwrap_or(2),
                    post: self
                        .post
                        .unwrap_or(if self.solver == MethodArg::Fmg { 1 } else { 2 }),
                },
                exact_dots: !self.plain_dots,
            },
            ..Config::default()
        }
    }

    /// The cavity's acceleration: as asked, or by default Anderson's for a run to a steady state.
    fn anderson(&self) -> Option<AndersonParams> {
        let steady = self.iters.is_none() || self.tol.is_some();
        let on = match self.accelerate {
            Some(AccelerateArg::Anderson) => true,
            Some(AccelerateArg::None) => false,
            None => self.problem == Problem::Cavity && steady,
        };
        let d = AndersonParams::default();
        on.then(|| AndersonParams {
            depth: self.anderson_depth.unwrap_or(d.depth),
            window: self.anderson_window.unwrap_or(d.window),
        })
    }

    /// When the run stops. The cavity runs to a steady state unless told otherwise, and from
    /// rest a steady state takes time: it counts only from the least simulated time on, and a
    /// residual that stops falling ends the run.
    pub fn stopping(&self) -> Stopping {
        let tol = self.tol;
        let method = self.solver.method();
        if method != Method::Jacobi {
            return Stopping {
                iters: self.iters.unwrap_or(Method::DEFAULT_ITERS),
                tol: Some(tol.unwrap_or(Method::DEFAULT_RTOL)),
                check_every: self.check_every.unwrap_or(1),
                ..Stopping::default()
            };
        }
        let iters = self.iters.unwrap_or(1000);
        let check_every = self.check_every.unwrap_or(100);
        if self.problem != Problem::Cavity {
            return Stopping {
                iters,
                tol,
                check_every,
                ..Stopping::default()
            };
        }
        let steady =
            CavityParams::steady_state(tol.unwrap_or(CavityParams::STEADY_TOL), check_every);
        let stop = match self.iters {
            None => steady,
            Some(iters) => Stopping {
                iters,
                tol,
                ..steady
            },
        };
        let (nx, ny) = self.grid;
        let cavity = CavityParams {
            re: self.re,
            ..CavityParams::default()
        };
        cavity.stall_window(stop, nx, ny)
    }

    /// Renames the quantities in the library's errors after the options that set them; the
    /// ghost width is `--time-block`'s when it follows it.
    pub fn flag_names(&self, e: Error) -> Error {
        let ghost_from = (self.ghost.is_none() && self.time_block > 1).then_some("--time-block");
        args::flag_names(e, ghost_from)
    }

    /// Checks the options as the library would before a run, naming them by their flags.
    pub fn validate(&self) -> halo::Result<()> {
        if self.dt.is_some() && self.problem != Problem::Heat {
            return Err(Error::Config(format!(
                "--dt is for the heat problem, not {}",
                self.problem
            )));
        }
        self.config().validate().map_err(|e| self.flag_names(e))?;
        self.unused_options()
    }

    /// Refuses options the chosen solver would silently ignore: the cycle options without a
    /// multigrid hierarchy, `--plain-dots` without CG, and the sweep options of Jacobi's without
    /// Jacobi.
    fn unused_options(&self) -> halo::Result<()> {
        let method = self.solver.method();
        let implicit = self.problem == Problem::Heat && self.scheme != SchemeArg::Explicit;
        let refuse = |flag: &str, why: &str| Err(Error::Config(format!("{flag} {why}")));
        if !(method.multigrid() || implicit) {
            let cycles = [
                (self.cycle.is_some(), "--cycle"),
                (self.smoother.is_some(), "--smoother"),
                (self.pre.is_some(), "--pre"),
                (self.post.is_some(), "--post"),
            ];
            if let Some((_, flag)) = cycles.iter().find(|(given, _)| *given) {
                return refuse(
                    flag,
                    "is for the multigrid solvers (--solver mg, mgcg, fmg, pipecg) and implicit heat (--scheme implicit|cn)",
                );
            }
        }
        if self.problem != Problem::Cavity && self.accelerate.is_some() {
            return refuse("--accelerate", "is for the cavity (--problem cavity)");
        }
        if self.anderson_depth.is_some() || self.anderson_window.is_some() {
            let flag = if self.anderson_depth.is_some() {
                "--anderson-depth"
            } else {
                "--anderson-window"
            };
            if self.problem != Problem::Cavity {
                return refuse(flag, "is for the cavity (--problem cavity)");
            }
            if self.anderson().is_none() {
                return refuse(
                    flag,
                    "is for Anderson acceleration, which this run does not use (add --accelerate anderson)",
                );
            }
        }
        if self.plain_dots && !matches!(method, Method::Cg | Method::Mgcg | Method::Pipecg) {
            return refuse(
                "--plain-dots",
                "is for the CG family (--solver cg, mgcg, pipecg)",
            );
        }
        if method != Method::Jacobi || implicit {
            let sweeps = [
                (self.ghost.is_some(), "--ghost"),
                (self.time_block != 1, "--time-block"),
                (self.stores != StoresArg::Auto, "--stores"),
                (self.no_overlap, "--no-overlap"),
            ];
            if let Some((_, flag)) = sweeps.iter().find(|(given, _)| *given) {
                let who = if implicit {
                    "implicit heat".to_string()
                } else {
                    method.to_string()
                };
                return refuse(
                    flag,
                    &format!("is for jacobi's sweeps; {who} keeps two ghost layers and exchanges every sweep"),
                );
            }
        }
        Ok(())
    }
}

/// The problem options given on the command line that `matches` came from, as `halo solve`
/// arguments to pass on to a job, but for `--grid` and `--procs` (which the caller chooses):
/// read off clap's own definition, so every option added to [`ProblemArgs`] passes through,
/// and each keeps the user's spelling of its value. Options left at their defaults are left
/// out; the job applies the same defaults.
pub fn given_options(matches: &clap::ArgMatches) -> Vec<String> {
    use clap::parser::ValueSource;
    let defined = <ProblemArgs as clap::Args>::augment_args(clap::Command::new("solve"));
    let mut out = Vec::new();
    for arg in defined.get_arguments() {
        let (id, Some(long)) = (arg.get_id().as_str(), arg.get_long()) else {
            continue;
        };
        if ["grid", "procs"].contains(&long)
            || matches.value_source(id) != Some(ValueSource::CommandLine)
        {
            continue;
        }
        if !arg.get_action().takes_values() {
            out.push(format!("--{long}"));
            continue;
        }
        for value in matches.get_raw(id).into_iter().flatten() {
            out.push(format!("--{long}"));
            out.push(value.to_string_lossy().into_owned());
        }
    }
    out
}

/// Runs `halo solve` on this rank; rank 0 prints.
pub fn run(world: &Comm, args: &SolveArgs) -> halo::Result<()> {
    let checkpoint = match (args.checkpoint_every, &args.checkpoint_dir) {
        (Some(every), Some(dir)) => Some(Checkpointing {
            every,
            dir: dir.clone(),
            keep: args.checkpoint_keep,
        }),
        _ => None,
    };
    let cfg = Config {
        checkpoint,
        restart: args.restart.clone(),
        fingerprints: if args.digest_only {
            solver::Fingerprints::Digest
        } else {
            solver::Fingerprints::Both
        },
        ..args.problem.config()
    };
    args.problem.validate()?;
    // The whole request (checkpoints and restarts too) before any directory is made for it.
    cfg.validate().map_err(|e| args.problem.flag_names(e))?;
    if let Some(f) = &args.fault {
        f.check(world.size(), cfg.stop.iters)?;
    }
    // With --topology cart the whole run (solve, outputs, prints from rank 0) is on MPI's
    // Cartesian communicator, whose numbering the blocks follow.
    let cart = match cfg.domain.topology {
        solver::Topology::Cart => Some(solver::cartesian(world, &cfg)?),
        solver::Topology::Index => None,
    };
    let world = cart.as_ref().unwrap_or(world);
    if world.rank() == 0 {
        for w in [resolution_warning(&cfg), acceleration_warning(&cfg)]
            .into_iter()
            .flatten()
        {
            eprintln!("halo: warning: {w}");
        }
    }
    halo::node::affinity::warn_threads(world, cfg.domain.threads)?;
    // The parser let through only a positive `--timeout` of at most a year.
    let watch = args.timeout.map(|t| {
        // --out's pieces are written in a directory of their own, inside it.
        let pieces = args.out.as_ref().map(|o| o.join(super::outputs::STEM));
        let dirs = [args.out.clone(), pieces, args.checkpoint_dir.clone()];
        watchdog(world.rank(), t, dirs.into_iter().flatten().collect())
    });
    let root = world.rank() == 0;
    // Find an unwritable output or checkpoint directory before computing, not after.
    for dir in [&args.out, &args.checkpoint_dir].into_iter().flatten() {
        let ready = if root {
            halo::io::ensure_dir(dir)
        } else {
            Ok(())
        };
        world.agree(ready)?;
    }
    let show = root && args.progress && !args.quiet;
    // From here SIGTERM, SIGINT and SIGUSR1 (a scheduler's warning before it kills the job)
    // end the run at the end of a pass, with a checkpoint when checkpoints were asked for.
    // Every rank tries alike; a rank that cannot catch them says so, and the run goes on.
    let caught = world.all_reduce_value(
        u8::from(signals::install(&signals::SOLVE).is_ok()),
        ReduceOp::Min,
    )? == 1;
    if !caught && root {
        eprintln!("halo: warning: cannot catch SIGTERM: a scheduler's stop will end the run without a last checkpoint");
    }
    // Rank 0 shows progress if asked, and records the residual checks for --out's history.
    let mut monitor = Watch {
        view: show.then(|| ProgressView::new(cfg.stop.iters)),
        history: (root && args.out.is_some()).then(History::default),
        interruptible: caught,
    };
    let shown: &mut dyn Monitor = &mut monitor;
    // What --out will hold: every rank writes its piece and samples its pictures (rank 0's
    // block, the largest, bounds them all).
    let outputs = args
        .out
        .as_ref()
        .map_or(0, |_| super::outputs::output_bytes(&cfg, world.size()));
    let after = |_: &halo::decomp::Decomposition, _: usize| outputs;
    let sol = match args.fault {
        Some(fault) => {
            let mut injector = Injector {
                fault,
                rank: world.rank(),
                inner: shown,
            };
            solver::solve_reserving(world, &cfg, &mut injector, &after)
        }
        None => solver::solve_reserving(world, &cfg, shown, &after),
    }
    .map_err(|e| args.problem.flag_names(e))?;
    let history = monitor.finish().unwrap_or_default();
    let mut report = sol.report.clone();
    if cfg.problem == Problem::Cavity {
        if let (Some(psi), Some(omega)) = (sol.field("psi"), sol.field("omega")) {
            // From the vortices' neighbourhoods and the centrelines' strips alone.
            report.cavity = CavityQuantities::of_distributed(world, psi, omega)?;
        }
    }
    // A failed write of the outputs still leaves the result to print: it is not lost.
    let written = match &args.out {
        Some(dir) => world.agree(super::outputs::write_outputs(
            world, dir, &cfg, &sol, &report, &history,
        )),
        None => Ok(Vec::new()),
    };
    // The result is complete, and a finished run is a success: every rank disarms its watchdog,
    // then they meet, so none can fire once rank 0 prints (a rank whose watchdog fired first
    // never gets here: it waits for the end its watchdog is bringing).
    if let Some(w) = &watch {
        w.disarm_or_wait();
        world.barrier();
    }
    // The same on every rank: every figure it reads was agreed.
    let outcome = match &written {
        Err(e) => Err(e.clone()),
        Ok(_) => steady_outcome(&cfg, args.problem.iters.is_none(), &report)
            .and_then(|()| tolerance_outcome(&cfg, &report)),
    };
    // Every rank's peak memory now that everything is done: the fingerprints and outputs after
    // the solve count too.
    let peaks = world.gather(0, &[halo::node::peak_rss().unwrap_or(0)])?;
    if !root {
        return outcome;
    }
    if args.stats {
        if let (Some(ranks), Some(peaks)) = (&sol.per_rank, peaks) {
            let mut ranks = ranks.clone();
            for (r, peak) in ranks.iter_mut().zip(peaks) {
                r.peak_rss_bytes = peak;
            }
            report.compute_imbalance = Some(solver::imbalance(&ranks, |r| r.compute_seconds));
            report.memory_imbalance = solver::memory_imbalance(&ranks);
            report.per_rank = Some(ranks);
        }
    }
    let r = &report;
    if args.json {
        println!("{}", r.to_json());
    } else if !args.quiet {
        let ranks = format!(
            "{} rank{} ({}x{})",
            r.ranks,
            if r.ranks == 1 { "" } else { "s" },
            r.px,
            r.py
        );
        let linear = r.setup_seconds.is_some();
        if linear {
            println!(
                "halo solve: {} {}x{} on {ranks}, {}",
                r.problem,
                r.nx,
                r.ny,
                solver_line(&cfg, r)
            );
        } else {
            println!(
                "halo solve: {} {}x{} on {ranks}, ghost {}, threads {}, {} stores",
                r.problem, r.nx, r.ny, r.ghost, r.threads, r.stores
            );
        }
        if let Some(k) = r.restarted_from {
            println!("restarted from the checkpoint at iteration {k}");
        }
        let stop = if r.converged { " (converged)" } else { "" };
        if let (Some(setup), Some(work)) = (r.setup_seconds, r.work_units) {
            println!(
                "iterations {}{stop}, relative residual {:.3e}, {:.3} s with setup {:.3} s, {:.1} work units (compute {:.3} s, communication {:.3} s of which waiting {:.3} s)",
                r.iters, r.residual, r.seconds, setup, work, r.compute_seconds, r.comm_seconds, r.wait_seconds
            );
        } else {
            println!(
                "iterations {}{stop}, residual {:.6e}, {:.3} s, {:.1} Mcells/s (compute {:.3} s, communication {:.3} s of which waiting {:.3} s)",
                r.iters, r.residual, r.seconds, r.mcells_per_s, r.compute_seconds, r.comm_seconds, r.wait_seconds
            );
        }
        if let Some(t) = r.time {
            let steps = r.steps.map_or(String::new(), |n| format!("{n} steps, "));
            match r.anderson {
                Some(a) => println!(
                    "{steps}simulated time {t:.6} (Anderson-accelerated, depth {}, windows of {} steps: the steps' sum, not the flow's history)",
                    a.depth, a.window
                ),
                None => println!("{steps}simulated time {t:.6}"),
            }
        }
        if let Some(e) = r.error {
            println!("max error against the exact solution {e:.6e}");
        }
        if let Some(q) = &r.cavity {
            print_vortices(q);
        }
        match (r.checksum, &r.field_sha256) {
            (Some(sum), Some(sha)) => println!("checksum {sum:.17e}, field sha256 {sha}"),
            _ => println!(
                "field digest {} (of its bands' SHA-256s; the field's own was not computed)",
                r.field_digest.as_deref().unwrap_or("-")
            ),
        }
        if let Some(io) = &r.checkpoint_io {
            print_checkpoint_io(io);
        }
        if let Some(ranks) = &r.per_rank {
            print_stats(ranks);
            if let Some(levels) = &r.levels {
                print_levels(levels);
            }
        }
        for p in written.iter().flatten() {
            println!("wrote {}", p.display());
        }
    }
    outcome
}

/// The checkpoint I/O line: what was written and read, and at what rate.
fn print_checkpoint_io(io: &solver::CheckpointIo) {
    let rate = |bytes: u64, s: f64| {
        let mb = bytes as f64 / 1e6;
        if s > 0.0 {
            format!("{mb:.1} MB in {s:.3} s ({:.0} MB/s)", mb / s)
        } else {
            format!("{mb:.1} MB")
        }
    };
    let mut parts = Vec::new();
    if io.written > 0 {
        let s = if io.written == 1 { "" } else { "s" };
        parts.push(format!(
            "{} checkpoint{s} written, {}",
            io.written,
            rate(io.bytes_written, io.write_seconds)
        ));
    }
    if io.bytes_read > 0 {
        parts.push(format!(
            "restart read {}",
            rate(io.bytes_read, io.read_seconds)
        ));
    }
    println!("checkpoint I/O: {}", parts.join("; "));
}

/// The solver, its cycles and its levels, for the summary of a linear solve.
fn solver_line(cfg: &Config, r: &solver::Report) -> String {
    let method = cfg.solving.method;
    let c = &cfg.solving.cycling;
    let mut line = method.to_string();
    if method.multigrid() {
        let cycle = c.cycle.to_string().to_uppercase();
        line += &format!(" ({cycle}({},{}) cycles, {})", c.pre, c.post, c.smoother);
    }
    if let Some(levels) = r.levels.as_ref().filter(|l| !l.is_empty()) {
        line += &format!(", {} levels", levels.len());
        if let Some(k) = levels.iter().position(|l| l.ranks == 1 && r.ranks > 1) {
            line += &format!(" (from level {k} on rank 0)");
        }
    }
    line
}

/// The cavity's vortices and centreline extrema, as the summary prints them: one line, and one
/// more for the secondary vortices when any is resolved.
fn print_vortices(q: &CavityQuantities) {
    println!(
        "primary vortex: psi {:.6} at ({:.4}, {:.4}), omega {:.4}; u min {:.5} at y {:.4}; v max {:.5} at x {:.4}; v min {:.5} at x {:.4}",
        q.psi_min, q.psi_min_x, q.psi_min_y, q.omega_center, q.u_min, q.u_min_y, q.v_max, q.v_max_x, q.v_min, q.v_min_x
    );
    let corners = [
        ("bottom right", q.psi_br, q.psi_br_x, q.psi_br_y),
        ("bottom left", q.psi_bl, q.psi_bl_x, q.psi_bl_y),
    ];
    let found: Vec<String> = corners
        .iter()
        .filter_map(|&(name, psi, x, y)| {
            Some(format!("{name} psi {:.4e} at ({:.4}, {:.4})", psi?, x?, y?))
        })
        .collect();
    if !found.is_empty() {
        println!("secondary vortices: {}", found.join("; "));
    }
}

/// The multigrid levels' figures, as `--stats` prints them.
fn print_levels(levels: &[solver::LevelStats]) {
    println!(
        "{:>5} {:>13} {:>6} {:>10}",
        "level", "nodes", "ranks", "seconds"
    );
    for (k, l) in levels.iter().enumerate() {
        println!(
            "{:>5} {:>13} {:>6} {:>10.4}",
            k,
            format!("{}x{}", l.nx, l.ny),
            l.ranks,
            l.seconds
        );
    }
}

/// For an Anderson-accelerated cavity whose checkpoints come too often for a full history (it
/// restarts at each), what that costs.
fn acceleration_warning(cfg: &Config) -> Option<String> {
    let a = cfg
        .cavity
        .anderson
        .filter(|_| cfg.problem == Problem::Cavity)?;
    let every = cfg.checkpoint.as_ref()?.every;
    let full = (a.depth + 1) * a.window;
    (every < full).then(|| {
        format!(
            "--checkpoint-every {every}: Anderson's history restarts at every checkpoint, and a full one takes {full} steps ((depth + 1) x window); checkpoint less often for the whole acceleration{}",
            if every < 2 * a.window { " (below 2 x window it never extrapolates)" } else { "" }
        )
    })
}

/// For a cavity whose grid is too coarse for its Re, what to expect.
fn resolution_warning(cfg: &Config) -> Option<String> {
    if cfg.problem != Problem::Cavity {
        return None;
    }
    let d = &cfg.domain;
    let cell = halo::solver::cavity::Cavity::new(d.nx, d.ny, cfg.cavity.re).cell_reynolds();
    (cell > CavityParams::CELL_RE_LIMIT).then(|| {
        format!(
            "the cell Reynolds number is {cell:.0} (Re {} on {}x{}): beyond about {} the scheme is not expected to reach a steady state; refine the grid",
            cfg.cavity.re,
            d.nx,
            d.ny,
            CavityParams::CELL_RE_LIMIT
        )
    })
}

/// A run to a steady state that reached none is a failure (exit 6), though its results are
/// printed and written: one that stalled, or, when the run was to go on until steady
/// (`until_steady`: no step count given), one that ran out of steps.
fn steady_outcome(cfg: &Config, until_steady: bool, r: &solver::Report) -> halo::Result<()> {
    let tol = cfg.stop.tol.unwrap_or(0.0);
    let at = |n: usize| match r.time {
        Some(t) => format!("step {n} (t = {t:.4})"),
        None => format!("iteration {n}"),
    };
    if let Some(n) = r.stalled_at {
        // A grid too coarse for its Re, or a flow with no steady state to find.
        let d = &cfg.domain;
        let cell = halo::solver::cavity::Cavity::new(d.nx, d.ny, cfg.cavity.re).cell_reynolds();
        let why = if cell > CavityParams::CELL_RE_LIMIT {
            format!(
                "the grid is too coarse for this Re (cell Reynolds number {cell:.0}); refine it"
            )
        } else {
            format!(
                "the flow may have no steady state at Re {} (the cavity's becomes periodic from about Re 8000; the residual's history is in --out's history.png), or the grid is too coarse for it",
                cfg.cavity.re
            )
        };
        return Err(Error::NotConverged(format!(
            "no steady state reached: the residual stopped falling by {}, at {:.3e} against the tolerance {tol:e}; {why}",
            at(n),
            r.residual
        )));
    }
    if until_steady && cfg.problem == Problem::Cavity && !r.converged {
        return Err(Error::NotConverged(format!(
            "no steady state reached within {} steps: the residual is {:.3e} at {}, the tolerance {tol:e}",
            cfg.stop.iters,
            r.residual,
            at(r.iters)
        )));
    }
    Ok(())
}

/// A linear solve (any solver but Jacobi) that did not reach its tolerance is a failure (exit 6),
/// though its results are printed and written.
fn tolerance_outcome(cfg: &Config, r: &solver::Report) -> halo::Result<()> {
    let method = cfg.solving.method;
    if method == Method::Jacobi || r.converged {
        return Ok(());
    }
    Err(Error::NotConverged(format!(
        "{method} did not reach the tolerance {:e} in {} iterations: the relative residual is {:.3e}; raise --iters or choose another --solver",
        cfg.stop.tol.unwrap_or(0.0),
        r.iters,
        r.residual
    )))
}

fn print_stats(ranks: &[solver::RankStats]) {
    // Peak resident memory in MiB, `-` where the system does not say.
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    let peak = |b: u64| match b {
        0 => "-".to_string(),
        b => format!("{:.1}", mib(b)),
    };
    println!(
        "{:>5} {:>10} {:>11} {:>9} {:>9} {:>10} {:>10} {:>11} {:>9}",
        "rank",
        "cells",
        "compute(s)",
        "halo(s)",
        "wait(s)",
        "reduce(s)",
        "msgs/step",
        "bytes/step",
        "peak MiB"
    );
    for r in ranks {
        println!(
            "{:>5} {:>10} {:>11.4} {:>9.4} {:>9.4} {:>10.4} {:>10.2} {:>11.1} {:>9}",
            r.rank,
            r.cells,
            r.compute_seconds,
            r.halo_seconds,
            r.wait_seconds,
            r.reduce_seconds,
            r.messages_per_step,
            r.bytes_per_step,
            peak(r.peak_rss_bytes)
        );
    }
    println!(
        "imbalance (max/mean): cells {:.4}, compute {:.4}, halo {:.4}",
        solver::imbalance(ranks, |r| r.cells as f64),
        solver::imbalance(ranks, |r| r.compute_seconds),
        solver::imbalance(ranks, |r| r.halo_seconds)
    );
    match (
        solver::memory_imbalance(ranks),
        ranks.iter().max_by_key(|r| r.peak_rss_bytes),
    ) {
        (Some(m), Some(top)) => println!(
            "peak memory: largest {:.1} MiB (rank {}), mean {:.1} MiB, max/mean {m:.4}",
            mib(top.peak_rss_bytes),
            top.rank,
            ranks.iter().map(|r| mib(r.peak_rss_bytes)).sum::<f64>() / ranks.len() as f64
        ),
        _ => println!("peak memory: unknown (no /proc/self/status on some rank)"),
    }
}

/// The longest `--timeout` taken, in seconds: a year. The limit is a batch allocation's guard, and
/// no allocation lasts that long; far beyond it a timer cannot even hold the time (`1e20` seconds
/// overflows one), so a larger value is a slip, refused rather than guarding nothing.
pub const MAX_TIMEOUT_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

/// Parses a `--timeout` in seconds (of `halo solve` and `halo scale`): a positive number of at
/// most [`MAX_TIMEOUT_SECONDS`], else why not, as clap shows it after the value and the option.
pub fn timeout_seconds(s: &str) -> Result<f64, String> {
    let t: f64 = s
        .trim()
        .parse()
        .map_err(|_| "not a number of seconds".to_string())?;
    if t.is_nan() || t <= 0.0 {
        return Err("must be a positive number of seconds".into());
    }
    if t > MAX_TIMEOUT_SECONDS {
        return Err(format!(
            "more than a year ({MAX_TIMEOUT_SECONDS} s), the most taken: the limit guards a batch \
             allocation, and none lasts that long"
        ));
    }
    Ok(t)
}

/// Ends the whole job after `seconds` unless disarmed first: rank 0 prints why, removes its
/// temporary files of outputs and checkpoints being written into `dirs`, and exits with code 5,
/// which makes mpirun stop every rank; the others follow two seconds later should rank 0 be gone
/// already. The exit skips MPI's shutdown on purpose: a rank may be stuck in a collective.
fn watchdog(rank: usize, seconds: f64, dirs: Vec<PathBuf>) -> Watchdog {
    let grace = if rank == 0 { 0.0 } else { 2.0 };
    Watchdog::start(seconds + grace, rank == 0, move || {
        if rank == 0 {
            eprintln!(
                "halo: error: --timeout {seconds} s exceeded; stopping the whole job (checkpoints already written are intact)"
            );
            // Tidying runs on a thread of its own, and gets two seconds: a file system that
            // hangs (or a write holding the lock) must not keep the job from ending.
            let (done, tidied) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                halo::io::abandon_writes(&dirs);
                let _ = done.send(());
            });
            let _ = tidied.recv_timeout(std::time::Duration::from_secs(2));
        }
        // SAFETY: _exit takes only the status and may be called from any thread; it ends the
        // process at once, without destructors or MPI's shutdown, and touches no memory of ours.
        // (The watchdog won the race with `disarm`, so no result was printed that it contradicts.)
        unsafe { libc::_exit(5) };
    })
}

/// A one-shot timer that runs an action (ending the process) unless disarmed first: exactly one
/// of "fired" and "disarmed" ever happens, decided by one compare-and-swap each side.
struct Watchdog {
    /// [`ARMED`], [`DISARMED`] or [`FIRED`].
    state: std::sync::Arc<std::sync::atomic::AtomicU8>,
    /// Whether leaving [`run`] disarms it (rank 0, so that an error line it prints is not
    /// followed by a timeout's).
    disarm_on_drop: bool,
    /// The timer's thread, to wait for in tests.
    #[cfg_attr(not(test), allow(dead_code))]
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A [`Watchdog`] waiting for its time.
const ARMED: u8 = 0;
/// A [`Watchdog`] that will not fire.
const DISARMED: u8 = 1;
/// A [`Watchdog`] that fired.
const FIRED: u8 = 2;

impl Watchdog {
    /// Runs `fire` on its own thread after `seconds`, unless disarmed by then.
    fn start(seconds: f64, disarm_on_drop: bool, fire: impl FnOnce() + Send + 'static) -> Self {
        use std::sync::atomic::{AtomicU8, Ordering};
        let state = std::sync::Arc::new(AtomicU8::new(ARMED));
        let timer = state.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs_f64(seconds));
            let won = timer.compare_exchange(ARMED, FIRED, Ordering::SeqCst, Ordering::SeqCst);
            if won.is_ok() {
                fire();
            }
        });
        Watchdog {
            state,
            disarm_on_drop,
            thread: Some(thread),
        }
    }

    /// Disarms it; `false` if it fired first (its action is then under way).
    fn disarm(&self) -> bool {
        use std::sync::atomic::Ordering;
        match (self.state).compare_exchange(ARMED, DISARMED, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => true,
            Err(now) => now == DISARMED,
        }
    }

    /// Disarms it, or, if it fired first, waits for the end of the process it is bringing.
    fn disarm_or_wait(&self) {
        if !self.disarm() {
            loop {
                std::thread::park();
            }
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if self.disarm_on_drop {
            self.disarm_or_wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        problem: ProblemArgs,
    }

    #[test]
    fn given_options_pass_through_as_typed_and_defaults_stay_out() {
        let argv = [
            "probe",
            "--grid",
            "8x8",
            "--steps",
            "5",
            "--alpha",
            "2.50",
            "--no-overlap",
            "--problem",
            "heat",
            "--procs",
            "2x1",
        ];
        let m = Probe::command().try_get_matches_from(argv).unwrap();
        let parsed = Probe::from_arg_matches(&m).unwrap();
        assert_eq!(parsed.problem.config().stop.iters, 5);
        assert_eq!(
            given_options(&m),
            [
                "--problem",
                "heat",
                "--iters",
                "5",
                "--alpha",
                "2.50",
                "--no-overlap"
            ]
        );
        let m = Probe::command().try_get_matches_from(["probe"]).unwrap();
        assert!(given_options(&m).is_empty());
    }

    #[test]
    fn timeouts_are_positive_and_at_most_a_year() {
        assert_eq!(timeout_seconds("2"), Ok(2.0));
        assert_eq!(timeout_seconds("0.01"), Ok(0.01));
        assert_eq!(timeout_seconds("31536000"), Ok(MAX_TIMEOUT_SECONDS));
        // Each of these panicked the watchdog's timer, or overflowed it.
        for huge in ["31536000.5", "1e20", "1e300", "18446744073709551616", "inf"] {
            let e = timeout_seconds(huge).unwrap_err();
            assert!(
                e.starts_with("more than a year (31536000 s)"),
                "{huge}: {e}"
            );
        }
        for bad in ["0", "-3", "nan", "-inf", "1e-400"] {
            assert_eq!(
                timeout_seconds(bad),
                Err("must be a positive number of seconds".into()),
                "{bad}"
            );
        }
        assert_eq!(
            timeout_seconds("soon"),
            Err("not a number of seconds".into())
        );
    }

    #[test]
    fn a_watchdog_fires_or_is_disarmed_never_both() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        // Runs a watchdog of `seconds`, disarmed after `before` has run; says whether it was
        // disarmed and whether it fired, once its timer is over.
        let run = |seconds: f64, before: &dyn Fn(&mut Watchdog)| {
            let fired = Arc::new(AtomicBool::new(false));
            let f = fired.clone();
            let mut w = Watchdog::start(seconds, false, move || f.store(true, Ordering::SeqCst));
            before(&mut w);
            let disarmed = w.disarm();
            assert_eq!(w.disarm(), disarmed, "disarming again changes nothing");
            w.thread.take().unwrap().join().unwrap();
            (disarmed, fired.load(Ordering::SeqCst))
        };
        // Disarmed long before its time (half a second: time enough on a loaded machine for
        // the line after `start`): it stays quiet when the time comes.
        assert_eq!(run(0.5, &|_| {}), (true, false));
        // Its time came first: it fired, and can no longer be disarmed.
        let wait = |w: &mut Watchdog| w.thread.take().unwrap().join().unwrap();
        let fired_first = |seconds| {
            let fired = Arc::new(AtomicBool::new(false));
            let f = fired.clone();
            let mut w = Watchdog::start(seconds, false, move || f.store(true, Ordering::SeqCst));
            wait(&mut w);
            (w.disarm(), fired.load(Ordering::SeqCst))
        };
        assert_eq!(fired_first(0.0), (false, true));
        // Deadlines around the moment of disarming: either may win, never both, never neither.
        for k in 0..200 {
            let (disarmed, fired) = run(k as f64 * 2e-6, &|_| {
                std::thread::sleep(std::time::Duration::from_micros(200))
            });
            assert_ne!(disarmed, fired, "deadline {} us", k * 2);
        }
    }
}
