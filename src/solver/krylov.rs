//! The conjugate-gradient family on the distributed grid: `cg` (unpreconditioned) and `mgcg`
//! (preconditioned by one multigrid cycle), solving `S u = b` of [`super::elliptic`]. One
//! iteration is one operator application (and one cycle, for `mgcg`).
//!
//! **Reproducible.** Every dot product goes through [`super::exact`]: each rank adds its
//! products exactly, one allreduce adds the ranks' parts exactly, one rounding gives the value.
//! So α and β, and with them every iterate, are bitwise the same on any rank count, process grid
//! or thread count. With exact dots switched off ([`super::options::Solving::exact_dots`]) each
//! rank sums in floating point and an ordinary allreduce adds the parts: faster by the
//! difference, reproducible only on one decomposition.
//!
//! **Restartable.** The state is the solution `u`, the residual `r` and the search direction
//! `p`: from them `z = M r` and `γ = (r, z)` are recomputed to the same bits, so a restart
//! continues the uninterrupted run exactly.
//!
//! **Lean.** The residual lives in the hierarchy's finest right-hand side, where the
//! preconditioner reads it, and `z = M r` in its finest `u`; dot products are taken as the rows
//! they read are made or updated. The walls' values enter only `r₀ = b − S u₀`; after that
//! every Krylov vector has zero walls.

use super::driver::{Advanced, Pass, Solver, Timings};
use super::elliptic;
use super::exact::{all_sums, ExactSum};
use super::multigrid::{Cycling, Multigrid};
use super::problems::StencilProblem;
use crate::comm::{Comm, ReduceOp};
use crate::error::Result;
use crate::grid::{Boundaries, Boundary, DistArray, Layout};
use ndarray::Zip;

/// CG, preconditioned by a multigrid cycle or not.
pub(crate) struct Cg {
    comm: Comm,
    problem: StencilProblem,
    /// The hierarchy: its finest level applies the operator (zero walls) and holds the residual
    /// (`b`) and, with `precondition`, `z = M r` (`u`).
    mg: Multigrid,
    precondition: bool,
    exact: bool,
    /// The solution (walls holding the boundary values), the search direction, and `S p`.
    x: DistArray,
    p: DistArray,
    w: DistArray,
    /// `(r, z)` of the present residual.
    gamma: f64,
    /// `‖r₀‖₂`.
    r0: f64,
    /// The last `‖r‖₂`.
    norm: f64,
    /// Fine-grid sweep equivalents outside the preconditioner (operator applications).
    work: f64,
    /// Ranks in the job.
    ranks: usize,
    /// Seconds in the dot products' allreduces.
    reduce_seconds: f64,
}

impl Cg {
    /// The solver of `problem` on `layout`'s blocks; collective.
    pub fn new(
        comm: &Comm,
        layout: &Layout,
        problem: StencilProblem,
        cycling: Option<Cycling>,
        exact: bool,
    ) -> Result<Self> {
        let fine = elliptic::fine_layout(layout);
        let zero = Boundaries::all(Boundary::Dirichlet(0.0));
        let mut mg = Multigrid::new(
            comm,
            &fine,
            zero,
            cycling.unwrap_or_default(),
            cycling.is_none(),
            0.0,
        )?;
        let vectors = (|| -> Result<_> {
            let x = DistArray::try_zeros(fine.clone())?;
            let walls = Layout {
                bc: zero,
                ..fine.clone()
            };
            Ok((
                x,
                DistArray::try_zeros(walls.clone())?,
                DistArray::try_zeros(walls)?,
            ))
        })();
        let (mut x, p, w) = comm.agree(vectors)?;
        // r₀ = b − S x₀, with the walls' values: b made in the finest level's scratch.
        let level = mg.fine_mut();
        let scale = problem.domain.hx() * problem.domain.hy();
        problem.rhs_into(&fine, level.r.as_slice_mut(), scale);
        level.first_residual(&mut x);
        let mut cg = Cg {
            comm: comm.duplicate(),
            problem,
            mg,
            precondition: cycling.is_some(),
            exact,
            x,
            p,
            w,
            gamma: 0.0,
            r0: 0.0,
            norm: 0.0,
            work: 1.0,
            ranks: comm.size(),
            reduce_seconds: 0.0,
        };
        let (gamma, norm) = cg.precondition_residual()?;
        let z = if cg.precondition {
            cg.mg.u()
        } else {
            &cg.mg.fine().b
        };
        cg.p.interior_mut().assign(&z.interior());
        (cg.gamma, cg.r0, cg.norm) = (gamma, norm, norm);
        Ok(cg)
    }

    /// `z = M r` (into the hierarchy's `u`, or `z = r` without a preconditioner), then `(r, z)`
    /// and `‖r‖₂` in one pass.
    fn precondition_residual(&mut self) -> Result<(f64, f64)> {
        if self.precondition {
            let level = self.mg.fine_mut();
            level.zero_u();
            self.mg.cycle();
        }
        let level = self.mg.fine();
        let r = &level.b;
        let z = if self.precondition { &level.u } else { r };
        let d = if self.exact {
            let (mut rz, mut rr) = (ExactSum::new(), ExactSum::new());
            for (rr_row, zr) in r.interior().rows().into_iter().zip(z.interior().rows()) {
                let (a, b) = (
                    rr_row.as_slice().expect("rows"),
                    zr.as_slice().expect("rows"),
                );
                rz.add_products(a, b);
                if self.precondition {
                    rr.add_squares(a);
                }
            }
            let t = Comm::wtime();
            let d = if self.precondition {
                all_sums(&self.comm, &[rz, rr])?
            } else {
                all_sums(&self.comm, &[rz])?
            };
            self.reduce_seconds += Comm::wtime() - t;
            d
        } else {
            let mut local = vec![elliptic::dot_plain(r, z)];
            if self.precondition {
                local.push(elliptic::dot_plain(r, r));
            }
            let t = Comm::wtime();
            let d = self.comm.all_reduce(&local, ReduceOp::Sum)?;
            self.reduce_seconds += Comm::wtime() - t;
            d
        };
        let rr = if self.precondition { d[1] } else { d[0] };
        Ok((d[0], rr.sqrt()))
    }

    /// One iteration.
    fn iterate(&mut self) -> Result<()> {
        if self.gamma == 0.0 {
            // r = 0 exactly: solved.
            return Ok(());
        }
        let delta = if self.exact {
            let mut pw = ExactSum::new();
            self.mg
                .fine_mut()
                .apply_and_dot(&mut self.p, &mut self.w, &mut pw);
            let t = Comm::wtime();
            let d = all_sums(&self.comm, &[pw])?[0];
            self.reduce_seconds += Comm::wtime() - t;
            d
        } else {
            self.mg.fine_mut().apply(&mut self.p, &mut self.w);
            let local = elliptic::dot_plain(&self.p, &self.w);
            let t = Comm::wtime();
            let d = self.comm.all_reduce_value(local, ReduceOp::Sum)?;
            self.reduce_seconds += Comm::wtime() - t;
            d
        };
        self.work += 1.0;
        let alpha = self.gamma / delta;
        // x += αp and r −= αw in one pass.
        let level = self.mg.fine_mut();
        Zip::from(self.x.interior_mut())
            .and(level.b.interior_mut())
            .and(self.p.interior())
            .and(self.w.interior())
            .for_each(|x, r, &p, &w| {
                *x += alpha * p;
                *r += -alpha * w;
            });
        level.exchange_b();
        let (gamma, norm) = self.precondition_residual()?;
        let beta = gamma / self.gamma;
        (self.gamma, self.norm) = (gamma, norm);
        let level = self.mg.fine();
        let z = if self.precondition {
            &level.u
        } else {
            &level.b
        };
        // p = z + β p
        Zip::from(self.p.interior_mut())
            .and(z.interior())
            .for_each(|p, &z| *p = z + beta * *p);
        Ok(())
    }
}

impl Solver for Cg {
    fn name(&self) -> &str {
        self.problem.problem.name()
    }

    fn advance(&mut self, pass: Pass, time: &mut Timings) -> Result<Advanced> {
        let start = self.mg.clocks();
        let r0 = self.reduce_seconds;
        for _ in pass.done..pass.until {
            self.iterate()?;
        }
        self.mg.split_time(start, self.reduce_seconds - r0, time);
        // A plain allreduce need not give every rank the same bits (MPI only recommends it):
        // then the driver agrees on the residual itself.
        let residual = elliptic::relative_residual(self.norm, self.r0, self.exact);
        Ok(Advanced {
            steps: pass.until - pass.done,
            residual: pass.check.then_some(residual),
        })
    }

    fn state(&self) -> Vec<(&'static str, &DistArray)> {
        vec![("u", &self.x), ("r", &self.mg.fine().b), ("p", &self.p)]
    }

    fn into_fields(self: Box<Self>) -> Vec<(&'static str, DistArray)> {
        vec![("u", self.x)]
    }

    fn state_mut(&mut self) -> Vec<&mut DistArray> {
        vec![&mut self.x, &mut self.mg.fine_mut().b, &mut self.p]
    }

    fn restored(&mut self, _time: f64) -> Result<()> {
        self.mg.fine_mut().exchange_b();
        // Collective, like restore itself: recompute z and γ from r, to the same bits.
        (self.gamma, self.norm) = self.precondition_residual()?;
        Ok(())
    }

    fn time(&self, _done: usize) -> Option<f64> {
        None
    }

    fn watched(&self) -> (String, &DistArray) {
        ("u".into(), &self.x)
    }

    fn watched_mut(&mut self) -> &mut DistArray {
        &mut self.x
    }

    fn traffic(&self) -> (u64, u64) {
        self.mg.traffic()
    }

    fn local_error(&self, done: usize) -> Option<f64> {
        self.problem.local_error(&self.x, done)
    }

    fn levels(&self) -> Option<Vec<crate::solver::report::LevelStats>> {
        self.precondition.then(|| self.mg.levels(self.ranks))
    }

    fn work_units(&self) -> Option<f64> {
        Some(self.work + self.mg.work())
    }
}
