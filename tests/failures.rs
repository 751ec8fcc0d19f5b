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

/// The name `halo` writes `name` through in a process `pid` on this host: `.NAME.tmp-HOST-PID`.
fn temporary(name: &str, pid: u32) -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into `buf`, which is that long.
    assert_eq!(
        unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) },
        0
    );
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let host: String = String::from_utf8_lossy(&buf[..end])
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect();
    format!(".{name}.tmp-{host}-{pid}")
}

/// The temporary files (of any process) in `dir`.
fn temporaries(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

#[test]
fn temporary_files_of_dead_runs_go_and_those_of_live_ones_stay() {
    // A run killed mid-write (SIGTERM during a checkpoint, --timeout during --out) left
    // .ckpt-N.halo.tmp-PID and .field.pvti.tmp-PID (and pieces' in field/), hundreds of MB, that
    // no later run removed.
    let base = std::env::temp_dir().join(format!("halo-leftovers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (ckpt, out) = (base.join("ckpt"), base.join("out"));
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let me = std::process::id();
    let mut stale = Vec::new();
    let mut live = Vec::new();
    let pieces = out.join("field");
    for (dir, name) in [
        (&ckpt, "ckpt-0000000020.halo"),
        (&out, "field.pvti"),
        (&pieces, "piece-0001.vti"),
    ] {
        std::fs::create_dir_all(dir).unwrap();
        stale.push(dir.join(temporary(name, dead)));
        live.push(dir.join(temporary(name, me)));
    }
    for f in stale.iter().chain(&live) {
        std::fs::write(f, b"half a file").unwrap();
    }
    solve_json(
        2,
        &[
            "--grid",
            "32x32",
            "--iters",
            "20",
            "--checkpoint-every",
            "10",
            "--checkpoint-dir",
            ckpt.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    for f in &stale {
        assert!(!f.exists(), "{} was left", f.display());
    }
    for f in &live {
        assert_eq!(std::fs::read(f).unwrap(), b"half a file", "{}", f.display());
    }
    assert_eq!(checkpoints(&ckpt).len(), 2);
    assert!(out.join("field.pvti").is_file());
    assert!(pieces.join("piece-0001.vti").is_file());
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn a_run_stopped_by_its_watchdog_leaves_no_temporary_files() {
    // Checkpoints every iteration, so that the watchdog may well fire while one is being
    // written; and, to be sure there is one when it fires, a temporary file in rank 0's name in
    // each directory: rank 0 removes its own on the way out.
    let base = std::env::temp_dir().join(format!("halo-watchdog-tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (ckpt, out) = (base.join("ckpt"), base.join("out"));
    let mut job = start_mpirun(
        2,
        &halo_bin(),
        &[
            "solve",
            "--grid",
            "200x200",
            "--iters",
            "100000000",
            "--checkpoint-every",
            "1",
            "--checkpoint-dir",
            ckpt.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            // Time for start-up, the first checkpoint and the planting below on a loaded
            // machine: the test fails, saying so, if the run ends before it is ready.
            "--timeout",
            "15",
            "--quiet",
        ],
    );
    wait_for_checkpoints(&ckpt, 1, &mut job);
    let ranks = Command::new("pgrep")
        .args(["-P", &job.id().to_string()])
        .output()
        .expect("pgrep (procps)");
    let rank0: u32 = String::from_utf8_lossy(&ranks.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .find(|pid: &u32| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                env.split(|&b| b == 0)
                    .any(|v| v == b"OMPI_COMM_WORLD_RANK=0")
            })
        })
        .expect("rank 0 among mpirun's children");
    // A piece's temporary too, in the pieces' own directory.
    std::fs::create_dir_all(out.join("field")).unwrap();
    let planted = [
        ckpt.join(temporary("ckpt-0000099999.halo", rank0)),
        out.join(temporary("field.pvti", rank0)),
        out.join("field").join(temporary("piece-0000.vti", rank0)),
    ];
    for f in &planted {
        std::fs::write(f, b"half a file").unwrap();
    }
    assert!(
        job.try_wait().unwrap().is_none(),
        "the run ended before the test was ready: a loaded machine?"
    );
    let run = job.wait_timeout(Duration::from_secs(60)).unwrap();
    assert!(!run.timed_out, "the watchdog did not stop the run");
    assert_eq!(run.status.code(), Some(5), "{}", run.stderr);
    assert!(!checkpoints(&ckpt).is_empty(), "no checkpoint was written");
    assert_eq!(temporaries(&ckpt), Vec::<String>::new());
    assert_eq!(temporaries(&out), Vec::<String>::new());
    assert_eq!(temporaries(&out.join("field")), Vec::<String>::new());
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn timeouts_beyond_a_year_are_refused_up_front_by_solve_and_scale() {
    // `solve --timeout 1e20` printed its result, then every rank panicked in the watchdog's
    // timer (exit 70); 1e300 panicked the same way but exited 0, with no watchdog at all;
    // `scale --timeout 1e20` panicked with a backtrace (exit 101).
    for t in ["1e20", "1e300", "18446744073709551616", "31536001", "inf"] {
        let run = mpirun(
            2,
            &halo_bin(),
            &["solve", "--grid", "16x16", "--iters", "10", "--timeout", t],
        );
        assert_eq!(run.code, Some(2), "--timeout {t}: {}", run.stderr);
        assert_eq!(
            run.rank_error_lines(),
            [format!(
                "halo: error: invalid value '{t}' for '--timeout <SECONDS>': more than a year \
                 (31536000 s), the most taken: the limit guards a batch allocation, and none \
                 lasts that long (see 'halo --help')"
            )],
            "--timeout {t}"
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert!(!run.stdout.contains("iterations"), "{}", run.stdout);
    }
    // A year itself is taken, and the run ends as any other.
    let run = mpirun(
        2,
        &halo_bin(),
        &[
            "solve",
            "--grid",
            "16x16",
            "--iters",
            "10",
            "--timeout",
            "31536000",
        ],
    );
    run.assert_ok("--timeout of a year");
    assert!(run.stdout.contains("field sha256"), "{}", run.stdout);

    let out = std::env::temp_dir().join(format!("halo-scale-timeout-{}", std::process::id()));
    for t in ["1e20", "1e300", "18446744073709551616"] {
        let run = Command::new(halo_bin())
            .args(["scale", "--ranks", "1", "--grid", "8x8", "--iters", "1"])
            .args(["--out", out.to_str().unwrap(), "--timeout", t])
            .output()
            .expect("run halo scale");
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "--timeout {t}: {err}");
        assert_eq!(err.lines().count(), 1, "--timeout {t}: {err}");
        assert!(
            err.starts_with(&format!(
                "halo: error: invalid value '{t}' for '--timeout <SECONDS>': more than a year"
            )),
            "{err}"
        );
        assert!(!out.exists(), "a refused study started: {}", out.display());
    }
}
