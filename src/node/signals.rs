//! Signals that ask a process to stop, caught rather than obeyed at once, so that it stops at a
//! place of its choosing with its work saved:
//! - a study (`halo scale`, `halo refine`; [`STUDY`]: SIGINT, SIGTERM, SIGHUP) ends its running
//!   job whole (the job runs in a session of its own, out of reach of a terminal's Ctrl-C and of
//!   a signal sent to the study alone) and says what it had measured;
//! - a solve (`halo solve`; [`SOLVE`]: SIGINT, SIGTERM, SIGUSR1) ends its pass, agrees with the
//!   other ranks to stop, and writes a checkpoint (see `solver::driver`). A batch scheduler sends
//!   SIGTERM before it kills a job (Slurm's `scancel`, a time limit, preemption), and SIGUSR1 on
//!   request ahead of the limit (`sbatch --signal=USR1@120`).
//!
//! The handler only records the signal in an atomic; the study's wait loop or the solver's
//! driver polls [`caught`].

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};

/// The first signal caught since [`install`], or 0.
static CAUGHT: AtomicI32 = AtomicI32::new(0);

/// The signals a study catches.
pub const STUDY: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// The signals a solve catches. SIGHUP is left alone: MPI launchers do not forward it, and a
/// rank that outlived its terminal has nothing to save it for.
pub const SOLVE: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGUSR1];

extern "C" fn record(sig: libc::c_int) {
    // A lock-free atomic operation is async-signal-safe; nothing else happens here. The first
    // signal is kept, so the exit code names what stopped the study.
    let _ = CAUGHT.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
}

/// Catches `signals` ([`STUDY`] or [`SOLVE`]) from now on: each only sets a flag that
/// [`caught`] reads. A SIGHUP that is ignored already (as under `nohup`) stays ignored: whoever
/// started the process asked that hanging up not stop it.
pub fn install(signals: &[libc::c_int]) -> io::Result<()> {
    for &sig in signals {
        // SAFETY: sigaction(2) with a null new action only reads the current one into `old`, a
        // zeroed, properly aligned `struct sigaction` this function owns. Then the new action
        // is a zeroed struct whose handler is `record`, an `extern "C" fn(c_int)` that only
        // performs a lock-free atomic compare-exchange (async-signal-safe: no allocation, no
        // locks, no errno change), with an empty mask (sigemptyset on a struct we own) and
        // SA_RESTART so that the reads of the job's pipes on other threads are restarted rather
        // than failing with EINTR.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 {
                return Err(io::Error::last_os_error());
            }
            if sig == libc::SIGHUP && old.sa_sigaction == libc::SIG_IGN {
                continue;
            }
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = record as extern "C" fn(libc::c_int) as libc::sighandler_t;
            act.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut act.sa_mask);
            if libc::sigaction(sig, &act, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// The first signal caught since [`install`] (none before it is called).
pub fn caught() -> Option<libc::c_int> {
    match CAUGHT.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// `SIGINT`, `SIGTERM`, `SIGHUP`, `SIGUSR1`, or `signal N`.
pub fn name(sig: libc::c_int) -> String {
    match sig {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGUSR1 => "SIGUSR1".into(),
        n => format!("signal {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_signal_only_sets_the_flag_and_the_first_one_is_kept() {
        install(&STUDY).unwrap();
        // SAFETY: raise(3) has no memory-safety preconditions; SIGTERM is caught just above,
        // so it runs `record` instead of ending the test process.
        assert_eq!(unsafe { libc::raise(libc::SIGTERM) }, 0);
        assert_eq!(caught(), Some(libc::SIGTERM));
        // SAFETY: as above, for SIGINT.
        assert_eq!(unsafe { libc::raise(libc::SIGINT) }, 0);
        assert_eq!(caught(), Some(libc::SIGTERM));
        assert_eq!(name(libc::SIGINT), "SIGINT");
        // Give this test process back the default actions, so Ctrl-C ends it again, and
        // forget the signals raised here: other tests of this process must not see them.
        for sig in STUDY {
            // SAFETY: signal(2) with SIG_DFL installs no handler of ours; no preconditions.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
        CAUGHT.store(0, Ordering::SeqCst);
    }
}
