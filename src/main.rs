//! The `halo` command: parses arguments, calls the library, prints. Nothing else lives here.

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use halo::comm::{self, Comm, Mpi};
use std::process::ExitCode;

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

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    comm::abort_on_panic(EXIT_PANIC);
    let mpi = match comm::init() {
        Ok(mpi) => mpi,
        Err(e) => {
            eprintln!("halo: error: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let world = mpi.world();
    let outcome = match cli.cmd {
        Cmd::Check { size } => check(&world, &mpi, size as usize),
        Cmd::Info => info(&world, &mpi),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if world.rank() == 0 {
                eprintln!("halo: error: {e}");
            }
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Prints a clap error once (from rank 0) as one line; help and version go to stdout.
fn usage_error(e: clap::Error) -> ExitCode {
    let rank0 = comm::launcher_rank() == 0;
    match e.kind() {
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
    }
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
