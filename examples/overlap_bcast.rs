//! A broadcast overlapped with work: start it, compute what does not need it, then wait.
//!
//! Rank 0 broadcasts a table of 2^18 `f64`s (2 MiB). While it travels, every rank integrates
//! 4 / (1 + x²) over [0, 1], which is π, calling `test` every few thousand steps so that MPI
//! moves the broadcast along. Then it waits, checks every entry of the table and the integral,
//! and rank 0 prints how long each part took (on its slowest rank), beside a blocking broadcast
//! of the same table. The same in the borrowing form, with the table lent for a scope, last.
//!
//! ```text
//! mpirun -n 4 target/release/examples/overlap_bcast
//! ```

use halo::comm::{Comm, ReduceOp};

/// Entries of the broadcast table.
const ENTRIES: usize = 1 << 18;
/// Midpoint-rule steps of the integral.
const STEPS: usize = 2_000_000;
/// Steps between two calls of `test`.
const POLL: usize = 4096;

/// Entry `i` of the table: every rank can check it.
fn entry(i: usize) -> f64 {
    (i as f64).sqrt() * 0.5 + 1.0
}

/// The table on the root, zeros elsewhere.
fn table(rank: usize) -> Vec<f64> {
    if rank == 0 {
        (0..ENTRIES).map(entry).collect()
    } else {
        vec![0.0; ENTRIES]
    }
}

/// The integral of 4 / (1 + x²) over [0, 1] by the midpoint rule, calling `poll` every
/// [`POLL`] steps.
fn integrate(mut poll: impl FnMut()) -> f64 {
    let h = 1.0 / STEPS as f64;
    let mut sum = 0.0;
    for i in 0..STEPS {
        let x = (i as f64 + 0.5) * h;
        sum += 4.0 / (1.0 + x * x);
        if i % POLL == 0 {
            poll();
        }
    }
    sum * h
}

/// Whether `got` is the whole table.
fn is_table(got: &[f64]) -> bool {
    got.len() == ENTRIES && got.iter().enumerate().all(|(i, &x)| x == entry(i))
}

/// The slowest rank's time, in milliseconds.
fn slowest(world: &Comm, seconds: f64) -> halo::Result<f64> {
    Ok(1e3 * world.all_reduce_value(seconds, ReduceOp::Max)?)
}

fn main() -> halo::Result<()> {
    let mpi = halo::comm::init()?;
    let world = mpi.world();
    let (rank, size) = (world.rank(), world.size());

    // Overlapped: start the broadcast, work while it travels, then wait for what is left.
    world.barrier();
    let t0 = Comm::wtime();
    let mut pending = world.immediate_broadcast(0, table(rank))?;
    let mut polls = 0usize;
    let pi = integrate(|| {
        pending.test();
        polls += 1;
    });
    let t1 = Comm::wtime();
    let got = pending.wait();
    let t2 = Comm::wtime();
    assert!(is_table(&got), "rank {rank}: the broadcast table is wrong");
    assert!(
        (pi - std::f64::consts::PI).abs() < 1e-9,
        "rank {rank}: π = {pi}"
    );
    assert_eq!(polls, STEPS.div_ceil(POLL));

    // Blocking, for comparison: the same table alone.
    let mut buf = table(rank);
    world.barrier();
    let t3 = Comm::wtime();
    world.broadcast_into(0, &mut buf)?;
    let t4 = Comm::wtime();
    assert!(
        is_table(&buf),
        "rank {rank}: the blocking broadcast is wrong"
    );

    // Borrowing: the table lent for a scope, handed back filled in by `wait`, and the caller's
    // again after the scope.
    let mut lent = table(rank);
    let pi_again = world.immediate_scope(|s| -> halo::Result<f64> {
        let mut pending = s.broadcast_into(0, &mut lent)?;
        let pi = integrate(|| {
            pending.test();
        });
        assert!(is_table(pending.wait()));
        Ok(pi)
    })?;
    assert!(is_table(&lent), "rank {rank}: the lent table is wrong");
    assert_eq!(pi_again, pi);

    let (work, wait, total) = (
        slowest(&world, t1 - t0)?,
        slowest(&world, t2 - t1)?,
        slowest(&world, t2 - t0)?,
    );
    let blocking = slowest(&world, t4 - t3)?;
    if rank == 0 {
        println!(
            "overlap_bcast: ok, ranks: {size}, a {} KiB broadcast overlapped with {STEPS} steps \
             of integration ({polls} tests): work {work:.2} ms, wait after it {wait:.2} ms, \
             total {total:.2} ms; blocking broadcast alone {blocking:.2} ms",
            ENTRIES * 8 / 1024
        );
    }
    Ok(())
}
