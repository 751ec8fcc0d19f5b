//! A global 2D array split into blocks over a process grid, each rank changes its block, and the
//! array is gathered back and checked on the root.
//!
//! ```text
//! mpirun -n 3 target/debug/examples/scatter_gather_2d          # automatic process grid
//! mpirun -n 4 target/debug/examples/scatter_gather_2d 13 7 2x2 # 13x7 grid over 2x2 ranks
//! ```

use halo::decomp::ProcGrid;
use halo::grid;
use ndarray::Array2;

fn main() -> halo::Result<()> {
    let mpi = halo::comm::init()?;
    let world = mpi.world();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let nx: usize = args.first().map_or(11, |s| s.parse().expect("nx"));
    let ny: usize = args.get(1).map_or(5, |s| s.parse().expect("ny"));
    let procs: Option<ProcGrid> = args.get(2).map(|s| s.parse()).transpose()?;
    let decomp = grid::decompose(&world, nx, ny, procs)?;

    // The root owns the global array: cell (i, j) holds i * nx + j.
    let global = Array2::from_shape_fn((ny, nx), |(i, j)| (i * nx + j) as f64);
    let root_data = (world.rank() == 0).then_some(&global);
    let mut block = grid::scatter_blocks(&world, 0, root_data, &decomp)?;

    // Each rank checks it got the right cells, then adds 1000 * (rank + 1) to them.
    let me = decomp.block(world.rank());
    for ((i, j), v) in block.indexed_iter_mut() {
        let (gi, gj) = (me.rows.start + i, me.cols.start + j);
        assert_eq!(
            *v,
            (gi * nx + gj) as f64,
            "rank {} cell ({gi},{gj})",
            world.rank()
        );
        *v += 1000.0 * (world.rank() + 1) as f64;
    }

    if let Some(back) = grid::gather_blocks(&world, 0, &block, &decomp)? {
        for ((i, j), v) in back.indexed_iter() {
            let owner = decomp.owner(i, j);
            assert_eq!(*v, (i * nx + j) as f64 + 1000.0 * (owner + 1) as f64);
        }
        println!(
            "scatter_gather_2d: ok, ranks: {}, grid {nx}x{ny}, process grid {}",
            world.size(),
            decomp.grid
        );
    }
    Ok(())
}
