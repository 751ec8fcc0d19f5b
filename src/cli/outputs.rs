//! What `halo solve --out DIR` writes: the final field for ParaView, in pieces written by every
//! rank, pictures drawn from the field sampled at their pixels, and the run's summary, drawn with
//! the library's `io` from the distributed solution the solver returned. No rank holds the
//! whole field.

use super::history::History;
use halo::comm::Comm;
use halo::decomp::Decomposition;
use halo::grid::DistArray;
use halo::io::{self, PieceArray, Sampled};
use halo::solver::cavity::{
    centerline_u_columns, centerline_u_of_columns, centerline_v_of_rows, centerline_v_rows,
    reference::centrelines, velocity_dist,
};
use halo::solver::{Config, Problem, Report, Solution};
use halo::Result;
use ndarray::Array2;
use std::path::{Path, PathBuf};

/// The stem of the VTK files: `field.pvti` and its pieces in `field/`.
pub(super) const STEM: &str = "field";

/// The bytes [`write_outputs`] holds at its peak on rank 0 (the rank that holds the most: the
/// largest block, and the pictures) over the `ranks` of the run, beyond the run's result, for
/// the memory check made before the run. With L the cells of a block with one ghost layer, P the
/// points of its piece, and S the pixels of a picture (at most 900 on a side):
/// - writing the pieces: the piece's values, a value per point per component (P·c, c = 2 for
///   `u` and `rank` or, for the cavity, 6: `psi`, `omega`, `velocity`'s three, `rank`), beside
///   first a one-layer copy of an array for its exchange (L), then the file built from them
///   (P·c); for the cavity, beside its velocity components (2·L);
/// - the pictures: each field sampled (kept, and gathered: 2·S), the picture and its PNG file;
///   for the cavity beside its velocity and speed, 3·L;
/// - the cavity's centrelines: two columns and two rows of ψ, gathered (twice), their profiles
///   and CSV text.
///
/// All in 8-byte values. The history, recorded during the run, adds [`History::most_bytes`].
/// A decomposition that cannot be made counts nothing (the run refuses it first).
pub fn output_bytes(cfg: &Config, ranks: usize) -> u64 {
    let (nx, ny) = (cfg.domain.nx, cfg.domain.ny);
    let decomp = match cfg.domain.procs {
        Some(g) if g.size() == ranks => Decomposition::new(nx, ny, g),
        Some(_) => return History::most_bytes(&cfg.stop),
        None => Decomposition::auto(nx, ny, ranks),
    };
    let Ok(decomp) = decomp else {
        return History::most_bytes(&cfg.stop);
    };
    // Rank 0's block is the largest (larger parts first).
    let b = decomp.block(0);
    let (by, bx) = (b.ny() as u64, b.nx() as u64);
    let l = (by + 2) * (bx + 2);
    let p = (by + 1) * (bx + 1);
    let (h, w) = io::picture_shape(nx, ny);
    let s = h as u64 * w as u64;
    // The canvas (RGB, with title, margins and colour bar) and its PNG file, in values.
    let canvas = 2 * (3 * (w as u64 + 160) * (h.max(200) as u64 + 50)).div_ceil(8);
    let cavity = cfg.problem == Problem::Cavity;
    let (comps, kept, fields) = if cavity { (6, 2, 2) } else { (2, 0, 1) };
    let pieces = kept * l + io::pvti_bytes_held(p, comps, l) / 8;
    let pictures = if cavity { 3 * l } else { 0 } + fields * s + 2 * s + canvas;
    let strips = if cavity {
        12 * (nx as u64 + ny as u64 + 4)
    } else {
        0
    };
    8 * pieces.max(pictures).max(strips) + History::most_bytes(&cfg.stop)
}

/// Writes into `dir`, every rank taking part (collective; errors on one rank are agreed where
/// the others would wait for it, and [`write_outputs`]'s own result must be agreed by the
/// caller):
/// - `field.pvti` and `field/piece-RRRR.vti`, one piece per rank written by that rank: the
///   final field `u` and the owning `rank` of each point, partitioned VTK XML ImageData
///   ([`io::write_pvti`]; open `field.pvti` in ParaView);
/// - `field.png`: a heatmap of the field with a colour bar;
/// - `decomposition.png`: the blocks of the process grid, numbered by rank, over the field;
/// - `summary.json`: `report`, the run's [`Report`] as the command completed it;
/// - `history.csv` (`iter,time,residual`, a row per residual check; `time` empty for problems
///   without simulated time) and `history.png`, the residual on a log scale against the
///   simulated time when the problem has one (heat, the cavity), else against the iteration,
///   with the tolerance as a line when there is one: `history`, the checks of this run (after a
///   restart, those from the checkpoint's iteration on).
///
/// Pictures are drawn from the fields sampled at their pixels, gathered on rank 0
/// ([`DistArray::sample`]): the same pictures as from the whole field.
///
/// For the cavity, the pieces hold the stream function `psi`, the vorticity `omega` and the
/// `velocity` vectors; `field.png` shows the speed with streamlines (contours of ψ); and
/// `centerline_u.csv` (`y,u` along x = 0.5) and `centerline_v.csv` (`x,v` along y = 0.5) come
/// along, walls included, from the columns and rows of ψ around the centrelines alone.
///
/// Returns, on rank 0, the paths written (the pieces as their directory); on other ranks, an
/// empty list.
pub fn write_outputs(
    comm: &Comm,
    dir: &Path,
    cfg: &Config,
    sol: &Solution,
    report: &Report,
    history: &History,
) -> Result<Vec<PathBuf>> {
    let field = sol.primary();
    let origin = (cfg.domain.hx(), cfg.domain.hy());
    let shape = io::picture_shape(cfg.domain.nx, cfg.domain.ny);
    // Everything collective first, so that a failed write on rank 0 leaves no rank waiting.
    let omega = sol.field("omega");
    let (pvti, pictures) = match omega {
        Some(omega) => {
            let (u, v) = velocity_dist(comm, field)?;
            let pvti = io::write_pvti(
                comm,
                dir,
                STEM,
                origin,
                origin,
                &[
                    PieceArray::Scalar("psi", field),
                    PieceArray::Scalar("omega", omega),
                    PieceArray::Vector("velocity", &u, &v),
                ],
            )?;
            let mut speed = comm.agree(u.try_clone())?;
            for ((i, j), s) in speed.interior_mut().indexed_iter_mut() {
                let (a, b) = (u.interior()[[i, j]], v.interior()[[i, j]]);
                *s = a.hypot(b);
            }
            drop((u, v));
            let speed = sampled(comm, &speed, shape)?;
            let psi = sampled(comm, field, shape)?;
            (pvti, speed.zip(psi).map(|(s, p)| (s, Some(p))))
        }
        None => {
            let pvti = io::write_pvti(
                comm,
                dir,
                STEM,
                origin,
                origin,
                &[PieceArray::Scalar("u", field)],
            )?;
            let u = sampled(comm, field, shape)?;
            (pvti, u.map(|u| (u, None)))
        }
    };
    let strips = match omega {
        Some(_) => {
            let (nx, ny) = (cfg.domain.nx, cfg.domain.ny);
            let cols = field.gather_rect(comm, 0, 0..ny, centerline_u_columns(nx))?;
            let rows = field.gather_rect(comm, 0, centerline_v_rows(ny), 0..nx)?;
            cols.zip(rows)
        }
        None => None,
    };
    // Rank 0 alone from here.
    let Some((picture, under)) = pictures else {
        return Ok(Vec::new());
    };
    let r = report;
    let decomp = &sol.layout.decomp;
    let mut written = Vec::new();
    if let Some(p) = pvti.first() {
        written.push(p.clone());
        written.push(dir.join(STEM));
    }
    let mut out = |name: &str| {
        let p = dir.join(name);
        written.push(p.clone());
        p
    };
    if let Some((cols, rows)) = strips {
        let title = format!(
            "cavity Re {} {}x{}: speed and streamlines, t = {:.2}",
            cfg.cavity.re,
            r.nx,
            r.ny,
            r.time.unwrap_or(0.0)
        );
        let streamlines = under.as_ref().map(|psi| (view(psi), 16));
        let png = io::sampled_heatmap_png(view(&picture), streamlines, &title)?;
        io::write_atomic(&out("field.png"), &png)?;
        let csv = |head: &str, rows: Vec<(f64, f64)>| {
            let mut s = format!("{head}\n");
            for (a, b) in rows {
                s.push_str(&format!("{a},{b}\n"));
            }
            s
        };
        let cu = centerline_u_of_columns(&cols, cfg.domain.nx);
        let cv = centerline_v_of_rows(&rows, cfg.domain.ny);
        io::write_atomic(&out("centerline_u.csv"), csv("y,u", cu.clone()).as_bytes())?;
        io::write_atomic(&out("centerline_v.csv"), csv("x,v", cv.clone()).as_bytes())?;
        // The profiles against the published ones at this Re (if any), plotted with u across
        // and y up, as they are read.
        let u_line: Vec<(f64, f64)> = cu.iter().map(|&(y, u)| (u, y)).collect();
        let published = centrelines(cfg.cavity.re);
        let u_ref: Vec<(f64, f64)> = published
            .map(|p| p.u.iter().map(|&(y, u)| (u, y)).collect())
            .unwrap_or_default();
        let v_ref = published.map_or(&[][..], |p| p.v);
        let source = published.map_or("", |p| p.source);
        let name = format!("halo, {}x{}", r.nx, r.ny);
        let png = io::panels_png(
            &format!(
                "cavity Re {}: centreline velocities, t = {:.2}",
                cfg.cavity.re,
                r.time.unwrap_or(0.0)
            ),
            &[
                io::Panel {
                    caption: "u along x = 0.5",
                    x_label: "u",
                    y_label: "y",
                    line: &u_line,
                    line_name: &name,
                    points: &u_ref,
                    points_name: source,
                    legend_left: false,
                },
                io::Panel {
                    caption: "v along y = 0.5",
                    x_label: "x",
                    y_label: "v",
                    line: &cv,
                    line_name: &name,
                    points: v_ref,
                    points_name: source,
                    legend_left: true,
                },
            ],
        )?;
        io::write_atomic(&out("centerline.png"), &png)?;
    } else {
        let title = format!("{} {}x{}, {} iterations", r.problem, r.nx, r.ny, r.iters);
        let png = io::sampled_heatmap_png(view(&picture), None, &title)?;
        io::write_atomic(&out("field.png"), &png)?;
    }
    let title = format!(
        "{} ranks as {}x{} over {}x{} cells",
        r.ranks, r.px, r.py, r.nx, r.ny
    );
    let over = view(under.as_ref().unwrap_or(&picture));
    io::write_atomic(
        &out("decomposition.png"),
        &io::sampled_decomposition_png(over, decomp, &title)?,
    )?;
    io::write_atomic(
        &out("summary.json"),
        format!("{}\n", r.to_json()).as_bytes(),
    )?;
    io::write_atomic(&out("history.csv"), history.csv().as_bytes())?;
    let what = match r.problem {
        Problem::Cavity => format!("cavity Re {}", cfg.cavity.re),
        p => p.to_string(),
    };
    let (by, residual) = match r.relative_residual {
        Some(_) => (format!(", {}", cfg.solving.method), "relative residual"),
        None => (String::new(), "residual"),
    };
    let title = format!("{what} {}x{}{by}: convergence history", r.nx, r.ny);
    io::write_atomic(
        &out("history.png"),
        &history.png(&title, residual, cfg.stop.tol)?,
    )?;
    Ok(written)
}

/// A field's values at a picture's pixels, and the finite range of the whole field.
type Sample = (Array2<f64>, Option<(f64, f64)>);

/// A sample and its range as the pictures take them.
fn view((values, range): &Sample) -> Sampled<'_> {
    Sampled {
        values,
        range: *range,
    }
}

/// A field as [`write_outputs`] draws it: its values at the pixels of a picture `shape` and its
/// whole range, on rank 0 (`None` elsewhere). Collective.
fn sampled(comm: &Comm, a: &DistArray, shape: (usize, usize)) -> Result<Option<Sample>> {
    let range = a.finite_range(comm)?;
    Ok(a.sample(comm, 0, shape)?.map(|v| (v, range)))
}
