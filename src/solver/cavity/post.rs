//! What a user reads off a cavity solution: velocities and centreline profiles from the gathered
//! stream function.

use ndarray::Array2;

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

/// `v` along the horizontal centreline `y = 0.5` as `(x, v)` from the left wall to the right,
/// walls included (`v = 0`); interpolated between the two rows around `y = 0.5` when no row lies
/// on it (an even `ny`).
pub fn centerline_v(psi: &Array2<f64>) -> Vec<(f64, f64)> {
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
