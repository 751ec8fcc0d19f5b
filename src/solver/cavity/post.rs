//! What a user reads off a cavity solution: velocities and centreline profiles from the stream
//! function, gathered whole or distributed (the velocity block by block, the profiles from the
//! strips of ψ around the centrelines).

use crate::comm::Comm;
use crate::decomp::Stencil;
use crate::error::Result;
use crate::grid::{DistArray, HaloExchange, Layout};
use ndarray::{s, Array2};
use std::ops::Range;

/// The velocity `(u, v)` on the whole grid from the gathered stream function `psi` (shape
/// `(ny, nx)`, row 0 next to the lid): central differences, ψ = 0 on the walls.
pub fn velocity_field(psi: &Array2<f64>) -> (Array2<f64>, Array2<f64>) {
    let (ny, nx) = psi.dim();
    let (hx, hy) = (1.0 / (nx + 1) as f64, 1.0 / (ny + 1) as f64);
    let at = |i: isize, j: isize| {
        if i < 0 || j < 0 || i >= ny as isize || j >= nx as isize {
            0.0
        } else {
            psi[[i as usize, j as usize]]
        }
    };
    let u = Array2::from_shape_fn((ny, nx), |(i, j)| {
        let (i, j) = (i as isize, j as isize);
        (at(i - 1, j) - at(i + 1, j)) / (2.0 * hy)
    });
    let v = Array2::from_shape_fn((ny, nx), |(i, j)| {
        let (i, j) = (i as isize, j as isize);
        -(at(i, j + 1) - at(i, j - 1)) / (2.0 * hx)
    });
    (u, v)
}

/// `u` along the vertical centreline `x = 0.5` as `(y, u)` from the bottom wall to the lid,
/// walls included (`u = 0` below, the lid speed 1 above); where no column of nodes lies on
/// `x = 0.5` (an even `nx`), `u` is interpolated linearly between the two around it.
pub fn centerline_u(psi: &Array2<f64>) -> Vec<(f64, f64)> {
    let nx = psi.ncols();
    centerline_u_of_columns(&psi.slice(s![.., centerline_u_columns(nx)]).to_owned(), nx)
}

/// `v` along the horizontal centreline `y = 0.5` as `(x, v)` from the left wall to the right,
/// walls included (`v = 0`); interpolated between the two rows around `y = 0.5` when no row lies
/// on it (an even `ny`).
pub fn centerline_v(psi: &Array2<f64>) -> Vec<(f64, f64)> {
    let ny = psi.nrows();
    centerline_v_of_rows(&psi.slice(s![centerline_v_rows(ny), ..]).to_owned(), ny)
}

/// The velocity `(u, v)` of the distributed stream function `psi`: on each rank, its block of
/// what [`velocity_field`] gives on the gathered field, to the bit, from its block of ψ and one
/// layer of its neighbours' (a one-layer exchange on a copy; ψ = 0 past the walls). The arrays
/// have one ghost layer, not filled. Collective; a rank without the memory is an error on all.
pub fn velocity_dist(comm: &Comm, psi: &DistArray) -> Result<(DistArray, DistArray)> {
    let l = psi.layout();
    let one = Layout::new(l.decomp, l.rank, 1, Stencil::Star, l.bc)?;
    let mut copy = comm.agree(DistArray::try_zeros(one.clone()))?;
    copy.interior_mut().assign(&psi.interior());
    HaloExchange::new(comm, copy.layout()).exchange(&mut copy);
    let (b, d) = (&l.block, &l.decomp);
    let (ny, nx) = (d.ny, d.nx);
    let (hx, hy) = (1.0 / (nx + 1) as f64, 1.0 / (ny + 1) as f64);
    let c = copy.local();
    // Local (i, j) of the one-layer copy is global (r0 + i − 1, c0 + j − 1); past the walls, 0.
    let at = |i: usize, j: usize| {
        let (gi, gj) = (b.rows.start + i, b.cols.start + j);
        if gi == 0 || gj == 0 || gi > ny || gj > nx {
            0.0
        } else {
            c[[i, j]]
        }
    };
    let mut u = comm.agree(DistArray::try_zeros(one.clone()))?;
    let mut v = comm.agree(DistArray::try_zeros(one))?;
    for ((i, j), x) in u.interior_mut().indexed_iter_mut() {
        let (i, j) = (i + 1, j + 1);
        *x = (at(i - 1, j) - at(i + 1, j)) / (2.0 * hy);
    }
    for ((i, j), x) in v.interior_mut().indexed_iter_mut() {
        let (i, j) = (i + 1, j + 1);
        *x = -(at(i, j + 1) - at(i, j - 1)) / (2.0 * hx);
    }
    Ok((u, v))
}

/// The columns of ψ (all rows) that [`centerline_u_of_columns`] needs on a grid `nx` wide: the
/// one or two around `x = 0.5`.
pub fn centerline_u_columns(nx: usize) -> Range<usize> {
    let fj = 0.5 * (nx + 1) as f64 - 1.0;
    let j0 = fj.floor() as usize;
    j0..(j0 + 2).min(nx)
}

/// The rows of ψ (all columns) that [`centerline_v_of_rows`] needs on a grid `ny` high: the one
/// or two around `y = 0.5`.
pub fn centerline_v_rows(ny: usize) -> Range<usize> {
    let fi = 0.5 * (ny + 1) as f64 - 1.0;
    let i0 = fi.floor() as usize;
    i0..(i0 + 2).min(ny)
}

/// [`centerline_u`] of a stream function `nx` cells wide from its columns
/// [`centerline_u_columns`]`(nx)` alone (`strip`, every row): the same values, to the bit.
pub fn centerline_u_of_columns(strip: &Array2<f64>, nx: usize) -> Vec<(f64, f64)> {
    let ny = strip.nrows();
    let cols = centerline_u_columns(nx);
    assert_eq!(strip.ncols(), cols.len(), "the columns around x = 0.5");
    let (hx, hy) = (1.0 / (nx + 1) as f64, 1.0 / (ny + 1) as f64);
    let fj = 0.5 / hx - 1.0;
    let (j0, w) = (fj.floor() as usize, fj - fj.floor());
    let at = |i: isize, j: usize| {
        if i < 0 || i >= ny as isize {
            0.0
        } else {
            strip[[i as usize, j - cols.start]]
        }
    };
    let u = |i: usize, j: usize| {
        let i = i as isize;
        (at(i - 1, j) - at(i + 1, j)) / (2.0 * hy)
    };
    let mut out = vec![(0.0, 0.0)];
    for i in (0..ny).rev() {
        let y = 1.0 - (i + 1) as f64 * hy;
        let val = if w == 0.0 {
            u(i, j0)
        } else {
            u(i, j0) * (1.0 - w) + u(i, j0 + 1) * w
        };
        out.push((y, val));
    }
    out.push((1.0, 1.0));
    out
}

/// [`centerline_v`] of a stream function `ny` cells high from its rows
/// [`centerline_v_rows`]`(ny)` alone (`strip`, every column): the same values, to the bit.
pub fn centerline_v_of_rows(strip: &Array2<f64>, ny: usize) -> Vec<(f64, f64)> {
    let nx = strip.ncols();
    let rows = centerline_v_rows(ny);
    assert_eq!(strip.nrows(), rows.len(), "the rows around y = 0.5");
    let (hx, hy) = (1.0 / (nx + 1) as f64, 1.0 / (ny + 1) as f64);
    let fi = 0.5 / hy - 1.0;
    let (i0, w) = (fi.floor() as usize, fi - fi.floor());
    let at = |i: usize, j: isize| {
        if j < 0 || j >= nx as isize {
            0.0
        } else {
            strip[[i - rows.start, j as usize]]
        }
    };
    let v = |i: usize, j: usize| {
        let j = j as isize;
        -(at(i, j + 1) - at(i, j - 1)) / (2.0 * hx)
    };
    let mut out = vec![(0.0, 0.0)];
    for j in 0..nx {
        let x = (j + 1) as f64 * hx;
        let val = if w == 0.0 {
            v(i0, j)
        } else {
            v(i0, j) * (1.0 - w) + v(i0 + 1, j) * w
        };
        out.push((x, val));
    }
    out.push((1.0, 0.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream function with no symmetry, zero nowhere inside.
    fn psi(nx: usize, ny: usize) -> Array2<f64> {
        Array2::from_shape_fn((ny, nx), |(i, j)| {
            let (x, y) = (
                (j + 1) as f64 / (nx + 1) as f64,
                (i + 1) as f64 / (ny + 1) as f64,
            );
            (3.1 * x).sin() * (2.3 * y + 0.2).cos() * x * (1.0 - y) + 1e-3 * (i * 7 + j) as f64
        })
    }

    /// The centrelines read off [`velocity_field`] on the whole grid: what the strips must give.
    fn reference_u(psi: &Array2<f64>) -> Vec<(f64, f64)> {
        let (u, _) = velocity_field(psi);
        let (ny, nx) = u.dim();
        let (hx, hy) = (1.0 / (nx + 1) as f64, 1.0 / (ny + 1) as f64);
        let fj = 0.5 / hx - 1.0;
        let (j0, w) = (fj.floor() as usize, fj - fj.floor());
        let mut out = vec![(0.0, 0.0)];
        for i in (0..ny).rev() {
            let y = 1.0 - (i + 1) as f64 * hy;
            let val = if w == 0.0 {
                u[[i, j0]]
            } else {
                u[[i, j0]] * (1.0 - w) + u[[i, j0 + 1]] * w
            };
            out.push((y, val));
        }
        out.push((1.0, 1.0));
        out
    }

    /// As [`reference_u`], for `v`.
    fn reference_v(psi: &Array2<f64>) -> Vec<(f64, f64)> {
        let (_, v) = velocity_field(psi);
        let (ny, nx) = v.dim();
        let (hx, hy) = (1.0 / (nx + 1) as f64, 1.0 / (ny + 1) as f64);
        let fi = 0.5 / hy - 1.0;
        let (i0, w) = (fi.floor() as usize, fi - fi.floor());
        let mut out = vec![(0.0, 0.0)];
        for j in 0..nx {
            let x = (j + 1) as f64 * hx;
            let val = if w == 0.0 {
                v[[i0, j]]
            } else {
                v[[i0, j]] * (1.0 - w) + v[[i0 + 1, j]] * w
            };
            out.push((x, val));
        }
        out.push((1.0, 0.0));
        out
    }

    #[test]
    fn centrelines_from_strips_are_those_of_the_whole_field_to_the_bit() {
        let bits = |v: Vec<(f64, f64)>| -> Vec<(u64, u64)> {
            v.into_iter()
                .map(|(a, b)| (a.to_bits(), b.to_bits()))
                .collect()
        };
        // Odd and even sizes both ways (a node on the centreline, or two around it), and the
        // narrowest grids.
        for (nx, ny) in [
            (9, 7),
            (10, 8),
            (9, 8),
            (10, 7),
            (1, 1),
            (2, 2),
            (1, 5),
            (64, 33),
        ] {
            let p = psi(nx, ny);
            let cols = centerline_u_columns(nx);
            let rows = centerline_v_rows(ny);
            assert!(cols.len() <= 2 && rows.len() <= 2 && !cols.is_empty() && !rows.is_empty());
            let cu = centerline_u_of_columns(&p.slice(s![.., cols]).to_owned(), nx);
            let cv = centerline_v_of_rows(&p.slice(s![rows, ..]).to_owned(), ny);
            assert_eq!(bits(cu), bits(reference_u(&p)), "u on {nx}x{ny}");
            assert_eq!(bits(cv), bits(reference_v(&p)), "v on {nx}x{ny}");
            assert_eq!(
                bits(centerline_u(&p)),
                bits(reference_u(&p)),
                "u on {nx}x{ny}"
            );
            assert_eq!(
                bits(centerline_v(&p)),
                bits(reference_v(&p)),
                "v on {nx}x{ny}"
            );
        }
    }
}
