//! Broadcast a value, a slice, a vector of unknown length and a string from a root.
//!
//! ```text
//! mpirun -n 3 target/debug/examples/broadcast
//! ```

fn main() -> halo::Result<()> {
    let mpi = halo::comm::init()?;
    let world = mpi.world();
    let (rank, size) = (world.rank(), world.size());
    let root = size - 1; // any rank may be the root

    // A value: only the root's counts.
    let v = world.broadcast(root, if rank == root { 42u64 } else { 0 })?;
    assert_eq!(v, 42);

    // A slice every rank has room for.
    let mut coeffs = [0.0f64; 3];
    if rank == root {
        coeffs = [0.25, 0.5, 0.25];
    }
    world.broadcast_into(root, &mut coeffs)?;
    assert_eq!(coeffs, [0.25, 0.5, 0.25]);

    // A vector whose length only the root knows.
    let data = (rank == root).then(|| (0..1000i32).map(|i| i * i).collect::<Vec<_>>());
    let got = world.broadcast_vec(root, data)?;
    assert_eq!(got.len(), 1000);
    assert!(got.iter().enumerate().all(|(i, &x)| x == (i * i) as i32));

    // A string, as configuration is broadcast.
    let config = (rank == root).then_some("grid = 4096x4096\nproblem = laplace");
    let text = world.broadcast_string(root, config)?;
    assert_eq!(text, "grid = 4096x4096\nproblem = laplace");

    if rank == 0 {
        println!("broadcast: ok, ranks: {size}, root {root}");
    }
    Ok(())
}
