//! Every example, run as a real MPI job on 1 to 4 ranks. The examples check their own answers
//! with asserts, so a collective that returns wrong data fails the job and this test.

mod common;
use common::{example, mpirun};

fn run_on_1_to_4(name: &str, args: &[&str]) {
    let exe = example(name);
    for n in 1..=4 {
        let run = mpirun(n, &exe, args);
        run.assert_ok(&format!("{name} on {n} ranks"));
        let want = format!("{name}: ok, ranks: {n}");
        assert!(
            run.stdout.contains(&want),
            "{name} on {n} ranks printed:\n{}",
            run.stdout
        );
        // Rank 0 alone reports.
        assert_eq!(run.stdout.matches(": ok,").count(), 1, "{}", run.stdout);
    }
}

#[test]
fn hello() {
    run_on_1_to_4("hello", &[]);
}

#[test]
fn broadcast() {
    run_on_1_to_4("broadcast", &[]);
}

#[test]
fn scatter() {
    run_on_1_to_4("scatter", &[]);
}

#[test]
fn gather() {
    run_on_1_to_4("gather", &[]);
}

#[test]
fn nonblocking() {
    run_on_1_to_4("nonblocking", &[]);
}

#[test]
fn overlap_bcast() {
    run_on_1_to_4("overlap_bcast", &[]);
}

#[test]
fn structs() {
    run_on_1_to_4("structs", &[]);
}

#[test]
fn scatter_gather_2d_automatic_grid() {
    run_on_1_to_4("scatter_gather_2d", &[]);
}

#[test]
fn scatter_gather_2d_uneven_and_chosen_grids() {
    let exe = example("scatter_gather_2d");
    for (n, args) in [
        (4, ["13", "7", "2x2"]),
        (4, ["13", "7", "4x1"]),
        (3, ["5", "9", "1x3"]),
        (3, ["7", "7", "3x1"]),
        (2, ["1", "2", "1x2"]),
    ] {
        let run = mpirun(n, &exe, &args);
        run.assert_ok(&format!("scatter_gather_2d {args:?} on {n} ranks"));
        assert!(
            run.stdout.contains(&format!("process grid {}", args[2])),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn hello_names_every_rank_once() {
    let run = mpirun(3, &example("hello"), &[]);
    run.assert_ok("hello");
    for r in 0..3 {
        assert_eq!(
            run.stdout
                .matches(&format!("hello from rank {r} of 3"))
                .count(),
            1
        );
    }
}

#[test]
fn halo_exchange() {
    run_on_1_to_4("halo_exchange", &[]);
}

#[test]
fn halo_exchange_wide_ghosts_uneven_blocks_and_six_ranks() {
    let exe = example("halo_exchange");
    for (n, args) in [
        (6, ["20", "9", "3x2", "2"]),
        (6, ["13", "17", "2x3", "3"]),
        (2, ["8", "3", "2x1", "3"]),
        (4, ["9", "7", "1x4", "1"]),
        (3, ["11", "6", "3x1", "2"]),
    ] {
        let run = mpirun(n, &exe, &args);
        run.assert_ok(&format!("halo_exchange {args:?} on {n} ranks"));
        let want = format!("process grid {}, ghost {}", args[2], args[3]);
        assert!(run.stdout.contains(&want), "{}", run.stdout);
    }
}

#[test]
fn heat2d() {
    run_on_1_to_4("heat2d", &[]);
    let run = mpirun(6, &example("heat2d"), &["45", "31", "120"]);
    run.assert_ok("heat2d on 6 ranks");
}

#[test]
fn cavity() {
    let png = std::env::temp_dir().join(format!("halo-example-cavity-{}.png", std::process::id()));
    for n in [1, 3] {
        let run = mpirun(n, &example("cavity"), &["31", png.to_str().unwrap()]);
        run.assert_ok(&format!("cavity on {n} ranks"));
        assert!(
            run.stdout.contains(&format!("cavity: ok, ranks: {n}")),
            "{}",
            run.stdout
        );
        let bytes = std::fs::read(&png).expect("the picture");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    }
    let _ = std::fs::remove_file(&png);
}

#[test]
fn file_io() {
    run_on_1_to_4("file_io", &[]);
}

/// The file `file_io N PATH` leaves: a little-endian u64 `N`, then `N` little-endian f64s,
/// value `i` being `i / 3`.
fn file_io_bytes(n: usize) -> Vec<u8> {
    let mut want = (n as u64).to_le_bytes().to_vec();
    want.extend((0..n).flat_map(|i| (i as f64 / 3.0).to_le_bytes()));
    want
}

#[test]
fn file_io_zero_length_ranks_uneven_blocks_and_truncation() {
    let exe = example("file_io");
    let path = std::env::temp_dir().join(format!("halo-test-file-io-{}.bin", std::process::id()));
    let p = path.to_str().unwrap();
    for (ranks, n) in [(4, 2), (3, 0), (4, 1), (2, 7), (3, 1000)] {
        // A longer file there already: Create must truncate it, leaving no byte of it behind.
        std::fs::write(&path, vec![0xAB; 64 * 1024]).unwrap();
        let run = mpirun(ranks, &exe, &[&n.to_string(), p]);
        let what = format!("file_io {n} on {ranks} ranks");
        run.assert_ok(&what);
        let want = format!("file_io: ok, ranks: {ranks}, values: {n}");
        assert!(run.stdout.contains(&want), "{what}:\n{}", run.stdout);
        assert_eq!(std::fs::read(&path).unwrap(), file_io_bytes(n), "{what}");
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn file_io_refuses_reading_past_the_end_and_a_missing_file_with_one_message() {
    let exe = example("file_io");
    let path =
        std::env::temp_dir().join(format!("halo-test-file-io-err-{}.bin", std::process::id()));
    for ranks in [1, 3] {
        // The example asserts that every rank got the same error; rank 0 prints it once.
        let run = mpirun(ranks, &exe, &["5", path.to_str().unwrap()]);
        run.assert_ok(&format!("file_io on {ranks} ranks"));
        let lines: Vec<&str> = run
            .stdout
            .lines()
            .filter(|l| l.starts_with("file_io: past the end: "))
            .collect();
        assert_eq!(lines.len(), 1, "{}", run.stdout);
        // The last rank read 16 bytes 8 bytes before the end of the 48-byte file.
        let want = format!(
            "rank {}: {}: MPI_File_read_at_all: short read: 16 bytes at offset 40 reach past \
             the end of the file (48 bytes)",
            ranks - 1,
            path.display()
        );
        assert!(lines[0].ends_with(&want), "{}", lines[0]);
        let missing = path.with_extension("missing");
        let lines: Vec<&str> = run
            .stdout
            .lines()
            .filter(|l| l.starts_with("file_io: missing file: "))
            .collect();
        assert_eq!(lines.len(), 1, "{}", run.stdout);
        let want = format!("rank 0: {}: MPI_File_open: ", missing.display());
        assert!(lines[0].contains(&want), "{}", lines[0]);
        // OpenMPI says "no such file or directory", MPICH "does not exist".
        let why = lines[0].to_lowercase();
        assert!(
            why.contains("no such file") || why.contains("does not exist"),
            "{}",
            lines[0]
        );
    }
    let _ = std::fs::remove_file(&path);
}
