//! Multigrid as the solver: `mg` runs cycles until the relative residual is small enough; `fmg`
//! starts with one full-multigrid pass (nested iteration from the coarsest level), then cycles.
//! One iteration is one cycle.
//!
//! A cycle's next state depends on `u` alone, so a checkpoint of `u` restarts to the same bits.

use super::driver::{Advanced, Pass, Solver, Timings};
use super::elliptic;
use super::multigrid::{Cycling, Multigrid};
use super::problems::{boundaries, StencilProblem};
use crate::comm::Comm;
use crate::error::Result;
use crate::grid::{DistArray, Layout};

/// Multigrid cycles, optionally after one full-multigrid pass.
pub(crate) struct Cycles {
    mg: Multigrid,
    problem: StencilProblem,
    /// Whether the first iteration is a full-multigrid pass.
    full: bool,
    /// `‖b − S u₀‖₂` of the starting field, which residuals are relative to.
    r0: f64,
    /// Ranks in the job.
    ranks: usize,
}

impl Cycles {
    /// The solver of `problem` on `layout`'s blocks; collective.
    pub fn new(
        comm: &Comm,
        layout: &Layout,
        problem: StencilProblem,
        cycling: Cycling,
        full: bool,
    ) -> Result<Self> {
        let fine = elliptic::fine_layout(layout);
        let mut mg = Multigrid::new(
            comm,
            &fine,
            boundaries(problem.problem),
            cycling,
            false,
            0.0,
        )?;
        let scale = problem.domain.hx() * problem.domain.hy();
        problem.rhs_into(&fine, mg.b_mut().as_slice_mut(), scale);
        let r0 = mg.residual_norm()?;
        Ok(Cycles {
            mg,
            problem,
            full,
            r0,
            ranks: comm.size(),
        })
    }
}

impl Solver for Cycles {
    fn name(&self) -> &str {
        self.problem.problem.name()
    }

    fn advance(&mut self, pass: Pass, time: &mut Timings) -> Result<Advanced> {
        let start = self.mg.clocks();
        for it in pass.done..pass.until {
            if self.full && it == 0 {
                self.mg.full();
            } else {
                self.mg.cycle();
            }
        }
        let residual = if pass.check {
            let norm = self.mg.residual_norm()?;
            Some(elliptic::relative_residual(norm, self.r0, true))
        } else {
            None
        };
        self.mg.split_time(start, 0.0, time);
        Ok(Advanced {
            steps: pass.until - pass.done,
            residual,
        })
    }

    fn state(&self) -> Vec<(&'static str, &DistArray)> {
        vec![("u", self.mg.u())]
    }

    fn into_fields(self: Box<Self>) -> Vec<(&'static str, DistArray)> {
        vec![("u", self.mg.into_u())]
    }

    fn state_mut(&mut self) -> Vec<&mut DistArray> {
        vec![self.mg.u_mut()]
    }

    fn restored(&mut self, _time: f64) -> Result<()> {
        Ok(())
    }

    fn time(&self, _done: usize) -> Option<f64> {
        None
    }

    fn watched(&self) -> (String, &DistArray) {
        ("u".into(), self.mg.u())
    }

    fn watched_mut(&mut self) -> &mut DistArray {
        self.mg.u_mut()
    }

    fn traffic(&self) -> (u64, u64) {
        self.mg.traffic()
    }

    fn local_error(&self, done: usize) -> Option<f64> {
        self.problem.local_error(self.mg.u(), done)
    }

    fn levels(&self) -> Option<Vec<crate::solver::report::LevelStats>> {
        Some(self.mg.levels(self.ranks))
    }

    fn work_units(&self) -> Option<f64> {
        Some(self.mg.work())
    }
}
