//! The Jacobi family's problems: each one's boundaries, starting field, update rule, right-hand
//! side and exact solution, from the domain and the problem's own parameters.

use super::kernels::Kernel;
use super::options::{Domain, HeatParams, Problem};
use crate::error::Result;
use crate::grid::{Boundaries, Boundary, DistArray, Layout};
use std::f64::consts::PI;

/// The conditions on the edges of the domain for `problem`.
pub fn boundaries(problem: Problem) -> Boundaries {
    match problem {
        Problem::Laplace => Boundaries {
            north: Boundary::Dirichlet(1.0),
            ..Boundaries::all(Boundary::Dirichlet(0.0))
        },
        // The cavity's walls: ψ = 0 (its wall vorticity is written each step).
        Problem::Poisson | Problem::Heat | Problem::Cavity => {
            Boundaries::all(Boundary::Dirichlet(0.0))
        }
    }
}

/// The point of global cell `(row, col)` on the unit square: `x = (col+1)·hx`, and row 0 at the
/// top, `y = 1 − (row+1)·hy`. The walls (`x` or `y` = 0 or 1) lie in the ghost layer.
pub fn point(domain: &Domain, row: isize, col: isize) -> (f64, f64) {
    (
        (col + 1) as f64 * domain.hx(),
        1.0 - (row + 1) as f64 * domain.hy(),
    )
}

/// `sin(πx)·sin(πy)`: the Poisson solution and the heat problem's starting field.
pub fn sine_mode(x: f64, y: f64) -> f64 {
    (PI * x).sin() * (PI * y).sin()
}

/// One of the Jacobi family's problems on a domain: everything its sweeps need to know.
#[derive(Debug, Clone, PartialEq)]
pub struct StencilProblem {
    /// Laplace, Poisson or heat.
    pub problem: Problem,
    /// The grid.
    pub domain: Domain,
    /// Heat's parameters (unused by the others).
    pub heat: HeatParams,
}

impl StencilProblem {
    /// The update rule.
    pub fn kernel(&self) -> Kernel {
        let (hx, hy) = (self.domain.hx(), self.domain.hy());
        let (cx, cy) = (1.0 / (hx * hx), 1.0 / (hy * hy));
        match self.problem {
            Problem::Laplace => Kernel::Laplace,
            Problem::Cavity => unreachable!("the cavity is not of the Jacobi family"),
            Problem::Poisson => Kernel::Poisson {
                cx,
                cy,
                inv_d: 1.0 / (2.0 * cx + 2.0 * cy),
            },
            Problem::Heat => {
                let k = self.heat.alpha * self.heat.time_step(&self.domain);
                Kernel::Heat {
                    rx: k * cx,
                    ry: k * cy,
                }
            }
        }
    }

    /// The simulated time after `iters` steps: heat only.
    pub fn time(&self, iters: usize) -> Option<f64> {
        (self.problem == Problem::Heat).then(|| self.heat.time_step(&self.domain) * iters as f64)
    }

    /// The starting field on this rank's layout, or an error when the memory cannot be had
    /// (rank-local).
    pub fn initial(&self, layout: &Layout) -> Result<DistArray> {
        match self.problem {
            Problem::Heat => DistArray::try_from_fn(layout.clone(), |r, c| {
                let (x, y) = point(&self.domain, r as isize, c as isize);
                sine_mode(x, y)
            }),
            _ => DistArray::try_zeros(layout.clone()),
        }
    }

    /// The right-hand side on the whole ghosted array (flat, row-major), empty when the problem
    /// has none. Ghost cells get `f` at their own points, so redundant ghost-zone updates see the
    /// same values the owner does. An error when the memory cannot be had (rank-local).
    pub fn rhs(&self, layout: &Layout) -> Result<Vec<f64>> {
        if self.problem != Problem::Poisson {
            return Ok(Vec::new());
        }
        let (rows, cols) = layout.local_shape();
        let mut f = Vec::new();
        f.try_reserve_exact(rows * cols).map_err(|_| {
            crate::node::out_of_memory(8 * (rows * cols) as u64, "the right-hand side")
        })?;
        for i in 0..rows {
            for j in 0..cols {
                let (r, c) = layout.global_of(i, j);
                let (x, y) = point(&self.domain, r, c);
                f.push(2.0 * PI * PI * sine_mode(x, y));
            }
        }
        Ok(f)
    }

    /// The exact solution at global cell `(row, col)` after `iters` iterations, where one is
    /// known.
    pub fn exact(&self, iters: usize) -> Option<impl Fn(usize, usize) -> f64 + '_> {
        let decay = match self.problem {
            Problem::Laplace | Problem::Cavity => return None,
            Problem::Poisson => 1.0,
            Problem::Heat => {
                let dt = self.heat.time_step(&self.domain);
                (-2.0 * PI * PI * self.heat.alpha * dt * iters as f64).exp()
            }
        };
        Some(move |r: usize, c: usize| {
            let (x, y) = point(&self.domain, r as isize, c as isize);
            decay * sine_mode(x, y)
        })
    }
}
