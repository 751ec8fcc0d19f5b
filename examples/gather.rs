//! Gather to a root, gather to all, and reduce.
//!
//! ```text
//! mpirun -n 4 target/debug/examples/gather
//! ```

use halo::comm::ReduceOp;

fn main() -> halo::Result<()> {
    let mpi = halo::comm::init()?;
    let world = mpi.world();
    let (rank, size) = (world.rank(), world.size());

    // Equal chunks to rank 0: [r, 10r] from each rank, in rank order.
    let got = world.gather(0, &[rank as i64, 10 * rank as i64])?;
    match got {
        Some(all) => {
            let want: Vec<i64> = (0..size as i64).flat_map(|r| [r, 10 * r]).collect();
            assert_eq!(all, want);
        }
        None => assert_ne!(rank, 0),
    }

    // Chunks of different lengths: rank r sends r elements.
    let mine: Vec<u16> = (0..rank as u16).collect();
    if let Some(all) = world.gather_varcount(0, &mine)? {
        for r in 0..size {
            assert_eq!(all.chunk(r), (0..r as u16).collect::<Vec<_>>());
        }
    }

    // To every rank.
    let all = world.all_gather(&[rank as f32])?;
    assert_eq!(all, (0..size).map(|r| r as f32).collect::<Vec<_>>());
    let all = world.all_gather_varcount(&mine)?;
    assert_eq!(all.lens(), (0..size).collect::<Vec<_>>());

    // Reductions: sums, minima and maxima agree with what every rank can compute alone.
    let n = size as u64;
    assert_eq!(
        world.all_reduce_value(rank as u64, ReduceOp::Sum)?,
        n * (n - 1) / 2
    );
    assert_eq!(
        world.all_reduce_value(rank as i32, ReduceOp::Max)?,
        size as i32 - 1
    );
    let mins = world.all_reduce(&[rank as f64, -(rank as f64)], ReduceOp::Min)?;
    assert_eq!(mins, vec![0.0, -(size as f64 - 1.0)]);
    let total = world.reduce_value(size - 1, 1u32, ReduceOp::Sum)?;
    assert_eq!(total, (rank == size - 1).then_some(size as u32));

    // Chunks of different lengths in an equal-chunk gather are the same error on every rank.
    if size > 1 {
        let err = world.gather(0, &mine).unwrap_err();
        assert!(err.to_string().contains("different lengths"), "{err}");
    }

    if rank == 0 {
        println!("gather: ok, ranks: {size}");
    }
    Ok(())
}
