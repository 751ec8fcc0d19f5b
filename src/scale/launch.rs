//! Starting jobs and ending them whole: one `halo solve` run of a study, or any command a test
//! launches.
//!
//! `mpirun` is not the whole job: it starts the ranks (and, across hosts, daemons that start
//! them), and OpenMPI puts every rank in a process group of its own. Killing `mpirun` alone, or
//! its process group, can leave ranks running that hold the output pipes open and the cores
//! busy. A [`Job`] therefore starts its command in a new session (`setsid`), which every process
//! the job starts inherits whatever groups they form, and ends the job by signalling every live
//! process of that session: SIGTERM, a grace period, then SIGKILL. On systems without `/proc`
//! only the job's process group is signalled.

use crate::node::affinity::{self, Launch};
use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a job has between SIGTERM and SIGKILL when it is ended.
pub const GRACE: Duration = Duration::from_secs(5);

/// A command started in a session of its own, with its stdout and stderr read on threads; the
/// whole session is ended when the job is dropped before it finished.
pub struct Job {
    child: Child,
    stdout: Reader,
    stderr: Reader,
    started: Instant,
    status: Option<ExitStatus>,
}

/// How a [`Job`] ended and what it printed.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The leader's pid, which is also the job's session and process group id.
    pub pid: u32,
    /// The exit status of the command itself (e.g. `mpirun`).
    pub status: ExitStatus,
    /// Everything the job wrote to stdout (lossily decoded).
    pub stdout: String,
    /// Everything the job wrote to stderr (lossily decoded).
    pub stderr: String,
    /// From the start to the end of the whole job.
    pub elapsed: Duration,
    /// Whether the job was ended because it ran out of time.
    pub timed_out: bool,
    /// Whether the job was ended because the caller asked (see [`Job::wait_until`]).
    pub stopped: bool,
}

/// One output pipe, read to its end on a thread into a buffer the job can take even when the
/// thread is still blocked (a process outside the session may hold the pipe open).
struct Reader {
    buf: Arc<Mutex<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
}

impl Reader {
    fn spawn(mut pipe: impl Read + Send + 'static) -> Reader {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let thread = std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                match pipe.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(k) => sink
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend_from_slice(&chunk[..k]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        });
        Reader {
            buf,
            thread: Some(thread),
        }
    }

    /// What was read, after waiting until `deadline` at most for the end of the pipe.
    fn take(&mut self, deadline: Instant) -> String {
        if let Some(t) = self.thread.take() {
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
        let bytes = std::mem::take(&mut *self.buf.lock().unwrap_or_else(|e| e.into_inner()));
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Job {
    /// Starts `cmd` in a new session with stdin from `/dev/null` and stdout and stderr captured.
    pub fn start(cmd: &mut Command) -> io::Result<Job> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
        // calls are allowed: setsid(2) and prctl(2) are system calls, and `last_os_error` only
        // reads errno (no allocation). The child is not a group leader yet (fresh from fork), so
        // setsid succeeds. PR_SET_PDEATHSIG sends the job SIGTERM should the thread that started
        // it die first (even by SIGKILL), so a job never outlives its launcher unseen.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(io::Error::last_os_error());
                }
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let stdout = Reader::spawn(child.stdout.take().expect("stdout is piped"));
        let stderr = Reader::spawn(child.stderr.take().expect("stderr is piped"));
        Ok(Job {
            child,
            stdout,
            stderr,
            started: Instant::now(),
            status: None,
        })
    }

    /// The leader's pid: also the id of the job's session and process group.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The leader's exit status if it has exited (other processes of the job may live on).
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(self.status)
    }

    /// Waits for the leader to exit, for at most `timeout` from now; then ends whatever is left
    /// of the job (all of it, on a timeout) and collects its output.
    pub fn wait_timeout(self, timeout: Duration) -> io::Result<Finished> {
        self.wait_until(timeout, || false)
    }

    /// As [`Job::wait_timeout`], but also ends the whole job as soon as `stop()` says so
    /// (polled every 10 ms, e.g. whether a signal was caught); [`Finished::stopped`] tells.
    pub fn wait_until(
        mut self,
        timeout: Duration,
        mut stop: impl FnMut() -> bool,
    ) -> io::Result<Finished> {
        let deadline = Instant::now() + timeout;
        let (mut timed_out, mut stopped) = (false, false);
        while self.try_wait()?.is_none() {
            if stop() {
                stopped = true;
                break;
            }
            if Instant::now() >= deadline {
                timed_out = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // After a timeout or a stop the whole job goes; after a normal exit only what the leader
        // left running (an orphan would hold the pipes and a core).
        self.end();
        let status = match self.status {
            Some(s) => s,
            None => self.child.wait()?,
        };
        // Every process of the session is gone, so the pipes are at their end unless something
        // outside the session holds them; do not wait for that longer than a grace period.
        let drained = Instant::now() + GRACE;
        let stdout = self.stdout.take(drained);
        let stderr = self.stderr.take(drained);
        Ok(Finished {
            pid: self.id(),
            status,
            stdout,
            stderr,
            elapsed: self.started.elapsed(),
            timed_out,
            stopped,
        })
    }

    /// Ends the whole job: SIGTERM to every live process of its session, up to [`GRACE`] for
    /// them to leave, SIGKILL to any still there; then reaps the leader. Does nothing to a job
    /// already gone. Never panics.
    pub fn end(&mut self) {
        let sid = self.id() as libc::pid_t;
        if !self.signal(libc::SIGTERM) {
            let _ = self.try_wait();
        } else {
            let until = Instant::now() + GRACE;
            loop {
                let _ = self.try_wait();
                if !alive(sid) || Instant::now() >= until {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            self.signal(libc::SIGKILL);
        }
        if self.status.is_none() {
            self.status = self.child.wait().ok();
        }
        // Processes killed after the leader died are reaped by init (or a subreaper); give them
        // a moment, so that on return nothing of the job runs.
        let until = Instant::now() + Duration::from_secs(1);
        while alive(sid) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `sig` to every live process of the job's session and to its process group; false
    /// when there was nobody to signal.
    fn signal(&self, sig: libc::c_int) -> bool {
        let sid = self.id() as libc::pid_t;
        let mut any = false;
        for pid in members(sid).unwrap_or_default() {
            // SAFETY: kill(2) has no memory-safety preconditions. The pid was read from /proc as
            // a live member of the job's session an instant ago; it could only name another
            // process if that member exited and its pid was reused in between.
            any |= unsafe { libc::kill(pid, sig) } == 0;
        }
        // The leader's group (the only thing we can reach without /proc). Linux reuses no pid
        // while a process group of that id has a member, so this reaches only the job's own
        // processes; an empty group is simply not found.
        // SAFETY: as above; a negative pid names the process group.
        any |= unsafe { libc::kill(-sid, sig) } == 0;
        any
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if self.status.is_none() || alive(self.id() as libc::pid_t) {
            self.end();
        }
    }
}

/// The pids of the live (not zombie) processes of session `sid`, from `/proc`; `None` where
/// there is no `/proc`.
fn members(sid: libc::pid_t) -> Option<Vec<libc::pid_t>> {
    let dir = std::fs::read_dir("/proc").ok()?;
    let mut pids = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue; // gone meanwhile
        };
        // `pid (comm) state ppid pgrp session …`; comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|k| &stat[k + 1..]) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().take(4).collect();
        if f.len() == 4 && f[3].parse() == Ok(sid) && !matches!(f[0], "Z" | "X") {
            pids.push(pid);
        }
    }
    Some(pids)
}

/// Whether any process of session `sid` still runs (without `/proc`: of process group `sid`).
fn alive(sid: libc::pid_t) -> bool {
    match members(sid) {
        Some(pids) => !pids.is_empty(),
        // SAFETY: signal 0 only checks that the group exists.
        None => (unsafe { libc::kill(-sid, 0) }) == 0,
    }
}

/// Runs `cmd` as a [`Job`] and waits for it, ending the whole job after `timeout` (see
/// [`Finished::timed_out`]). Errors only when the command cannot be started or waited for.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> io::Result<Finished> {
    Job::start(cmd)?.wait_timeout(timeout)
}

/// How jobs are started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launcher {
    /// `mpirun -n K [args…]`, adding `--oversubscribe` when K (times the threads per rank)
    /// exceeds the cores.
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
    /// It was ended whole because this process caught the signal (see [`crate::node::signals`]).
    Stopped(libc::c_int),
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

    /// Runs one job; ends the whole job (every process it started: SIGTERM, then SIGKILL after
    /// [`GRACE`]) after `timeout`, or as soon as a signal is caught (see [`crate::node::signals`]).
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
        let caught = crate::node::signals::caught;
        let run = match Job::start(&mut cmd)
            .and_then(|job| job.wait_until(timeout, || caught().is_some()))
        {
            Ok(run) => run,
            Err(e) => {
                let prog = cmd.get_program().to_string_lossy().into_owned();
                return RunOutcome::Failed(format!("could not run {prog}: {e}"));
            }
        };
        if run.stopped {
            return RunOutcome::Stopped(caught().unwrap_or(libc::SIGTERM));
        }
        if run.timed_out {
            return RunOutcome::Failed(format!("timed out after {:.0} s", timeout.as_secs_f64()));
        }
        let why = run
            .stderr
            .lines()
            .find(|l| l.starts_with("halo: "))
            .map(|l| format!(": {l}"))
            .unwrap_or_default();
        match run.status.code() {
            Some(0) => match run
                .stdout
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

/// The `--mpi` option `srun` needs to start halo when neither the user's arguments (`extra`) nor
/// `SLURM_MPI_TYPE` (`mpi_type`) choose a plugin: `--mpi=pmix` when this srun offers PMIx
/// (`offered`: what `srun --mpi=list` printed). OpenMPI 4 as Linux distributions build it starts
/// under srun only through PMIx ("OMPI was not built with SLURM's PMI support" otherwise), and
/// many sites keep Slurm's `MpiDefault=none`.
pub fn srun_mpi(extra: &[String], mpi_type: Option<&str>, offered: &str) -> Option<String> {
    let chosen = extra
        .iter()
        .any(|a| a == "--mpi" || a.starts_with("--mpi="));
    let pmix = offered
        .split(|c: char| c.is_whitespace() || c == ',' || c == ':')
        .any(|w| w == "pmix");
    (!chosen && mpi_type.is_none_or(str::is_empty) && pmix).then(|| "--mpi=pmix".to_string())
}

/// `mpirun` options that choose where ranks run (OpenMPI's and Hydra's spellings): when the user
/// passes one, their choice stands and [`Launcher::give_threads`] adds nothing. `=VALUE` forms
/// are matched by their name.
const MPIRUN_BINDING: [&str; 10] = [
    "--map-by",
    "-map-by",
    "--bind-to",
    "-bind-to",
    "-binding",
    "--cpus-per-proc",
    "--cpus-per-rank",
    "--cpu-set",
    "--rankfile",
    "-rf",
];
/// `srun` options that choose the cores of a task, likewise.
const SRUN_BINDING: [&str; 4] = ["--cpus-per-task", "-c", "--cpu-bind", "--cpu_bind"];

impl Launcher {
    /// This launcher with the options that give each rank `threads` cores, and the one line that
    /// says what was done; the line is `None` for one thread. `cores` are this machine's; `lib`
    /// is the MPI library `mpirun` belongs to (that halo is linked with).
    ///
    /// - `srun`: `--cpus-per-task=T`.
    /// - OpenMPI's `mpirun`: `--map-by slot:PE=T`, which binds each rank to T cores (with
    ///   `--oversubscribe`, which [`Launcher::command`] adds when ranks × threads exceed the cores,
    ///   ranks then share them); when T exceeds the cores, which OpenMPI refuses to map,
    ///   `--bind-to none`.
    /// - MPICH's Hydra: `-bind-to core:T`; when T exceeds the cores nothing, since Hydra binds
    ///   nothing unless told.
    ///
    /// When the user's own launcher arguments hold a binding or mapping option, theirs stands.
    pub fn give_threads(
        self,
        threads: usize,
        cores: usize,
        lib: Launch,
    ) -> (Launcher, Option<String>) {
        if threads <= 1 {
            return (self, None);
        }
        let t = threads;
        let (extra, srun) = match &self {
            Launcher::Mpirun(extra) => (extra, false),
            Launcher::Srun(extra) => (extra, true),
        };
        let prog = if srun { "srun" } else { "mpirun" };
        let binding = |a: &str| {
            let name = a.split_once('=').map_or(a, |(n, _)| n);
            let known = if srun {
                &SRUN_BINDING[..]
            } else {
                &MPIRUN_BINDING[..]
            };
            // A short option may carry its value glued on: `-c8`.
            let glued = !a.starts_with("--")
                && known
                    .iter()
                    .any(|k| k.len() == 2 && a.len() > 2 && a.starts_with(k));
            if glued {
                return Some(false);
            }
            known.contains(&name).then_some(name.len() == a.len())
        };
        // Each binding option of the user's, with its value when that is the next argument.
        let theirs: Vec<String> = extra
            .iter()
            .enumerate()
            .filter_map(|(i, a)| match binding(a)? {
                true => Some(match extra.get(i + 1) {
                    Some(v) if !v.starts_with('-') => format!("{a} {v}"),
                    _ => a.clone(),
                }),
                false => Some(a.clone()),
            })
            .collect();
        if !theirs.is_empty() {
            let line = format!(
                "{t} threads per rank: keeping {} from --mpirun-args, which decides the cores each \
                 rank has",
                theirs.join(" ")
            );
            return (self, Some(line));
        }
        let gets = |args: &[String]| {
            format!(
                "each rank gets {t} cores for its {t} threads: {} {}",
                if srun { "srun" } else { "mpirun" },
                args.join(" ")
            )
        };
        let (add, line): (Vec<String>, String) = match (srun, lib) {
            (true, _) => {
                let add = affinity::binding(Launch::Slurm, t);
                let line = gets(&add);
                (add, line)
            }
            (false, Launch::OpenMpi | Launch::Mpich) if t <= cores => {
                let add = affinity::binding(lib, t);
                let line = gets(&add).replace("mpirun -bind-to", "mpiexec -bind-to");
                (add, line)
            }
            (false, Launch::OpenMpi) => (
                vec!["--bind-to".into(), "none".into()],
                format!(
                    "{t} threads per rank, more than this machine's {cores} cores: mpirun \
                     --bind-to none, each rank may run on any core"
                ),
            ),
            (false, Launch::Mpich) => (
                Vec::new(),
                format!(
                    "{t} threads per rank, more than this machine's {cores} cores: MPICH binds \
                     nothing unless told, each rank may run on any core"
                ),
            ),
            (false, _) => (
                Vec::new(),
                format!(
                    "{t} threads per rank: which MPI {prog} belongs to is unknown, so no binding \
                     is added; pass the one that gives each rank {t} cores in --mpirun-args"
                ),
            ),
        };
        let mut extra = extra.clone();
        extra.extend(add);
        let launcher = if srun {
            Launcher::Srun(extra)
        } else {
            Launcher::Mpirun(extra)
        };
        (launcher, Some(line))
    }
}

/// How many ranks a launcher can place without oversubscribing, as far as `halo scale` can tell,
/// and where that number comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slots {
    /// How many ranks fit, one per slot.
    pub count: usize,
    /// Where the count comes from, for messages, e.g. `this machine's cores`.
    pub source: String,
}

/// Options of mpirun (OpenMPI and MPICH's Hydra) that name a hostfile.
const HOSTFILE_OPTIONS: [&str; 5] = [
    "--hostfile",
    "-hostfile",
    "--machinefile",
    "-machinefile",
    "-f",
];
/// Options of mpirun that list hosts, `a,b:2` (a host without a count is one slot).
const HOST_OPTIONS: [&str; 5] = ["--host", "-host", "-H", "--hosts", "-hosts"];

impl Launcher {
    /// The slots this launcher can see: under `srun`, the allocation's task count
    /// (`SLURM_NTASKS`); under `mpirun`, the slots of a hostfile or host list among its
    /// arguments, else those of a Slurm allocation or PBS node file it runs in, else `cores`
    /// (this machine's). A hostfile line without a count (`node01` rather than
    /// `node01 slots=32` or `node01:32`) is taken to have `cores` slots, as OpenMPI takes it
    /// to have the cores of that node. `env` reads environment variables.
    pub fn slots(
        &self,
        cores: usize,
        env: impl Fn(&str) -> Option<String>,
    ) -> crate::error::Result<Slots> {
        let positive = |v: Option<String>| v?.trim().parse::<usize>().ok().filter(|&n| n > 0);
        let allocation = || {
            ["SLURM_NTASKS", "SLURM_NPROCS"].iter().find_map(|var| {
                positive(env(var)).map(|count| Slots {
                    count,
                    source: format!("{var} of this Slurm allocation"),
                })
            })
        };
        let local = Slots {
            count: cores,
            source: "this machine's cores".into(),
        };
        let extra = match self {
            Launcher::Srun(_) => return Ok(allocation().unwrap_or(local)),
            Launcher::Mpirun(extra) => extra,
        };
        let mut found: Option<Slots> = None;
        let mut keep = |s: Slots| {
            if found.as_ref().is_none_or(|f| s.count > f.count) {
                found = Some(s);
            }
        };
        let mut i = 0;
        while i < extra.len() {
            let (opt, value, step) = match extra[i].split_once('=') {
                Some((o, v)) if o.starts_with('-') => (o, Some(v), 1),
                _ => (extra[i].as_str(), extra.get(i + 1).map(String::as_str), 2),
            };
            let Some(value) = value else { break };
            if HOSTFILE_OPTIONS.contains(&opt) {
                let text = std::fs::read_to_string(value).map_err(|e| crate::Error::Io {
                    path: format!("--mpirun-args {opt} {value}"),
                    message: e.to_string(),
                })?;
                keep(Slots {
                    count: hostfile_slots(&text, cores),
                    source: format!("{opt} {value}"),
                });
                i += step;
            } else if HOST_OPTIONS.contains(&opt) {
                let count = value
                    .split(',')
                    .filter(|h| !h.is_empty())
                    .map(|h| {
                        h.rsplit_once(':')
                            .and_then(|(_, n)| n.parse().ok())
                            .unwrap_or(1)
                    })
                    .sum();
                keep(Slots {
                    count,
                    source: format!("{opt} {value}"),
                });
                i += step;
            } else {
                i += 1;
            }
        }
        if let Some(s) = found {
            return Ok(s);
        }
        if env("SLURM_JOB_ID").is_some() {
            if let Some(s) = allocation() {
                return Ok(s);
            }
        }
        if let Some(path) = env("PBS_NODEFILE") {
            if let Ok(text) = std::fs::read_to_string(&path) {
                let count = text.lines().filter(|l| !l.trim().is_empty()).count();
                if count > 0 {
                    return Ok(Slots {
                        count,
                        source: format!("the PBS node file {path}"),
                    });
                }
            }
        }
        Ok(local)
    }
}

/// The slots of an OpenMPI (`host slots=N`) or MPICH (`host:N`) hostfile; a host without a
/// count has `cores`.
fn hostfile_slots(text: &str, cores: usize) -> usize {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let host = words.next()?;
            let n = host
                .rsplit_once(':')
                .and_then(|(_, n)| n.parse().ok())
                .or_else(|| {
                    words.find_map(|w| {
                        let (k, v) = w.split_once('=')?;
                        matches!(k, "slots" | "max_slots" | "max-slots")
                            .then(|| v.parse().ok())
                            .flatten()
                    })
                });
            Some(n.unwrap_or(cores))
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mpirun(args: &[&str]) -> Launcher {
        Launcher::Mpirun(args.iter().map(|a| a.to_string()).collect())
    }

    #[test]
    fn threads_get_their_cores_from_each_launcher() {
        let ompi = Launch::OpenMpi;
        let (l, line) = mpirun(&["-x", "A"]).give_threads(1, 2, ompi);
        assert_eq!((l, line), (mpirun(&["-x", "A"]), None));
        let (l, line) = mpirun(&["-x", "A"]).give_threads(2, 2, ompi);
        assert_eq!(l, mpirun(&["-x", "A", "--map-by", "slot:PE=2"]));
        assert!(line.unwrap().ends_with("mpirun --map-by slot:PE=2"));
        // OpenMPI refuses PE above a node's cores: unbound instead.
        let (l, line) = mpirun(&[]).give_threads(3, 2, ompi);
        assert_eq!(l, mpirun(&["--bind-to", "none"]));
        assert!(line.unwrap().contains("--bind-to none"));
        let (l, _) = mpirun(&[]).give_threads(2, 4, Launch::Mpich);
        assert_eq!(l, mpirun(&["-bind-to", "core:2"]));
        let (l, _) = mpirun(&[]).give_threads(8, 4, Launch::Mpich);
        assert_eq!(l, mpirun(&[]));
        let (l, line) = mpirun(&[]).give_threads(2, 4, Launch::Unknown);
        assert_eq!(l, mpirun(&[]));
        assert!(line.unwrap().contains("--mpirun-args"));
        let (l, _) = Launcher::Srun(vec![]).give_threads(4, 1, ompi);
        assert_eq!(l, Launcher::Srun(vec!["--cpus-per-task=4".into()]));
    }

    #[test]
    fn a_binding_the_user_chose_stands() {
        for theirs in [
            &["--bind-to", "none"][..],
            &["--map-by", "ppr:1:socket"],
            &["--map-by=core"],
            &["-bind-to", "hwthread"],
        ] {
            let (l, line) = mpirun(theirs).give_threads(2, 2, Launch::OpenMpi);
            assert_eq!(l, mpirun(theirs));
            let line = line.unwrap();
            assert!(
                line.contains(&format!("keeping {}", theirs.join(" "))),
                "{line}"
            );
        }
        for theirs in [vec!["-c", "8"], vec!["-c8"], vec!["--cpus-per-task=8"]] {
            let srun = Launcher::Srun(theirs.iter().map(|a| a.to_string()).collect());
            let (l, line) = srun.clone().give_threads(2, 2, Launch::OpenMpi);
            assert_eq!(l, srun);
            assert!(line.unwrap().contains(&theirs.join(" ")));
        }
        // An option merely starting like one is not a binding.
        let other = Launcher::Srun(vec!["--constraint=x".into()]);
        let (l, _) = other.give_threads(2, 2, Launch::OpenMpi);
        assert_eq!(
            l,
            Launcher::Srun(vec!["--constraint=x".into(), "--cpus-per-task=2".into()])
        );
    }

    #[test]
    fn srun_gets_pmix_unless_the_user_or_the_site_chose() {
        // What Debian's Slurm 22.05 prints.
        let offered = "MPI plugin types are...\n\tpmix\n\tnone\n\tcray_shasta\n\tpmi2\nspecific pmix plugin versions available: pmix_v3\n";
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(srun_mpi(&[], None, offered), Some("--mpi=pmix".into()));
        assert_eq!(srun_mpi(&[], Some(""), offered), Some("--mpi=pmix".into()));
        assert_eq!(srun_mpi(&[], Some("pmi2"), offered), None);
        assert_eq!(srun_mpi(&args(&["--mpi=pmi2"]), None, offered), None);
        assert_eq!(srun_mpi(&args(&["--mpi", "none"]), None, offered), None);
        assert_eq!(
            srun_mpi(&[], None, "MPI plugin types are...\n\tnone\n\tpmi2\n"),
            None
        );
        assert_eq!(srun_mpi(&[], None, "\tpmix_v3\n"), None);
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn hostfiles_count_their_slots_in_either_format() {
        let openmpi =
            "# two nodes\nnode01 slots=32\nnode02 slots=16 max_slots=64 # more\n\nnode03\n";
        assert_eq!(hostfile_slots(openmpi, 2), 32 + 16 + 2);
        assert_eq!(hostfile_slots("node01:32\nnode02:8\n", 2), 40);
        assert_eq!(hostfile_slots("# nothing\n", 2), 0);
    }

    #[test]
    fn the_slots_each_launcher_can_see() {
        let mpirun = |args: &[&str]| Launcher::Mpirun(args.iter().map(|a| a.to_string()).collect());
        let s = mpirun(&[]).slots(6, no_env).unwrap();
        assert_eq!((s.count, s.source.as_str()), (6, "this machine's cores"));
        let s = mpirun(&["--host", "a:4,b,b"]).slots(6, no_env).unwrap();
        assert_eq!((s.count, s.source.as_str()), (6, "--host a:4,b,b"));
        assert_eq!(mpirun(&["-H=a:3"]).slots(6, no_env).unwrap().count, 3);
        let file = std::env::temp_dir().join(format!("halo-slots-{}", std::process::id()));
        std::fs::write(&file, "n1 slots=40\nn2 slots=40\n").unwrap();
        let f = file.to_str().unwrap();
        let s = mpirun(&["--mca", "btl", "tcp", "--hostfile", f])
            .slots(6, no_env)
            .unwrap();
        assert_eq!(s.count, 80);
        assert_eq!(s.source, format!("--hostfile {f}"));
        std::fs::remove_file(&file).unwrap();
        assert!(mpirun(&["--hostfile", f]).slots(6, no_env).is_err());
        // Inside a Slurm allocation: its task count, for srun and for a bare mpirun.
        let slurm = |v: &str| match v {
            "SLURM_JOB_ID" => Some("7".to_string()),
            "SLURM_NTASKS" => Some("128".to_string()),
            _ => None,
        };
        assert_eq!(Launcher::Srun(vec![]).slots(6, slurm).unwrap().count, 128);
        assert_eq!(mpirun(&[]).slots(6, slurm).unwrap().count, 128);
        assert_eq!(mpirun(&["-H", "a:2"]).slots(6, slurm).unwrap().count, 2);
        assert_eq!(Launcher::Srun(vec![]).slots(6, no_env).unwrap().count, 6);
    }
}
