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

/// Which signals a process catches, and which of them end it when they come again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Catching {
    /// The signals caught.
    pub signals: &'static [libc::c_int],
    /// Those of them that take their default action again once caught (`SA_RESETHAND`): a
    /// second one ends the process at once.
    pub again_ends: &'static [libc::c_int],
}

/// What a study catches: SIGINT, SIGTERM and SIGHUP, every time (the study must end its job
/// whole, however often it is asked).
pub const STUDY: Catching = Catching {
    signals: &[libc::SIGINT, libc::SIGTERM, libc::SIGHUP],
    again_ends: &[],
};

/// What a solve catches: SIGINT, SIGTERM and SIGUSR1. A second SIGINT (Ctrl-C again, on a run
/// started without mpirun) ends it at once; SIGTERM does not, as a rank may get it twice for
/// one stop (from the scheduler and from mpirun). SIGHUP is left alone: launchers do not
/// forward it, and a rank that outlived its terminal has nothing to save it for.
pub const SOLVE: Catching = Catching {
    signals: &[libc::SIGINT, libc::SIGTERM, libc::SIGUSR1],
    again_ends: &[libc::SIGINT],
};

extern "C" fn record(sig: libc::c_int) {
    // A lock-free atomic operation is async-signal-safe; nothing else happens here. The first
    // signal is kept, so the exit code names what stopped the process.
    let _ = CAUGHT.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
}

/// Catches `catching`'s signals ([`STUDY`] or [`SOLVE`]) from now on: each only sets a flag
/// that [`caught`] reads. A SIGHUP that is ignored already (as under `nohup`) stays ignored:
/// whoever started the process asked that hanging up not stop it. On an error the signals
/// caught so far get their default actions back, so that none is left caught unheeded.
pub fn install(catching: &Catching) -> io::Result<()> {
    for (k, &sig) in catching.signals.iter().enumerate() {
        let once = catching.again_ends.contains(&sig);
        // SAFETY: sigaction(2) with a null new action only reads the current one into `old`, a
        // zeroed, properly aligned `struct sigaction` this function owns. Then the new action
        // is a zeroed struct whose handler is `record`, an `extern "C" fn(c_int)` that only
        // performs a lock-free atomic compare-exchange (async-signal-safe: no allocation, no
        // locks, no errno change), with an empty mask (sigemptyset on a struct we own),
        // SA_RESTART so that the reads of the job's pipes on other threads are restarted rather
        // than failing with EINTR, and SA_RESETHAND for the signals a second of which ends the
        // process. signal(2) with SIG_DFL installs no handler of ours.
        let installed = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 {
                Err(io::Error::last_os_error())
            } else if sig == libc::SIGHUP && old.sa_sigaction == libc::SIG_IGN {
                Ok(())
            } else {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = record as extern "C" fn(libc::c_int) as libc::sighandler_t;
                act.sa_flags = libc::SA_RESTART | if once { libc::SA_RESETHAND } else { 0 };
                libc::sigemptyset(&mut act.sa_mask);
                if libc::sigaction(sig, &act, std::ptr::null_mut()) != 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            }
        };
        if let Err(e) = installed {
            for &done in &catching.signals[..k] {
                // SAFETY: as above, for SIG_DFL.
                unsafe { libc::signal(done, libc::SIG_DFL) };
            }
            return Err(e);
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

    /// The handler `sig` has now.
    fn handler(sig: libc::c_int) -> libc::sighandler_t {
        // SAFETY: sigaction(2) with a null new action only writes the current one into `old`,
        // a zeroed `struct sigaction` owned here.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            assert_eq!(libc::sigaction(sig, std::ptr::null(), &mut old), 0);
            old.sa_sigaction
        }
    }

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
        assert_eq!(
            handler(libc::SIGINT),
            record as extern "C" fn(libc::c_int) as usize
        );

        // A solve's SIGINT is caught once: the handler is then the default again (so a second
        // Ctrl-C ends the process), while SIGTERM and SIGUSR1 stay caught.
        install(&SOLVE).unwrap();
        // SAFETY: as above; SIGINT is caught by `record` (installed just above).
        assert_eq!(unsafe { libc::raise(libc::SIGINT) }, 0);
        assert_eq!(handler(libc::SIGINT), libc::SIG_DFL);
        assert_eq!(
            handler(libc::SIGUSR1),
            record as extern "C" fn(libc::c_int) as usize
        );
        assert_eq!(
            handler(libc::SIGTERM),
            record as extern "C" fn(libc::c_int) as usize
        );

        // Give this test process back the default actions, so Ctrl-C ends it again, and
        // forget the signals raised here: other tests of this process must not see them.
        for &sig in STUDY.signals.iter().chain(SOLVE.signals) {
            // SAFETY: signal(2) with SIG_DFL installs no handler of ours; no preconditions.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
        CAUGHT.store(0, Ordering::SeqCst);
    }
}
