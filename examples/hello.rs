//! Every rank says hello; rank 0 gathers the greetings and checks that each rank spoke once.
//!
//! ```text
//! mpirun -n 4 target/debug/examples/hello
//! ```

fn main() -> halo::Result<()> {
    let mpi = halo::comm::init()?;
    let world = mpi.world();
    let greeting = format!(
        "hello from rank {} of {} on {}",
        world.rank(),
        world.size(),
        mpi.processor_name()
    );
    // Greetings differ in length, so this is a variable-count gather.
    if let Some(all) = world.gather_varcount(0, greeting.as_bytes())? {
        assert_eq!(all.len(), world.size());
        for (rank, bytes) in all.iter().enumerate() {
            let text = String::from_utf8_lossy(bytes);
            assert!(text.starts_with(&format!("hello from rank {rank} of {}", world.size())));
            println!("{text}");
        }
        println!(
            "hello: ok, ranks: {}, {}",
            world.size(),
            mpi.library_version()
        );
    }
    Ok(())
}
