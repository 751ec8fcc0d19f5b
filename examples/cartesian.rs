//! A Cartesian topology, checked: the job's ranks arranged by `MPI_Cart_create` (reordering
//! allowed) over the process grid halo would choose, each rank's coordinates and neighbours as
//! MPI gives them (`MPI_Cart_coords`, `MPI_Cart_shift`, `MPI_Cart_rank`) against halo's own
//! arithmetic, periodic and not; rank 0 prints the numbering MPI chose. Then a Laplace solve on a
//! Cartesian communicator whose numbering runs opposite to the job's (the blocks follow it) gives
//! the job's own field to the last bit, and the mistakes are refused: a grid of the wrong size,
//! a neighbour listed twice, the Cartesian topology asked of a communicator without one.
//!
//! ```text
//! mpirun -n 6 target/debug/examples/cartesian          # 3x2 process grid
//! mpirun -n 4 target/debug/examples/cartesian 4x1      # a row of four
//! ```

use halo::comm::Comm;
use halo::decomp::ProcGrid;
use halo::solver::{self, Config, Domain, Stopping, Topology, Unwatched};

fn main() -> halo::Result<()> {
    let mpi = halo::comm::init()?;
    let world = mpi.world();
    let grid = match std::env::args().nth(1) {
        Some(s) => s.parse()?,
        None => ProcGrid::auto(world.size(), 1000, 1000)?,
    };
    for periodic in [false, true] {
        let cart = world.cartesian(&[grid.py, grid.px], &[periodic, periodic], true)?;
        let me = cart.rank();
        let (dims, periods) = cart.cart_dims().expect("a Cartesian communicator");
        assert_eq!((dims, periods), (vec![grid.py, grid.px], vec![periodic; 2]));
        let (cx, cy) = grid.coords(me);
        assert_eq!(
            cart.cart_coords(me),
            vec![cy, cx],
            "rank {me}: row-major, x fastest"
        );
        // MPI_Cart_shift along y (dimension 0) and x (dimension 1) against the arithmetic.
        for (dim, (dx, dy)) in [(0, (0, 1)), (1, (1, 0))] {
            let (back, on) = cart.cart_shift(dim, 1);
            assert_eq!(back, grid.neighbor(me, -dx, -dy, periodic, periodic));
            assert_eq!(on, grid.neighbor(me, dx, dy, periodic, periodic));
        }
        // The diagonals, which a box stencil's corners come from.
        for (dx, dy) in [(-1, -1), (1, -1), (-1, 1), (1, 1)] {
            let mpi = cart.cart_rank(&[cy, cx], &[dy as isize, dx as isize]);
            assert_eq!(mpi, grid.neighbor(me, dx, dy, periodic, periodic));
        }
        // Which world rank holds each place of the grid: MPI's choice when it reorders.
        let placed = cart.gather(0, &[world.rank() as u64])?;
        if let Some(placed) = placed {
            if !periodic {
                let moved = placed.iter().enumerate().filter(|&(c, &w)| c as u64 != w);
                println!(
                    "cartesian: {grid} grid, ranks moved by reorder: {}",
                    moved.count()
                );
                for (c, w) in placed.iter().enumerate() {
                    let (x, y) = grid.coords(c);
                    println!("  grid rank {c} at ({x},{y}): world rank {w}");
                }
            }
        }
    }
    renumbered_solve(&world, grid)?;
    refusals(&world, grid)?;
    if world.rank() == 0 {
        println!(
            "cartesian: ok, ranks: {}, {grid} process grid, periodic and not; a renumbered run gives the same field",
            world.size()
        );
    }
    Ok(())
}

/// A solve on the job's communicator and on a Cartesian one numbered the other way round (as a
/// reordering MPI might number it): the same field.
fn renumbered_solve(world: &Comm, grid: ProcGrid) -> halo::Result<()> {
    let n = world.size();
    let reversed = world
        .split(Some(0), (n - 1 - world.rank()) as i32)
        .expect("every rank has the colour");
    assert_eq!(reversed.rank(), n - 1 - world.rank());
    let cart = reversed.cartesian(&[grid.py, grid.px], &[false, false], false)?;
    let cfg = |topology| Config {
        domain: Domain {
            nx: 37,
            ny: 29,
            procs: Some(grid),
            topology,
            ..Domain::default()
        },
        stop: Stopping {
            iters: 50,
            ..Stopping::default()
        },
        ..Config::default()
    };
    let plain = solver::solve(world, &cfg(Topology::Index), &mut Unwatched)?;
    let renumbered = solver::solve(&cart, &cfg(Topology::Cart), &mut Unwatched)?;
    // Each hash is on its own communicator's rank 0: gather both everywhere.
    let mine = |s: &solver::Solution| s.report.field_sha256.clone().unwrap_or_default();
    let a = world.all_gather_varcount(mine(&plain).as_bytes())?;
    let b = world.all_gather_varcount(mine(&renumbered).as_bytes())?;
    // Only each communicator's rank 0 sent anything: the gathered bytes are its hash.
    assert_eq!(a.data().len(), 64, "one hash from the job's rank 0");
    assert_eq!(a.data(), b.data(), "the renumbered run's field differs");
    Ok(())
}

/// Mistakes refused as errors, never a panic or a hang.
fn refusals(world: &Comm, grid: ProcGrid) -> halo::Result<()> {
    let n = world.size();
    let e = world.cartesian(&[n + 1], &[false], false).err();
    assert!(e.is_some_and(|e| e.to_string().contains("must hold exactly")));
    let e = world.neighborhood(&[0, 0]).err();
    assert!(e.is_some_and(|e| e.to_string().contains("appear once")));
    let e = world.neighborhood(&[n]).err();
    assert!(e.is_some_and(|e| e.to_string().contains("appear once")));
    let cfg = Config {
        domain: Domain {
            nx: 37,
            ny: 29,
            procs: Some(grid),
            topology: Topology::Cart,
            ..Domain::default()
        },
        ..Config::default()
    };
    let e = solver::solve(world, &cfg, &mut Unwatched).err();
    assert!(
        e.is_some_and(|e| e.to_string().contains("needs a communicator over the")),
        "the Cartesian topology on a plain communicator"
    );
    Ok(())
}
