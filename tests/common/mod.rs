//! Launching real multi-rank jobs with OpenMPI's `mpirun` from integration tests.
#![allow(dead_code)] // each test file uses its own part of this module

use halo::scale::Job;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The field of `halo solve --grid 63x47 --iters 300` (Laplace), as every version since the
/// solvers were restructured (d933c54) gives it, on any decomposition and by any exchange.
pub const LAPLACE_63X47_300: &str =
    "90abbbd7e0b0056fc7028f8fab8556163c0aacfd8427a6940e26fb83f0319a4d";

/// The field of `halo solve --problem cavity --grid 63x47 --iters 300`, pinned the same way.
pub const CAVITY_63X47_300: &str =
    "d1247aefbdd9b46c1cbae8b97042737a3d7c0f8144cd4e3a5b688df506986b26";

/// What a finished job printed, how it ended and how long it took.
pub struct Run {
    /// The exit code of `mpirun` (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Everything the ranks wrote to stdout.
    pub stdout: String,
    /// Everything the ranks and `mpirun` wrote to stderr.
    pub stderr: String,
    /// Wall time of the whole job.
    pub elapsed: Duration,
}

impl Run {
    /// Panics with the job's output unless it exited with 0.
    pub fn assert_ok(&self, what: &str) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "{what} failed\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// The first line of stdout that is a JSON object (what `--json` prints), parsed.
    pub fn json(&self) -> serde_json::Value {
        let line = self.stdout.lines().find(|l| l.starts_with('{'));
        let line = line.unwrap_or_else(|| panic!("no JSON line in:\n{}", self.stdout));
        serde_json::from_str(line).expect("a JSON object")
    }

    /// Lines of stderr that the ranks printed (mpirun's own banner lines left out).
    pub fn rank_error_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("halo:") || l.starts_with("Error"))
            .collect()
    }
}

/// `mpirun`, found on PATH; panics with what to install when it is missing.
pub fn mpirun_path() -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("mpirun"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "mpirun not found on PATH: these tests run real MPI jobs. Install OpenMPI \
                 (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev) or run scripts/setup"
            )
        })
}

/// The path of a built example; `cargo test` builds them next to the test binaries.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile directory");
    let path = dir.join("examples").join(name);
    assert!(
        path.is_file(),
        "example {name} not built at {}: run `cargo build --examples` (cargo test builds them)",
        path.display()
    );
    path
}

/// The `halo` binary under test.
pub fn halo_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_halo"))
}

/// Runs `program args` as an `n`-rank job on this machine, oversubscribed; after `timeout` the
/// whole job (mpirun and every rank) is ended and the test fails: a job that hangs is a bug, not
/// a slow test.
pub fn mpirun_timeout(n: usize, program: &Path, args: &[&str], timeout: Duration) -> Run {
    let what = format!("mpirun -n {n} {} {}", program.display(), args.join(" "));
    run_guarded(&mut mpirun_command(n, program, args), timeout, &what)
}

/// `cmd` (an `mpirun`, say) under `ulimit -v` of `kb` KiB, which then holds for it and every
/// process it starts (each rank): a job that asks for more fails rather than taking the
/// machine's memory. The environment set on `cmd` comes along.
pub fn under_ulimit(cmd: &Command, kb: u64) -> Command {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(format!("ulimit -v {kb} && exec \"$0\" \"$@\""))
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    sh
}

/// Runs `cmd` (a job of any shape: under `sh -c 'ulimit …'`, with its own environment) to its
/// end, as [`mpirun_timeout`] runs an `mpirun`: past `timeout` the whole job is ended and the
/// test fails, naming it `what`.
pub fn run_guarded(cmd: &mut Command, timeout: Duration, what: &str) -> Run {
    let run = halo::scale::run_with_timeout(cmd, timeout).expect("start the job");
    assert!(
        !run.timed_out,
        "`{what}` did not finish within {timeout:?}: a hang\n--- stdout\n{}\n--- stderr\n{}",
        run.stdout, run.stderr
    );
    Run {
        code: run.status.code(),
        stdout: run.stdout,
        stderr: run.stderr,
        elapsed: run.elapsed,
    }
}

/// Starts `program args` as an `n`-rank job that the test watches itself (to kill a rank, cut a
/// link, wait for checkpoints); dropping the job ends all of it, so a failed test leaves no
/// ranks behind.
pub fn start_mpirun(n: usize, program: &Path, args: &[&str]) -> Job {
    Job::start(&mut mpirun_command(n, program, args)).expect("start mpirun")
}

/// The command `mpirun -n N --oversubscribe --bind-to none PROGRAM ARGS…` the tests launch, with
/// what OpenMPI needs on this kind of machine: root allowed (containers, CI) and no CMA
/// single-copy transfers (ptrace is not permitted everywhere).
pub fn mpirun_command(n: usize, program: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(mpirun_path());
    cmd.args(["-n", &n.to_string(), "--oversubscribe", "--bind-to", "none"])
        .arg(program)
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none");
    cmd
}

/// Waits until `dir` holds at least `k` checkpoints; fails the test after a minute, or if `job`
/// ends first.
pub fn wait_for_checkpoints(dir: &Path, k: usize, job: &mut Job) {
    let start = Instant::now();
    while checkpoints(dir).len() < k {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no checkpoints appeared in {}",
            dir.display()
        );
        assert!(job.try_wait().unwrap().is_none(), "the run ended by itself");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`mpirun_timeout`] with a two-minute limit.
pub fn mpirun(n: usize, program: &Path, args: &[&str]) -> Run {
    mpirun_timeout(n, program, args, Duration::from_secs(120))
}

/// Runs a `halo solve --json` job and returns the JSON summary rank 0 printed.
pub fn solve_json(n: usize, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["solve", "--json"];
    all.extend_from_slice(args);
    let run = mpirun(n, &halo_bin(), &all);
    run.assert_ok(&format!("halo {} on {n} ranks", all.join(" ")));
    let lines: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one JSON line from rank 0:\n{}",
        run.stdout
    );
    serde_json::from_str(lines[0]).expect("valid JSON")
}

/// Runs `python3 -c script` with `args`, after checking that it can import `modules`; panics
/// with what to install if it cannot (scripts/setup installs them).
pub fn python(modules: &[&str], script: &str, args: &[&str]) -> String {
    let probe = Command::new("python3")
        .args(["-c", &format!("import {}", modules.join(", "))])
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        _ => panic!(
            "this test reads the output with the tools people use, and needs python3 with {}: \
             run scripts/setup --test (pip install vtk pillow)",
            modules.join(", ")
        ),
    }
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The checkpoint files in `dir`, oldest first (none if it does not exist).
pub fn checkpoints(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "halo"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The newest checkpoint in `dir`: its iteration and its file name.
pub fn newest_checkpoint(dir: &Path) -> (usize, String) {
    let newest = checkpoints(dir).last().cloned();
    let newest = newest.unwrap_or_else(|| panic!("no checkpoint in {}", dir.display()));
    let name = newest.file_name().unwrap().to_string_lossy().into_owned();
    let at = name
        .trim_start_matches("ckpt-")
        .trim_end_matches(".halo")
        .parse()
        .unwrap_or_else(|_| panic!("not a checkpoint's name: {name}"));
    (at, name)
}

/// A live process, as /proc tells it (independently of the launcher's own bookkeeping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    /// Its process id.
    pub pid: u32,
    /// Its command name.
    pub name: String,
    /// Its parent's process id.
    pub parent: u32,
    /// Its process group.
    pub group: u32,
    /// Its session.
    pub session: u32,
}

/// Every live process. Zombies are left out: they are dead, hold no pipe and no core, and where
/// init never reaps (some containers) the killed children of a killed parent stay zombies.
pub fn live_processes() -> Vec<Proc> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (open, close) = (stat.find('(').unwrap(), stat.rfind(')').unwrap());
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if f[0] != "Z" && f[0] != "X" {
            found.push(Proc {
                pid,
                name: stat[open + 1..close].to_string(),
                parent: f[1].parse().unwrap(),
                group: f[2].parse().unwrap(),
                session: f[3].parse().unwrap(),
            });
        }
    }
    found
}

/// Reads `DIR/field.pvti` with VTK's own `vtkXMLPImageDataReader`, and each of its pieces alone
/// with `vtkXMLImageDataReader`, and returns what they hold, as JSON:
/// - `dims` (points along x, y, z), `points`, `spacing` (x, y), `names` (sorted);
/// - `sha256`: for each array, the SHA-256 of its values with rows flipped back to halo's order
///   (row 0 at the top), little-endian `f64` row-major (components interleaved), as halo hashes
///   a field; `rank`: its smallest and largest value;
/// - `pieces`, how many; `pieces_match`: whether every piece's values are the whole dataset's
///   at its extent (shared points agree); `uncovered`: points in no piece; `shared`: points in
///   more than one;
/// - `velocity_exact` (when `psi` and `velocity` are there): whether `velocity` is the central
///   differences of `psi` (ψ = 0 past the walls, z = 0) to the bit.
pub fn read_pvti(dir: &Path) -> serde_json::Value {
    let script = r#"
import sys, json, hashlib, os
import xml.etree.ElementTree as ET
import numpy as np
import vtk
from vtk.util.numpy_support import vtk_to_numpy

path = sys.argv[1]
rd = vtk.vtkXMLPImageDataReader(); rd.SetFileName(path); rd.Update()
img = rd.GetOutput(); nx, ny, nz = img.GetDimensions()

def arrays(image):
    pd = image.GetPointData()
    x0, x1, y0, y1, _, _ = image.GetExtent()
    out = {}
    for k in range(pd.GetNumberOfArrays()):
        a = vtk_to_numpy(pd.GetArray(k))
        out[pd.GetArrayName(k)] = a.reshape((y1 - y0 + 1, x1 - x0 + 1) + a.shape[1:])[::-1]
    return out

whole = arrays(img)
covered = np.zeros((ny, nx), dtype=int)
match = True
sources = [p.get('Source') for p in ET.parse(path).getroot().iter('Piece')]
for s in sources:
    r = vtk.vtkXMLImageDataReader(); r.SetFileName(os.path.join(os.path.dirname(path), s)); r.Update()
    piece = r.GetOutput()
    x0, x1, y0, y1, _, _ = piece.GetExtent()
    rows = slice(ny - 1 - y1, ny - y0)
    covered[rows, x0:x1 + 1] += 1
    for name, a in arrays(piece).items():
        match = match and a.astype('<f8').tobytes() == whole[name][rows, x0:x1 + 1].astype('<f8').tobytes()
out = {
    'dims': [nx, ny, nz], 'points': img.GetNumberOfPoints(),
    'spacing': [img.GetSpacing()[0], img.GetSpacing()[1]], 'names': sorted(whole),
    'sha256': {n: hashlib.sha256(np.ascontiguousarray(a).astype('<f8').tobytes()).hexdigest() for n, a in whole.items()},
    'rank': [float(whole['rank'].min()), float(whole['rank'].max())],
    'pieces': len(sources), 'pieces_match': bool(match),
    'uncovered': int((covered == 0).sum()), 'shared': int((covered > 1).sum()),
}
if 'psi' in whole and 'velocity' in whole:
    p = np.pad(whole['psi'], 1)
    hx, hy = 1.0 / (nx + 1), 1.0 / (ny + 1)
    u = (p[:-2, 1:-1] - p[2:, 1:-1]) / (2.0 * hy)
    v = -(p[1:-1, 2:] - p[1:-1, :-2]) / (2.0 * hx)
    vel = whole['velocity']
    out['velocity_exact'] = bool(np.array_equal(vel[..., 0], u) and np.array_equal(vel[..., 1], v)
                                 and not vel[..., 2].any())
print(json.dumps(out))
"#;
    let pvti = dir.join("field.pvti");
    let out = python(&["vtk", "numpy"], script, &[pvti.to_str().unwrap()]);
    serde_json::from_str(out.trim()).expect("the reader's JSON")
}
