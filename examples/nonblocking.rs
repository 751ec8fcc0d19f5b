//! Nonblocking reductions: start an allreduce, compute while it travels, then wait.
//!
//! A pipelined solver hides a reduction's latency behind work that does not need its answer.
//! Two forms: one that owns its buffers until `wait` returns the result, and one that borrows
//! them for a scope (as `std::thread::scope` lends data to threads) and hands the receive buffer
//! back, filled in.
//!
//! ```text
//! mpirun -n 4 target/debug/examples/nonblocking
//! ```

use halo::comm::ReduceOp;

fn main() -> halo::Result<()> {
    let mpi = halo::comm::init()?;
    let world = mpi.world();
    let (rank, size) = (world.rank(), world.size());

    // A vector x of 1000 elements per rank, x[i] = i over the whole job: each rank sums its
    // part of Σx and Σx², starts the reduction, and meanwhile works on its own part.
    const N: usize = 1000;
    let x: Vec<f64> = (rank * N..(rank + 1) * N).map(|i| i as f64).collect();
    let partial = vec![x.iter().sum::<f64>(), x.iter().map(|v| v * v).sum()];
    let mut pending = world.immediate_all_reduce(partial, ReduceOp::Sum)?;
    let mut y = vec![0.0; N];
    for (i, (yi, xi)) in y.iter_mut().zip(&x).enumerate() {
        *yi = 2.0 * xi + 1.0; // work that does not need the sums
        if i % 100 == 0 {
            pending.test(); // lets MPI move the reduction along
        }
    }
    let sums = pending.wait();
    let m = (size * N) as f64; // every sum below is of integers, exact in f64
    assert_eq!(
        sums,
        [m * (m - 1.0) / 2.0, (m - 1.0) * m * (2.0 * m - 1.0) / 6.0]
    );
    assert_eq!(y[N - 1], 2.0 * x[N - 1] + 1.0);

    // Two reductions in flight at once, into buffers borrowed for a scope: the smallest and
    // largest element of y over all ranks.
    let (mut lo, mut hi) = ([0.0f64], [0.0f64]);
    let (first, last) = ([y[0]], [y[N - 1]]);
    world.immediate_scope(|s| -> halo::Result<()> {
        let min = s.all_reduce_into(&first, &mut lo, ReduceOp::Min)?;
        let mut max = s.all_reduce_into(&last, &mut hi, ReduceOp::Max)?;
        while !max.test() {} // poll one; wait for the other
        assert_eq!(min.wait(), [1.0]);
        Ok(())
    })?;
    assert_eq!((lo, hi), ([1.0], [2.0 * (m - 1.0) + 1.0]));

    if rank == 0 {
        println!("nonblocking: ok, ranks: {size}");
    }
    Ok(())
}
