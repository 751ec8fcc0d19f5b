//! What `halo solve --out DIR` writes: the final field for ParaView, pictures, and the run's
//! summary, drawn with the library's `io` from the solution the solver returned.

use super::history::History;
use halo::comm::Comm;
use halo::io::{self, VtkArray};
use halo::solver::cavity::{centerline_u, centerline_v, reference::centrelines, velocity_field};
use halo::solver::{Config, Report, Solution};
use halo::Result;
use ndarray::Array2;
use std::path::{Path, PathBuf};

/// The bytes [`write_outputs`] holds on rank 0 at its peak beyond the gathered fields, for the
/// memory check made before the run: the map of owners, the cavity's velocity components and
/// speed, and the VTK file, built in memory twice over (its data, then the whole file), each a
/// global field's worth (G) per array: 5·G, or 16·G for the cavity. Pictures are drawn at a
/// bounded size. The history, recorded during the run, adds [`History::most_bytes`] (small
/// beside the fields unless checks are very many).
pub fn output_bytes(cfg: &Config) -> u64 {
    let g = 8 * cfg.domain.nx as u64 * cfg.domain.ny as u64;
    let fields = if cfg.problem == halo::solver::Problem::Cavity {
        // u, v, speed, owners; psi, omega, velocity (3), rank in the data and again in the file.
        (4 + 2 * 6) * g
    } else {
        // owners; u, rank in the data and again in the file.
        (1 + 2 * 2) * g
    };
    fields + History::most_bytes(&cfg.stop)
}

/// Writes, on the rank that holds the gathered field (rank 0), into `dir`:
/// - `field.vti`: the final field `u` and the owning `rank` of each point, VTK XML ImageData;
/// - `field.png`: a heatmap of the field with a colour bar;
/// - `decomposition.png`: the blocks of the process grid, numbered by rank, over the field;
/// - `summary.json`: `report`, the run's [`Report`] as the command completed it;
/// - `history.csv` (`iter,time,residual`, a row per residual check; `time` empty for problems
///   without simulated time) and `history.png`, the residual on a log scale against the
///   simulated time when the problem has one (heat, the cavity), else against the iteration,
///   with the tolerance as a line when there is one: `history`, the checks of this run (after a
///   restart, those from the checkpoint's iteration on).
///
/// For the cavity, `field.vti` holds the stream function `psi`, the vorticity `omega` and the
/// `velocity` vectors; `field.png` shows the speed with streamlines (contours of ψ); and
/// `centerline_u.csv` (`y,u` along x = 0.5) and `centerline_v.csv` (`x,v` along y = 0.5) come
/// along, walls included.
///
/// Returns the paths written; on other ranks, writes nothing and returns an empty list.
pub fn write_outputs(
    comm: &Comm,
    dir: &Path,
    cfg: &Config,
    sol: &Solution,
    report: &Report,
    history: &History,
) -> Result<Vec<PathBuf>> {
    let primary = sol.primary().gather(comm, 0)?;
    let omega = match sol.field("omega") {
        Some(o) => o.gather(comm, 0)?,
        None => None,
    };
    let Some(field) = primary.as_ref() else {
        return Ok(Vec::new());
    };
    let r = report;
    let decomp = &sol.layout.decomp;
    let owner = Array2::from_shape_fn(field.dim(), |(i, j)| decomp.owner(i, j) as f64);
    let mut written = Vec::new();
    let mut out = |name: &str| {
        let p = dir.join(name);
        written.push(p.clone());
        p
    };
    let origin = (cfg.domain.hx(), cfg.domain.hy());
    if let Some(omega) = omega.as_ref() {
        let (u, v) = velocity_field(field);
        let speed = Array2::from_shape_fn(u.dim(), |(i, j)| u[[i, j]].hypot(v[[i, j]]));
        io::write_vti(
            &out("field.vti"),
            origin,
            origin,
            &[
                VtkArray::Scalar("psi", field),
                VtkArray::Scalar("omega", omega),
                VtkArray::Vector("velocity", &u, &v),
                VtkArray::Scalar("rank", &owner),
            ],
        )?;
        let title = format!(
            "cavity Re {} {}x{}: speed and streamlines, t = {:.2}",
            cfg.cavity.re,
            r.nx,
            r.ny,
            r.time.unwrap_or(0.0)
        );
        let png = io::heatmap_with_contours_png(&speed, Some((field, 16)), &title)?;
        io::write_atomic(&out("field.png"), &png)?;
        let csv = |head: &str, rows: Vec<(f64, f64)>| {
            let mut s = format!("{head}\n");
            for (a, b) in rows {
                s.push_str(&format!("{a},{b}\n"));
            }
            s
        };
        let (cu, cv) = (centerline_u(field), centerline_v(field));
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
        io::write_vti(
            &out("field.vti"),
            origin,
            origin,
            &[
                VtkArray::Scalar("u", field),
                VtkArray::Scalar("rank", &owner),
            ],
        )?;
        let title = format!("{} {}x{}, {} iterations", r.problem, r.nx, r.ny, r.iters);
        io::write_atomic(&out("field.png"), &io::heatmap_png(field, &title)?)?;
    }
    let title = format!(
        "{} ranks as {}x{} over {}x{} cells",
        r.ranks, r.px, r.py, r.nx, r.ny
    );
    io::write_atomic(
        &out("decomposition.png"),
        &io::decomposition_png(field, decomp, &title)?,
    )?;
    io::write_atomic(
        &out("summary.json"),
        format!("{}\n", r.to_json()).as_bytes(),
    )?;
    io::write_atomic(&out("history.csv"), history.csv().as_bytes())?;
    let what = match r.problem {
        halo::solver::Problem::Cavity => format!("cavity Re {}", cfg.cavity.re),
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
