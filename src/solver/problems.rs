//! Each problem's boundaries, starting field, right-hand side and exact solution.

use super::config::{Config, Problem};
use super::kernels::Kernel;
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
pub fn point(cfg: &Config, row: isize, col: isize) -> (f64, f64) {
    (
        (col + 1) as f64 * cfg.hx(),
        1.0 - (row + 1) as f64 * cfg.hy(),
    )
}

/// `sin(πx)·sin(πy)`: the Poisson solution and the heat problem's starting field.
pub fn sine_mode(x: f64, y: f64) -> f64 {
    (PI * x).sin() * (PI * y).sin()
}

/// The update rule for `cfg`.
pub fn kernel(cfg: &Config) -> Kernel {
    let (cx, cy) = (1.0 / (cfg.hx() * cfg.hx()), 1.0 / (cfg.hy() * cfg.hy()));
    match cfg.problem {
        Problem::Laplace => Kernel::Laplace,
        Problem::Cavity => unreachable!("the cavity has its own loop"),
        Problem::Poisson => Kernel::Poisson {
            cx,
            cy,
            inv_d: 1.0 / (2.0 * cx + 2.0 * cy),
        },
        Problem::Heat => {
            let k = cfg.alpha * cfg.time_step();
            Kernel::Heat {
                rx: k * cx,
                ry: k * cy,
            }
        }
    }
}

/// The starting field on this rank's layout.
pub fn initial(cfg: &Config, layout: &Layout) -> DistArray {
    match cfg.problem {
        Problem::Laplace | Problem::Poisson | Problem::Cavity => DistArray::zeros(layout.clone()),
        Problem::Heat => DistArray::from_fn(layout.clone(), |r, c| {
            let (x, y) = point(cfg, r as isize, c as isize);
            sine_mode(x, y)
        }),
    }
}

/// The right-hand side on the whole ghosted array (flat, row-major), empty when the problem has
/// none. Ghost cells get `f` at their own points, so redundant ghost-zone updates see the same
/// values the owner does.
pub fn rhs(cfg: &Config, layout: &Layout) -> Vec<f64> {
    if cfg.problem != Problem::Poisson {
        return Vec::new();
    }
    let (rows, cols) = layout.local_shape();
    let mut f = Vec::with_capacity(rows * cols);
    for i in 0..rows {
        for j in 0..cols {
            let (r, c) = layout.global_of(i, j);
            let (x, y) = point(cfg, r, c);
            f.push(2.0 * PI * PI * sine_mode(x, y));
        }
    }
    f
}

/// The exact solution at global cell `(row, col)` after `iters` iterations, where one is known.
pub fn exact(cfg: &Config, iters: usize) -> Option<impl Fn(usize, usize) -> f64 + '_> {
    let decay = match cfg.problem {
        Problem::Laplace | Problem::Cavity => return None,
        Problem::Poisson => 1.0,
        Problem::Heat => (-2.0 * PI * PI * cfg.alpha * cfg.time_step() * iters as f64).exp(),
    };
    Some(move |r: usize, c: usize| {
        let (x, y) = point(cfg, r as isize, c as isize);
        decay * sine_mode(x, y)
    })
}
