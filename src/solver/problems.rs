//! The Jacobi family's problems: each one's boundaries, starting field, update rule, right-hand
//! side and exact solution, from the domain and the problem's own parameters.

use super::kernels::Kernel;
use super::options::{Domain, HeatParams, Manufactured, Problem};
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

/// `x(1−x)·y(1−y)·eˣ`: the polyexp manufactured solution.
pub fn polyexp(x: f64, y: f64) -> f64 {
    x * (1.0 - x) * y * (1.0 - y) * x.exp()
}

/// `−∇²` of [`polyexp`]: `x·eˣ·((3+x)·y(1−y) + 2(1−x))`.
pub fn polyexp_source(x: f64, y: f64) -> f64 {
    x * x.exp() * ((3.0 + x) * (y * (1.0 - y)) + 2.0 * (1.0 - x))
}

/// One of the stencil problems on a domain: everything its solvers need to know.
#[derive(Debug, Clone, PartialEq)]
pub struct StencilProblem {
    /// Laplace, Poisson or heat.
    pub problem: Problem,
    /// The grid.
    pub domain: Domain,
    /// Heat's parameters (unused by the others).
    pub heat: HeatParams,
    /// Poisson's manufactured solution (unused by the others).
    pub manufactured: Manufactured,
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
        f.resize(rows * cols, 0.0);
        self.rhs_into(layout, &mut f, 1.0);
        Ok(f)
    }

    /// `scale · f` over the whole ghosted array of `layout` (flat, row-major) into `out`, ghost
    /// cells at their own points; nothing for the problems without a right-hand side. Both
    /// manufactured sources are products of a function of `x` and one of `y`, evaluated once per
    /// column and once per row, to the same bits as at each point.
    pub fn rhs_into(&self, layout: &Layout, out: &mut [f64], scale: f64) {
        if self.problem != Problem::Poisson {
            return;
        }
        let (rows, cols) = layout.local_shape();
        let xs: Vec<f64> = (0..cols)
            .map(|j| point(&self.domain, 0, layout.global_of(0, j).1).0)
            .collect();
        let ys: Vec<f64> = (0..rows)
            .map(|i| point(&self.domain, layout.global_of(i, 0).0, 0).1)
            .collect();
        match self.manufactured {
            Manufactured::Sine => {
                let sx: Vec<f64> = xs.iter().map(|&x| (PI * x).sin()).collect();
                for (row, &y) in out.chunks_exact_mut(cols).zip(&ys) {
                    let sy = (PI * y).sin();
                    for (o, &sx) in row.iter_mut().zip(&sx) {
                        *o = scale * (2.0 * PI * PI * (sx * sy));
                    }
                }
            }
            Manufactured::Polyexp => {
                let fx: Vec<(f64, f64, f64)> = xs
                    .iter()
                    .map(|&x| (x * x.exp(), 3.0 + x, 2.0 * (1.0 - x)))
                    .collect();
                for (row, &y) in out.chunks_exact_mut(cols).zip(&ys) {
                    let yy = y * (1.0 - y);
                    for (o, &(ex, a, d)) in row.iter_mut().zip(&fx) {
                        *o = scale * (ex * (a * yy + d));
                    }
                }
            }
        }
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
        let shape = match (self.problem, self.manufactured) {
            (Problem::Poisson, Manufactured::Polyexp) => polyexp,
            _ => sine_mode,
        };
        Some(move |r: usize, c: usize| {
            let (x, y) = point(&self.domain, r as isize, c as isize);
            decay * shape(x, y)
        })
    }

    /// The largest `|u − u_exact|` over `u`'s block after `iters` iterations, where the exact
    /// solution is known.
    pub fn local_error(&self, u: &DistArray, iters: usize) -> Option<f64> {
        let exact = self.exact(iters)?;
        let b = &u.layout().block;
        Some(
            u.interior()
                .indexed_iter()
                .map(|((i, j), &x)| (x - exact(b.rows.start + i, b.cols.start + j)).abs())
                .fold(0.0, f64::max),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomp::{Decomposition, ProcGrid, Stencil};

    #[test]
    fn the_separable_sources_are_the_pointwise_ones_to_the_bit() {
        let domain = Domain {
            nx: 13,
            ny: 9,
            ..Domain::default()
        };
        let decomp = Decomposition::new(13, 9, ProcGrid::new(2, 2).unwrap()).unwrap();
        let layout = Layout::new(decomp, 3, 2, Stencil::Box, boundaries(Problem::Poisson)).unwrap();
        for (m, f) in [
            (
                Manufactured::Sine,
                (|x: f64, y: f64| 2.0 * PI * PI * sine_mode(x, y)) as fn(f64, f64) -> f64,
            ),
            (Manufactured::Polyexp, polyexp_source),
        ] {
            let p = StencilProblem {
                problem: Problem::Poisson,
                domain: domain.clone(),
                heat: HeatParams::default(),
                manufactured: m,
            };
            let got = p.rhs(&layout).unwrap();
            let cols = layout.local_shape().1;
            for (k, v) in got.iter().enumerate() {
                let (r, c) = layout.global_of(k / cols, k % cols);
                let (x, y) = point(&domain, r, c);
                assert_eq!(v.to_bits(), f(x, y).to_bits(), "{m:?} at {r},{c}");
            }
        }
    }

    #[test]
    fn polyexp_source_is_minus_the_laplacian_of_polyexp() {
        let h = 1e-3;
        for (x, y) in [(0.3, 0.6), (0.71, 0.2), (0.5, 0.5)] {
            let lap =
                (polyexp(x + h, y) + polyexp(x - h, y) + polyexp(x, y + h) + polyexp(x, y - h)
                    - 4.0 * polyexp(x, y))
                    / (h * h);
            assert!((polyexp_source(x, y) + lap).abs() < 1e-5, "at ({x}, {y})");
        }
    }
}
