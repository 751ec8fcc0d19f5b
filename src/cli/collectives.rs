//! `halo check` and `halo info`.

use halo::comm::{self, Comm, Mpi};
use halo::decomp::ProcGrid;
use halo::grid;
use halo::node::affinity;
use halo::sched::allocation::{Allocation, Launcher, Scheduler};

/// `halo check`: every collective, and block scatter/gather, verified; rank 0 prints a line each.
pub fn check(world: &Comm, mpi: &Mpi, n: usize) -> Result<(), String> {
    let mut results = comm::run_checks(world, n).map_err(|e| e.to_string())?;
    results.push(grid::check_blocks(world, n).map_err(|e| e.to_string())?);
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

/// `halo info`: the MPI library, what launched the job and the batch allocation it runs in (if
/// any), every rank's host and the cores it may run on, and where
/// `MPI_Cart_create` (reorder allowed) puts each rank on the squarest process grid, as
/// `halo solve --topology cart` would.
pub fn info(world: &Comm, mpi: &Mpi) -> Result<(), String> {
    let host = mpi.processor_name();
    let hosts = world
        .gather_varcount(0, host.as_bytes())
        .map_err(|e| e.to_string())?;
    let cores = affinity::gather(world).map_err(|e| e.to_string())?;
    if let (Some(hosts), Some(cores)) = (hosts, cores) {
        println!("{}", mpi.library_version());
        println!(
            "ranks: {}, thread support: {:?}",
            world.size(),
            mpi.threading()
        );
        // Rank 0's environment says what started the job and in which allocation.
        let env = |k: &str| std::env::var(k).ok();
        let launcher = Launcher::from_env(env);
        println!("launched by: {launcher}");
        let read = |p: &str| std::fs::read_to_string(p).ok();
        match Allocation::from_env(env, read) {
            Some(mut a) => {
                // Inside an allocation OpenMPI starts its daemons with srun, and the ranks see
                // that step's task count (one per node), not the job's.
                if launcher == Launcher::OpenMpi && a.scheduler == Scheduler::Slurm {
                    a.tasks = None;
                }
                println!("allocation: {}", a.describe());
            }
            None => println!("allocation: none (not inside a Slurm or PBS job)"),
        }
        let mut placed: Vec<(String, usize)> = Vec::new();
        for h in hosts.iter() {
            let h = String::from_utf8_lossy(h).into_owned();
            match placed.iter_mut().find(|(name, _)| *name == h) {
                Some((_, n)) => *n += 1,
                None => placed.push((h, 1)),
            }
        }
        let list: Vec<String> = placed.iter().map(|(h, n)| format!("{h} ({n})")).collect();
        println!(
            "ranks per host: {} host{}: {}",
            placed.len(),
            if placed.len() == 1 { "" } else { "s" },
            list.join(", ")
        );
        for (rank, (h, c)) in hosts.iter().zip(&cores).enumerate() {
            let cores = match c.len() {
                0 => "cores unknown".to_string(),
                1 => format!("core {} (1)", affinity::compact(c)),
                n => format!("cores {} ({n})", affinity::compact(c)),
            };
            println!("rank {rank}: {}, {cores}", String::from_utf8_lossy(h));
        }
    }
    cartesian_mapping(world).map_err(|e| e.to_string())
}

/// The grid rank and coordinates `MPI_Cart_create` with reorder gives each rank of `world` on
/// the squarest process grid for its size; rank 0 prints them.
fn cartesian_mapping(world: &Comm) -> halo::Result<()> {
    let grid = ProcGrid::auto(world.size(), 1 << 20, 1 << 20)?;
    let cart = world.cartesian(&[grid.py, grid.px], &[false, false], true)?;
    let placed = cart.gather(0, &[world.rank() as u64])?;
    if let Some(placed) = placed {
        let moved = placed.iter().enumerate().filter(|&(c, &w)| c as u64 != w);
        println!(
            "Cartesian topology (--topology cart): a {grid} process grid from MPI_Cart_create with reorder allowed; ranks MPI renumbered: {}",
            moved.count()
        );
        for (c, w) in placed.iter().enumerate() {
            let (x, y) = grid.coords(c);
            println!("grid rank {c} at ({x},{y}): world rank {w}");
        }
    }
    Ok(())
}
