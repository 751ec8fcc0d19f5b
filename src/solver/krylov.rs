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
//! The walls' values enter only `r₀ = b − S u₀`; after that every Krylov vector has zero walls.

use super::driver::{Advanced, LocalResidual, Pass, Solver, Timings};
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
    /// The hierarchy: its finest level applies the operator (zero walls); with
    /// `precondition`, its cycle is the preconditioner.
    mg: Multigrid,
    precondition: bool,
    exact: bool,
    /// The solution (walls holding the boundary values), the residual, the search direction,
    /// and `S p`.
    x: DistArray,
    r: DistArray,
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
        let mg = Multigrid::new(
            comm,
            &fine,
            zero,
            cycling.unwrap_or_default(),
            cycling.is_none(),
            0.0,
        )?;
        let vectors = (|| -> Result<_> {
            let mut x = DistArray::try_zeros(fine.clone())?;
            x.apply_boundaries();
            let b = elliptic::rhs(&problem, &fine)?;
            let z = || {
                DistArray::try_zeros(Layout {
                    bc: zero_walls(),
                    ..fine.clone()
                })
            };
            Ok((x, b, z()?, z()?, z()?))
        })();
        let (x, b, r, p, w) = comm.agree(vectors)?;
        let mut cg = Cg {
            comm: comm.duplicate(),
            problem,
            mg,
            precondition: cycling.is_some(),
            exact,
            x,
            r,
            p,
            w,
            gamma: 0.0,
            r0: 0.0,
            norm: 0.0,
            work: 0.0,
            ranks: comm.size(),
        };
        // r₀ = b − S x₀, with the walls' values.
        cg.mg.fine_mut().residual_of(&mut cg.x, &b, &mut cg.r);
        cg.work += 1.0;
        drop(b);
        let (gamma, norm) = cg.precondition_residual()?;
        let z = if cg.precondition { cg.mg.u() } else { &cg.r };
        cg.p.interior_mut().assign(&z.interior());
        (cg.gamma, cg.r0, cg.norm) = (gamma, norm, norm);
        Ok(cg)
    }

    /// `z = M r` (into the hierarchy's `u`, or `z = r` without a preconditioner), then `(r, z)`
    /// and `‖r‖₂`.
    fn precondition_residual(&mut self) -> Result<(f64, f64)> {
        if self.precondition {
            let level = self.mg.fine_mut();
            level.b.interior_mut().assign(&self.r.interior());
            level.exchange_b();
            level.zero_u();
            self.mg.cycle();
            let z = self.mg.u();
            let d = self.dots(&[(&self.r, z), (&self.r, &self.r)])?;
            Ok((d[0], d[1].sqrt()))
        } else {
            let d = self.dots(&[(&self.r, &self.r)])?;
            Ok((d[0], d[0].sqrt()))
        }
    }

    /// The dot products of `pairs` over all ranks, in one allreduce.
    fn dots(&self, pairs: &[(&DistArray, &DistArray)]) -> Result<Vec<f64>> {
        if self.exact {
            let sums: Vec<ExactSum> = pairs
                .iter()
                .map(|(a, b)| {
                    let mut s = ExactSum::new();
                    elliptic::dot_exact(a, b, &mut s);
                    s
                })
                .collect();
            all_sums(&self.comm, &sums)
        } else {
            let local: Vec<f64> = pairs
                .iter()
                .map(|(a, b)| elliptic::dot_plain(a, b))
                .collect();
            self.comm.all_reduce(&local, ReduceOp::Sum)
        }
    }

    /// One iteration.
    fn iterate(&mut self) -> Result<()> {
        if self.gamma == 0.0 {
            // r = 0 exactly: solved.
            return Ok(());
        }
        self.mg.fine_mut().apply(&mut self.p, &mut self.w);
        self.work += 1.0;
        let delta = self.dots(&[(&self.p, &self.w)])?[0];
        let alpha = self.gamma / delta;
        axpy(&mut self.x, alpha, &self.p);
        axpy(&mut self.r, -alpha, &self.w);
        let (gamma, norm) = self.precondition_residual()?;
        let beta = gamma / self.gamma;
        (self.gamma, self.norm) = (gamma, norm);
        let z = if self.precondition {
            self.mg.u()
        } else {
            &self.r
        };
        // p = z + β p
        Zip::from(self.p.interior_mut())
            .and(z.interior())
            .for_each(|p, &z| *p = z + beta * *p);
        Ok(())
    }
}

/// Zero walls on every side.
fn zero_walls() -> Boundaries {
    Boundaries::all(Boundary::Dirichlet(0.0))
}

/// `y += a·x` over the interior.
fn axpy(y: &mut DistArray, a: f64, x: &DistArray) {
    Zip::from(y.interior_mut())
        .and(x.interior())
        .for_each(|y, &x| *y += a * x);
}

impl Solver for Cg {
    fn name(&self) -> &str {
        self.problem.problem.name()
    }

    fn advance(&mut self, pass: Pass, time: &mut Timings) -> Result<Advanced> {
        let t0 = Comm::wtime();
        for _ in pass.done..pass.until {
            self.iterate()?;
        }
        time.compute += Comm::wtime() - t0;
        let value = if self.r0 > 0.0 {
            self.norm / self.r0
        } else {
            self.norm
        };
        Ok(Advanced {
            steps: pass.until - pass.done,
            residual: pass.check.then_some(LocalResidual {
                value,
                bad: !value.is_finite(),
                agreed: true,
            }),
        })
    }

    fn state(&self) -> Vec<(&'static str, &DistArray)> {
        vec![("u", &self.x), ("r", &self.r), ("p", &self.p)]
    }

    fn restore(&mut self, fields: Vec<DistArray>, _time: f64) {
        for (mine, f) in [&mut self.x, &mut self.r, &mut self.p]
            .into_iter()
            .zip(&fields)
        {
            mine.interior_mut().assign(&f.interior());
        }
        // Collective, like restore itself: recompute z and γ from r, to the same bits.
        match self.precondition_residual() {
            Ok((gamma, norm)) => (self.gamma, self.norm) = (gamma, norm),
            Err(_) => (self.gamma, self.norm) = (f64::NAN, f64::NAN),
        }
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
