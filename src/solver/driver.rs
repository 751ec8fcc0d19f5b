//! The one driver: what every iterative solve shares, around a [`Solver`] that owns only its
//! arithmetic.
//!
//! ```text
//! until the last iteration or convergence:
//!     plan a pass        up to the next place the state must be seen (check, checkpoint, stop)
//!     advance            the solver's pass: one or more iterations, its own exchanges
//!     after the pass     the monitor's hook (e.g. a fault injected on purpose, in tests)
//!     check              allreduce of the residual: divergence, convergence
//!     checkpoint         when one is due, of a state checked to be finite
//!     progress           the monitor's display
//!     stop asked?        the answer to the question asked after the previous pass (was any
//!                        rank signalled?): if so, a last checkpoint and Error::Stopped; then
//!                        the question again, as a nonblocking allreduce across the next pass
//! ```
//!
//! Time is split the way `-log_view` splits it: computation, halo exchanges (and of those, waiting
//! for messages), reductions; checkpoints and hooks are left out of the loop's time.
//!
//! A checkpoint is written only of a state checked to be finite everywhere, so a restart never
//! resumes from a blown-up run. A time-stepped run to a steady state may ask for a least
//! simulated time and for stall detection ([`Stopping`]): it then ends with
//! [`Driven::stalled`] rather than run on with a residual that no longer falls.
//!
//! A wall-clock limit is not the driver's: it must end a job even when a rank is stuck inside an
//! MPI call, which only a thread that ends the process can do, and a library must not end its
//! caller's process (the `halo` command's `--timeout` is such a watchdog).

use super::options::Stopping;
use crate::comm::{AllReduce, Comm, ReduceOp};
use crate::error::{Error, Result};
use crate::grid::DistArray;
use crate::io::Checkpointer;

/// Where a run is, for progress displays: reported after every pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Iterations done.
    pub iter: usize,
    /// Iterations at most.
    pub iters: usize,
    /// The residual, on iterations that checked it.
    pub residual: Option<f64>,
    /// The simulated time after `iter` iterations, for time-dependent problems (heat, the
    /// cavity; [`Solver::time`]); `None` for the others.
    pub time: Option<f64>,
}

/// Seconds a rank spent in each kind of work; solvers add to it as they go.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Computing: sweeps, steps, residuals.
    pub compute: f64,
    /// Halo exchanges: packing, posting, waiting, unpacking.
    pub halo: f64,
    /// Of `halo`, the time spent waiting for the neighbours' messages.
    pub wait: f64,
    /// Allreduces (waiting for the slowest rank included).
    pub reduce: f64,
}

/// What one pass may do: start after iteration `done`, end at `until` at the latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Iterations done before the pass.
    pub done: usize,
    /// The pass must not go past this iteration; the driver needs to see the state there.
    pub until: usize,
    /// Whether the residual is checked at `until`: a pass that ends there measures it.
    pub check: bool,
}

/// A rank's part of a residual check: its largest residual, and whether any value it holds is NaN
/// or infinite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalResidual {
    /// This rank's largest residual.
    pub value: f64,
    /// Whether a value went NaN or infinite.
    pub bad: bool,
    /// Whether `value` and `bad` are already the same on every rank (a solver that reduced its
    /// own residual norm), so the driver need not reduce them again.
    pub agreed: bool,
}

/// What a pass did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Advanced {
    /// Iterations it did: at least one, at most `until − done`.
    pub steps: usize,
    /// The local residual, when the pass ended at a check (`check`, and `done + steps ==
    /// until`); `None` otherwise.
    pub residual: Option<LocalResidual>,
}

/// An iterative solver on a distributed grid: its state, and one pass of its iteration. It does no
/// I/O, knows no command line and no other solver; the [`drive`]r does the rest.
///
/// Every pass is collective: all ranks make the same passes.
pub trait Solver {
    /// The problem's name, for messages.
    fn name(&self) -> &str;

    /// One pass (a sweep, a few sweeps of a temporal block, a time step, a cycle), adding its
    /// time to `time`.
    fn advance(&mut self, pass: Pass, time: &mut Timings) -> Result<Advanced>;

    /// The state a restart needs, by name, in a fixed order.
    fn state(&self) -> Vec<(&'static str, &DistArray)>;

    /// The state's arrays, to be filled from a checkpoint: [`Solver::state`]'s, in its order.
    fn state_mut(&mut self) -> Vec<&mut DistArray>;

    /// Takes up the state after a checkpoint was read into [`Solver::state_mut`]'s arrays (their
    /// interiors; the ghosts are stale), with the simulated time it holds. Collective; an error
    /// is the same on every rank.
    fn restored(&mut self, time: f64) -> Result<()>;

    /// The simulated time after `done` iterations, for time-dependent problems.
    fn time(&self, done: usize) -> Option<f64>;

    /// The run's result, taking the solver apart: the solution `u` (the cavity: `psi`, then
    /// `omega`), each rank its block, in place (no copy is made).
    fn into_fields(self: Box<Self>) -> Vec<(&'static str, DistArray)>;

    /// The field whose blow-up means divergence, and what messages call it.
    fn watched(&self) -> (String, &DistArray);

    /// The same field, to change (a fault injected on purpose, in tests).
    fn watched_mut(&mut self) -> &mut DistArray;

    /// Halo bytes and messages this rank has sent.
    fn traffic(&self) -> (u64, u64);

    /// The largest `|u − u_exact|` over this rank's block after `done` iterations, for problems
    /// whose exact solution is known.
    fn local_error(&self, _done: usize) -> Option<f64> {
        None
    }

    /// The work done so far in fine-grid sweep equivalents, for solvers that count it (on rank 0
    /// it is the whole job's).
    fn work_units(&self) -> Option<f64> {
        None
    }

    /// A multigrid hierarchy's levels, finest first, with this rank's seconds on each.
    fn levels(&self) -> Option<Vec<super::report::LevelStats>> {
        None
    }

    /// Called on every rank after a checkpoint of the state was written: a solver that keeps a
    /// history beside its state (which checkpoints do not hold) forgets it here, so that a run
    /// restarted from this checkpoint, which starts with none, goes on exactly as this one does.
    fn checkpointed(&mut self) {}

    /// Whether the solver keeps such a history (see [`Solver::checkpointed`]): a run restarted
    /// from a checkpoint written off the regular interval (where a stopped run writes its last)
    /// then starts a new history where the uninterrupted run went on with its old one.
    fn keeps_history(&self) -> bool {
        false
    }
}

/// Watches a run from outside, on every rank: where it must stop to be seen, what to do after each
/// pass, and progress. Every method has a default that does nothing.
pub trait Monitor {
    /// Iterations after which [`Monitor::after_pass`] wants to see the state (passes end there).
    /// Passes are collective, so this must be the same list on every rank.
    fn stops(&self) -> Vec<usize> {
        Vec::new()
    }

    /// Called after every pass, with the iterations done so far.
    fn after_pass(&mut self, _done: usize, _solver: &mut dyn Solver) {}

    /// Called after every pass with where the run is (after the residual check, if any).
    fn progress(&mut self, _p: Progress) {}

    /// Whether the run may be asked to stop from outside ([`Monitor::stop_asked`]). The same on
    /// every rank: when it is, the ranks agree whether any was asked without waiting for one
    /// another: the question asked after a pass (a nonblocking allreduce of one integer) is
    /// answered after the next one, so a run stops one pass after it was asked.
    fn interruptible(&self) -> bool {
        false
    }

    /// Non-zero when this rank has been asked to stop, naming why (a signal's number). The
    /// driver ends the run at the end of the next pass with [`Error::Stopped`], after writing a
    /// checkpoint if the run writes them.
    fn stop_asked(&self) -> i32 {
        0
    }
}

/// The monitor that watches nothing.
pub struct Unwatched;

impl Monitor for Unwatched {}

/// Where a run starts: from scratch (the default), or where a checkpoint left it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Start {
    /// Iterations already done.
    pub done: usize,
    /// The driver's state as the checkpoint holds it (empty from scratch): with it a restarted
    /// run stops where the uninterrupted one did.
    pub state: Vec<(String, String)>,
}

/// What a driven run did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Driven {
    /// The iteration it started from (not 0 after a restart).
    pub first: usize,
    /// Iterations done, counted from the start of the run.
    pub done: usize,
    /// The last residual checked (NaN if none was).
    pub residual: f64,
    /// Whether the tolerance was met.
    pub converged: bool,
    /// This rank's time in each kind of work.
    pub time: Timings,
    /// This rank's seconds outside the iterations (checkpoints, the monitor), to leave out of
    /// the loop's time.
    pub untimed: f64,
    /// With stall detection: the iteration after which the residual stopped falling, when the
    /// run ended for that reason.
    pub stalled: Option<usize>,
    /// Checkpoints written: how many, their bytes, and this rank's seconds in writing them
    /// (from the state's check to the file's rename, all ranks together).
    pub checkpoints: (usize, u64, f64),
}

/// The next iteration after `done` where the state must be seen: the next residual check, the
/// next checkpoint, the next monitor stop, the last iteration.
pub fn next_stop(done: usize, stop: &Stopping, every: &[usize], at: &[usize]) -> usize {
    let next_multiple = |n: usize| done + n - done % n;
    let mut until = stop.iters.min(next_multiple(stop.check_every));
    for &n in every {
        until = until.min(next_multiple(n));
    }
    for &a in at {
        if a > done {
            until = until.min(a);
        }
    }
    until
}

/// Runs `solver` from `start` until `stop` says, writing checkpoints with `checkpoints` when
/// given. Collective: every error is agreed, so all ranks return the same `Err` together.
pub fn drive(
    comm: &Comm,
    solver: &mut dyn Solver,
    stop: &Stopping,
    checkpoints: Option<&Checkpointer>,
    start: &Start,
    monitor: &mut dyn Monitor,
) -> Result<Driven> {
    let every: Vec<usize> = checkpoints.map(|c| c.every).into_iter().collect();
    let at = monitor.stops();
    let mut trail = Trail::read(&start.state)?;
    let mut run = Driven {
        first: start.done,
        done: start.done,
        residual: trail.residual,
        converged: trail.converged,
        time: Timings::default(),
        untimed: 0.0,
        stalled: trail.stalled,
        checkpoints: (0, 0, 0.0),
    };
    // The question whether any rank was asked to stop, in flight across a pass.
    let mut asking: Option<AllReduce<'_, i32>> = None;
    while run.done < stop.iters && !run.converged && run.stalled.is_none() {
        let until = next_stop(run.done, stop, &every, &at);
        let pass = Pass {
            done: run.done,
            until,
            check: stop.checks_at(until),
        };
        let step = solver.advance(pass, &mut run.time)?;
        run.done += step.steps;

        let t = Comm::wtime();
        monitor.after_pass(run.done, solver);
        run.untimed += Comm::wtime() - t;

        let mut seen = None;
        if let Some(local) = step.residual {
            let r = if local.agreed {
                local
            } else {
                let t = Comm::wtime();
                let r = global_residual(comm, local)?;
                run.time.reduce += Comm::wtime() - t;
                r
            };
            if r.bad {
                let (what, field) = solver.watched();
                return Err(diverged(comm, field, &what, run.done));
            }
            if trail.first.is_some_and(|r0: f64| r.value > 1e12 * r0) {
                return Err(Error::Diverged(format!(
                    "{}: the residual grew from {:.3e} to {:.3e} by iteration {}: the iteration diverges",
                    solver.name(),
                    trail.first.unwrap_or(0.0),
                    r.value,
                    run.done
                )));
            }
            trail.first = trail.first.or(Some(r.value));
            trail.residual = r.value;
            seen = Some(r.value);
            if let Some(tol) = stop.tol {
                // Before the least simulated time, a small residual says only that little has
                // happened.
                let late_enough = match (stop.min_time, solver.time(run.done)) {
                    (Some(least), Some(t)) => t >= least,
                    _ => true,
                };
                if r.value <= tol && late_enough {
                    trail.converged = true;
                } else if let Some(window) = stop.stall_window.filter(|_| late_enough) {
                    if trail.stall.push(r.value, window) {
                        trail.stalled = Some(run.done);
                    }
                }
            }
        }
        if let Some(c) = checkpoints.filter(|c| run.done.is_multiple_of(c.every)) {
            let t = Comm::wtime();
            finite(comm, solver, run.done)?;
            let time = solver.time(run.done).unwrap_or(0.0);
            let bytes = c.save(comm, run.done, time, &solver.state(), &trail.write())?;
            solver.checkpointed();
            let took = Comm::wtime() - t;
            run.untimed += took;
            let (n, b, s) = run.checkpoints;
            run.checkpoints = (n + 1, b + bytes, s + took);
        }
        monitor.progress(Progress {
            iter: run.done,
            iters: stop.iters,
            residual: seen,
            time: solver.time(run.done),
        });
        (run.residual, run.converged, run.stalled) =
            (trail.residual, trail.converged, trail.stalled);
        let finished = run.done >= stop.iters || run.converged || run.stalled.is_some();
        if monitor.interruptible() && !finished {
            let t = Comm::wtime();
            let asked = asking.take().map_or(0, |q| q.wait()[0]);
            if asked != 0 {
                run.time.reduce += Comm::wtime() - t;
                return stopped(comm, solver, checkpoints, &trail, run.done, stop, asked);
            }
            asking = Some(comm.immediate_all_reduce(vec![monitor.stop_asked()], ReduceOp::Max)?);
            run.time.reduce += Comm::wtime() - t;
        }
    }
    Ok(run)
}

/// Ends a run that was asked to stop by signal `signal` after iteration `done`: writes a
/// checkpoint when the run writes them and none was just written, and says where the run
/// stopped and how to resume it ([`Error::Stopped`]). A state that is no longer finite is not
/// saved: the run ends as diverged. Collective; the same `Err` on every rank.
fn stopped<T>(
    comm: &Comm,
    solver: &mut dyn Solver,
    checkpoints: Option<&Checkpointer>,
    trail: &Trail,
    done: usize,
    stop: &Stopping,
    signal: i32,
) -> Result<T> {
    let name = crate::node::signals::name(signal);
    let at = format!("stopped by {name} after iteration {done} of {}", stop.iters);
    let Some(c) = checkpoints else {
        return Err(Error::Stopped {
            signal,
            message: format!(
                "{at}; no checkpoint was asked for, so nothing is saved (--checkpoint-every and --checkpoint-dir make one)"
            ),
        });
    };
    let mut caveat = "";
    if !done.is_multiple_of(c.every) {
        finite(comm, solver, done)?;
        let time = solver.time(done).unwrap_or(0.0);
        if let Err(e) = c.save(comm, done, time, &solver.state(), &trail.write()) {
            return Err(Error::Stopped {
                signal,
                message: format!("{at}; its checkpoint could not be written: {e}"),
            });
        }
        if solver.keeps_history() {
            caveat = " (off the checkpoint interval: the resumed run starts a new acceleration history here, so it will not end bit for bit as an uninterrupted run)";
        }
    }
    let path = c.dir.join(crate::io::checkpoint_name(done));
    Err(Error::Stopped {
        signal,
        message: format!(
            "{at}; checkpoint {} is complete{caveat}: resume with --restart {}",
            path.display(),
            c.dir.display()
        ),
    })
}

/// What the stopping rules have seen so far: all a restart needs to stop where the
/// uninterrupted run did.
#[derive(Debug, Clone, PartialEq)]
struct Trail {
    /// The last residual checked (NaN before any).
    residual: f64,
    /// The first residual checked, for the growth rule.
    first: Option<f64>,
    /// Whether the tolerance was met.
    converged: bool,
    /// The iteration at which the run stalled, if it did.
    stalled: Option<usize>,
    /// The history stall detection reads.
    stall: Stall,
}

impl Trail {
    /// The trail as exact text, by name (Rust writes the shortest text that reads back to the
    /// same bits).
    fn write(&self) -> Vec<(String, String)> {
        let mut out = vec![
            ("residual".into(), format!("{:?}", self.residual)),
            ("converged".into(), self.converged.to_string()),
            ("stall_seen".into(), self.stall.seen.to_string()),
            (
                "stall_recent".into(),
                self.stall
                    .recent
                    .iter()
                    .map(|x| format!("{x:?}"))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ];
        if let Some(r0) = self.first {
            out.push(("first_residual".into(), format!("{r0:?}")));
        }
        if let Some(b) = self.stall.before {
            out.push(("stall_before".into(), format!("{b:?}")));
        }
        if let Some(n) = self.stalled {
            out.push(("stalled_at".into(), n.to_string()));
        }
        out
    }

    /// Reads [`Trail::write`]'s text back; empty text is a fresh start.
    fn read(pairs: &[(String, String)]) -> Result<Trail> {
        let bad = |k: &str| {
            Error::Config(format!(
                "the checkpoint's driver state has an unreadable {k}: it was written by another version of halo"
            ))
        };
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let num = |k: &str| -> Result<Option<f64>> {
            get(k)
                .map(|v| v.parse::<f64>().map_err(|_| bad(k)))
                .transpose()
        };
        let recent = match get("stall_recent") {
            None | Some("") => Default::default(),
            Some(v) => v
                .split(',')
                .map(|x| x.parse::<f64>().map_err(|_| bad("stall_recent")))
                .collect::<Result<_>>()?,
        };
        Ok(Trail {
            residual: num("residual")?.unwrap_or(f64::NAN),
            first: num("first_residual")?,
            converged: get("converged")
                .map(|v| v.parse::<bool>().map_err(|_| bad("converged")))
                .transpose()?
                .unwrap_or(false),
            stalled: get("stalled_at")
                .map(|v| v.parse::<usize>().map_err(|_| bad("stalled_at")))
                .transpose()?,
            stall: Stall {
                before: num("stall_before")?,
                recent,
                seen: get("stall_seen")
                    .map(|v| v.parse::<usize>().map_err(|_| bad("stall_seen")))
                    .transpose()?
                    .unwrap_or(0),
            },
        })
    }
}

/// The residuals checked so far, for stall detection: has the lowest of the last `window` come no
/// lower than 0.9 × the lowest before them? Kept as the lowest residual before the window and the
/// window itself, so each check costs O(window).
#[derive(Debug, Clone, Default, PartialEq)]
struct Stall {
    /// The lowest residual before the window.
    before: Option<f64>,
    /// The last residuals, oldest first.
    recent: std::collections::VecDeque<f64>,
    /// Residuals seen in all.
    seen: usize,
}

impl Stall {
    /// Adds a residual; true once the run has stalled (after at least `2·window` residuals).
    fn push(&mut self, r: f64, window: usize) -> bool {
        self.recent.push_back(r);
        self.seen += 1;
        if self.recent.len() > window {
            let out = self.recent.pop_front().expect("longer than the window");
            self.before = Some(self.before.map_or(out, |b| b.min(out)));
        }
        match self.before {
            Some(before) if self.seen >= 2 * window => {
                let low = self.recent.iter().copied().fold(f64::INFINITY, f64::min);
                low > 0.9 * before
            }
            _ => false,
        }
    }
}

/// Refuses to go on from a state with a NaN or infinite value in any field (collective): the
/// error names where it is, as a residual check would.
fn finite(comm: &Comm, solver: &dyn Solver, done: usize) -> Result<()> {
    let bad = solver
        .state()
        .iter()
        .any(|(_, f)| f.interior().iter().any(|x| !x.is_finite()));
    let any = comm.all_reduce_value(u8::from(bad), ReduceOp::Max)?;
    if any == 0 {
        return Ok(());
    }
    let (what, field) = solver.watched();
    Err(diverged(comm, field, &what, done))
}

/// The largest residual over all ranks, and whether any rank holds a bad value.
fn global_residual(comm: &Comm, local: LocalResidual) -> Result<LocalResidual> {
    let mut global = [0.0; 2];
    comm.all_reduce_into(
        &[local.value, f64::from(u8::from(local.bad))],
        &mut global,
        ReduceOp::Max,
    )?;
    Ok(LocalResidual {
        value: global[0],
        bad: global[1] > 0.0,
        agreed: true,
    })
}

/// The error for a field gone NaN or infinite, agreed on every rank: it names the iteration, the
/// lowest rank holding a bad cell and that cell's global row and column. Collective.
pub fn diverged(comm: &Comm, field: &DistArray, what: &str, done: usize) -> Error {
    let layout = field.layout();
    let first = field
        .interior()
        .indexed_iter()
        .find(|(_, x)| !x.is_finite())
        .map(|((i, j), &x)| (layout.block.rows.start + i, layout.block.cols.start + j, x));
    let local = match first {
        Some((r, c, x)) => Err(Error::Diverged(format!(
            "{what} became {x} by iteration {done}, first at cell (row {r}, column {c})"
        ))),
        None => Ok(()),
    };
    match comm.agree(local) {
        Err(e) => e,
        Ok(()) => Error::Diverged(format!("{what} became NaN or infinite by iteration {done}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_end_at_every_place_the_state_is_seen() {
        let stop = Stopping {
            iters: 100,
            check_every: 10,
            ..Stopping::default()
        };
        assert_eq!(next_stop(0, &stop, &[], &[]), 10);
        assert_eq!(next_stop(10, &stop, &[], &[]), 20);
        assert_eq!(next_stop(13, &stop, &[7], &[]), 14);
        assert_eq!(next_stop(13, &stop, &[], &[15, 3]), 15);
        assert_eq!(next_stop(95, &stop, &[], &[]), 100);
        let short = Stopping {
            iters: 7,
            ..stop.clone()
        };
        assert_eq!(next_stop(0, &short, &[], &[]), 7);
        assert!(short.checks_at(7) && !short.checks_at(6));
    }

    #[test]
    fn a_falling_residual_never_stalls_and_a_flat_one_does() {
        let mut falling = Stall::default();
        assert!((0..1000).all(|k| !falling.push(0.99f64.powi(k), 20)));
        let mut flat = Stall::default();
        let stalled: Vec<bool> = (0..40)
            .map(|k| flat.push(1.0 + 0.1 * f64::from(k % 3), 10))
            .collect();
        // Not before twice the window, then at once.
        assert!(stalled[..19].iter().all(|s| !s));
        assert!(stalled[19]);
        // A residual that keeps falling, if slowly (1 % a check), gets under 0.9x in a window.
        let mut slow = Stall::default();
        assert!((0..500).all(|k| !slow.push(0.99f64.powi(k), 11)));
        // One too slow (0.5 % a check over windows of 10 checks: 5 %) stalls.
        let mut crawl = Stall::default();
        assert!((0..100).any(|k| crawl.push(0.995f64.powi(k), 10)));
    }

    #[test]
    fn the_trail_reads_back_to_the_same_bits() {
        let mut t = Trail::read(&[]).unwrap();
        assert!(t.residual.is_nan() && !t.converged && t.first.is_none());
        assert_eq!(Trail::read(&t.write()).unwrap().write(), t.write());
        for k in 0..30 {
            t.stall.push(0.1 + 1.0 / (3.0 + f64::from(k)), 10);
        }
        t.first = Some(1.0 / 3.0);
        t.residual = 1.8233521453552406e-18;
        t.converged = true;
        t.stalled = Some(4200);
        let back = Trail::read(&t.write()).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.residual.to_bits(), t.residual.to_bits());
        let broken = [("stall_seen".to_string(), "many".to_string())];
        assert!(Trail::read(&broken).is_err());
    }
}
