//! A Cartesian topology, checked: the job's ranks arranged by `MPI_Cart_create` (reordering
//! allowed) over the process grid halo would choose, each rank's coordinates and neighbours as
//! MPI gives them (`MPI_Cart_coords`, `MPI_Cart_shift`, `MPI_Cart_rank`) against halo's own
//! arithmetic, periodic and not; rank 0 prints the numbering MPI chose.
//!
//! ```text
//! mpirun -n 6 target/debug/examples/cartesian          # 3x2 process grid
//! mpirun -n 4 target/debug/examples/cartesian 4x1      # a row of four
//! ```

use halo::decomp::ProcGrid;

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
    if world.rank() == 0 {
        println!(
            "cartesian: ok, ranks: {}, {grid} process grid, periodic and not",
            world.size()
        );
    }
    Ok(())
}
