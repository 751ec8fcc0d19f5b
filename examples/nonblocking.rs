//! Nonblocking reductions: start an allreduce, compute while it travels, then wait.
//!
//! A pipelined solver hides a reduction's latency behind work that does not need its answer.
//! Two forms: one that owns its buffers until `wait` returns the result, and one that borrows
//! them for a scope (as `std::thread::scope` lends data to threads) and hands the receive buffer
//! back, filled in. Last, exact dot products totalled the same way, whose values are bitwise
//! the same on any number of ranks: what a conjugate-gradient solver needs to be reproducible.
//!
//! ```text
//! mpirun -n 4 target/debug/examples/nonblocking
//! ```

use halo::comm::ReduceOp;
use halo::solver::exact::{all_sums, start_all_sums, ExactSum};

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

    // Dot products of two vectors of G elements split unevenly over the ranks, kept exact and
    // totalled without blocking: bitwise the value one process gets for the whole vectors. (A
    // plain f64 dot product of these vectors changes in its last digits with the rank count.)
    const G: usize = 10_007;
    let u = |i: usize| ((i * 7919 % 1000) as f64 - 499.5) * 1.1f64.powi((i % 97) as i32 - 48);
    let v = |i: usize| ((i * 104_729 % 997) as f64).sqrt() - 15.0;
    let start = rank * G / size + rank.min(3); // deliberately uneven blocks
    let end = ((rank + 1) * G / size + (rank + 1).min(3)).min(G);
    let (ub, vb): (Vec<f64>, Vec<f64>) = (start..end).map(|i| (u(i), v(i))).unzip();
    let (mut uv, mut uu) = (ExactSum::new(), ExactSum::new());
    uv.add_products(&ub, &vb);
    uu.add_squares(&ub);
    let mut pending = start_all_sums(&world, &[uv.clone(), uu.clone()])?;
    let (uw, vw): (Vec<f64>, Vec<f64>) = (0..G).map(|i| (u(i), v(i))).unzip();
    pending.test(); // the whole vectors were built meanwhile
    let (mut whole_uv, mut whole_uu) = (ExactSum::new(), ExactSum::new());
    whole_uv.add_products(&uw, &vw);
    whole_uu.add_squares(&uw);
    let dots = pending.wait()?;
    let want = [whole_uv.value().to_bits(), whole_uu.value().to_bits()];
    assert_eq!([dots[0].to_bits(), dots[1].to_bits()], want);
    let blocking = all_sums(&world, &[uv, uu])?;
    assert_eq!([blocking[0].to_bits(), blocking[1].to_bits()], want);

    if rank == 0 {
        println!("nonblocking: ok, ranks: {size}");
    }
    Ok(())
}
