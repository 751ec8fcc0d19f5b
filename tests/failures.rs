//! When things go wrong in a tightly coupled job: a rank that diverges, panics, crashes or is
//! killed, and a run that outlives its time. The whole job must end promptly and say why.

mod common;
use common::{
    checkpoints, halo_bin, mpirun, mpirun_timeout, solve_json, start_mpirun, wait_for_checkpoints,
};
use std::process::Command;
use std::time::Duration;

#[test]
fn nan_in_one_rank_stops_every_rank_with_the_step_rank_and_cell() {
    for problem in ["laplace", "heat", "cavity"] {
        let args = [
            "solve",
            "--problem",
            problem,
            "--grid",
            "40x30",
            "--iters",
            "500",
            "--check-every",
            "1",
            "--procs",
            "2x1",
            "--fault",
            "nan@120:1",
        ];
        let run = mpirun(2, &halo_bin(), &args);
        assert_eq!(run.code, Some(3), "{problem}: {}", run.stderr);
        let lines = run.rank_error_lines();
        assert_eq!(lines.len(), 1, "{problem}: {}", run.stderr);
        // Injected after iteration 120 on rank 1 (columns 20..40), found at the check after 121.
        assert!(
            lines[0].starts_with("halo: error: rank 1: "),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].contains("became NaN by iteration 121, first at cell (row "),
            "{}",
            lines[0]
        );
    }
}

#[test]
fn a_panicking_rank_aborts_the_job_with_its_name() {
    // Without the abort the other ranks would wait for rank 2 for ever, and the run has more
    // iterations than it could finish: within the limit, only the abort can end it. The limit
    // guards promptness, generous for a loaded 2-core machine.
    let run = mpirun_timeout(
        3,
        &halo_bin(),
        &[
            "solve",
            "--grid",
            "90x60",
            "--iters",
            "100000000",
            "--fault",
            "panic@50:2",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, Some(70), "{}", run.stderr);
    let lines = run.rank_error_lines();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].starts_with("halo: rank 2 panicked at "),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("injected fault"), "{}", lines[0]);
    assert!(!run.stderr.contains("stack backtrace"), "{}", run.stderr);
}

#[test]
fn a_killed_rank_ends_the_job_promptly_and_its_checkpoint_restarts() {
    let dir = std::env::temp_dir().join(format!("halo-kill9-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().unwrap().to_string();
    let mut job = start_mpirun(
        3,
        &halo_bin(),
        &[
            "solve",
            "--grid",
            "150x120",
            "--iters",
            "100000000",
            "--checkpoint-every",
            "400",
            "--checkpoint-dir",
            &d,
            "--quiet",
        ],
    );
    wait_for_checkpoints(&dir, 2, &mut job);
    // kill -9 one rank: a process of mpirun's that is not mpirun.
    let out = Command::new("pgrep")
        .args(["-P", &job.id().to_string()])
        .output()
        .expect("pgrep (procps)");
    let pids: Vec<i32> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(pids.len(), 3, "the three ranks");
    // SAFETY: kill(2) on a process this test started.
    unsafe { libc::kill(pids[1], libc::SIGKILL) };
    // The run would go on for ever: the limit guards that mpirun ends the job promptly when a
    // rank dies, generous for a loaded 2-core machine.
    let run = job.wait_timeout(Duration::from_secs(60)).unwrap();
    assert!(
        !run.timed_out,
        "the job was still running 60 s after a rank was killed"
    );
    assert!(!run.status.success());
    assert!(
        run.stderr.contains("exited on signal 9"),
        "mpirun should name the killed rank:\n{}",
        run.stderr
    );

    // The newest checkpoint is whole, and resuming from it gives the uninterrupted result.
    let newest = checkpoints(&dir).last().unwrap().clone();
    let at: usize = newest
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("ckpt-")
        .parse()
        .unwrap();
    let end = (at + 300).to_string();
    let resumed = solve_json(2, &["--grid", "150x120", "--iters", &end, "--restart", &d]);
    let straight = solve_json(4, &["--grid", "150x120", "--iters", &end]);
    assert_eq!(resumed["field_sha256"], straight["field_sha256"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_watchdog_stops_a_run_that_outlives_its_timeout() {
    // A run of --timeout 2 that could not finish by itself; the limit guards that the watchdog
    // stops it promptly, generous for a loaded 2-core machine.
    let run = mpirun_timeout(
        2,
        &halo_bin(),
        &[
            "solve",
            "--grid",
            "1024x1024",
            "--iters",
            "100000000",
            "--timeout",
            "2",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, Some(5), "{}", run.stderr);
    let lines = run.rank_error_lines();
    assert_eq!(lines, ["halo: error: --timeout 2 s exceeded; stopping the whole job (checkpoints already written are intact)"]);
    // A bad limit is refused like any bad option.
    let run = mpirun(2, &halo_bin(), &["solve", "--timeout", "0"]);
    assert_eq!(run.code, Some(2));
    let run = mpirun(2, &halo_bin(), &["solve", "--fault", "melt@3"]);
    assert_eq!(run.code, Some(2));
    assert!(run.rank_error_lines()[0].contains("is not a fault"));
}

#[test]
fn a_checkpoint_is_never_written_of_a_blown_up_state() {
    // NaN on rank 1 after iteration 40, where a checkpoint is due: the run must stop there,
    // naming the cell, and leave the checkpoint of iteration 20 the newest.
    let dir = std::env::temp_dir().join(format!("halo-nan-ckpt-{}", std::process::id()));
    let d = dir.to_str().unwrap();
    let run = mpirun(
        2,
        &halo_bin(),
        &[
            "solve",
            "--grid",
            "40x30",
            "--iters",
            "100",
            "--procs",
            "2x1",
            "--checkpoint-every",
            "20",
            "--checkpoint-dir",
            d,
            "--fault",
            "nan@40:1",
        ],
    );
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    let lines = run.rank_error_lines();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].contains("became NaN by iteration 40, first at cell (row "),
        "{}",
        lines[0]
    );
    let names: Vec<String> = checkpoints(&dir)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["ckpt-0000000020.halo"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_that_finished_is_a_success_whatever_its_timeout() {
    // --timeout shorter than the run's start-up: the run printed its whole result and hash,
    // then "--timeout 0.01 s exceeded" and exit 5. Around the run's own length, either the
    // result stands (exit 0, nothing about a timeout) or the timeout does (exit 5, its one
    // line, no result); never both.
    let timeout_line = |t: &str| {
        format!("halo: error: --timeout {t} s exceeded; stopping the whole job (checkpoints already written are intact)")
    };
    for t in ["0.01", "0.02", "0.05", "0.1", "0.2", "0.5"] {
        let run = mpirun(
            2,
            &halo_bin(),
            &["solve", "--grid", "64x64", "--timeout", t],
        );
        let finished = run.stdout.contains("field sha256");
        let lines = run.rank_error_lines();
        if finished {
            assert_eq!(
                run.code,
                Some(0),
                "--timeout {t}: {}\n{}",
                run.stdout,
                run.stderr
            );
            assert!(
                lines.is_empty(),
                "--timeout {t}: {}\n{}",
                run.stdout,
                run.stderr
            );
        } else {
            assert_eq!(
                run.code,
                Some(5),
                "--timeout {t}: {}\n{}",
                run.stdout,
                run.stderr
            );
            assert_eq!(lines, [timeout_line(t)], "--timeout {t}");
            assert!(!run.stdout.contains("iterations"), "{}", run.stdout);
        }
    }
    // A limit the run keeps well within: the result, exit 0.
    let run = mpirun(
        2,
        &halo_bin(),
        &["solve", "--grid", "64x64", "--timeout", "600"],
    );
    run.assert_ok("a run well within its timeout");
    assert!(run.stdout.contains("field sha256"));
}
