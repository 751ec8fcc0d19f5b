//! Checkpoint and restart: a killed run resumes on another rank count and ends exactly where an
//! uninterrupted run does; damaged or foreign checkpoints are refused.

mod common;
use common::{
    checkpoints, halo_bin, mpirun, newest_checkpoint, solve_json, start_mpirun,
    wait_for_checkpoints,
};
use std::path::PathBuf;
use std::time::Duration;

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("halo-ckpt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn a_killed_run_restarts_on_another_rank_count_and_ends_bit_for_bit_the_same() {
    let dir = temp("kill");
    let d = dir.to_str().unwrap();
    // A long run on 2 ranks, checkpointing every 500 iterations; stopped from outside (as a
    // scheduler does, with SIGTERM to mpirun) once two checkpoints exist.
    let mut job = start_mpirun(
        2,
        &halo_bin(),
        &[
            "solve",
            "--grid",
            "200x150",
            "--iters",
            "10000000",
            "--checkpoint-every",
            "500",
            "--checkpoint-dir",
            d,
            "--quiet",
        ],
    );
    wait_for_checkpoints(&dir, 2, &mut job);
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(job.id() as libc::pid_t, libc::SIGTERM) };
    let run = job.wait_timeout(Duration::from_secs(120)).unwrap();
    assert!(
        !run.timed_out,
        "mpirun did not stop within 2 minutes of SIGTERM"
    );
    assert!(!run.status.success(), "the job should have been stopped");
    let (at, name) = newest_checkpoint(&dir);
    // The ranks caught the SIGTERM mpirun passed on, finished their pass and wrote a last
    // checkpoint where they stopped (between the regular ones), and rank 0 said so.
    let said = format!("halo: stopped by SIGTERM after iteration {at} of 10000000; checkpoint {d}/{name} is complete: resume with --restart {d}");
    assert!(
        run.stderr.contains(&said),
        "expected {said:?} in:\n{}",
        run.stderr
    );
    let others = std::fs::read_dir(&dir).unwrap().count() - checkpoints(&dir).len();
    assert_eq!(others, 0, "temporary files left in {d}");
    let end = (at + 700).to_string();

    // Resume on 3 ranks with passes of 3 sweeps on tiles (ghost width 3, so the first period
    // after the restart is cut short), to the same end as an uninterrupted 1-rank run.
    let resumed = solve_json(
        3,
        &[
            "--grid",
            "200x150",
            "--iters",
            &end,
            "--restart",
            d,
            "--time-block",
            "3",
        ],
    );
    assert_eq!(resumed["restarted_from"].as_u64(), Some(at as u64));
    assert_eq!(resumed["iters"].as_u64(), Some(at as u64 + 700));
    let straight = solve_json(1, &["--grid", "200x150", "--iters", &end]);
    assert_eq!(resumed["field_sha256"], straight["field_sha256"]);
    assert_eq!(resumed["residual"], straight["residual"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_sigterm_to_one_rank_stops_all_at_the_next_pass_with_a_checkpoint() {
    let dir = temp("term");
    let d = dir.to_str().unwrap();
    // Rank 2 alone gets SIGTERM after iteration 1234 (a pass ends there for the fault). The ranks
    // learn of it after the next pass: there, between the regular checkpoints at 1000 and 2000,
    // every rank stops and the last checkpoint is written.
    let run = mpirun(
        3,
        &halo_bin(),
        &[
            "solve",
            "--grid",
            "120x90",
            "--iters",
            "5000",
            "--checkpoint-every",
            "1000",
            "--checkpoint-dir",
            d,
            "--fault",
            "term@1234:2",
        ],
    );
    assert_eq!(run.code, Some(143), "{}", run.stderr);
    let (at, name) = newest_checkpoint(&dir);
    assert!(at > 1234 && at < 2000, "stopped at {at}");
    let said = format!("halo: stopped by SIGTERM after iteration {at} of 5000; checkpoint {d}/{name} is complete: resume with --restart {d}");
    assert_eq!(run.rank_error_lines(), [said.as_str()], "{}", run.stderr);
    assert_eq!(checkpoints(&dir).len(), 2, "1000 and {at}");
    let resumed = solve_json(2, &["--grid", "120x90", "--iters", "1700", "--restart", d]);
    assert_eq!(resumed["restarted_from"].as_u64(), Some(at as u64));
    let straight = solve_json(1, &["--grid", "120x90", "--iters", "1700"]);
    assert_eq!(resumed["field_sha256"], straight["field_sha256"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_problem_restarts_exactly_on_other_process_grids() {
    for problem in ["poisson", "heat", "cavity"] {
        let dir = temp(problem);
        let d = dir.to_str().unwrap();
        let base = ["--problem", problem, "--grid", "41x33"];
        let mut first = base.to_vec();
        first.extend_from_slice(&[
            "--iters",
            "130",
            "--checkpoint-every",
            "60",
            "--checkpoint-dir",
            d,
            "--procs",
            "2x2",
        ]);
        if problem != "cavity" {
            // Passes of 7 sweeps must still stop at the checkpoints.
            first.extend_from_slice(&["--time-block", "7"]);
        }
        solve_json(4, &first);
        assert_eq!(
            checkpoints(&dir).len(),
            2,
            "{problem}: checkpoints at 60 and 120"
        );
        let mut again = base.to_vec();
        again.extend_from_slice(&["--iters", "200", "--restart", d, "--procs", "1x2"]);
        let resumed = solve_json(2, &again);
        assert_eq!(resumed["restarted_from"].as_u64(), Some(120), "{problem}");
        let mut straight = base.to_vec();
        straight.extend_from_slice(&["--iters", "200"]);
        let straight = solve_json(1, &straight);
        assert_eq!(
            resumed["field_sha256"], straight["field_sha256"],
            "{problem}"
        );
        assert_eq!(resumed["time"], straight["time"], "{problem}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Runs `halo solve ARGS` on 2 ranks and expects one error line saying `says`.
fn refused(args: &[&str], says: &str) {
    let mut all = vec!["solve"];
    all.extend_from_slice(args);
    let run = mpirun(2, &halo_bin(), &all);
    assert_ne!(run.code, Some(0), "{args:?} was accepted");
    let lines = run.rank_error_lines();
    assert_eq!(lines.len(), 1, "{args:?}: {}", run.stderr);
    assert!(lines[0].contains(says), "{args:?}: {}", lines[0]);
}

/// Checkpoints of heat on 30x20 at iterations 20 and 40 into `dir`: the newest's path and
/// bytes.
fn heat_checkpoints(dir: &str) -> (PathBuf, Vec<u8>) {
    solve_json(
        2,
        &[
            "--problem",
            "heat",
            "--grid",
            "30x20",
            "--iters",
            "40",
            "--checkpoint-every",
            "20",
            "--checkpoint-dir",
            dir,
        ],
    );
    let newest = checkpoints(std::path::Path::new(dir))
        .last()
        .unwrap()
        .clone();
    let good = std::fs::read(&newest).unwrap();
    (newest, good)
}

#[test]
fn damaged_and_foreign_checkpoints_are_refused() {
    let dir = temp("refuse");
    let d = dir.to_str().unwrap();
    let (newest, good) = heat_checkpoints(d);

    // A restart from `d` of `problem` on `grid` to `iters`, with `extra` options, refused.
    let restart = |problem: &str, grid: &str, iters: &str, extra: &[&str], says: &str| {
        let mut args = vec![
            "--problem",
            problem,
            "--grid",
            grid,
            "--iters",
            iters,
            "--restart",
            d,
        ];
        args.extend_from_slice(extra);
        refused(&args, says);
    };
    restart(
        "laplace",
        "30x20",
        "90",
        &[],
        "the checkpoint is of heat on 30x20, this run is laplace on 30x20",
    );
    restart("heat", "30x21", "90", &[], "this run is heat on 30x21");
    restart(
        "heat",
        "30x20",
        "90",
        &["--alpha", "2"],
        "the checkpoint was made with alpha 1",
    );
    restart("heat", "30x20", "40", &[], "already at iteration 40");

    std::fs::write(&newest, &good[..good.len() - 100]).unwrap();
    restart("heat", "30x20", "90", &[], "truncated");
    let mut bad = good.clone();
    let k = bad.len() - 10;
    bad[k] ^= 1;
    std::fs::write(&newest, &bad).unwrap();
    restart("heat", "30x20", "90", &[], "corrupted");
    // Never silently used: the damaged file is still there, untouched, and still refused.
    assert_eq!(std::fs::read(&newest).unwrap(), bad);
    std::fs::write(&newest, &good).unwrap();
    let ok = solve_json(
        2,
        &[
            "--problem",
            "heat",
            "--grid",
            "30x20",
            "--iters",
            "90",
            "--restart",
            d,
        ],
    );
    assert_eq!(ok["restarted_from"].as_u64(), Some(40));

    let empty = temp("empty");
    std::fs::create_dir_all(&empty).unwrap();
    refused(
        &["--iters", "10", "--restart", empty.to_str().unwrap()],
        "no checkpoint here",
    );
    refused(
        &["--iters", "10", "--checkpoint-every", "5"],
        "--checkpoint-dir",
    );
    refused(
        &[
            "--iters",
            "10",
            "--checkpoint-every",
            "5",
            "--checkpoint-dir",
            "/proc/halo-no",
        ],
        "/proc/halo-no",
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&empty);
}

#[test]
fn a_checkpoint_with_a_changed_header_or_of_format_1_is_refused() {
    // One bit of "iters":20 flipped so that it reads 30: format 1's checksum covered the data
    // only, and the run "restarted from the checkpoint at iteration 30", exit 0, another field.
    let dir = temp("header");
    let d = dir.to_str().unwrap();
    solve_json(
        2,
        &[
            "--grid",
            "60x60",
            "--iters",
            "30",
            "--checkpoint-every",
            "20",
            "--checkpoint-dir",
            d,
        ],
    );
    let file = dir.join("ckpt-0000000020.halo");
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes
        .windows(10)
        .position(|w| w == b"\"iters\":20")
        .expect("the header names its iteration")
        + 8;
    bytes[at] ^= 1;
    assert_eq!(&bytes[at - 8..at + 2], b"\"iters\":30");
    std::fs::write(&file, &bytes).unwrap();
    let restart = ["solve", "--grid", "60x60", "--iters", "100", "--restart", d];
    let run = mpirun(2, &halo_bin(), &restart);
    assert_eq!(run.code, Some(4), "{}\n{}", run.stdout, run.stderr);
    let lines = run.rank_error_lines();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(lines[0].contains(file.to_str().unwrap()), "{}", lines[0]);
    assert!(lines[0].contains("not a usable checkpoint"), "{}", lines[0]);
    assert!(!run.stdout.contains("restarted"), "{}", run.stdout);

    // A checkpoint of the format before, which nothing can verify, is refused, saying what to do.
    std::fs::write(&file, b"HALO-CHECKPOINT 1\n{\"iters\":20}\n").unwrap();
    let run = mpirun(2, &halo_bin(), &restart);
    assert_eq!(run.code, Some(4), "{}\n{}", run.stdout, run.stderr);
    let lines = run.rank_error_lines();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(lines[0].contains(file.to_str().unwrap()), "{}", lines[0]);
    assert!(
        lines[0].contains("checkpoint format 1") && lines[0].contains("run again from the start"),
        "{}",
        lines[0]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A run whose last checkpoint is where it stopped (converged, or stalled) restarts to the same
/// end, not past it: the driver's own state travels in the checkpoint.
#[test]
fn a_restart_stops_where_the_uninterrupted_run_stopped() {
    // Laplace converges at a check that is also a checkpoint: 196 = 7 × 28.
    let dir = temp("converged");
    let d = dir.to_str().unwrap();
    let run = [
        "--grid",
        "32x32",
        "--iters",
        "1000",
        "--tol",
        "1e-3",
        "--check-every",
        "7",
    ];
    let mut first = run.to_vec();
    first.extend_from_slice(&["--checkpoint-every", "28", "--checkpoint-dir", d]);
    let straight = solve_json(2, &first);
    assert_eq!(straight["converged"], true, "{straight}");
    let end = straight["iters"].as_u64().unwrap();
    assert!(
        end.is_multiple_of(28),
        "the test needs convergence on a checkpoint: {end}"
    );
    assert_eq!(
        checkpoints(&dir)
            .last()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy(),
        format!("ckpt-{end:010}.halo")
    );
    let mut again = run.to_vec();
    again.extend_from_slice(&["--restart", d]);
    let resumed = solve_json(3, &again);
    assert_eq!(resumed["iters"], straight["iters"], "{resumed}");
    assert_eq!(resumed["converged"], true);
    assert_eq!(resumed["residual"], straight["residual"]);
    assert_eq!(resumed["field_sha256"], straight["field_sha256"]);
    // Another tolerance is another run: refused, not continued as if it were the same.
    let mut other = run.to_vec();
    other[5] = "2e-3";
    other.extend_from_slice(&["--restart", d]);
    refused(
        &other,
        "the checkpoint was made with tol 0.001, check_every 7",
    );
    let _ = std::fs::remove_dir_all(&dir);

    // The cavity stalls (see tests/cavity.rs) at some step; restarted from a checkpoint before
    // that, it must stall at the same step with the same field, its stall history restored.
    // Its Anderson acceleration restarts its own history at every checkpoint, so the resumed
    // run checkpoints at the same interval to go on exactly as the uninterrupted one.
    let dir = temp("stalled");
    let d = dir.to_str().unwrap();
    let cavity = [
        "--problem",
        "cavity",
        "--re",
        "1e4",
        "--grid",
        "31x31",
        "--json",
    ];
    let mut first = vec!["solve"];
    first.extend_from_slice(&cavity);
    first.extend_from_slice(&["--checkpoint-every", "5000", "--checkpoint-dir", d]);
    let straight = mpirun(2, &halo_bin(), &first);
    assert_eq!(straight.code, Some(6), "{}", straight.stderr);
    let straight = straight.json();
    let stalled = straight["stalled_at"].as_u64().unwrap();
    // Keep only the checkpoints from before the stall, as if the job had died there.
    for c in checkpoints(&dir) {
        let name = c.file_name().unwrap().to_string_lossy().into_owned();
        let at: u64 = name[5..15].parse().unwrap();
        if at >= stalled - stalled % 5000 && at > 5000 {
            std::fs::remove_file(&c).unwrap();
        }
    }
    let mut again = vec!["solve"];
    again.extend_from_slice(&cavity);
    again.extend_from_slice(&["--checkpoint-every", "5000", "--checkpoint-dir", d]);
    again.extend_from_slice(&["--restart", d]);
    let resumed = mpirun(3, &halo_bin(), &again);
    assert_eq!(resumed.code, Some(6), "{}", resumed.stderr);
    let resumed = resumed.json();
    assert!(resumed["restarted_from"].as_u64().unwrap() < stalled);
    assert_eq!(resumed["stalled_at"], straight["stalled_at"], "{resumed}");
    assert_eq!(resumed["field_sha256"], straight["field_sha256"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A restart of heat 30x20 to iteration 90 from `dir` on 2 ranks, under `ulimit -v` of 2 GiB
/// (mpirun and every rank) so that reading a file without end cannot take the machine's memory,
/// ended (and the test failed) after a minute: a hang guard.
fn restart_bounded(dir: &std::path::Path) -> common::Run {
    let mpirun = common::mpirun_command(
        2,
        &halo_bin(),
        &[
            "solve",
            "--problem",
            "heat",
            "--grid",
            "30x20",
            "--iters",
            "90",
            "--json",
            "--restart",
            dir.to_str().unwrap(),
        ],
    );
    let mut cmd = common::under_ulimit(&mpirun, 2_097_152);
    common::run_guarded(&mut cmd, Duration::from_secs(60), "the restart")
}

#[test]
fn only_regular_checkpoint_files_are_read_and_only_as_long_as_their_header_says() {
    let dir = temp("regular");
    let d = dir.to_str().unwrap();
    let (newest, good) = heat_checkpoints(d);
    // Refused with exit 4 and one line naming the file and saying `says`.
    let refused_as = |file: &std::path::Path, says: &str| {
        let run = restart_bounded(&dir);
        assert_eq!(run.code, Some(4), "{says}:\n{}\n{}", run.stdout, run.stderr);
        let lines = run.rank_error_lines();
        assert_eq!(
            lines,
            [format!(
                "halo: error: rank 0: {}: not a usable checkpoint: {says}",
                file.display()
            )]
        );
    };

    // A newer "checkpoint" linked to /dev/zero was read until the memory ran out; a FIFO waited
    // for a writer until --timeout (here, the hang guard); a directory was read as a file.
    let planted = dir.join("ckpt-9999999999.halo");
    std::os::unix::fs::symlink("/dev/zero", &planted).unwrap();
    refused_as(
        &planted,
        "it is a symbolic link to a character device, not a regular file",
    );
    std::fs::remove_file(&planted).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&planted)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    refused_as(&planted, "it is a FIFO (named pipe), not a regular file");
    std::fs::remove_file(&planted).unwrap();
    std::fs::create_dir(&planted).unwrap();
    refused_as(&planted, "it is a directory, not a regular file");
    std::fs::remove_dir(&planted).unwrap();

    // A checkpoint padded to a terabyte (sparse: no disk is used) was read whole into memory;
    // its size is now checked against its header before its data is read.
    let header_line = good.split(|&b| b == b'\n').nth(1).unwrap();
    let header: serde_json::Value = serde_json::from_slice(header_line).unwrap();
    let data = header["data_offset"].as_u64().unwrap();
    assert_eq!(data % 4096, 0, "{header}");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&newest)
        .unwrap();
    f.set_len(1 << 40).unwrap();
    drop(f);
    refused_as(
        &newest,
        &format!(
            "it is truncated or padded: {} bytes of data where its header says {}",
            (1u64 << 40) - data,
            good.len() as u64 - data
        ),
    );
    std::fs::write(&newest, &good).unwrap();

    // A symbolic link to a regular checkpoint is followed, and checked as the file itself.
    let elsewhere = temp("regular-elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let moved = elsewhere.join(newest.file_name().unwrap());
    std::fs::rename(&newest, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &newest).unwrap();
    let run = restart_bounded(&dir);
    run.assert_ok("a restart through a symbolic link to a checkpoint");
    let json = run.json();
    assert_eq!(json["restarted_from"].as_u64(), Some(40), "{json}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&elsewhere);
}

#[test]
fn a_directory_of_another_runs_checkpoints_is_refused() {
    let dir = temp("mixed");
    let d = dir.to_str().unwrap();
    let ckpt = [
        "--grid",
        "30x20",
        "--iters",
        "40",
        "--checkpoint-every",
        "10",
    ];
    let mut laplace = ckpt.to_vec();
    laplace.extend_from_slice(&["--checkpoint-dir", d]);
    solve_json(2, &laplace);
    let before: Vec<_> = checkpoints(&dir)
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let mut poisson = vec!["--problem", "poisson"];
    poisson.extend_from_slice(&laplace);
    refused(
        &poisson,
        "it holds checkpoints of another run (laplace on 30x20), up to iteration 40",
    );
    let after: Vec<_> = checkpoints(&dir)
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert_eq!(before, after, "the other run's checkpoints were touched");
    // The same run again into its own directory is fine.
    solve_json(2, &laplace);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The checkpoint of a field several bands tall (70001 columns: 7 rows a band), written by 3
/// ranks as 3x1, 4 ranks as 2x2 and 1 rank, is the same file to the byte: the format knows
/// nothing of the decomposition. Restarts on other rank counts and process grids end on the
/// uninterrupted run's bits, a damaged band is named, and `--checkpoint-keep` keeps the newest.
#[test]
fn parallel_checkpoints_are_one_file_whatever_wrote_them() {
    let base = [
        "--grid",
        "70001x23",
        "--iters",
        "20",
        "--checkpoint-every",
        "10",
    ];
    let mut files = Vec::new();
    let mut digests = Vec::new();
    for (ranks, procs) in [(3, "3x1"), (4, "2x2"), (1, "1x1")] {
        let dir = temp(&format!("bands-{ranks}"));
        let mut args = base.to_vec();
        args.extend_from_slice(&["--checkpoint-dir", dir.to_str().unwrap(), "--procs", procs]);
        args.extend_from_slice(&["--checkpoint-keep", "1"]);
        let run = solve_json(ranks, &args);
        let kept = checkpoints(&dir);
        assert_eq!(kept.len(), 1, "{procs}: {kept:?}");
        assert!(kept[0].ends_with("ckpt-0000000020.halo"), "{kept:?}");
        // Two written (the first pruned), their bytes counted, no restart read.
        let io = &run["checkpoint_io"];
        let size = std::fs::metadata(&kept[0]).unwrap().len();
        assert_eq!(io["written"].as_u64(), Some(2), "{io}");
        assert_eq!(io["bytes_written"].as_u64(), Some(2 * size), "{io}");
        assert!(io["write_seconds"].as_f64().unwrap() > 0.0, "{io}");
        assert_eq!(io["bytes_read"].as_u64(), Some(0), "{io}");
        digests.push((run["field_digest"].clone(), run["field_sha256"].clone()));
        files.push((dir, std::fs::read(&kept[0]).unwrap()));
    }
    // The band digest, hashed where the bands are, is as independent of the ranks as the file.
    assert!(digests[0].0.as_str().is_some_and(|d| d.len() == 64));
    assert_ne!(digests[0].0, digests[0].1);
    assert!(digests.iter().all(|d| *d == digests[0]), "{digests:?}");
    let bytes = &files[0].1;
    assert!(bytes.len() > 8 * 70001 * 23);
    for (dir, other) in &files[1..] {
        assert!(
            other == bytes,
            "{} differs from the 3-rank file",
            dir.display()
        );
    }

    let dir = &files[0].0;
    let d = dir.to_str().unwrap();
    let straight = solve_json(1, &["--grid", "70001x23", "--iters", "35"]);
    for (ranks, procs) in [(2, "1x2"), (4, "4x1"), (5, "auto")] {
        let mut args = vec!["--grid", "70001x23", "--iters", "35", "--restart", d];
        if procs != "auto" {
            args.extend_from_slice(&["--procs", procs]);
        }
        let resumed = solve_json(ranks, &args);
        assert_eq!(resumed["restarted_from"].as_u64(), Some(20));
        let io = &resumed["checkpoint_io"];
        assert_eq!(io["bytes_read"].as_u64(), Some(bytes.len() as u64), "{io}");
        assert_eq!(io["written"].as_u64(), Some(0), "{io}");
        assert_eq!(
            resumed["field_sha256"], straight["field_sha256"],
            "{ranks} as {procs}"
        );
    }

    // One byte of the third band (rows 14–20) changed: refused, naming the band, on every rank.
    let file = checkpoints(dir).pop().unwrap();
    let header_line = bytes.split(|&b| b == b'\n').nth(1).unwrap();
    let header: serde_json::Value = serde_json::from_slice(header_line).unwrap();
    assert_eq!(header["band_rows"].as_u64(), Some(7), "{header}");
    let data = header["data_offset"].as_u64().unwrap() as usize;
    let mut bad = bytes.clone();
    bad[data + 8 * 70001 * 14 + 1000] ^= 0x10;
    std::fs::write(&file, &bad).unwrap();
    refused(
        &["--grid", "70001x23", "--iters", "35", "--restart", d],
        "not a usable checkpoint: band 2 of field u (rows 14–20 of 23) does not match its checksum (corrupted)",
    );
    // Cut inside the data: refused before any band is read.
    std::fs::write(&file, &bytes[..bytes.len() - 8 * 70001]).unwrap();
    refused(
        &["--grid", "70001x23", "--iters", "35", "--restart", d],
        "truncated or padded",
    );
    refused(&["--checkpoint-keep", "1"], "--checkpoint-every");
    refused(
        &[
            "--iters",
            "10",
            "--checkpoint-every",
            "5",
            "--checkpoint-dir",
            d,
            "--checkpoint-keep",
            "0",
        ],
        "must be at least 1",
    );
    for (dir, _) in files {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
