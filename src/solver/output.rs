//! What `--out DIR` writes: the final field for ParaView, pictures, and the run's summary.

use super::config::Config;
use super::run::Solution;
use crate::error::Result;
use crate::io::{self, VtkArray};
use ndarray::Array2;
use std::path::{Path, PathBuf};

/// Writes, on the rank that holds the gathered field (rank 0), into `dir`:
/// - `field.vti`: the final field `u` and the owning `rank` of each point, VTK XML ImageData;
/// - `field.png`: a heatmap of the field with a colour bar;
/// - `decomposition.png`: the blocks of the process grid, numbered by rank, over the field;
/// - `summary.json`: the run's [`Report`](super::Report).
///
/// Returns the paths written; on other ranks, writes nothing and returns an empty list.
pub fn write_outputs(dir: &Path, cfg: &Config, sol: &Solution) -> Result<Vec<PathBuf>> {
    let Some(field) = &sol.field else {
        return Ok(Vec::new());
    };
    let r = &sol.report;
    let decomp = &sol.layout.decomp;
    let owner = Array2::from_shape_fn(field.dim(), |(i, j)| decomp.owner(i, j) as f64);
    let mut written = Vec::new();
    let mut out = |name: &str| {
        let p = dir.join(name);
        written.push(p.clone());
        p
    };
    io::write_vti(
        &out("field.vti"),
        (cfg.hx(), cfg.hy()),
        (cfg.hx(), cfg.hy()),
        &[
            VtkArray::Scalar("u", field),
            VtkArray::Scalar("rank", &owner),
        ],
    )?;
    let title = format!("{} {}x{}, {} iterations", r.problem, r.nx, r.ny, r.iters);
    io::write_atomic(&out("field.png"), &io::heatmap_png(field, &title)?)?;
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
    Ok(written)
}
