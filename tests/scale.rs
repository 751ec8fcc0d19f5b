//! `halo scale` end to end: it launches real mpirun jobs itself and writes CSV, JSON and a plot.

mod common;
use common::{halo_bin, mpirun_path, python};
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("halo-scale-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn scale(args: &[&str]) -> Output {
    mpirun_path(); // fail clearly when OpenMPI is missing
    Command::new(halo_bin())
        .arg("scale")
        .args(args)
        .output()
        .expect("run halo scale")
}

/// Runs `halo scale ARGS` and asserts it succeeded, showing its output otherwise.
fn scale_ok(args: &[&str]) -> Output {
    let out = scale(args);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn read_results(dir: &Path) -> (Vec<Vec<String>>, Value) {
    let csv = std::fs::read_to_string(dir.join("scaling.csv")).expect("scaling.csv");
    let rows: Vec<Vec<String>> = csv
        .lines()
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("scaling.json")).unwrap()).unwrap();
    (rows, json)
}

/// Checks the figures a study derives against the points' own times, recomputed here: speed-up
/// and efficiency relative to the first point, the rate from the grid and the iterations asked,
/// and times that fit in the wall time of the study that measured them.
fn assert_derived(json: &Value, iters: f64, wall: Duration) {
    let points = json["points"].as_array().unwrap();
    let weak = json["mode"] == "weak";
    let t0 = points[0]["seconds"].as_f64().unwrap();
    let k0 = points[0]["ranks"].as_f64().unwrap();
    let mut total = 0.0;
    for p in points {
        let (k, t) = (p["ranks"].as_f64().unwrap(), p["seconds"].as_f64().unwrap());
        let (speedup, efficiency) = if weak {
            (k * t0 / t, t0 / t)
        } else {
            (k0 * t0 / t, k0 * t0 / t / k)
        };
        let close = |key: &str, want: f64| {
            let got = p[key].as_f64().unwrap();
            assert!(
                (got - want).abs() <= 1e-12 * want,
                "{key} {got}, want {want}: {p}"
            );
        };
        close("speedup", speedup);
        close("efficiency", efficiency);
        let cells = p["nx"].as_f64().unwrap() * p["ny"].as_f64().unwrap();
        close("mcells_per_s", cells * iters / t / 1e6);
        // Of one or two runs the median is the mean, and the runs took turns.
        total += t * p["runs"].as_f64().unwrap();
    }
    assert!(
        total <= wall.as_secs_f64(),
        "{total} s of loop time in a study of {wall:?}"
    );
}

fn assert_plot(dir: &Path) {
    let script = "import sys\nfrom PIL import Image\nim = Image.open(sys.argv[1]); im.load()\nprint(im.format, im.size)";
    let png = dir.join("scaling.png");
    assert_eq!(
        python(&["PIL"], script, &[png.to_str().unwrap()]),
        "PNG (1100, 460)\n"
    );
}

#[test]
fn strong_scaling_on_1_2_4_ranks() {
    let dir = out_dir("strong");
    let start = Instant::now();
    let out = scale_ok(&[
        "--ranks",
        "1,2,4",
        "--mode",
        "strong",
        "--grid",
        "96x64",
        "--iters",
        "40",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let wall = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (rows, json) = read_results(&dir);
    assert_eq!(rows[0][..6], ["ranks", "px", "py", "nx", "ny", "seconds"]);
    assert_eq!(rows.len(), 4, "a header and one row per rank count");
    let ranks: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ranks, ["1", "2", "4"]);
    let points = json["points"].as_array().unwrap();
    assert_eq!(points.len(), 3);
    for p in points {
        assert_eq!(p["status"], "ok");
        assert_eq!((p["nx"].as_u64(), p["ny"].as_u64()), (Some(96), Some(64)));
        assert_eq!(
            p["px"].as_u64().unwrap() * p["py"].as_u64().unwrap(),
            p["ranks"].as_u64().unwrap()
        );
    }
    assert_eq!(points[0]["speedup"].as_f64(), Some(1.0));
    assert_derived(&json, 40.0, wall);
    assert_eq!(json["mode"], "strong");
    // Every point has its largest rank's peak memory: at least that rank's two arrays (the 1-rank
    // run holds the whole grid), less than a workstation's memory; the CSV and table show it.
    let column = rows[0].iter().position(|h| h == "peak_rss_bytes");
    let column = column.expect("a peak_rss_bytes column");
    for (p, row) in points.iter().zip(&rows[1..]) {
        let peak = p["peak_rss_bytes"]
            .as_u64()
            .unwrap_or_else(|| panic!("{p}"));
        let cells = 96 * 64 / p["ranks"].as_u64().unwrap();
        assert!(peak > cells * 8 * 2 && peak < 4 << 30, "{p}");
        assert_eq!(row[column], peak.to_string());
    }
    let header = stdout.lines().find(|l| l.starts_with("ranks "));
    assert!(
        header.is_some_and(|h| h.contains("comm share  peak MiB")),
        "{stdout}"
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 4 {
        assert!(
            stdout.contains(&format!("oversubscribed (4 ranks on {cores} cores)")),
            "{stdout}"
        );
    }
    assert_plot(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn weak_scaling_grows_the_grid_with_the_ranks() {
    let dir = out_dir("weak");
    let start = Instant::now();
    scale_ok(&[
        "--ranks",
        "1,2,4",
        "--mode",
        "weak",
        "--grid",
        "40x30",
        "--iters",
        "30",
        "--repeat",
        "2",
        "--problem",
        "heat",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let wall = start.elapsed();
    let (rows, json) = read_results(&dir);
    assert_eq!(rows.len(), 4);
    for p in json["points"].as_array().unwrap() {
        let k = p["ranks"].as_u64().unwrap();
        // Every rank owns one whole 40x30 block.
        assert_eq!(
            p["nx"].as_u64().unwrap() * p["ny"].as_u64().unwrap(),
            k * 40 * 30,
            "{p}"
        );
        assert_eq!(p["nx"].as_u64().unwrap(), 40 * p["px"].as_u64().unwrap());
        assert_eq!(p["runs"].as_u64(), Some(2));
    }
    assert_eq!(json["mode"], "weak");
    assert_derived(&json, 30.0, wall);
    assert_plot(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_or_timed_out_point_fails_the_study_and_the_others_are_written() {
    let dir = out_dir("fail");
    // 3 ranks cannot split a 2x2 grid; 1 and 2 can.
    let out = scale(&[
        "--ranks",
        "1,3,2",
        "--grid",
        "2x2",
        "--iters",
        "5",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // One line for the failed point, then the summary, last.
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("failed")).collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("scale: 3 ranks failed: exit 2: halo: error: 3 ranks cannot split"),
        "{err}"
    );
    assert_eq!(
        err.lines().last(),
        Some(
            format!(
                "halo: error: 1 of 3 rank counts failed (3); the 2 measured are in {}",
                dir.display()
            )
            .as_str()
        )
    );
    // What succeeded is still written, and drawn.
    let (rows, json) = read_results(&dir);
    assert_eq!(rows.len(), 4);
    let p = json["points"].as_array().unwrap();
    // Run in increasing order: 1, 2, 3.
    assert_eq!(p[0]["status"], "ok");
    assert_eq!(p[1]["status"], "ok");
    assert!(
        p[2]["status"]
            .as_str()
            .unwrap()
            .starts_with("exit 2: halo: error: 3 ranks cannot split"),
        "{}",
        p[2]
    );
    assert!(p[2]["seconds"].is_null());
    assert!(rows[3].last().unwrap().contains("exit 2"));
    assert_plot(&dir);

    // A run that outlives --timeout is stopped, job and all. The bound guards that the stop is
    // prompt (the run itself would never end), generous for a loaded 2-core machine.
    let start = Instant::now();
    let out = scale(&[
        "--ranks",
        "2",
        "--grid",
        "512x512",
        "--iters",
        "100000000",
        "--timeout",
        "1",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "took {:?}",
        start.elapsed()
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("\nscale: 2 ranks failed: timed out after 1 s\n"),
        "{err}"
    );
    assert_eq!(
        err.lines().last(),
        Some(
            format!(
                "halo: error: every rank count failed (2): nothing measured, no plot (see {})",
                dir.join("scaling.csv").display()
            )
            .as_str()
        )
    );
    let (_, json) = read_results(&dir);
    assert_eq!(json["points"][0]["status"], "timed out after 1 s");
    // No empty plot, and not the previous study's either.
    assert!(!dir.join("scaling.png").exists());
    // And none of its ranks lives on.
    let exe = halo_bin().canonicalize().unwrap();
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| std::fs::read_link(e.path().join("exe")).is_ok_and(|p| p == exe))
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("512x512") && c.contains("100000000"))
        .collect();
    assert!(left.is_empty(), "ranks left running: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_study_arguments_are_one_line_and_exit_2() {
    for args in [
        &["--ranks", "0,2"][..],
        &["--ranks", "1,2", "--procs", "2x1"],
        &["--ranks", "1", "--repeat", "0"],
        &["--ranks", "1", "--timeout", "-3"],
        &["--ranks", "1", "--mode", "sideways"],
        &["--ranks", "1", "--grid", "0x5"],
    ] {
        let out = scale(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("halo: error: "), "{err}");
    }
    let out = scale(&[
        "--ranks",
        "1,2",
        "--mpirun-args",
        "--hostfile /nonexistent/hosts",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("--hostfile /nonexistent/hosts: No such file"),
        "{err}"
    );
}

/// The live processes of session `sid` as `(pid, name)`, read from /proc, zombies left out.
fn session(sid: u32) -> Vec<(u32, String)> {
    common::live_processes()
        .into_iter()
        .filter(|p| p.session == sid)
        .map(|p| (p.pid, p.name))
        .collect()
}

/// A `halo scale` that is sent SIGTERM (and so ends its job) if a test fails while it runs.
struct Stopper(std::process::Child);

impl Drop for Stopper {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            // SAFETY: kill(2) has no memory-safety preconditions; the pid is our unreaped child.
            unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
            let start = Instant::now();
            while let Ok(None) = self.0.try_wait() {
                if start.elapsed() > Duration::from_secs(20) {
                    let _ = self.0.kill();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Starts a study whose first run never ends, waits until its job's ranks compute, sends `sig`
/// to `halo scale` alone, and checks that it ends the job whole and exits with `code`.
fn stopped_by(sig: libc::c_int, name: &str, code: i32) {
    mpirun_path();
    let dir = out_dir(&format!("signal-{sig}"));
    let child = Command::new(halo_bin())
        .args(["scale", "--ranks", "2,3", "--grid", "384x384", "--iters"])
        .args(["100000000", "--out", dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start halo scale");
    let me = child.id();
    let mut child = Stopper(child);
    let child = &mut child.0;
    // The job is mpirun, a child of halo scale leading a session of its own; wait for its ranks.
    let start = Instant::now();
    let (sid, before) = loop {
        let job = common::live_processes()
            .into_iter()
            .filter(|p| p.parent == me)
            .map(|p| (p.pid, session(p.pid)))
            .find(|(_, members)| members.iter().filter(|m| m.1 == "halo").count() == 2);
        if let Some(job) = job {
            break job;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "halo scale ended before its job started"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no job with 2 ranks"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // SAFETY: kill(2) has no memory-safety preconditions; `me` is our unreaped child.
    assert_eq!(unsafe { libc::kill(me as libc::pid_t, sig) }, 0);
    // A hang guard, generous for a loaded 2-core machine (the job gets 5 s after SIGTERM).
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("halo scale did not stop within a minute of {name}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(code), "{stdout}\n{stderr}");
    assert_eq!(session(sid), [], "left running; before: {before:?}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("halo:")).collect();
    assert_eq!(
        errors,
        [format!(
            "halo: error: stopped by {name}: ended the 2-rank job; nothing was measured \
             (partial results in {})",
            dir.display()
        )],
        "{stderr}"
    );
    assert!(
        stdout.contains(&format!("(partial: stopped by {name})")),
        "{stdout}"
    );
    // The table is written, marked partial, each point saying why it has no time.
    let (rows, json) = read_results(&dir);
    assert_eq!(rows.len(), 3);
    assert_eq!(json["partial"], true);
    assert_eq!(json["stopped_by"], name);
    let status: Vec<&str> = json["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        status,
        [
            format!("stopped by {name} while running"),
            format!("not run: stopped by {name}")
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigint_ends_the_running_job_whole_and_exits_130() {
    stopped_by(libc::SIGINT, "SIGINT", 130);
}

#[test]
fn sigterm_ends_the_running_job_whole_and_exits_143() {
    stopped_by(libc::SIGTERM, "SIGTERM", 143);
}

/// A directory holding a fake `mpirun` that appends its arguments to `calls` and fails, for
/// studies that must (or must not) launch without running anything.
fn fake_mpirun(name: &str) -> (PathBuf, PathBuf) {
    let dir = out_dir(&format!("fake-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let calls = dir.join("calls");
    let script = dir.join("mpirun");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexit 3\n",
            calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    (dir, calls)
}

fn scale_with_path(bin: &Path, args: &[&str]) -> Output {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin.to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    Command::new(halo_bin())
        .arg("scale")
        .args(args)
        .env("PATH", std::env::join_paths(dirs).unwrap())
        .output()
        .expect("run halo scale")
}

#[test]
fn absurd_rank_counts_are_refused_before_launching_unless_asked_for() {
    let (bin, calls) = fake_mpirun("limit");
    let out_arg = bin.join("out");
    let out = out_arg.to_str().unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start = Instant::now();
    let refused = scale_with_path(
        &bin,
        &["--ranks", "1,100000", "--grid", "64x64", "--out", out],
    );
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "halo: error: --ranks 100000: far beyond the {cores} slots mpirun can see"
        )) && err.contains("--max-ranks 100000"),
        "{err}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
    assert!(
        !calls.exists(),
        "launched: {:?}",
        std::fs::read_to_string(&calls)
    );
    // The limit follows the launcher's slots: a hostfile's, here.
    let hosts = bin.join("hosts");
    std::fs::write(&hosts, "node01 slots=64\nnode02 slots=64\n").unwrap();
    let hostfile = format!("--hostfile {}", hosts.display());
    let refused = scale_with_path(
        &bin,
        &["--ranks", "600", "--mpirun-args", &hostfile, "--out", out],
    );
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("the 128 slots mpirun can see ({hostfile})")),
        "{err}"
    );
    assert!(!calls.exists());
    let _ = scale_with_path(
        &bin,
        &["--ranks", "500", "--mpirun-args", &hostfile, "--out", out],
    );
    // And an explicit --max-ranks runs what it allows, and no more.
    let _ = scale_with_path(
        &bin,
        &["--ranks", "100000", "--max-ranks", "100000", "--out", out],
    );
    let refused = scale_with_path(&bin, &["--ranks", "1,3", "--max-ranks", "2", "--out", out]);
    assert_eq!(refused.status.code(), Some(2));
    let launched: Vec<String> = std::fs::read_to_string(&calls)
        .expect("the allowed studies launched")
        .lines()
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(launched, ["-n 500", "-n 100000"]);
    let _ = std::fs::remove_dir_all(&bin);
}

#[test]
fn rank_counts_run_once_each_in_increasing_order_against_the_smallest() {
    let dir = out_dir("order");
    for (mode, given) in [("strong", "2,1,1"), ("weak", "3,1")] {
        let start = Instant::now();
        let out = scale_ok(&[
            "--ranks",
            given,
            "--mode",
            mode,
            "--grid",
            "48x32",
            "--iters",
            "20",
            "--out",
            dir.to_str().unwrap(),
        ]);
        let wall = start.elapsed();
        let err = String::from_utf8_lossy(&out.stderr);
        let want = if mode == "strong" { "1,2" } else { "1,3" };
        let said: Vec<&str> = err.lines().filter(|l| l.contains("run as")).collect();
        assert_eq!(
            said,
            [format!("scale: --ranks {given} run as {want}: each count once, in increasing order, the smallest the baseline")],
            "{err}"
        );
        // One run per distinct count, no more.
        assert!(
            err.contains("scale: [2/2]") && !err.contains("[3/"),
            "{err}"
        );
        let (rows, json) = read_results(&dir);
        let ranks: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
        assert_eq!(ranks.join(","), want);
        let points = json["points"].as_array().unwrap();
        assert_eq!(points[0]["speedup"].as_f64(), Some(1.0), "{json}");
        assert_eq!(points[0]["efficiency"].as_f64(), Some(1.0), "{json}");
        // Every figure against the 1-rank run.
        assert_derived(&json, 20.0, wall);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_threads_study_gives_each_rank_its_cores_and_says_so() {
    let dir = out_dir("threads");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // 2 ranks × 2 threads exceed a 2-core machine: the mapping must still launch (oversubscribed).
    let out = scale_ok(&[
        "--ranks",
        "1,2",
        "--threads",
        "2",
        "--grid",
        "32x32",
        "--iters",
        "5",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    let said: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("threads:") || l.contains("threads per rank"))
        .collect();
    let want = if cores >= 2 {
        "scale: each rank gets 2 cores for its 2 threads: mpirun --map-by slot:PE=2"
    } else {
        "scale: 2 threads per rank, more than this machine's 1 cores: mpirun --bind-to none, each rank may run on any core"
    };
    assert_eq!(said, [want], "{err}");
    let (_, json) = read_results(&dir);
    let points = json["points"].as_array().unwrap();
    assert!(points.iter().all(|p| p["status"] == "ok"), "{json}");
    assert_eq!(
        points[1]["oversubscribed"].as_bool(),
        Some(2 * 2 > cores),
        "{json}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_threads_study_launches_with_the_mapping_unless_the_user_chose_one() {
    let (bin, calls) = fake_mpirun("threads");
    let out_arg = bin.join("out");
    let out = out_arg.to_str().unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let study = [
        "--ranks",
        "1",
        "--threads",
        "2",
        "--grid",
        "32x32",
        "--out",
        out,
    ];
    let ours = scale_with_path(&bin, &study);
    let mut theirs = study.to_vec();
    theirs.extend(["--mpirun-args", "--bind-to none -x FOO"]);
    let theirs = scale_with_path(&bin, &theirs);
    let launched: Vec<String> = std::fs::read_to_string(&calls)
        .expect("both studies launched")
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(launched.len(), 2, "{launched:?}");
    let mapping = if cores >= 2 {
        "--map-by slot:PE=2 "
    } else {
        "--bind-to none "
    };
    assert!(launched[0].contains(mapping), "{launched:?}");
    assert!(
        launched[1].contains("--bind-to none -x FOO ") && !launched[1].contains("--map-by"),
        "{launched:?}"
    );
    let err = String::from_utf8_lossy(&theirs.stderr);
    assert!(
        err.contains("scale: 2 threads per rank: keeping --bind-to none from --mpirun-args"),
        "{err}"
    );
    let err = String::from_utf8_lossy(&ours.stderr);
    assert!(
        err.contains(&format!("mpirun {}", mapping.trim_end())),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&bin);
}
