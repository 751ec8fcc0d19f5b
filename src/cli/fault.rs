//! `--fault`: a failure injected on purpose, to see how a tightly coupled job fails. A test hook
//! of the command, watching the solver through the library's [`Monitor`] interface; the library
//! itself knows nothing of it.

use halo::solver::{Monitor, Solver};
use halo::Error;
use std::str::FromStr;

/// What a [`Fault`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Write NaN into one cell of the field.
    Nan,
    /// Panic.
    Panic,
    /// Crash at once (`abort`), as a killed process would vanish.
    Abort,
    /// Send itself SIGTERM, as a scheduler stopping the job would (only this rank gets it).
    Term,
}

/// A failure to inject: `KIND@ITER[:RANK]`, e.g. `nan@30:1` (rank 1 writes NaN into its field
/// after iteration 30).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// What happens.
    pub kind: FaultKind,
    /// After which iteration.
    pub iter: usize,
    /// On which rank.
    pub rank: usize,
}

impl FromStr for Fault {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || {
            Error::Config(format!("'{s}' is not a fault: KIND@ITER[:RANK] with KIND nan, panic, abort or term, e.g. nan@30:1"))
        };
        let (kind, at) = s.split_once('@').ok_or_else(bad)?;
        let kind = match kind {
            "nan" => FaultKind::Nan,
            "panic" => FaultKind::Panic,
            "abort" => FaultKind::Abort,
            "term" => FaultKind::Term,
            _ => return Err(bad()),
        };
        let (iter, rank) = at.split_once(':').unwrap_or((at, "0"));
        Ok(Fault {
            kind,
            iter: iter.parse().map_err(|_| bad())?,
            rank: rank.parse().map_err(|_| bad())?,
        })
    }
}

impl Fault {
    /// Refuses a fault that could never strike: on a rank the job does not have, or after an
    /// iteration the run never reaches (it would do nothing, silently).
    pub fn check(&self, ranks: usize, iters: usize) -> Result<(), Error> {
        let at = format!("{}@{}:{}", self.kind.name(), self.iter, self.rank);
        if self.rank >= ranks {
            return Err(Error::Config(format!(
                "--fault {at}: rank {} does not exist (the job has ranks 0 to {})",
                self.rank,
                ranks - 1
            )));
        }
        if self.iter == 0 || self.iter > iters {
            return Err(Error::Config(format!(
                "--fault {at}: the run does iterations 1 to {iters}, so iteration {} never comes",
                self.iter
            )));
        }
        Ok(())
    }
}

impl FaultKind {
    /// The kind's name in `--fault`.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Nan => "nan",
            FaultKind::Panic => "panic",
            FaultKind::Abort => "abort",
            FaultKind::Term => "term",
        }
    }
}

/// A [`Monitor`] that carries `fault` out on `rank` (this process's), then passes progress on
/// to `inner`.
pub struct Injector<'a> {
    /// The fault.
    pub fault: Fault,
    /// This rank.
    pub rank: usize,
    /// The monitor that shows progress.
    pub inner: &'a mut dyn Monitor,
}

impl Monitor for Injector<'_> {
    fn stops(&self) -> Vec<usize> {
        let mut at = self.inner.stops();
        at.push(self.fault.iter);
        at
    }

    fn after_pass(&mut self, done: usize, solver: &mut dyn Solver) {
        self.inner.after_pass(done, solver);
        if self.rank != self.fault.rank || done != self.fault.iter {
            return;
        }
        let rank = self.rank;
        match self.fault.kind {
            FaultKind::Nan => {
                // The centre cell of this rank's block.
                let field = solver.watched_mut();
                let r = field.layout().interior();
                let centre = (
                    r.rows.start + r.rows.len() / 2,
                    r.cols.start + r.cols.len() / 2,
                );
                field.local_mut()[centre] = f64::NAN;
            }
            FaultKind::Panic => panic!("injected fault: rank {rank} panics after iteration {done}"),
            FaultKind::Abort => std::process::abort(),
            FaultKind::Term => {
                // SAFETY: raise(3) has no memory-safety preconditions; the signal's handler
                // (node::signals, installed by halo solve) only sets an atomic flag.
                unsafe { libc::raise(libc::SIGTERM) };
            }
        }
    }

    fn progress(&mut self, p: halo::solver::Progress) {
        self.inner.progress(p);
    }

    fn interruptible(&self) -> bool {
        self.inner.interruptible()
    }

    fn stop_asked(&self) -> i32 {
        self.inner.stop_asked()
    }
}
