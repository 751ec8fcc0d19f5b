//! The `halo` command: parses arguments, calls the library, prints. Nothing else lives here.

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use halo::comm::{self, Comm, Mpi, Threading};
use halo::decomp::ProcGrid;
use halo::solver::{self, Config, Problem, Progress};
use halo::Error;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Exit code for a usage error (bad arguments), as in BSD's sysexits and clap.
const EXIT_USAGE: u8 = 2;
/// Exit code for a run that failed.
const EXIT_FAILURE: u8 = 1;
/// Exit code when a rank panics and the job is aborted.
const EXIT_PANIC: i32 = 70;

#[derive(Parser)]
#[command(
    name = "halo",
    version,
    about = "Tightly coupled HPC on MPI: typed collectives, domain decomposition, stencil solvers",
    long_about = "Tightly coupled HPC on MPI: typed collectives, domain decomposition, stencil solvers.\n\n\
        Run it under mpirun, e.g. `mpirun -n 4 halo check`; started alone it is a one-rank job."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Solve a 2D stencil problem on a grid split across the job's ranks.
    Solve(SolveArgs),
    /// Run every collective on this job's ranks and verify each answer; one line per collective.
    Check {
        /// Elements per rank in each collective.
        #[arg(short = 'n', long, default_value_t = 4096,
              value_parser = clap::value_parser!(u64).range(1..=1 << 24))]
        size: u64,
    },
    /// Print the MPI library, the thread support and the host of every rank.
    Info,
}

#[derive(clap::Args)]
#[command(allow_negative_numbers = true)]
struct SolveArgs {
    /// The problem: laplace (Jacobi, top edge held at 1), poisson (manufactured solution
    /// sin(πx)sin(πy), reports its error) or heat (explicit steps of u_t = α∇²u).
    #[arg(long, default_value = "laplace", value_parser = parse_problem)]
    problem: Problem,
    /// Interior cells NXxNY; the walls live in the ghost layer around them.
    #[arg(long, default_value = "1024x1024", value_name = "NXxNY", value_parser = parse_grid,
          allow_hyphen_values = true)]
    grid: (usize, usize),
    /// Iterations (time steps for heat); with --tol, at most this many.
    #[arg(long, default_value_t = 1000)]
    iters: usize,
    /// Stop when the largest change of a cell in one iteration is at most this.
    #[arg(long)]
    tol: Option<f64>,
    /// Iterations between residual checks (each is an allreduce).
    #[arg(long, default_value_t = 100, value_name = "K")]
    check_every: usize,
    /// Process grid PXxPY (PX ranks along x, PY along y); by default the one that cuts least.
    #[arg(long, value_name = "PXxPY", value_parser = parse_procs, allow_hyphen_values = true)]
    procs: Option<ProcGrid>,
    /// Ghost width W: exchange halos every W iterations, updating the ghost zone in between.
    #[arg(long, default_value_t = 1, value_name = "W")]
    ghost: usize,
    /// Rayon threads per rank (MPI stays on the main thread).
    #[arg(long, default_value_t = 1, value_name = "T")]
    threads: usize,
    /// Heat: the time step [default: half the stability limit].
    #[arg(long)]
    dt: Option<f64>,
    /// Heat: the diffusivity α.
    #[arg(long, default_value_t = 1.0)]
    alpha: f64,
    /// Write the final field (field.vti for ParaView), field.png, decomposition.png and
    /// summary.json into this directory (created if needed).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print one JSON object line with the run's figures (rank 0) instead of the summary.
    #[arg(long)]
    json: bool,
    /// Show a progress bar on rank 0 (iterations/s, residual).
    #[arg(long)]
    progress: bool,
    /// Print nothing but errors (and the JSON line with --json).
    #[arg(long)]
    quiet: bool,
}

impl SolveArgs {
    fn config(&self) -> Config {
        Config {
            problem: self.problem,
            nx: self.grid.0,
            ny: self.grid.1,
            procs: self.procs,
            ghost: self.ghost,
            threads: self.threads,
            iters: self.iters,
            tol: self.tol,
            check_every: self.check_every,
            dt: self.dt,
            alpha: self.alpha,
        }
    }
}

fn parse_problem(s: &str) -> Result<Problem, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn parse_grid(s: &str) -> Result<(usize, usize), String> {
    let (a, b) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("'{s}' is not of the form NXxNY, e.g. 512x512"))?;
    let n = |t: &str| {
        t.trim()
            .parse::<usize>()
            .map_err(|_| format!("'{s}': '{t}' is not a whole number of cells"))
    };
    Ok((n(a)?, n(b)?))
}

fn parse_procs(s: &str) -> Result<ProcGrid, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    comm::abort_on_panic(EXIT_PANIC);
    // rayon threads compute, the main thread alone calls MPI.
    let threading = match &cli.cmd {
        Cmd::Solve(a) if a.threads > 1 => Threading::Funneled,
        _ => Threading::Single,
    };
    let mpi = match comm::init_with_threading(threading) {
        Ok(mpi) => mpi,
        Err(e) => {
            eprintln!("halo: error: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let world = mpi.world();
    let outcome = match cli.cmd {
        Cmd::Solve(args) => solve(&world, &args),
        Cmd::Check { size } => check(&world, &mpi, size as usize).map_err(Error::Config),
        Cmd::Info => info(&world, &mpi).map_err(Error::Config),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if world.rank() == 0 {
                eprintln!("halo: error: {e}");
            }
            // Errors are agreed, so every rank is here. Leave together: mpirun ends the job at
            // the first non-zero exit, which could otherwise cut rank 0 off before it prints.
            world.barrier();
            ExitCode::from(exit_code(&e))
        }
    }
}

/// Progress on rank 0: a bar on a terminal; elsewhere (under mpirun, whose ranks write into pipes,
/// or into a log) a plain line every second.
enum ProgressView {
    Bar(ProgressBar),
    Lines {
        start: Instant,
        last: Instant,
        residual: Option<f64>,
    },
}

impl ProgressView {
    fn new(iters: usize) -> Self {
        if !std::io::stderr().is_terminal() {
            let now = Instant::now();
            return ProgressView::Lines {
                start: now,
                last: now,
                residual: None,
            };
        }
        let bar = ProgressBar::new(iters as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} it, {per_sec}, residual {msg}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        ProgressView::Bar(bar)
    }

    fn update(&mut self, p: Progress) {
        match self {
            ProgressView::Bar(bar) => {
                bar.set_position(p.iter as u64);
                if let Some(r) = p.residual {
                    bar.set_message(format!("{r:.3e}"));
                }
            }
            ProgressView::Lines {
                start,
                last,
                residual,
            } => {
                *residual = p.residual.or(*residual);
                if last.elapsed().as_secs_f64() < 1.0 && p.iter < p.iters {
                    return;
                }
                *last = Instant::now();
                let rate = p.iter as f64 / start.elapsed().as_secs_f64();
                let r = residual.map_or("-".into(), |r| format!("{r:.3e}"));
                eprintln!(
                    "progress: {}/{} it ({:.0}%), {rate:.0} it/s, residual {r}",
                    p.iter,
                    p.iters,
                    100.0 * p.iter as f64 / p.iters as f64
                );
            }
        }
    }

    fn finish(self) {
        if let ProgressView::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// 2 for what the user asked wrongly (as for bad arguments), 1 for runs that failed.
fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Config(_) | Error::Decomposition(_) => EXIT_USAGE,
        _ => EXIT_FAILURE,
    }
}

fn solve(world: &Comm, args: &SolveArgs) -> halo::Result<()> {
    let cfg = args.config();
    let root = world.rank() == 0;
    // Find an unwritable output directory before computing, not after.
    if let Some(dir) = &args.out {
        let ready = if root {
            halo::io::ensure_dir(dir)
        } else {
            Ok(())
        };
        world.agree(ready)?;
    }
    let show = root && args.progress && !args.quiet;
    let mut view = show.then(|| ProgressView::new(cfg.iters));
    let mut tick = |p: Progress| {
        if let Some(v) = view.as_mut() {
            v.update(p);
        }
    };
    let progress: Option<&mut dyn FnMut(Progress)> = if show { Some(&mut tick) } else { None };
    let sol = solver::solve(world, &cfg, progress)?;
    if let Some(v) = view.take() {
        v.finish();
    }
    let written = match &args.out {
        Some(dir) => world.agree(solver::write_outputs(dir, &cfg, &sol))?,
        None => Vec::new(),
    };
    if !root {
        return Ok(());
    }
    let r = &sol.report;
    if args.json {
        println!("{}", r.to_json());
    } else if !args.quiet {
        println!(
            "halo solve: {} {}x{} on {} ranks ({}x{}), ghost {}, threads {}",
            r.problem, r.nx, r.ny, r.ranks, r.px, r.py, r.ghost, r.threads
        );
        let stop = if r.converged { " (converged)" } else { "" };
        println!(
            "iterations {}{stop}, residual {:.6e}, {:.3} s, {:.1} Mcells/s (compute {:.3} s, communication {:.3} s)",
            r.iters, r.residual, r.seconds, r.mcells_per_s, r.compute_seconds, r.comm_seconds
        );
        if let Some(e) = r.error {
            println!("max error against the exact solution {e:.6e}");
        }
        println!(
            "checksum {:.17e}, field sha256 {}",
            r.checksum, r.field_sha256
        );
        for p in &written {
            println!("wrote {}", p.display());
        }
    }
    Ok(())
}

/// Prints a clap error once (from rank 0) as one line; help and version go to stdout.
///
/// MPI is started just to leave together: every rank waits in a barrier until rank 0 has printed,
/// since mpirun ends the job at the first non-zero exit and could cut rank 0 off mid-message.
fn usage_error(e: clap::Error) -> ExitCode {
    let mpi = comm::init().ok();
    let world = mpi.as_ref().map(Mpi::world);
    let rank0 = world.as_ref().map_or(comm::launcher_rank(), Comm::rank) == 0;
    let code = match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            if rank0 {
                let _ = e.print();
            }
            ExitCode::SUCCESS
        }
        _ => {
            if rank0 {
                let text = e.render().to_string();
                let first = text.lines().next().unwrap_or("invalid arguments");
                let first = first.strip_prefix("error: ").unwrap_or(first);
                eprintln!("halo: error: {first} (see 'halo --help')");
            }
            ExitCode::from(EXIT_USAGE)
        }
    };
    if let Some(w) = &world {
        w.barrier();
    }
    code
}

fn check(world: &Comm, mpi: &Mpi, n: usize) -> Result<(), String> {
    let results = comm::run_checks(world, n).map_err(|e| e.to_string())?;
    let failed = results.iter().filter(|r| !r.ok).count();
    if world.rank() == 0 {
        println!(
            "halo check: ranks: {}, elements per rank: {n}, {}",
            world.size(),
            mpi.library_version()
        );
        println!(
            "{:<30} {:>12} {:>12}  result",
            "# collective", "bytes/rank", "time(us)"
        );
        for r in &results {
            let verdict = if r.ok { "ok" } else { "WRONG" };
            println!(
                "{:<30} {:>12} {:>12.1}  {verdict}",
                r.name,
                r.bytes,
                r.seconds * 1e6
            );
        }
        println!("check: {} passed, {failed} failed", results.len() - failed);
    }
    if failed > 0 {
        return Err(format!(
            "{failed} of {} collectives gave wrong answers",
            results.len()
        ));
    }
    Ok(())
}

fn info(world: &Comm, mpi: &Mpi) -> Result<(), String> {
    let host = mpi.processor_name();
    let hosts = world
        .gather_varcount(0, host.as_bytes())
        .map_err(|e| e.to_string())?;
    if let Some(hosts) = hosts {
        println!("{}", mpi.library_version());
        println!(
            "ranks: {}, thread support: {:?}",
            world.size(),
            mpi.threading()
        );
        for (rank, h) in hosts.iter().enumerate() {
            println!("rank {rank}: {}", String::from_utf8_lossy(h));
        }
    }
    Ok(())
}
