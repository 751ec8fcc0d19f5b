//! Blocks of a global array written to one file by every rank at once, and read back crosswise
//! (MPI-IO, through `Comm::open_file`): no rank ever holds the whole array.
//!
//! ```text
//! mpirun -n 4 target/debug/examples/file_io               # 1003 values, a temporary file
//! mpirun -n 4 target/debug/examples/file_io 2 out.bin     # 2 values (two ranks have none), kept
//! ```
//!
//! The file is a header of 8 bytes, the number of values `n` (little-endian), then the `n`
//! values, little-endian `f64`s; value `i` is `i / 3`. The values split over the ranks as evenly
//! as possible, so ranks may have different numbers of them, or none. A file given as argument
//! is kept (and an existing, longer one truncated); the default temporary file is removed.

use halo::comm::FileMode;
use halo::decomp::split;

fn value(i: usize) -> f64 {
    i as f64 / 3.0
}

fn main() -> halo::Result<()> {
    let mpi = halo::comm::init()?;
    let world = mpi.world();
    // An assertion that fails on one rank ends the job instead of leaving the others waiting.
    halo::comm::abort_on_panic(1);
    let (rank, size) = (world.rank(), world.size());
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().map_or(1003, |s| s.parse().expect("n"));
    let keep = args.len() > 1;
    let path = match args.get(1) {
        Some(p) => p.into(),
        None => {
            let pid = world.broadcast(0, std::process::id())?;
            std::env::temp_dir().join(format!("halo-example-file-io-{pid}.bin"))
        }
    };
    const HEADER: u64 = 8;
    let at = |i: usize| HEADER + 8 * i as u64;

    // Write: rank 0 alone writes the header (an independent write), then every rank its block
    // at its own offset (a collective write; blocks of 0 values take part too).
    let mine = split(n, size, rank);
    let block: Vec<f64> = mine.clone().map(value).collect();
    let mut file = world.open_file(&path, FileMode::Create)?;
    // A rank-local call's error must be agreed before the next collective, or the other ranks
    // would wait in it for a rank that has left.
    let header = if rank == 0 {
        file.write_at(0, &(n as u64).to_le_bytes())
    } else {
        Ok(())
    };
    world.agree(header)?;
    file.write_f64_at_all(at(mine.start), &block)?;
    file.sync()?;
    file.close()?;

    // Read back: every rank reads the header and the next rank's block, of another length.
    let mut file = world.open_file(&path, FileMode::Read)?;
    assert_eq!(world.agree(file.size())?, at(n), "the file's size");
    let mut header = [0u8; 8];
    world.agree(file.read_at(0, &mut header))?;
    assert_eq!(u64::from_le_bytes(header), n as u64, "the header");
    let theirs = split(n, size, (rank + 1) % size);
    let mut got = vec![f64::NAN; theirs.len()];
    file.read_f64_at_all(at(theirs.start), &mut got)?;
    for (i, v) in theirs.zip(&got) {
        assert_eq!(*v, value(i), "rank {rank}: value {i}");
    }

    // Reading past the end on the last rank alone is the same error on every rank.
    let mut two = [0u8; 16];
    let offset = if rank == size - 1 { at(n) - 8 } else { 0 };
    let err = file
        .read_at_all(offset, &mut two)
        .expect_err("reading past the end of the file must fail");
    let text = err.to_string();
    assert_eq!(world.broadcast_string(0, Some(text.as_str()))?, text);
    assert!(text.contains("short read"), "{text}");
    file.close()?;

    // A file that is not there cannot be opened for reading, on any rank.
    let missing = path.with_extension("missing");
    let gone = world
        .open_file(&missing, FileMode::Read)
        .err()
        .expect("opening a missing file must fail")
        .to_string();
    assert_eq!(world.broadcast_string(0, Some(gone.as_str()))?, gone);
    assert!(gone.contains(&*missing.to_string_lossy()), "{gone}");
    // Nor for writing one that must exist already (FileMode::Write creates nothing).
    assert!(world.open_file(&missing, FileMode::Write).is_err());
    assert!(
        !missing.exists(),
        "FileMode::Write created {}",
        missing.display()
    );

    world.barrier();
    if rank == 0 {
        if !keep {
            std::fs::remove_file(&path).expect("remove the temporary file");
        }
        println!("file_io: past the end: {text}");
        println!("file_io: missing file: {gone}");
        println!("file_io: ok, ranks: {size}, values: {n}");
    }
    Ok(())
}
