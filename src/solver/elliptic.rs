//! The linear system behind `laplace` and `poisson` for the solvers that solve it as one
//! (multigrid and the CG family): `S u = b` on the finest level, with `S` the scaled 5-point
//! operator of [`super::multigrid`] and `b = hx·hy·f`, the walls' values in `u`'s ghost cells.

use super::driver::LocalResidual;
use super::exact::ExactSum;
use super::problems::StencilProblem;
use crate::decomp::Stencil;
use crate::error::Result;
use crate::grid::{DistArray, Layout};

/// The finest level's layout for these solvers: `layout`'s blocks with the levels' ghost layers,
/// faces and corners exchanged.
pub(crate) fn fine_layout(layout: &Layout) -> Layout {
    Layout {
        ghost: super::multigrid::GHOST,
        stencil: Stencil::Box,
        ..layout.clone()
    }
}

/// The right-hand side `b = hx·hy·f` on `layout` (zero for Laplace); rank-local.
pub(crate) fn rhs(problem: &StencilProblem, layout: &Layout) -> Result<DistArray> {
    let mut b = DistArray::try_zeros(layout.clone())?;
    let scale = problem.domain.hx() * problem.domain.hy();
    problem.rhs_into(layout, b.as_slice_mut(), scale);
    Ok(b)
}

/// `a · b` over this rank's interior, added exactly to `into`.
pub(crate) fn dot_exact(a: &DistArray, b: &DistArray, into: &mut ExactSum) {
    for (ra, rb) in a.interior().rows().into_iter().zip(b.interior().rows()) {
        match (ra.as_slice(), rb.as_slice()) {
            (Some(x), Some(y)) => into.add_products(x, y),
            _ => unreachable!("interior rows are contiguous"),
        }
    }
}

/// `a · b` over this rank's interior, summed in floating point row by row.
pub(crate) fn dot_plain(a: &DistArray, b: &DistArray) -> f64 {
    let mut sum = 0.0;
    for (ra, rb) in a.interior().rows().into_iter().zip(b.interior().rows()) {
        sum += ra.iter().zip(rb.iter()).map(|(x, y)| x * y).sum::<f64>();
    }
    sum
}

/// The residual a linear solve reports to the driver: `‖r‖/‖r₀‖` (or `‖r‖` when `r₀` is 0),
/// `agreed` when every rank computed the same bits.
pub(crate) fn relative_residual(norm: f64, r0: f64, agreed: bool) -> LocalResidual {
    let value = if r0 > 0.0 { norm / r0 } else { norm };
    LocalResidual {
        value,
        bad: !value.is_finite(),
        agreed,
    }
}
