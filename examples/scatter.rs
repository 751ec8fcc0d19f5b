//! Scatter equal chunks and chunks of different lengths from rank 0.
//!
//! ```text
//! mpirun -n 4 target/debug/examples/scatter
//! ```

fn main() -> halo::Result<()> {
    let mpi = halo::comm::init()?;
    let world = mpi.world();
    let (rank, size) = (world.rank(), world.size());

    // Equal chunks: rank r gets [3r, 3r+1, 3r+2].
    let all: Vec<u32> = (0..3 * size as u32).collect();
    let mine = world.scatter(0, (rank == 0).then_some(&all[..]))?;
    assert_eq!(
        mine,
        vec![3 * rank as u32, 3 * rank as u32 + 1, 3 * rank as u32 + 2]
    );

    // Different lengths: rank r gets r + 1 copies of r as f64.
    let lens: Vec<usize> = (0..size).map(|r| r + 1).collect();
    let data: Vec<f64> = (0..size)
        .flat_map(|r| std::iter::repeat_n(r as f64, r + 1))
        .collect();
    let mine = world.scatter_varcount(0, (rank == 0).then_some((&data[..], &lens[..])))?;
    assert_eq!(mine, vec![rank as f64; rank + 1]);

    // A root mistake is the same error on every rank, not a hang.
    if size > 1 {
        let bad: Vec<u32> = (0..3 * size as u32 + 1).collect();
        let err = world
            .scatter(0, (rank == 0).then_some(&bad[..]))
            .unwrap_err();
        assert!(err.to_string().contains("do not split into"), "{err}");
    }

    if rank == 0 {
        println!("scatter: ok, ranks: {size}");
    }
    Ok(())
}
