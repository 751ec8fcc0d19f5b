//! Implicit time steps of heat, each one linear system solved by multigrid: backward Euler and
//! Crank–Nicolson ([`Scheme`]), whose step is free of the explicit scheme's `dt ≤ h²/(4α)`.
//!
//! With `S` the scaled 5-point operator of [`super::multigrid`] (`S = hx·hy·(−∇²_h)` on the
//! finest level), `M = hx·hy` each node's dual cell and `σ = 1/(α·dt)`, both schemes solve the
//! shifted system `(σ·M + S) v = σ·M uⁿ` from `v = uⁿ`:
//!
//! - backward Euler takes `uⁿ⁺¹ = v`;
//! - Crank–Nicolson solves it with `σ = 2/(α·dt)`, a half step of backward Euler, and takes
//!   `uⁿ⁺¹ = 2v − uⁿ`: then `(σM + S)(uⁿ⁺¹ + uⁿ)/2 = σM uⁿ`, which is
//!   `(σM + S) uⁿ⁺¹ = (σM − S) uⁿ`, Crank–Nicolson's step, without an operator applied to
//!   form its right-hand side.
//!
//! **Inner tolerance.** Each step runs multigrid cycles until `‖b − (σM + S) v‖₂` is at most
//! [`INNER_RTOL`] of its value at `v = uⁿ`, or at most [`FLOOR_ULPS`]·ε·`‖b‖₂`, the rounding
//! floor of a residual beside a right-hand side that large (the floor comes first only for short
//! steps: for the sine mode, when `α·dt` is below about 5e-7). The solve's error in a step is
//! then a `1e-10` part of the step's change, far below the error in time. A step that reaches
//! neither within [`MAX_CYCLES`] cycles ends the run (exit 6). With V(2,2) cycles a step takes
//! about eight.
//!
//! **Reproducible.** The norms are exact ([`super::exact`]) and every cycle is deterministic per
//! cell, so the number of cycles in each step, and every field, are bitwise the same on any rank
//! count or process grid (a rank runs one thread, as multigrid does). A step reads `uⁿ` alone,
//! so a checkpoint of `u` restarts to the same bits.
//!
//! One iteration of the driver is one time step; its residual is the largest change of a cell
//! in the step, as for explicit steps.

use super::driver::{Advanced, LocalResidual, Pass, Solver, Timings};
use super::elliptic;
use super::exact::{all_sums, ExactSum};
use super::multigrid::{Cycling, Multigrid};
use super::options::Scheme;
use super::problems::{boundaries, StencilProblem};
use crate::comm::Comm;
use crate::error::{Error, Result};
use crate::grid::{DistArray, Layout};
use ndarray::Zip;

/// The inner solve stops once the residual is this part of its value at the step's start.
pub const INNER_RTOL: f64 = 1e-10;

/// Or once it is at most this many ε of `‖b‖₂`: the residual of a converged step stays at about
/// half of one (measured: 0.43 to 0.51 on 255², 1023² and 1023x63), where cycles change `v` no
/// more.
pub const FLOOR_ULPS: f64 = 4.0;

/// The most multigrid cycles in one step.
pub const MAX_CYCLES: usize = 100;

/// Heat's implicit steps.
pub(crate) struct Implicit {
    comm: Comm,
    problem: StencilProblem,
    scheme: Scheme,
    /// The hierarchy of `σM + S`; its finest `u` is the step's unknown `v`, its `b` = `σM uⁿ`.
    mg: Multigrid,
    /// `σ·M` on the finest level, as the operator's shift term has it: `σ·(hx·hy)`.
    mass: f64,
    /// The field `uⁿ` (zero walls).
    u: DistArray,
    /// Ranks in the job.
    ranks: usize,
}

impl Implicit {
    /// The solver of heat (`problem`) on `layout`'s blocks by `scheme`, each step cycled by
    /// `cycling`; collective.
    pub fn new(
        comm: &Comm,
        layout: &Layout,
        problem: StencilProblem,
        scheme: Scheme,
        cycling: Cycling,
    ) -> Result<Self> {
        let fine = elliptic::fine_layout(layout);
        let dt = problem.heat.time_step(&problem.domain);
        let sigma = match scheme {
            Scheme::Cn => 2.0 / (problem.heat.alpha * dt),
            _ => 1.0 / (problem.heat.alpha * dt),
        };
        let mg = Multigrid::new(
            comm,
            &fine,
            boundaries(problem.problem),
            cycling,
            false,
            sigma,
        )?;
        let u = comm.agree(problem.initial(&fine))?;
        let mass = sigma * (problem.domain.hx() * problem.domain.hy());
        Ok(Implicit {
            comm: comm.duplicate(),
            problem,
            scheme,
            mg,
            mass,
            u,
            ranks: comm.size(),
        })
    }

    /// `‖uⁿ‖₂`, the same bits on every rank; collective.
    fn norm_u(&self) -> Result<f64> {
        let mut s = ExactSum::new();
        elliptic::dot_exact(&self.u, &self.u, &mut s);
        Ok(all_sums(&self.comm, &[s])?[0].sqrt())
    }

    /// One time step; with `measure`, the largest change of a cell in it over this rank's
    /// block and whether a new value is NaN or infinite. Collective. Adds the seconds of its own
    /// allreduce to `reduce`.
    fn step(&mut self, done: usize, measure: bool, reduce: &mut f64) -> Result<(f64, bool)> {
        let m = self.mass;
        let level = self.mg.fine_mut();
        Zip::from(level.b.interior_mut())
            .and(self.u.interior())
            .for_each(|b, &u| *b = m * u);
        level.exchange_b();
        level.u.interior_mut().assign(&self.u.interior());
        let t = Comm::wtime();
        let floor = FLOOR_ULPS * f64::EPSILON * m * self.norm_u()?;
        *reduce += Comm::wtime() - t;
        let r0 = self.mg.residual_norm()?;
        let tol = (INNER_RTOL * r0).max(floor);
        let mut r = r0;
        let mut cycles = 0;
        // False for a NaN: a poisoned field is stepped once, and the change reports it.
        while r > tol {
            if cycles == MAX_CYCLES {
                return Err(Error::NotConverged(format!(
                    "{}: the implicit system of step {} did not reach its tolerance in {MAX_CYCLES} multigrid cycles (relative residual {:.3e}, tolerance {:.3e}); try more --pre/--post sweeps or the rbgs smoother",
                    self.problem.problem.name(),
                    done + 1,
                    r / r0,
                    tol / r0
                )));
            }
            self.mg.cycle();
            cycles += 1;
            r = self.mg.residual_norm()?;
        }
        let v = self.mg.u();
        let mut change = 0.0f64;
        let mut bad = false;
        let cn = self.scheme == Scheme::Cn;
        Zip::from(self.u.interior_mut())
            .and(v.interior())
            .for_each(|u, &v| {
                let next = if cn { 2.0 * v - *u } else { v };
                if measure {
                    change = change.max((next - *u).abs());
                    bad |= !next.is_finite();
                }
                *u = next;
            });
        Ok((change, bad))
    }
}

impl Solver for Implicit {
    fn name(&self) -> &str {
        self.problem.problem.name()
    }

    fn advance(&mut self, pass: Pass, time: &mut Timings) -> Result<Advanced> {
        let start = self.mg.clocks();
        let mut reduce = 0.0;
        let mut last = (0.0, false);
        for done in pass.done..pass.until {
            let measure = pass.check && done + 1 == pass.until;
            last = self.step(done, measure, &mut reduce)?;
        }
        self.mg.split_time(start, reduce, time);
        Ok(Advanced {
            steps: pass.until - pass.done,
            residual: pass.check.then_some(LocalResidual {
                value: last.0,
                bad: last.1,
                agreed: false,
            }),
        })
    }

    fn state(&self) -> Vec<(&'static str, &DistArray)> {
        vec![("u", &self.u)]
    }

    fn into_fields(self: Box<Self>) -> Vec<(&'static str, DistArray)> {
        vec![("u", self.u)]
    }

    fn state_mut(&mut self) -> Vec<&mut DistArray> {
        vec![&mut self.u]
    }

    fn restored(&mut self, _time: f64) -> Result<()> {
        Ok(())
    }

    fn time(&self, done: usize) -> Option<f64> {
        self.problem.time(done)
    }

    fn watched(&self) -> (String, &DistArray) {
        (format!("{}: the field", self.problem.problem), &self.u)
    }

    fn watched_mut(&mut self) -> &mut DistArray {
        &mut self.u
    }

    fn traffic(&self) -> (u64, u64) {
        self.mg.traffic()
    }

    fn local_error(&self, done: usize) -> Option<f64> {
        self.problem.local_error(&self.u, done)
    }

    fn levels(&self) -> Option<Vec<crate::solver::report::LevelStats>> {
        Some(self.mg.levels(self.ranks))
    }

    fn work_units(&self) -> Option<f64> {
        Some(self.mg.work())
    }
}
