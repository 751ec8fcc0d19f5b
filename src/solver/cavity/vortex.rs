//! The cavity's benchmark quantities, read off ψ and ω below grid resolution: the vortices
//! (extrema of ψ) and the centreline velocity extrema, as published tables give them; from the
//! whole fields ([`CavityQuantities::of`]) or from distributed ones without gathering them
//! ([`CavityQuantities::of_distributed`]), to the same bits.
//!
//! Grids follow [`super::post`]: arrays of shape `(ny, nx)` hold the interior nodes, row 0 next
//! to the lid, node `(i, j)` at `x = (j+1)·hx`, `y = 1 − (i+1)·hy` with `hx = 1/(nx+1)`,
//! `hy = 1/(ny+1)`.
//!
//! **Extrema of a field** ([`refine_extremum`]). Around the discrete extremum `(i, j)` the 3×3
//! neighbourhood gives, in cells (offset `a` along `j`, i.e. +x; `b` along `i`, i.e. −y), central
//! differences for the gradient `g` and the Hessian `H`:
//!
//! ```text
//! g = ( (f[i][j+1] − f[i][j−1])/2 , (f[i+1][j] − f[i−1][j])/2 )
//! H_aa = f[i][j+1] − 2f₀ + f[i][j−1]      H_bb = f[i+1][j] − 2f₀ + f[i−1][j]
//! H_ab = (f[i+1][j+1] − f[i+1][j−1] − f[i−1][j+1] + f[i−1][j−1]) / 4
//! ```
//!
//! which are exact for a quadratic. Its stationary point is `d = −H⁻¹g`, taken when `H` is
//! definite of the extremum's kind (positive for a minimum, negative for a maximum) and `d` stays
//! within one cell along each axis (`|d_a|, |d_b| ≤ 1`); the value there is `f₀ + ½ g·d`. Else,
//! or when the neighbourhood leaves the grid (a node next to a wall), the grid node itself
//! (`d = 0`). Another field is read at the same point from its own 3×3 Taylor fit
//! ([`taylor`]): `f₀ + g·d + ½ dᵀHd`.
//!
//! **Extrema of a profile** ([`profile_extremum`]). Through the discrete extremum `(x₁, f₁)` and
//! its neighbours `(x₀, f₀)`, `(x₂, f₂)` (any spacing) passes one parabola; its vertex is at
//!
//! ```text
//! x* = x₁ − ½ · [(x₁−x₀)²(f₁−f₂) − (x₁−x₂)²(f₁−f₀)] / [(x₁−x₀)(f₁−f₂) − (x₁−x₂)(f₁−f₀)]
//! ```
//!
//! and its value there follows from Newton's form. An extremum at either end of the profile, or
//! three points on a line, give the point itself.
//!
//! **Distributed fields** ([`CavityQuantities::of_distributed`]). Every quantity reads only a
//! node's 3×3 neighbourhood or the strips of ψ around the centrelines. Each rank finds its own
//! candidate for each extremum (the first in row-major order of its block); two reductions pick
//! the global one (the most extreme value, then the least global index among the ranks holding
//! it): the node picked on the whole field. Its neighbourhood ([`Window`]) and the strips are
//! gathered to rank 0, which runs the same arithmetic on them as on the whole field.

use super::post::{
    centerline_u, centerline_u_columns, centerline_u_of_columns, centerline_v,
    centerline_v_of_rows, centerline_v_rows,
};
use crate::comm::{Comm, ReduceOp};
use crate::error::Result;
use crate::grid::DistArray;
use ndarray::{Array2, ArrayView2};
use std::ops::Range;

/// Which extremum to look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The least value.
    Min,
    /// The greatest value.
    Max,
}

impl Kind {
    /// Whether `a` is strictly more extreme than `b` (false when either is NaN).
    fn beats(self, a: f64, b: f64) -> bool {
        match self {
            Kind::Min => a < b,
            Kind::Max => a > b,
        }
    }
}

/// A point of the cavity and a field's value there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The value.
    pub value: f64,
    /// Its x.
    pub x: f64,
    /// Its y.
    pub y: f64,
}

/// A rectangle of a field on a grid of shape `(ny, nx)` (row 0 next to the lid): its values, the
/// global node of its first one, and the grid's shape. The whole field is one
/// ([`Window::whole`]); a node's 3×3 neighbourhood clipped to the grid ([`neighbourhood`]) is
/// another, and all that the refinement of an extremum at that node reads.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    /// The values: `values[[a, b]]` is node `(origin.0 + a, origin.1 + b)` of the grid.
    pub values: ArrayView2<'a, f64>,
    /// The global node `(i, j)` of `values[[0, 0]]`.
    pub origin: (usize, usize),
    /// The whole grid's shape `(ny, nx)`.
    pub grid: (usize, usize),
}

impl<'a> Window<'a> {
    /// The whole field `f` (shape `(ny, nx)`).
    pub fn whole(f: &'a Array2<f64>) -> Self {
        Window {
            values: f.view(),
            origin: (0, 0),
            grid: f.dim(),
        }
    }

    /// The value at global node `(i, j)`, which must lie in the window.
    pub fn at(&self, i: usize, j: usize) -> f64 {
        self.values[[i - self.origin.0, j - self.origin.1]]
    }

    /// The global rows and columns the window covers.
    fn extent(&self) -> (Range<usize>, Range<usize>) {
        let ((r0, c0), (h, w)) = (self.origin, self.values.dim());
        (r0..r0 + h, c0..c0 + w)
    }
}

/// The rows and columns of node `(i, j)`'s 3×3 neighbourhood on a grid of shape `(ny, nx)`,
/// clipped to the grid: the [`Window`] that [`Quadratic::fit`], [`refine_extremum`] and
/// [`taylor`] need at that node.
pub fn neighbourhood((ny, nx): (usize, usize), i: usize, j: usize) -> (Range<usize>, Range<usize>) {
    (
        i.saturating_sub(1)..(i + 2).min(ny),
        j.saturating_sub(1)..(j + 2).min(nx),
    )
}

/// The central-difference quadratic of a field around node `(i, j)`, in cells (see the module
/// docs): `f(a, b) ≈ f0 + g·(a, b) + ½ (a, b)ᵀ H (a, b)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quadratic {
    /// The value at the node.
    pub f0: f64,
    /// The gradient `(g_a, g_b)`, per cell along `j` and along `i`.
    pub g: [f64; 2],
    /// The Hessian `[[H_aa, H_ab], [H_ab, H_bb]]`.
    pub h: [[f64; 2]; 2],
}

impl Quadratic {
    /// The fit of `f`'s 3×3 neighbourhood of global node `(i, j)`; `None` when it leaves the
    /// grid. The window must hold the neighbourhood ([`neighbourhood`]).
    pub fn fit(f: &Window, i: usize, j: usize) -> Option<Self> {
        let (ny, nx) = f.grid;
        if i == 0 || j == 0 || i + 1 >= ny || j + 1 >= nx {
            return None;
        }
        let at =
            |di: isize, dj: isize| f.at((i as isize + di) as usize, (j as isize + dj) as usize);
        let f0 = at(0, 0);
        let hab = (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / 4.0;
        Some(Quadratic {
            f0,
            g: [(at(0, 1) - at(0, -1)) / 2.0, (at(1, 0) - at(-1, 0)) / 2.0],
            h: [
                [at(0, 1) - 2.0 * f0 + at(0, -1), hab],
                [hab, at(1, 0) - 2.0 * f0 + at(-1, 0)],
            ],
        })
    }

    /// Its stationary point `d = −H⁻¹g` in cells `(d_a, d_b)`, when `H` is definite of `kind`'s
    /// sign and `d` is within one cell along each axis.
    pub fn stationary(&self, kind: Kind) -> Option<[f64; 2]> {
        let [[haa, hab], [_, hbb]] = self.h;
        let det = haa * hbb - hab * hab;
        let definite = det > 0.0
            && match kind {
                Kind::Min => haa > 0.0,
                Kind::Max => haa < 0.0,
            };
        if !definite {
            return None;
        }
        let [ga, gb] = self.g;
        let d = [-(hbb * ga - hab * gb) / det, -(haa * gb - hab * ga) / det];
        (d[0].abs() <= 1.0 && d[1].abs() <= 1.0).then_some(d)
    }

    /// Its value at offset `d` (in cells): `f0 + g·d + ½ dᵀHd`.
    pub fn at(&self, d: [f64; 2]) -> f64 {
        let [[haa, hab], [_, hbb]] = self.h;
        let gd = self.g[0] * d[0] + self.g[1] * d[1];
        let dhd = haa * d[0] * d[0] + 2.0 * hab * d[0] * d[1] + hbb * d[1] * d[1];
        self.f0 + gd + 0.5 * dhd
    }
}

/// The global node of `f` holding its `kind` extremum over global rows `rows` and columns `cols`
/// as far as the window covers them (the first one in row-major order on a tie); `None` for no
/// node there, or NaNs only.
fn extreme_node(
    f: &Window,
    rows: Range<usize>,
    cols: Range<usize>,
    kind: Kind,
) -> Option<(usize, usize)> {
    let (have_rows, have_cols) = f.extent();
    let rows = rows.start.max(have_rows.start)..rows.end.min(have_rows.end);
    let cols = cols.start.max(have_cols.start)..cols.end.min(have_cols.end);
    let mut best: Option<(usize, usize)> = None;
    for i in rows {
        for j in cols.clone() {
            let v = f.at(i, j);
            if v.is_nan() {
                continue;
            }
            if best.is_none_or(|(bi, bj)| kind.beats(v, f.at(bi, bj))) {
                best = Some((i, j));
            }
        }
    }
    best
}

/// The point of `f` refined from global node `(i, j)`, a discrete `kind` extremum (see the
/// module docs), with the offset `d` in cells that was taken (`[0, 0]` at the node). The window
/// must hold the node's [`neighbourhood`].
pub fn refine_extremum(f: &Window, i: usize, j: usize, kind: Kind) -> (Point, [f64; 2]) {
    let (ny, nx) = f.grid;
    let (hx, hy) = (1.0 / (nx + 1) as f64, 1.0 / (ny + 1) as f64);
    let q = Quadratic::fit(f, i, j);
    let d = q.and_then(|q| q.stationary(kind)).unwrap_or([0.0, 0.0]);
    let value = match q {
        // At the stationary point f0 + g·d + ½dᵀHd = f0 + ½ g·d, since Hd = −g.
        Some(q) if d != [0.0, 0.0] => q.f0 + 0.5 * (q.g[0] * d[0] + q.g[1] * d[1]),
        _ => f.at(i, j),
    };
    let point = Point {
        value,
        x: (j as f64 + 1.0 + d[0]) * hx,
        y: 1.0 - (i as f64 + 1.0 + d[1]) * hy,
    };
    (point, d)
}

/// Field `f` at offset `d` (in cells) from global node `(i, j)`, by the Taylor fit of its 3×3
/// neighbourhood; the node's own value at `d = 0` or when the neighbourhood leaves the grid. The
/// window must hold the node's [`neighbourhood`].
pub fn taylor(f: &Window, i: usize, j: usize, d: [f64; 2]) -> f64 {
    match Quadratic::fit(f, i, j) {
        Some(q) if d != [0.0, 0.0] => q.at(d),
        _ => f.at(i, j),
    }
}

/// The vertex `(x*, f*)` of the parabola through three points with `x₀ < x₁ < x₂` (any spacing);
/// `None` when they lie on a line.
pub fn parabola_vertex(p0: (f64, f64), p1: (f64, f64), p2: (f64, f64)) -> Option<(f64, f64)> {
    let ((x0, f0), (x1, f1), (x2, f2)) = (p0, p1, p2);
    let (a, b) = (x1 - x0, x1 - x2);
    let den = a * (f1 - f2) - b * (f1 - f0);
    if den == 0.0 || !den.is_finite() {
        return None;
    }
    let x = x1 - 0.5 * (a * a * (f1 - f2) - b * b * (f1 - f0)) / den;
    // Newton's form: f0 + [x0,x1]·(x − x0) + [x0,x1,x2]·(x − x0)(x − x1).
    let d01 = (f1 - f0) / (x1 - x0);
    let d12 = (f2 - f1) / (x2 - x1);
    let d012 = (d12 - d01) / (x2 - x0);
    Some((x, f0 + d01 * (x - x0) + d012 * (x - x0) * (x - x1)))
}

/// The `kind` extremum of a profile of `(coordinate, value)` rows sorted by coordinate, as
/// `(coordinate, value)`: the vertex of the parabola through the discrete extremum and its two
/// neighbours, or the row itself at either end of the profile or on a line; `None` for an empty
/// profile (or one of NaNs only).
pub fn profile_extremum(rows: &[(f64, f64)], kind: Kind) -> Option<(f64, f64)> {
    let mut k: Option<usize> = None;
    for (n, &(_, v)) in rows.iter().enumerate() {
        if !v.is_nan() && k.is_none_or(|k| kind.beats(v, rows[k].1)) {
            k = Some(n);
        }
    }
    let k = k?;
    if k == 0 || k + 1 == rows.len() {
        return Some(rows[k]);
    }
    Some(parabola_vertex(rows[k - 1], rows[k], rows[k + 1]).unwrap_or(rows[k]))
}

/// A bottom quadrant of the cavity, where secondary vortices sit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quadrant {
    /// `x < 0.5`, `y < 0.5`.
    BottomLeft,
    /// `x > 0.5`, `y < 0.5`.
    BottomRight,
}

/// The nodes strictly inside `quadrant` of an `(ny, nx)` grid, as `(rows, cols)`: `x < 0.5` is
/// `2(j+1) < nx+1`, `x > 0.5` is `2(j+1) > nx+1` (and `y < 0.5` likewise `2(i+1) > ny+1`), in
/// integers so that a node on a centreline belongs to neither side.
fn quadrant_nodes(
    (ny, nx): (usize, usize),
    quadrant: Quadrant,
) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let past_half = |n: usize| (n.saturating_sub(1) / 2 + 1).min(n);
    let rows = past_half(ny)..ny;
    let cols = match quadrant {
        Quadrant::BottomLeft => 0..nx / 2,
        Quadrant::BottomRight => past_half(nx)..nx,
    };
    (rows, cols)
}

/// The secondary vortex in `quadrant`: the greatest ψ among the quadrant's nodes, refined like
/// the primary vortex (see the module docs), when it is positive (a counter-rotating eddy), a
/// strict maximum of its 3×3 neighbourhood, and not on the quadrant's edge (its first or last
/// row or column of nodes, next to a wall or a centreline); else `None`: not resolved.
pub fn secondary_vortex(psi: &Array2<f64>, quadrant: Quadrant) -> Option<Point> {
    let psi = Window::whole(psi);
    let (rows, cols) = quadrant_nodes(psi.grid, quadrant);
    let node = extreme_node(&psi, rows, cols, Kind::Max)?;
    secondary_at(&psi, node, quadrant)
}

/// [`secondary_vortex`] once the quadrant's greatest ψ is known to be at global node `(i, j)`:
/// its conditions and refinement, read off a window holding the node's [`neighbourhood`].
fn secondary_at(psi: &Window, (i, j): (usize, usize), quadrant: Quadrant) -> Option<Point> {
    let (rows, cols) = quadrant_nodes(psi.grid, quadrant);
    let top = psi.at(i, j);
    let inside = i > rows.start && i + 1 < rows.end && j > cols.start && j + 1 < cols.end;
    if top <= 0.0 || !inside {
        return None;
    }
    let strict = (i - 1..=i + 1)
        .flat_map(|a| (j - 1..=j + 1).map(move |b| (a, b)))
        .all(|(a, b)| (a, b) == (i, j) || psi.at(a, b) < top);
    strict.then(|| refine_extremum(psi, i, j, Kind::Max).0)
}

/// A node's [`neighbourhood`] gathered to rank 0: its values and the global node of the first.
struct Gathered {
    /// The values.
    values: Array2<f64>,
    /// The global node of `values[[0, 0]]`.
    origin: (usize, usize),
}

impl Gathered {
    /// As a window of the grid of shape `grid`.
    fn window(&self, grid: (usize, usize)) -> Window<'_> {
        Window {
            values: self.values.view(),
            origin: self.origin,
            grid,
        }
    }
}

/// The regions whose extremum [`CavityQuantities`] refines, in the order it takes them: the
/// whole grid's least ψ, then the greatest of the bottom-right and bottom-left quadrants.
fn regions(grid: (usize, usize)) -> [(Range<usize>, Range<usize>, Kind); 3] {
    let (br_rows, br_cols) = quadrant_nodes(grid, Quadrant::BottomRight);
    let (bl_rows, bl_cols) = quadrant_nodes(grid, Quadrant::BottomLeft);
    [
        (0..grid.0, 0..grid.1, Kind::Min),
        (br_rows, br_cols, Kind::Max),
        (bl_rows, bl_cols, Kind::Max),
    ]
}

/// A rank's offer for one region's extremum: the most extreme value of its part as a key that the
/// least wins (the value for a minimum, its exact negation for a maximum), `+∞` when it has no
/// node there (or NaNs only), and the node.
fn candidate(
    f: &Window,
    (rows, cols, kind): &(Range<usize>, Range<usize>, Kind),
) -> (f64, Option<(usize, usize)>) {
    let node = extreme_node(f, rows.clone(), cols.clone(), *kind);
    let key = node.map_or(f64::INFINITY, |(i, j)| match kind {
        Kind::Min => f.at(i, j),
        Kind::Max => -f.at(i, j),
    });
    (key, node)
}

/// The global index `i·nx + j` a rank offers once the least key over all ranks is known: that of
/// its node if its key equals the least (`==`, so ±0 tie like `<` has them), else `i64::MAX`.
/// The least index offered is the first node in row-major order holding the extremum: each
/// rank's node is the first of its block, blocks are rectangles, and the least key's holders are
/// exactly the ranks with a node of that value. (The index is reduced as an `i64`, well below
/// 2⁶³ for any grid in memory: MPICH 4.0.2's `MPI_MIN` over `u64` compares as signed.)
fn offer((key, node): (f64, Option<(usize, usize)>), least: f64, nx: usize) -> i64 {
    match node {
        Some((i, j)) if key == least => (i * nx + j) as i64,
        _ => i64::MAX,
    }
}

/// What the cavity's JSON summary reports of a solution beyond its profiles: the primary vortex,
/// the centreline velocity extrema and the bottom corners' secondary vortices where resolved.
/// Serialised flat, each under its own key; the secondary vortices' keys are absent when they are
/// not resolved.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CavityQuantities {
    /// The primary vortex: the least ψ, refined below grid resolution.
    pub psi_min: f64,
    /// Its x.
    pub psi_min_x: f64,
    /// Its y.
    pub psi_min_y: f64,
    /// ω at the primary vortex, by the Taylor fit of ω around the same node. The solver's ω is
    /// `v_x − u_y = −∇²ψ`, negative in the clockwise primary vortex; Ghia et al. and Botella &
    /// Peyret tabulate its opposite (3.16646 at Re 100).
    pub omega_center: f64,
    /// The least `u` along the vertical centreline x = 0.5.
    pub u_min: f64,
    /// Its y.
    pub u_min_y: f64,
    /// The greatest `v` along the horizontal centreline y = 0.5.
    pub v_max: f64,
    /// Its x.
    pub v_max_x: f64,
    /// The least `v` along the horizontal centreline y = 0.5.
    pub v_min: f64,
    /// Its x.
    pub v_min_x: f64,
    /// The bottom-right secondary vortex: the greatest ψ (> 0) with x > 0.5, y < 0.5.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi_br: Option<f64>,
    /// Its x.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi_br_x: Option<f64>,
    /// Its y.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi_br_y: Option<f64>,
    /// The bottom-left secondary vortex: the greatest ψ (> 0) with x < 0.5, y < 0.5.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi_bl: Option<f64>,
    /// Its x.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi_bl_x: Option<f64>,
    /// Its y.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi_bl_y: Option<f64>,
}

impl CavityQuantities {
    /// The quantities of the whole stream function `psi` and vorticity `omega` (both of shape
    /// `(ny, nx)`, row 0 next to the lid); `None` for an empty grid or a field of NaNs.
    pub fn of(psi: &Array2<f64>, omega: &Array2<f64>) -> Option<Self> {
        let grid = psi.dim();
        if omega.dim() != grid {
            return None;
        }
        let (psi_w, omega_w) = (Window::whole(psi), Window::whole(omega));
        let [primary, br, bl] =
            regions(grid).map(|(rows, cols, kind)| extreme_node(&psi_w, rows, cols, kind));
        Self::assemble(
            (&psi_w, &omega_w, primary?),
            [br.map(|n| (psi_w, n)), bl.map(|n| (psi_w, n))],
            &centerline_u(psi),
            &centerline_v(psi),
        )
    }

    /// [`CavityQuantities::of`] the distributed `psi` and `omega`, to the same bits, without
    /// gathering them: rank 0 receives the 3×3 neighbourhoods of the vortices' nodes and the
    /// strips of ψ around the centrelines, found as the module docs say. `Some` on rank 0 (but
    /// `None` where `of` gives `None`), `None` elsewhere. Collective.
    pub fn of_distributed(comm: &Comm, psi: &DistArray, omega: &DistArray) -> Result<Option<Self>> {
        let (d, o) = (&psi.layout().decomp, &omega.layout().decomp);
        let grid = (d.ny, d.nx);
        if (o.ny, o.nx) != grid || d.nx == 0 || d.ny == 0 {
            return Ok(None);
        }
        let b = &psi.layout().block;
        let mine = Window {
            values: psi.interior(),
            origin: (b.rows.start, b.cols.start),
            grid,
        };
        let offers = regions(grid).map(|r| candidate(&mine, &r));
        let least = comm.all_reduce(&offers.map(|(key, _)| key), ReduceOp::Min)?;
        let indices: Vec<i64> = (0..3).map(|k| offer(offers[k], least[k], d.nx)).collect();
        let first = comm.all_reduce(&indices, ReduceOp::Min)?;
        let [primary, br, bl] = [0, 1, 2].map(|k| {
            (first[k] != i64::MAX).then(|| (first[k] as usize / d.nx, first[k] as usize % d.nx))
        });
        // Every rank knows the nodes: the gathers below are the same on all.
        let Some(primary) = primary else {
            return Ok(None);
        };
        let around = |f: &DistArray, (i, j): (usize, usize)| -> Result<Option<Gathered>> {
            let (rows, cols) = neighbourhood(grid, i, j);
            let origin = (rows.start, cols.start);
            let values = f.gather_rect(comm, 0, rows, cols)?;
            Ok(values.map(|values| Gathered { values, origin }))
        };
        let psi_p = around(psi, primary)?;
        let omega_p = around(omega, primary)?;
        let psi_br = br.map(|n| Ok((around(psi, n)?, n))).transpose()?;
        let psi_bl = bl.map(|n| Ok((around(psi, n)?, n))).transpose()?;
        let cols = psi.gather_rect(comm, 0, 0..d.ny, centerline_u_columns(d.nx))?;
        let rows = psi.gather_rect(comm, 0, centerline_v_rows(d.ny), 0..d.nx)?;
        // Rank 0 has them all; the others, none.
        let (Some(psi_p), Some(omega_p), Some(cols), Some(rows)) = (psi_p, omega_p, cols, rows)
        else {
            return Ok(None);
        };
        let br = psi_br
            .as_ref()
            .and_then(|(g, n)| Some((g.as_ref()?.window(grid), *n)));
        let bl = psi_bl
            .as_ref()
            .and_then(|(g, n)| Some((g.as_ref()?.window(grid), *n)));
        Ok(Self::assemble(
            (&psi_p.window(grid), &omega_p.window(grid), primary),
            [br, bl],
            &centerline_u_of_columns(&cols, d.nx),
            &centerline_v_of_rows(&rows, d.ny),
        ))
    }

    /// The quantities from the primary vortex's node and ψ and ω around it, each secondary
    /// vortex's node (the greatest ψ of its quadrant) and ψ around it, and the centrelines `u`
    /// and `v`; `None` when a centreline has no extremum.
    fn assemble(
        (psi, omega, (i, j)): (&Window, &Window, (usize, usize)),
        [br, bl]: [Option<(Window, (usize, usize))>; 2],
        cu: &[(f64, f64)],
        cv: &[(f64, f64)],
    ) -> Option<Self> {
        let (primary, d) = refine_extremum(psi, i, j, Kind::Min);
        let (u_min_y, u_min) = profile_extremum(cu, Kind::Min)?;
        let (v_max_x, v_max) = profile_extremum(cv, Kind::Max)?;
        let (v_min_x, v_min) = profile_extremum(cv, Kind::Min)?;
        let br = br.and_then(|(w, n)| secondary_at(&w, n, Quadrant::BottomRight));
        let bl = bl.and_then(|(w, n)| secondary_at(&w, n, Quadrant::BottomLeft));
        Some(CavityQuantities {
            psi_min: primary.value,
            psi_min_x: primary.x,
            psi_min_y: primary.y,
            omega_center: taylor(omega, i, j, d),
            u_min,
            u_min_y,
            v_max,
            v_max_x,
            v_min,
            v_min_x,
            psi_br: br.map(|p| p.value),
            psi_br_x: br.map(|p| p.x),
            psi_br_y: br.map(|p| p.y),
            psi_bl: bl.map(|p| p.value),
            psi_bl_x: bl.map(|p| p.x),
            psi_bl_y: bl.map(|p| p.y),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Samples `f(x, y)` on the interior nodes of an `nx × ny` grid, row 0 next to the lid.
    fn sample(nx: usize, ny: usize, f: impl Fn(f64, f64) -> f64) -> Array2<f64> {
        let (hx, hy) = (1.0 / (nx + 1) as f64, 1.0 / (ny + 1) as f64);
        Array2::from_shape_fn((ny, nx), |(i, j)| {
            f((j + 1) as f64 * hx, 1.0 - (i + 1) as f64 * hy)
        })
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn a_tilted_quadratic_bowl_is_recovered_exactly_between_nodes() {
        // Off every node, with a cross term and unequal cells along x and y.
        let (x0, y0, c) = (0.5317, 0.5731, -0.1153);
        let bowl = |x: f64, y: f64| {
            let (a, b) = (x - x0, y - y0);
            c + 2.0 * a * a + 0.7 * a * b + 1.3 * b * b
        };
        // ω a quadratic too (the fit is exact for one): its value at the vortex is known.
        let omega_of = |x: f64, y: f64| 2.0 + 0.3 * x - 0.8 * y + 1.5 * x * y - 0.4 * y * y;
        let (psi, omega) = (sample(31, 25, bowl), sample(31, 25, omega_of));
        let q = CavityQuantities::of(&psi, &omega).unwrap();
        assert!(close(q.psi_min, c, 1e-14), "{}", q.psi_min);
        assert!(close(q.psi_min_x, x0, 1e-12), "{}", q.psi_min_x);
        assert!(close(q.psi_min_y, y0, 1e-12), "{}", q.psi_min_y);
        assert!(close(q.omega_center, omega_of(x0, y0), 1e-12));
        // The grid node alone would be off by up to half a cell (1/64, 1/52).
        let (i, j) = extreme_node(&Window::whole(&psi), 0..25, 0..31, Kind::Min).unwrap();
        assert!((psi[[i, j]] - c).abs() > 1e-6);
    }

    #[test]
    fn a_fit_that_is_not_a_bowl_or_points_too_far_stays_at_the_node() {
        // A saddle: H indefinite.
        let saddle = sample(9, 9, |x, y| (x - 0.53).powi(2) - (y - 0.47).powi(2));
        let q = Quadratic::fit(&Window::whole(&saddle), 4, 4).unwrap();
        assert_eq!(q.stationary(Kind::Min), None);
        assert_eq!(q.stationary(Kind::Max), None);
        // A bowl whose bottom lies 1.5 cells away from the node fitted.
        let h = 0.1;
        let far = sample(9, 9, |x, y| (x - 0.5 - 1.5 * h).powi(2) + (y - 0.5).powi(2));
        let far_w = Window::whole(&far);
        let q = Quadratic::fit(&far_w, 4, 4).unwrap();
        assert_eq!(q.stationary(Kind::Min), None);
        let (p, d) = refine_extremum(&far_w, 4, 4, Kind::Min);
        assert_eq!((p.value, p.x, p.y, d), (far[[4, 4]], 0.5, 0.5, [0.0, 0.0]));
        // Next to a wall there is no 3×3 neighbourhood.
        assert_eq!(Quadratic::fit(&far_w, 0, 4), None);
        assert_eq!(taylor(&far_w, 0, 4, [0.3, 0.3]), far[[0, 4]]);
    }

    #[test]
    fn a_parabolas_vertex_is_found_on_an_uneven_profile() {
        let (x0, f0) = (0.1717, -0.3886);
        let f = |x: f64| f0 + 3.0 * (x - x0) * (x - x0);
        let xs = [0.0, 0.05, 0.12, 0.16, 0.21, 0.3, 0.5, 1.0];
        let rows: Vec<(f64, f64)> = xs.iter().map(|&x| (x, f(x))).collect();
        let (x, v) = profile_extremum(&rows, Kind::Min).unwrap();
        assert!(close(x, x0, 1e-12) && close(v, f0, 1e-12), "({x}, {v})");
        // A maximum likewise, from the negated profile.
        let neg: Vec<(f64, f64)> = rows.iter().map(|&(x, v)| (x, -v)).collect();
        let (x, v) = profile_extremum(&neg, Kind::Max).unwrap();
        assert!(close(x, x0, 1e-12) && close(v, -f0, 1e-12), "({x}, {v})");
        // At an end of the profile, or on a line: the row itself.
        assert_eq!(profile_extremum(&rows, Kind::Max), Some((1.0, f(1.0))));
        assert_eq!(parabola_vertex((0.0, 1.0), (0.5, 2.0), (1.0, 3.0)), None);
        assert_eq!(profile_extremum(&[], Kind::Min), None);
    }

    #[test]
    fn a_positive_bump_is_a_secondary_vortex_and_no_positive_psi_is_none() {
        // ψ < 0 everywhere but a small cap inside the bottom-right quadrant; on the left, a cap
        // too, a strict maximum inside the quadrant, but below 0.
        let (x1, y1, top) = (0.9431, 0.0652, 1.25e-5);
        let psi = sample(127, 127, |x, y| {
            if x > 0.5 {
                top - 0.05 * (x - x1).powi(2) - 0.03 * (y - y1).powi(2)
            } else {
                -1e-6 - 0.05 * (x - 0.0313).powi(2) - 0.03 * (y - 0.0391).powi(2)
            }
        });
        let br = secondary_vortex(&psi, Quadrant::BottomRight).unwrap();
        assert!(close(br.value, top, 1e-15) && close(br.x, x1, 1e-12) && close(br.y, y1, 1e-12));
        // Every ψ of the bottom-left quadrant is negative: nothing to report.
        assert_eq!(secondary_vortex(&psi, Quadrant::BottomLeft), None);
        let omega = Array2::zeros(psi.dim());
        let q = CavityQuantities::of(&psi, &omega).unwrap();
        assert_eq!(
            (q.psi_br, q.psi_br_x, q.psi_br_y),
            (Some(br.value), Some(br.x), Some(br.y))
        );
        assert_eq!((q.psi_bl, q.psi_bl_x, q.psi_bl_y), (None, None, None));
        let json = serde_json::to_value(&q).unwrap();
        assert!(
            json.get("psi_br").is_some() && json.get("psi_bl").is_none(),
            "{json}"
        );
        assert!(json.get("psi_bl_x").is_none() && json.get("psi_bl_y").is_none());
    }

    #[test]
    fn a_maximum_on_the_quadrants_edge_or_not_strict_is_not_a_vortex() {
        // Positive, but rising towards the bottom wall: the maximum is on the quadrant's edge.
        let ramp = sample(31, 31, |_, y| 1.0 - y);
        assert_eq!(secondary_vortex(&ramp, Quadrant::BottomLeft), None);
        assert_eq!(secondary_vortex(&ramp, Quadrant::BottomRight), None);
        // Rising towards the vertical centreline x = 0.5: on the edge again.
        let towards_centre = sample(31, 31, |x, _| 1.0 - (x - 0.5).abs());
        assert_eq!(
            secondary_vortex(&towards_centre, Quadrant::BottomLeft),
            None
        );
        // A positive plateau inside: no strict maximum.
        let mut flat = Array2::from_elem((31, 31), -1.0);
        flat.slice_mut(ndarray::s![22..25, 5..8]).fill(0.5);
        assert_eq!(secondary_vortex(&flat, Quadrant::BottomLeft), None);
        // One node raised above it: a vortex, at that node (its neighbourhood is symmetric, so
        // the fit's stationary point is the node itself).
        flat[[23, 6]] = 0.6;
        let p = secondary_vortex(&flat, Quadrant::BottomLeft).unwrap();
        let want = Point {
            value: 0.6,
            x: 7.0 / 32.0,
            y: 1.0 - 24.0 / 32.0,
        };
        assert_eq!(p, want);
    }

    #[test]
    fn quadrants_hold_the_nodes_strictly_on_their_side_of_the_centrelines() {
        // Odd: a node on each centreline, in neither quadrant.
        assert_eq!(
            quadrant_nodes((127, 127), Quadrant::BottomRight),
            (64..127, 64..127)
        );
        assert_eq!(
            quadrant_nodes((127, 127), Quadrant::BottomLeft),
            (64..127, 0..63)
        );
        // Even: none on them.
        assert_eq!(quadrant_nodes((8, 8), Quadrant::BottomRight), (4..8, 4..8));
        assert_eq!(quadrant_nodes((8, 8), Quadrant::BottomLeft), (4..8, 0..4));
        assert_eq!(quadrant_nodes((1, 1), Quadrant::BottomLeft), (1..1, 0..0));
        let psi = Array2::from_elem((1, 1), -1.0);
        assert_eq!(secondary_vortex(&psi, Quadrant::BottomRight), None);
    }

    /// A field with no symmetry, a bowl around `(x0, y0)` with a ripple: a minimum inside,
    /// maxima on the walls, and every fit a different one.
    fn rippled(nx: usize, ny: usize, (x0, y0): (f64, f64)) -> Array2<f64> {
        sample(nx, ny, |x, y| {
            (x - x0).powi(2)
                + 0.6 * (y - y0).powi(2)
                + 0.3 * (x - x0) * (y - y0)
                + 0.01 * (17.0 * x + 5.0 * y).sin()
        })
    }

    /// The window of `f` around node `(i, j)`: its [`neighbourhood`], copied out.
    fn around(f: &Array2<f64>, i: usize, j: usize) -> (Array2<f64>, (usize, usize)) {
        let (rows, cols) = neighbourhood(f.dim(), i, j);
        let origin = (rows.start, cols.start);
        (f.slice(ndarray::s![rows, cols]).to_owned(), origin)
    }

    fn point_bits(p: Point) -> [u64; 3] {
        [p.value.to_bits(), p.x.to_bits(), p.y.to_bits()]
    }

    #[test]
    fn a_nodes_window_refines_to_the_bits_of_the_whole_field() {
        // Every node of odd and even grids: inside, next to each wall, in the corners.
        for (nx, ny) in [(9, 7), (8, 10), (3, 3), (1, 4)] {
            let psi = rippled(nx, ny, (0.53, 0.41));
            let omega = rippled(nx, ny, (0.2, 0.7)).mapv(|v| 3.0 - 7.0 * v);
            let (pw, ow) = (Window::whole(&psi), Window::whole(&omega));
            for i in 0..ny {
                for j in 0..nx {
                    let (pv, origin) = around(&psi, i, j);
                    let (ov, o_origin) = around(&omega, i, j);
                    let (rows, cols) = (pv.nrows(), pv.ncols());
                    // Clipped to the grid: 2 rows or columns next to a wall, 3 inside.
                    let inside =
                        |k: usize, n: usize| 3 - usize::from(k == 0) - usize::from(k + 1 == n);
                    assert_eq!((rows, cols), (inside(i, ny).min(ny), inside(j, nx).min(nx)));
                    let grid = (ny, nx);
                    let p = Window {
                        values: pv.view(),
                        origin,
                        grid,
                    };
                    let o = Window {
                        values: ov.view(),
                        origin: o_origin,
                        grid,
                    };
                    assert_eq!(Quadratic::fit(&p, i, j), Quadratic::fit(&pw, i, j));
                    for kind in [Kind::Min, Kind::Max] {
                        let (whole, d) = refine_extremum(&pw, i, j, kind);
                        let (part, e) = refine_extremum(&p, i, j, kind);
                        assert_eq!(
                            point_bits(part),
                            point_bits(whole),
                            "({i}, {j}) on {nx}x{ny}"
                        );
                        assert_eq!(d.map(f64::to_bits), e.map(f64::to_bits));
                        assert_eq!(
                            taylor(&o, i, j, d).to_bits(),
                            taylor(&ow, i, j, d).to_bits()
                        );
                    }
                    for quadrant in [Quadrant::BottomLeft, Quadrant::BottomRight] {
                        let whole = secondary_at(&pw, (i, j), quadrant).map(point_bits);
                        assert_eq!(secondary_at(&p, (i, j), quadrant).map(point_bits), whole);
                    }
                }
            }
            // And some refinement did move off the nodes.
            let (i, j) = extreme_node(&pw, 0..ny, 0..nx, Kind::Min).unwrap();
            if nx >= 3 && ny >= 3 {
                assert_ne!(
                    refine_extremum(&pw, i, j, Kind::Min).1,
                    [0.0, 0.0],
                    "{nx}x{ny}"
                );
            }
        }
    }

    /// What [`CavityQuantities::of_distributed`] finds for each region, its reductions done
    /// here: every block of `px × py` offers its candidate, the least key wins, then the least
    /// index offered.
    fn reduced(f: &Array2<f64>, (px, py): (usize, usize)) -> [Option<(usize, usize)>; 3] {
        let (ny, nx) = f.dim();
        let blocks: Vec<Window> = (0..py)
            .flat_map(|cy| {
                (0..px).map(move |cx| {
                    (
                        crate::decomp::split(ny, py, cy),
                        crate::decomp::split(nx, px, cx),
                    )
                })
            })
            .map(|(rows, cols)| Window {
                origin: (rows.start, cols.start),
                values: f.slice(ndarray::s![rows, cols]),
                grid: (ny, nx),
            })
            .collect();
        regions((ny, nx)).map(|region| {
            let offers: Vec<_> = blocks.iter().map(|b| candidate(b, &region)).collect();
            let least = offers.iter().map(|o| o.0).fold(f64::INFINITY, f64::min);
            let first = offers.iter().map(|&o| offer(o, least, nx)).min().unwrap();
            (first != i64::MAX).then(|| (first as usize / nx, first as usize % nx))
        })
    }

    #[test]
    fn blocks_offering_candidates_find_the_whole_fields_node_ties_zeros_and_nans_included() {
        let (nx, ny) = (11, 9);
        let mut fields = Vec::new();
        // Ties: the least value at four nodes, the greatest of each bottom quadrant at two.
        let mut ties = rippled(nx, ny, (0.5, 0.5));
        for (i, j) in [(6, 7), (2, 3), (2, 8), (7, 2)] {
            ties[[i, j]] = -1.0;
        }
        for (i, j) in [(8, 9), (6, 6), (5, 1), (8, 0)] {
            ties[[i, j]] = 2.0;
        }
        fields.push(ties);
        // Signed zeros: −0.0 and 0.0 are equal, so the first in row-major order wins whatever
        // its sign, for a minimum of 0 and for a maximum of 0.
        let mut zeros = Array2::from_elem((ny, nx), 1.0);
        zeros[[1, 9]] = 0.0;
        zeros[[4, 1]] = -0.0;
        zeros.slice_mut(ndarray::s![5.., ..]).fill(-1.0);
        zeros[[8, 8]] = -0.0;
        zeros[[6, 10]] = 0.0;
        zeros[[7, 2]] = 0.0;
        zeros[[8, 1]] = -0.0;
        fields.push(zeros);
        // NaNs are skipped; a quadrant of NaNs only has no node.
        let mut nans = rippled(nx, ny, (0.3, 0.6));
        nans.slice_mut(ndarray::s![5.., 6..]).fill(f64::NAN);
        nans[[2, 2]] = f64::NAN;
        fields.push(nans);
        fields.push(Array2::from_elem((ny, nx), f64::NAN));
        for f in &fields {
            let w = Window::whole(f);
            let want =
                regions((ny, nx)).map(|(rows, cols, kind)| extreme_node(&w, rows, cols, kind));
            for procs in [(1, 1), (2, 2), (3, 1), (1, 3), (4, 3), (11, 9), (5, 2)] {
                assert_eq!(reduced(f, procs), want, "{procs:?} on\n{f}");
            }
        }
        // The cases above are what they claim: the first tie, the first zero, none.
        assert_eq!(
            extreme_node(&Window::whole(&fields[0]), 0..ny, 0..nx, Kind::Min),
            Some((2, 3))
        );
        let zeros = Window::whole(&fields[1]);
        assert_eq!(extreme_node(&zeros, 0..ny, 0..nx, Kind::Min), Some((5, 0)));
        let [_, br, bl] = regions((ny, nx)).map(|(r, c, k)| extreme_node(&zeros, r, c, k));
        assert_eq!((br, bl), (Some((6, 10)), Some((7, 2))));
        let [p, br, _] =
            regions((ny, nx)).map(|(r, c, k)| extreme_node(&Window::whole(&fields[2]), r, c, k));
        assert!(p.is_some() && br.is_none());
    }
}
