//! The `halo` command: parses arguments, calls the library, prints. Nothing else lives here.

use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use halo::comm::{self, Comm, Mpi, Threading};
use halo::Error;
use std::process::ExitCode;

mod cli;

/// Exit code for a usage error (bad arguments), as in BSD's sysexits and clap.
const EXIT_USAGE: u8 = 2;
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
    Solve(cli::solve::SolveArgs),
    /// Run every collective on this job's ranks and verify each answer; one line per collective.
    Check {
        /// Elements per rank in each collective.
        #[arg(short = 'n', long, default_value_t = 4096,
              value_parser = clap::value_parser!(u64).range(1..=1 << 24))]
        size: u64,
    },
    /// Print the MPI library, the thread support and the host of every rank.
    Info,
    /// Measure memory bandwidth (triad) or collective latency (OSU-style); run under mpirun.
    #[command(subcommand)]
    Bench(cli::bench::BenchCmd),
    /// Show how a grid splits over ranks and what each split costs in halo traffic (no MPI).
    Decomp(cli::decomp::DecompArgs),
    /// Run a strong or weak scaling study: one `mpirun` job per rank count (run it without
    /// mpirun); prints a table and writes scaling.csv, scaling.json and scaling.png.
    Scale(cli::scale::ScaleArgs),
    /// Run a grid-refinement study: one `mpirun` job per grid (run it without mpirun); prints
    /// each quantity's observed order and extrapolated value, writes refine.csv, refine.json
    /// and refine.png.
    Refine(cli::refine::RefineArgs),
    /// Print a Slurm or PBS job script for one `halo solve` run, ready to submit, with
    /// checkpoints and restarts (no MPI): `halo batch --scheduler slurm --nodes 2
    /// --ranks-per-node 32 -- solve --grid 8192x8192 > halo.sbatch`.
    Batch(cli::batch::BatchArgs),
}

fn main() -> ExitCode {
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return usage_error(e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    // Subcommands that need no MPI run without starting it.
    let without_mpi = match &cli.cmd {
        Cmd::Decomp(args) => Some(cli::decomp::run(args)),
        Cmd::Scale(args) => {
            let given = matches
                .subcommand_matches("scale")
                .expect("the scale subcommand");
            Some(cli::scale::run(args, given))
        }
        Cmd::Refine(args) => {
            let given = matches
                .subcommand_matches("refine")
                .expect("the refine subcommand");
            Some(cli::refine::run(args, given))
        }
        Cmd::Batch(args) => Some(cli::batch::run(args)),
        _ => None,
    };
    if let Some(outcome) = without_mpi {
        return match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("halo: error: {e}");
                ExitCode::from(e.exit_code())
            }
        };
    }
    comm::abort_on_panic(EXIT_PANIC);
    // rayon threads compute, and a restart's read-ahead thread reads, the main thread alone
    // calls MPI.
    let threading = match &cli.cmd {
        Cmd::Solve(a) if a.problem.threads > 1 || a.restart.is_some() => Threading::Funneled,
        Cmd::Bench(cli::bench::BenchCmd::Checkpoint { .. }) => Threading::Funneled,
        _ => Threading::Single,
    };
    let mpi = match comm::init_with_threading(threading) {
        Ok(mpi) => mpi,
        Err(e) => {
            // Every rank fails alike (the same library, the same request): one line is enough.
            if comm::launcher_rank() == 0 {
                eprintln!("halo: error: {e}");
            }
            return ExitCode::from(e.exit_code());
        }
    };
    let world = mpi.world();
    let outcome = match cli.cmd {
        Cmd::Solve(args) => cli::solve::run(&world, &args),
        Cmd::Check { size } => {
            cli::collectives::check(&world, &mpi, size as usize).map_err(Error::Config)
        }
        Cmd::Info => cli::collectives::info(&world, &mpi).map_err(Error::Config),
        Cmd::Bench(b) => cli::bench::run(&world, &b),
        Cmd::Decomp(_) | Cmd::Scale(_) | Cmd::Refine(_) | Cmd::Batch(_) => {
            unreachable!("these run without MPI")
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if world.rank() == 0 {
                match e {
                    // Not a failure of the run: it did as it was asked.
                    Error::Stopped { .. } => eprintln!("halo: {e}"),
                    _ => eprintln!("halo: error: {e}"),
                }
            }
            // Errors are agreed, so every rank is here. Leave together: mpirun ends the job at
            // the first non-zero exit, which could otherwise cut rank 0 off before it prints.
            world.barrier();
            ExitCode::from(e.exit_code())
        }
    }
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
        // `halo` alone, or `halo bench` without its subcommand: the help, as a usage error.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            if rank0 {
                eprint!("{}", e.render());
            }
            ExitCode::from(EXIT_USAGE)
        }
        _ => {
            if rank0 {
                // clap's message, without its usage block, folded onto one line.
                let text = e.render().to_string();
                let message = text.split("\n\n").next().unwrap_or("invalid arguments");
                let message = message.strip_prefix("error: ").unwrap_or(message);
                let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
                eprintln!("halo: error: {one_line} (see 'halo --help')");
            }
            ExitCode::from(EXIT_USAGE)
        }
    };
    if let Some(w) = &world {
        w.barrier();
    }
    code
}
