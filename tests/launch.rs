//! The job launcher the tests and `halo scale` share: a job that is ended, or whose leader exits,
//! leaves nothing running — not the children it forked, not those in process groups of their own
//! (as OpenMPI puts its ranks), not those that ignore SIGTERM.

mod common;
use common::{halo_bin, mpirun_command};
use halo::scale::{run_with_timeout, Job};
use std::process::Command;
use std::time::{Duration, Instant};

/// The live processes of session `sid`, as `(pid, process group, name)`, read from /proc
/// independently of the launcher's own bookkeeping (so `kill(-pgid, 0)`, which finds zombies
/// too, is not used).
fn session(sid: u32) -> Vec<(u32, u32, String)> {
    common::live_processes()
        .into_iter()
        .filter(|p| p.session == sid)
        .map(|p| (p.pid, p.group, p.name))
        .collect()
}

/// Waits (a minute at most) until session `sid` holds at least `k` live processes; returns them.
fn wait_for_members(sid: u32, k: usize) -> Vec<(u32, u32, String)> {
    let start = Instant::now();
    loop {
        let m = session(sid);
        if m.len() >= k {
            return m;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the job never had {k} processes: {m:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sh(script: &str) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", script]);
    c
}

#[test]
fn a_timed_out_job_leaves_no_process_of_it_alive() {
    let job = Job::start(&mut sh("sleep 1000 & sleep 1000")).unwrap();
    let sid = job.id();
    // The shell and both sleeps, so the check below is not vacuous.
    let before = wait_for_members(sid, 3);
    let run = job.wait_timeout(Duration::from_millis(300)).unwrap();
    assert!(run.timed_out);
    assert_eq!(run.pid, sid);
    assert_eq!(session(sid), [], "left running; before the end: {before:?}");
}

#[test]
fn processes_in_groups_of_their_own_that_ignore_sigterm_are_killed_too() {
    // Like an OpenMPI rank, the perl-started sleep moves to a process group of its own, where a
    // kill of the leader's group would miss it; and nothing here heeds SIGTERM.
    let job = Job::start(&mut sh(
        "trap '' TERM; perl -e 'setpgrp(0, 0); exec qw(sleep 1000)' & sleep 1000",
    ))
    .unwrap();
    let sid = job.id();
    let start = Instant::now();
    let before = loop {
        let m = wait_for_members(sid, 3);
        if m.iter().any(|&(_, pgrp, _)| pgrp != sid) {
            break m;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{m:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = job.wait_timeout(Duration::ZERO).unwrap();
    assert!(run.timed_out);
    // SIGKILL after the grace period, since SIGTERM was ignored.
    assert_eq!(run.status.code(), None, "killed by a signal");
    assert_eq!(session(sid), [], "left running; before the end: {before:?}");
}

#[test]
fn an_orphan_left_by_a_finished_leader_is_ended_and_does_not_hold_the_pipes() {
    // The background sleep keeps the job's stdout open after the shell exits: reading to the end
    // of the pipe would wait for it, up to the timeout (the bound here says it did not wait).
    let run =
        run_with_timeout(&mut sh("sleep 1000 & echo done"), Duration::from_secs(120)).unwrap();
    assert!(!run.timed_out);
    assert!(run.status.success());
    assert_eq!(run.stdout, "done\n");
    assert!(run.elapsed < Duration::from_secs(60), "{:?}", run.elapsed);
    assert_eq!(session(run.pid), []);
}

#[test]
fn an_mpi_job_ended_on_timeout_leaves_no_rank() {
    let mut cmd = mpirun_command(
        2,
        &halo_bin(),
        &[
            "solve",
            "--grid",
            "300x300",
            "--iters",
            "100000000",
            "--quiet",
        ],
    );
    let job = Job::start(&mut cmd).unwrap();
    let sid = job.id();
    // mpirun and two ranks named after the binary; OpenMPI gives each rank its own group.
    let start = Instant::now();
    let ranks = loop {
        let m = session(sid);
        let ranks: Vec<_> = m.iter().filter(|p| p.2 == "halo").cloned().collect();
        if ranks.len() == 2 {
            break ranks;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no two ranks: {m:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = job.wait_timeout(Duration::ZERO).unwrap();
    assert!(run.timed_out);
    assert_eq!(
        session(sid),
        [],
        "left running; the ranks were {ranks:?}\n{}",
        run.stderr
    );
}
