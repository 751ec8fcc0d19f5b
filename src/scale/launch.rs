//! Starting one `halo solve` job and collecting its JSON summary.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How jobs are started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launcher {
    /// `mpirun -n K [args…]`, adding `--oversubscribe` when K exceeds the cores.
    Mpirun(Vec<String>),
    /// `srun -n K [args…]`, inside a Slurm allocation.
    Srun(Vec<String>),
}

/// How one run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// It exited 0 and printed its JSON summary.
    Ok(serde_json::Value),
    /// It failed: the reason, with rank 0's error line when it printed one.
    Failed(String),
}

impl Launcher {
    /// The command line that starts `exe solve args…` on `ranks` ranks.
    pub fn command(
        &self,
        exe: &Path,
        ranks: usize,
        oversubscribe: bool,
        args: &[String],
    ) -> Command {
        let mut cmd = match self {
            Launcher::Mpirun(extra) => {
                let mut c = Command::new("mpirun");
                c.args(["-n", &ranks.to_string()]);
                if oversubscribe && !extra.iter().any(|a| a == "--oversubscribe") {
                    c.arg("--oversubscribe");
                }
                c.args(extra);
                c
            }
            Launcher::Srun(extra) => {
                let mut c = Command::new("srun");
                c.args(["-n", &ranks.to_string()]).args(extra);
                c
            }
        };
        cmd.arg(exe)
            .arg("solve")
            .args(args)
            .args(["--json", "--quiet"]);
        cmd
    }

    /// Runs one job; stops it (SIGTERM, then SIGKILL) after `timeout`.
    pub fn run(
        &self,
        exe: &Path,
        ranks: usize,
        oversubscribe: bool,
        args: &[String],
        timeout: Duration,
    ) -> RunOutcome {
        let mut cmd = self.command(exe, ranks, oversubscribe, args);
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            // OpenMPI refuses root unless told; a study run as root (containers, CI) means it.
            cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
                .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let prog = cmd.get_program().to_string_lossy().into_owned();
                return RunOutcome::Failed(format!("could not start {prog}: {e}"));
            }
        };
        let mut out = child.stdout.take().expect("piped");
        let mut err = child.stderr.take().expect("piped");
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let err_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let start = Instant::now();
        let mut timed_out = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if start.elapsed() > timeout && !timed_out => {
                    timed_out = true;
                    // mpirun takes SIGTERM as "end the whole job", ranks included.
                    // SAFETY: kill(2) on our own child's pid.
                    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
                }
                Ok(None) if timed_out && start.elapsed() > timeout + Duration::from_secs(5) => {
                    let _ = child.kill();
                    break child.wait().ok();
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return RunOutcome::Failed(format!("could not wait for the job: {e}")),
            }
        };
        let stdout = reader.join().unwrap_or_default();
        let stderr = err_reader.join().unwrap_or_default();
        if timed_out {
            return RunOutcome::Failed(format!("timed out after {:.0} s", timeout.as_secs_f64()));
        }
        let why = stderr
            .lines()
            .find(|l| l.starts_with("halo: "))
            .map(|l| format!(": {l}"))
            .unwrap_or_default();
        match status.and_then(|s| s.code()) {
            Some(0) => match stdout
                .lines()
                .find(|l| l.starts_with('{'))
                .map(serde_json::from_str)
            {
                Some(Ok(v)) => RunOutcome::Ok(v),
                _ => RunOutcome::Failed("no JSON summary in the output".into()),
            },
            Some(code) => RunOutcome::Failed(format!("exit {code}{why}")),
            None => RunOutcome::Failed(format!("killed by a signal{why}")),
        }
    }
}
