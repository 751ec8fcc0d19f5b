//! `halo check` and `halo info`.

use halo::comm::{self, Comm, Mpi};
use halo::decomp::ProcGrid;
use halo::grid;
use halo::node::affinity;

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

/// `halo info`: the MPI library, every rank's host and the cores it may run on, and where
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
