//! Pipelined conjugate gradients (Ghysels & Vanroose, *Hiding global synchronization latency
//! in the preconditioned conjugate gradient algorithm*, 2014), preconditioned by one multigrid
//! cycle: the same iterates as `mgcg` in exact arithmetic, rearranged so that an iteration's one
//! reduction (three dot products together) travels while the preconditioner and the operator
//! run, through a nonblocking allreduce, instead of stopping every rank twice per iteration.
//!
//! ```text
//! r = b − S x,  u = M r,  w = S u
//! each iteration:  start  γ = (r,u), δ = (w,u), ρ = (r,r)        (MPI_Iallreduce)
//!                  m = M w,  n = S m                               (overlapped)
//!                  wait;  β = γ/γ_old,  α = γ/(δ − β·γ/α_old)
//!                  z = n + βz,  q = m + βq,  s = w + βs,  p = u + βp
//!                  x += αp,  r −= αs,  u −= αq,  w −= αz
//! ```
//!
//! The dot products are exact ([`super::exact`]), so the iterates are bitwise the same on every
//! decomposition. The residual an iteration reports, `‖r‖` of its reduction, is that of the
//! iterate before its update: the run stops one iteration after its residual met the tolerance,
//! with a better iterate than that residual says (PETSc's `KSPPIPECG` stops the same way). It
//! keeps eight vectors and four scalars between iterations, and does not checkpoint.

use super::driver::{Advanced, Pass, Solver, Timings};
use super::elliptic;
use super::exact::{start_all_sums, ExactSum, PendingSums};
use super::multigrid::{Cycling, Multigrid};
use super::problems::StencilProblem;
use crate::comm::{AllReduce, Comm, ReduceOp};
use crate::error::Result;
use crate::grid::{Boundaries, Boundary, DistArray, Layout};
use ndarray::Zip;

/// Pipelined CG preconditioned by a multigrid cycle.
pub(crate) struct PipeCg {
    comm: Comm,
    problem: StencilProblem,
    /// The hierarchy: its finest level applies the operator, its cycle preconditions (`m = M w`
    /// lands in its finest `u`).
    mg: Multigrid,
    exact: bool,
    /// The solution (walls holding the boundary values), and the recurrences' vectors.
    x: DistArray,
    r: DistArray,
    u: DistArray,
    w: DistArray,
    n: DistArray,
    z: DistArray,
    q: DistArray,
    s: DistArray,
    p: DistArray,
    /// The last iteration's γ and α (none before the first).
    last: Option<(f64, f64)>,
    /// `‖r₀‖₂`, and the last `‖r‖₂` reduced.
    r0: f64,
    norm: f64,
    /// Operator applications outside the preconditioner, in fine-grid sweeps.
    work: f64,
    ranks: usize,
    /// Seconds waiting for the reductions (what overlap did not hide).
    reduce_seconds: f64,
}

impl PipeCg {
    /// The solver of `problem` on `layout`'s blocks; collective.
    pub fn new(
        comm: &Comm,
        layout: &Layout,
        problem: StencilProblem,
        cycling: Cycling,
        exact: bool,
    ) -> Result<Self> {
        let fine = elliptic::fine_layout(layout);
        let zero = Boundaries::all(Boundary::Dirichlet(0.0));
        let mg = Multigrid::new(comm, &fine, zero, cycling, false, 0.0)?;
        let vectors = (|| -> Result<_> {
            let x = DistArray::try_zeros(fine.clone())?;
            let b = elliptic::rhs(&problem, &fine)?;
            let walls = Layout {
                bc: zero,
                ..fine.clone()
            };
            let v = || DistArray::try_zeros(walls.clone());
            Ok((x, b, [v()?, v()?, v()?, v()?, v()?, v()?, v()?, v()?]))
        })();
        let (x, b, [r, u, w, n, z, q, s, p]) = comm.agree(vectors)?;
        let mut solver = PipeCg {
            comm: comm.duplicate(),
            problem,
            mg,
            exact,
            x,
            r,
            u,
            w,
            n,
            z,
            q,
            s,
            p,
            last: None,
            r0: 0.0,
            norm: 0.0,
            work: 2.0,
            ranks: comm.size(),
            reduce_seconds: 0.0,
        };
        // r = b − S x (the walls' values enter here), u = M r, w = S u.
        solver
            .mg
            .fine_mut()
            .residual_of(&mut solver.x, &b, &mut solver.r);
        drop(b);
        solver.mg.precondition(&solver.r);
        solver.u.interior_mut().assign(&solver.mg.u().interior());
        solver.mg.fine_mut().apply(&mut solver.u, &mut solver.w);
        let norm = solver.dots_now(&[(&solver.r, &solver.r)])?[0].sqrt();
        (solver.r0, solver.norm) = (norm, norm);
        Ok(solver)
    }

    /// The dot products of `pairs`, reduced now.
    fn dots_now(&self, pairs: &[(&DistArray, &DistArray)]) -> Result<Vec<f64>> {
        let sums: Vec<ExactSum> = pairs.iter().map(|(a, b)| exact_local(a, b)).collect();
        super::exact::all_sums(&self.comm, &sums)
    }

    /// One iteration.
    fn iterate(&mut self) -> Result<()> {
        let pairs = [(&self.r, &self.u), (&self.w, &self.u), (&self.r, &self.r)];
        // Start the reduction; run the preconditioner and the operator while it travels.
        let pending = if self.exact {
            let sums: Vec<ExactSum> = pairs.iter().map(|(a, b)| exact_local(a, b)).collect();
            Pending::Exact(start_all_sums(&self.comm, &sums)?)
        } else {
            let local = pairs.iter().map(|(a, b)| elliptic::dot_plain(a, b));
            Pending::Plain(
                self.comm
                    .immediate_all_reduce(local.collect(), ReduceOp::Sum)?,
            )
        };
        self.mg.precondition(&self.w);
        self.mg.fine_mut().apply_u(&mut self.n);
        let t = Comm::wtime();
        let dots = match pending {
            Pending::Exact(p) => p.wait()?,
            Pending::Plain(p) => p.wait(),
        };
        self.reduce_seconds += Comm::wtime() - t;
        self.work += 1.0;
        let (gamma, delta, rr) = (dots[0], dots[1], dots[2]);
        self.norm = rr.sqrt();
        if gamma == 0.0 {
            // r = 0 exactly: solved.
            return Ok(());
        }
        let (alpha, beta) = match self.last {
            None => (gamma / delta, 0.0),
            Some((gamma_old, alpha_old)) => {
                let beta = gamma / gamma_old;
                (gamma / (delta - beta * gamma / alpha_old), beta)
            }
        };
        self.last = Some((gamma, alpha));
        let m = self.mg.u();
        // z = n + βz, q = m + βq, s = w + βs, p = u + βp.
        for (acc, new) in [
            (&mut self.z, &self.n),
            (&mut self.q, m),
            (&mut self.s, &self.w),
            (&mut self.p, &self.u),
        ] {
            Zip::from(acc.interior_mut())
                .and(new.interior())
                .for_each(|a, &v| *a = v + beta * *a);
        }
        // x += αp, r −= αs, u −= αq, w −= αz.
        for (acc, dir, a) in [
            (&mut self.x, &self.p, alpha),
            (&mut self.r, &self.s, -alpha),
            (&mut self.u, &self.q, -alpha),
            (&mut self.w, &self.z, -alpha),
        ] {
            Zip::from(acc.interior_mut())
                .and(dir.interior())
                .for_each(|y, &d| *y += a * d);
        }
        Ok(())
    }
}

/// An iteration's reduction in flight: exact sums, or a plain allreduce.
enum Pending<'a> {
    Exact(PendingSums<'a>),
    Plain(AllReduce<'a, f64>),
}

/// `a · b` over this rank's interior, exactly.
fn exact_local(a: &DistArray, b: &DistArray) -> ExactSum {
    let mut s = ExactSum::new();
    elliptic::dot_exact(a, b, &mut s);
    s
}

impl Solver for PipeCg {
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
        vec![("u", &self.x)]
    }

    fn into_fields(self: Box<Self>) -> Vec<(&'static str, DistArray)> {
        vec![("u", self.x)]
    }

    fn state_mut(&mut self) -> Vec<&mut DistArray> {
        unreachable!("pipecg refuses checkpoints and restarts before it is built")
    }

    fn restored(&mut self, _time: f64) -> Result<()> {
        unreachable!("pipecg refuses checkpoints and restarts before it is built")
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
        Some(self.mg.levels(self.ranks))
    }

    fn work_units(&self) -> Option<f64> {
        Some(self.work + self.mg.work())
    }
}
