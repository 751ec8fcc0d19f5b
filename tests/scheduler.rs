//! A real scheduler: scripts/sim-slurm starts Slurm from Debian's packages (munge, slurmctld, and
//! one slurmd per node, two nodes in network namespaces with their own host names and /tmp). On
//! it the shipped hostfiles/slurm.sbatch is submitted with sbatch as a user would (only its size
//! overridden), `halo scale --launcher srun` runs inside an allocation, and a solve running from
//! a script `halo batch` wrote is cancelled with scancel: its ranks must end cleanly with a last
//! checkpoint that a restart resumes to the uninterrupted run's bits. A `--requeue` job warned
//! with SIGUSR1 (as Slurm warns ahead of a time limit) must requeue itself and resume.
//!
//! The daemons need root, Slurm and munge (scripts/setup --slurm), network, mount and UTS
//! namespaces and cgroups. Where these are missing the test prints `SKIPPED:` and why, past
//! cargo's output capture, and passes: cargo has no skipped status. Where they are all there,
//! a cluster that does not come up fails the test. Whatever happens, the cluster is taken down.

mod common;
use common::{checkpoints, halo_bin, newest_checkpoint, solve_json};
use halo::scale::{run_with_timeout, Finished};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The repository: the shipped script is submitted from there, as its header says.
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where jobs write what the test reads: under target/, which the simulated nodes share (each
/// has a /tmp of its own).
fn shared(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sched-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const CONF: &str = "/tmp/halo-sim-slurm/slurm.conf";

/// A Slurm command against the simulated cluster, from `dir`, with what OpenMPI needs here
/// (root allowed, no CMA single-copy transfers).
fn slurm(prog: &str, dir: &Path) -> Command {
    let mut c = Command::new(prog);
    c.current_dir(dir)
        .env("SLURM_CONF", CONF)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        // Ranks on two simulated nodes share this machine's cores: waiting ranks yield them.
        .env("OMPI_MCA_mpi_yield_when_idle", "1");
    c
}

/// Runs `cmd`, which must succeed within `limit`; returns what it printed.
fn ok(cmd: &mut Command, limit: Duration) -> Finished {
    let what = format!("{cmd:?}");
    let out = run_with_timeout(cmd, limit).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success() && !out.timed_out,
        "{what}: {:?}, timed out: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        out.timed_out,
        out.stdout,
        out.stderr
    );
    out
}

/// The simulated Slurm cluster, up; taken down when dropped.
struct Slurm;

impl Slurm {
    /// Brings two nodes up, or says why it cannot.
    fn up() -> Result<Slurm, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root (the daemons and namespaces need it)".into());
        }
        for c in ["slurmctld", "slurmd", "sbatch", "munged"] {
            if !Command::new("sh")
                .args(["-c", &format!("command -v {c}")])
                .output()
                .is_ok_and(|o| o.status.success())
            {
                return Err(format!(
                    "no {c}: scripts/setup --slurm installs Slurm and munge"
                ));
            }
        }
        // What the nodes are made of: network namespaces, and mount and UTS namespaces for
        // their own /tmp and host name; slurmd reads cgroups. A machine without them cannot
        // run the daemons (a skip); one with them must (a failure of sim-slurm otherwise).
        let works = |script: &str| {
            Command::new("sh")
                .args(["-c", script])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !works("ip netns add halo-sprobe && ip netns del halo-sprobe") {
            return Err("no network namespaces (ip netns add fails)".into());
        }
        if !works("unshare --mount --uts --propagation private true") {
            return Err("no mount or UTS namespaces (unshare fails)".into());
        }
        if !Path::new("/sys/fs/cgroup").is_dir() {
            return Err("no /sys/fs/cgroup, which slurmd reads".into());
        }
        let out = run_with_timeout(
            Command::new(repo().join("scripts/sim-slurm")).args(["up", "2"]),
            Duration::from_secs(120),
        )
        .map_err(|e| format!("could not run scripts/sim-slurm: {e}"))?;
        let why = out.stderr.trim().replace('\n', "; ");
        assert!(
            out.status.success() && !out.timed_out,
            "sim-slurm up failed on a machine that has what it needs: {why}"
        );
        Ok(Slurm)
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        let down = run_with_timeout(
            Command::new(repo().join("scripts/sim-slurm")).arg("down"),
            Duration::from_secs(120),
        );
        match down {
            Ok(out) if out.status.success() && !Path::new("/tmp/halo-sim-slurm").exists() => {}
            Ok(out) => {
                let _ = writeln!(std::io::stderr(), "sim-slurm down: {}", out.stderr);
                assert!(
                    std::thread::panicking(),
                    "sim-slurm down failed: {}",
                    out.stderr
                );
            }
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "sim-slurm down: {e}");
            }
        }
    }
}

/// How a batch job ended: Slurm's state, `exit:signal` code and how often it was requeued.
#[derive(Debug)]
struct Ended {
    state: String,
    exit: String,
    restarts: String,
}

/// Waits up to `limit` for job `id` to leave the queue, and says how it ended.
fn wait_job(id: &str, limit: Duration) -> Ended {
    let start = Instant::now();
    loop {
        let q = ok(
            slurm("squeue", &repo()).args(["-h", "-j", id, "-o", "%T"]),
            Duration::from_secs(30),
        );
        if q.stdout.trim().is_empty() {
            break;
        }
        assert!(
            start.elapsed() < limit,
            "job {id} still {} after {limit:?}",
            q.stdout.trim()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let show = ok(
        slurm("scontrol", &repo()).args(["show", "job", id]),
        Duration::from_secs(30),
    );
    let field = |k: &str| {
        show.stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{k}=")))
            .unwrap_or("?")
            .to_string()
    };
    Ended {
        state: field("JobState"),
        exit: field("ExitCode"),
        restarts: field("Restarts"),
    }
}

/// `sbatch --parsable ARGS` from `dir`: the job's id.
fn sbatch(dir: &Path, args: &[&str]) -> String {
    let out = ok(
        slurm("sbatch", dir).arg("--parsable").args(args),
        Duration::from_secs(30),
    );
    out.stdout.trim().split(';').next().unwrap().to_string()
}

/// Builds the release halo the job scripts run, as a user does on the login node before
/// submitting (the shipped script's own `cargo build` then finds it done).
fn build_release() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    ok(
        Command::new(cargo)
            .current_dir(repo())
            .args(["build", "--release", "--locked"]),
        Duration::from_secs(1800),
    );
}

#[test]
fn slurm_runs_the_shipped_script_a_scaling_study_and_a_cancelled_solve() {
    let _cluster = match Slurm::up() {
        Ok(c) => c,
        Err(why) => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: the simulated Slurm cluster could not be started, so the scheduler tests did not run: {why}"
            );
            return;
        }
    };
    build_release();
    shipped_script_runs_across_two_nodes();
    scaling_inside_an_allocation_measures_every_point();
    a_cancelled_job_leaves_its_last_checkpoint();
    a_warned_job_requeues_itself_and_resumes();
}

/// hostfiles/slurm.sbatch, submitted from the repository with only its size changed: its output
/// shows both nodes, srun with PMIx, and every check passed.
fn shipped_script_runs_across_two_nodes() {
    let id = sbatch(
        &repo(),
        &["--nodes=2", "--ntasks-per-node=2", "hostfiles/slurm.sbatch"],
    );
    let ended = wait_job(&id, Duration::from_secs(600));
    // The script writes halo-<job>.out where it was submitted.
    let out_file = repo().join(format!("halo-{id}.out"));
    let out = std::fs::read_to_string(&out_file).unwrap_or_default();
    let _ = std::fs::remove_file(&out_file);
    assert_eq!(
        (ended.state.as_str(), ended.exit.as_str()),
        ("COMPLETED", "0:0"),
        "job {id}:\n{out}"
    );
    for line in [
        "launched by: srun --mpi=pmix".to_string(),
        format!("allocation: Slurm job {id} (halo) in partition halo: 2 nodes (halo-s1, halo-s2), 4 tasks, 1 CPU per task"),
        "ranks per host: 2 hosts: halo-s1 (2), halo-s2 (2)".to_string(),
    ] {
        assert!(out.lines().any(|l| l == line), "no line {line:?} in:\n{out}");
    }
    let verdict = out
        .lines()
        .find(|l| l.starts_with("check: "))
        .unwrap_or_else(|| panic!("no verdict in:\n{out}"));
    assert!(verdict.ends_with(" passed, 0 failed"), "{verdict}");
}

/// `halo scale --launcher srun` in a two-node allocation: every rank count measured.
fn scaling_inside_an_allocation_measures_every_point() {
    let dir = shared("scale");
    let exe = halo_bin();
    let out = ok(
        slurm("salloc", &dir).args([
            "--nodes=2",
            "--ntasks-per-node=2",
            exe.to_str().unwrap(),
            "scale",
            "--launcher",
            "srun",
            "--ranks",
            "1,2,4",
            "--grid",
            "64x64",
            "--iters",
            "100",
            "--out",
            dir.to_str().unwrap(),
        ]),
        Duration::from_secs(600),
    );
    let csv = std::fs::read_to_string(dir.join("scaling.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{csv}\n{}", out.stdout);
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let seconds = header
        .iter()
        .position(|&h| h == "seconds")
        .expect("a seconds column");
    for r in rows {
        let s: f64 = r
            .split(',')
            .nth(seconds)
            .unwrap()
            .parse()
            .unwrap_or(f64::NAN);
        assert!(s > 0.0, "a point without a time: {r}\n{}", out.stdout);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes the script `halo batch --scheduler slurm --nodes 2 --ranks-per-node 2 OPTIONS -- SOLVE`
/// into `dir`, submits it from there, and waits until `ckpt` holds `k` checkpoints of the
/// running job: its id.
fn submit_batch(dir: &Path, options: &[&str], solve: &[&str], ckpt: &Path, k: usize) -> String {
    let mut args = vec!["batch", "--scheduler", "slurm", "--nodes", "2"];
    args.extend_from_slice(&["--ranks-per-node", "2", "--time", "00:10:00"]);
    args.extend_from_slice(options);
    args.push("--");
    args.extend_from_slice(solve);
    let script = ok(
        Command::new(halo_bin()).args(&args),
        Duration::from_secs(30),
    )
    .stdout;
    let path = dir.join("solve.sbatch");
    std::fs::write(&path, &script).unwrap();
    let id = sbatch(dir, &[path.to_str().unwrap()]);
    let start = Instant::now();
    while checkpoints(ckpt).len() < k {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no checkpoints from job {id} in {}",
            ckpt.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    id
}

/// A solve from a script `halo batch` wrote, cancelled with scancel once it has checkpointed:
/// every rank ends, the job's output says where it stopped, the last checkpoint is complete (no
/// temporary left), and a restart from it ends at the bits of an uninterrupted run.
fn a_cancelled_job_leaves_its_last_checkpoint() {
    let dir = shared("cancel");
    let ckpt = dir.join("ckpt");
    let solve = [
        "solve",
        "--grid",
        "200x150",
        "--iters",
        "100000000",
        "--checkpoint-every",
        "500",
        "--checkpoint-dir",
        ckpt.to_str().unwrap(),
    ];
    // Running once two checkpoints are complete.
    let id = submit_batch(&dir, &[], &solve, &ckpt, 2);
    ok(slurm("scancel", &dir).arg(&id), Duration::from_secs(30));
    let ended = wait_job(&id, Duration::from_secs(120));
    let out = std::fs::read_to_string(dir.join(format!("halo-{id}.out"))).unwrap_or_default();
    assert_eq!(ended.state, "CANCELLED", "job {id}:\n{out}");
    // No rank of the job is left on either node.
    for node in ["halo-s1", "halo-s2"] {
        let pids = Command::new("ip")
            .args(["netns", "pids", node])
            .output()
            .unwrap();
        let names: Vec<String> = String::from_utf8_lossy(&pids.stdout)
            .split_whitespace()
            .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).ok())
            .map(|c| c.trim().to_string())
            .filter(|c| c == "halo")
            .collect();
        assert!(names.is_empty(), "ranks left on {node}: {names:?}");
    }
    let (at, _) = newest_checkpoint(&ckpt);
    let said = format!("halo: stopped by SIGTERM after iteration {at} of 100000000");
    assert!(
        out.contains(&said),
        "expected {said:?} in job {id}'s output:\n{out}"
    );
    let others: Vec<String> = std::fs::read_dir(&ckpt)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !(n.starts_with("ckpt-") && n.ends_with(".halo")))
        .collect();
    assert!(others.is_empty(), "left beside the checkpoints: {others:?}");

    let end = (at + 300).to_string();
    let d = ckpt.to_str().unwrap();
    let resumed = solve_json(3, &["--grid", "200x150", "--iters", &end, "--restart", d]);
    assert_eq!(resumed["restarted_from"].as_u64(), Some(at as u64));
    let straight = solve_json(2, &["--grid", "200x150", "--iters", &end]);
    assert_eq!(resumed["field_sha256"], straight["field_sha256"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A `halo batch --requeue` job warned with SIGUSR1, as Slurm warns ahead of the time limit
/// (`--signal=USR1@120`): the ranks stop with a checkpoint (exit 138), the script requeues the
/// job, and the job, started again, resumes from that checkpoint to the uninterrupted run's bits.
fn a_warned_job_requeues_itself_and_resumes() {
    let dir = shared("requeue");
    let solve = ["solve", "--grid", "120x90", "--iters", "3000"];
    let id = submit_batch(&dir, &["--requeue"], &solve, &dir.join("ckpt-halo"), 1);
    ok(
        slurm("scancel", &dir).args(["--signal=USR1", &id]),
        Duration::from_secs(30),
    );
    // Requeued: pending again, held by Slurm's begin time for requeued jobs (about two
    // minutes), which an operator may lift; the test does.
    let start = Instant::now();
    loop {
        let show = ok(
            slurm("scontrol", &dir).args(["show", "job", &id]),
            Duration::from_secs(30),
        );
        if show.stdout.contains("Restarts=1") && show.stdout.contains("JobState=PENDING") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "job {id} was not requeued:\n{}\n{}",
            show.stdout,
            std::fs::read_to_string(dir.join(format!("halo-{id}.out"))).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    ok(
        slurm("scontrol", &dir).args(["update", &format!("jobid={id}"), "StartTime=now"]),
        Duration::from_secs(30),
    );
    let ended = wait_job(&id, Duration::from_secs(600));
    let out = std::fs::read_to_string(dir.join(format!("halo-{id}.out"))).unwrap_or_default();
    assert_eq!(
        (
            ended.state.as_str(),
            ended.exit.as_str(),
            ended.restarts.as_str()
        ),
        ("COMPLETED", "0:0", "1"),
        "job {id}:\n{out}"
    );
    let at = out
        .lines()
        .find_map(|l| l.strip_prefix("halo: stopped by SIGUSR1 after iteration "))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no stop line in job {id}'s output:\n{out}"));
    for line in [
        "halo exited with 138".to_string(),
        format!("halo batch: requeueing job {id} to resume from ckpt-halo"),
        format!("restarted from the checkpoint at iteration {at}"),
        "halo exited with 0".to_string(),
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "no line {line:?} in:\n{out}"
        );
    }
    let sha = out
        .lines()
        .find_map(|l| l.split("field sha256 ").nth(1))
        .unwrap_or_else(|| panic!("no field hash in:\n{out}"));
    let straight = solve_json(1, &solve[1..]);
    assert_eq!(straight["field_sha256"].as_str(), Some(sha), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
