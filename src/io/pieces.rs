//! A distributed field written in parallel as partitioned VTK ImageData: every rank writes its
//! own piece, and no rank holds more than its block.
//!
//! [`write_pvti`] writes, into `DIR`:
//! - `STEM.pvti` (rank 0): the whole grid's extent, origin and spacing, the arrays, and each
//!   piece's extent and file, named relative to the `.pvti` (`STEM/piece-0003.vti`);
//! - `STEM/piece-RRRR.vti` (rank `RRRR`, at least four digits): an ordinary `.vti` file of the
//!   rank's points, which opens alone too.
//!
//! Open `STEM.pvti` in ParaView (File > Open) or read it with `vtkXMLPImageDataReader`: the
//! pieces make one dataset. Point data are values *at* points, so two pieces side by side must
//! share the points on their common edge, or a viewer shows a gap a cell wide between them: each
//! piece holds its rank's block plus the first column of the block east of it and the first row
//! of the block south of it (and the corner between), taken from those neighbours by a one-layer
//! halo exchange on a copy. Pieces so overlap by one point, with the same values there.

use super::files::write_atomic;
use super::vtk::{pvti_bytes, vti_bytes, Extent};
use crate::comm::Comm;
use crate::decomp::{Decomposition, Rect, Stencil};
use crate::error::{Error, Result};
use crate::grid::{DistArray, HaloExchange, Layout};
use std::path::{Path, PathBuf};

/// A point-data array of [`write_pvti`]: one value per grid point, or a 2-vector (written as a
/// 3-vector with z = 0, as VTK's vectors are).
#[derive(Debug, Clone, Copy)]
pub enum PieceArray<'a> {
    /// A scalar field.
    Scalar(&'a str, &'a DistArray),
    /// A vector field from its x and y components.
    Vector(&'a str, &'a DistArray, &'a DistArray),
}

impl PieceArray<'_> {
    fn name(&self) -> &str {
        match self {
            PieceArray::Scalar(n, _) | PieceArray::Vector(n, _, _) => n,
        }
    }

    fn components(&self) -> usize {
        match self {
            PieceArray::Scalar(..) => 1,
            PieceArray::Vector(..) => 3,
        }
    }

    fn arrays(&self) -> Vec<&DistArray> {
        match self {
            PieceArray::Scalar(_, a) => vec![a],
            PieceArray::Vector(_, u, v) => vec![u, v],
        }
    }
}

/// The name of `rank`'s piece relative to the `.pvti` file: `STEM/piece-RRRR.vti`.
pub fn piece_name(stem: &str, rank: usize) -> String {
    format!("{stem}/piece-{rank:04}.vti")
}

/// The global cells (rows, columns) whose points `rank`'s piece holds: its block, grown by one
/// row south and one column east where another block lies there (not across a periodic edge).
pub fn piece_cells(decomp: &Decomposition, rank: usize) -> Rect {
    let b = decomp.block(rank);
    Rect {
        rows: b.rows.start..(b.rows.end + 1).min(decomp.ny),
        cols: b.cols.start..(b.cols.end + 1).min(decomp.nx),
    }
}

/// The VTK extent of global cells `r` on a grid `ny` rows high (VTK's y counts upwards from the
/// last row).
fn extent_of(r: &Rect, ny: usize) -> Extent {
    Extent {
        x: (r.cols.start, r.cols.end - 1),
        y: (ny - r.rows.end, ny - 1 - r.rows.start),
    }
}

/// The values of `a` at the points of this rank's piece ([`piece_cells`]) in VTK's order (x
/// fastest, rows from the last up), through `comps` slots each starting at `slot` (a vector's
/// components interleave). The neighbours' points come by a one-layer exchange on a copy.
/// Collective.
fn piece_values(
    comm: &Comm,
    a: &DistArray,
    out: &mut [f64],
    slot: usize,
    comps: usize,
) -> Result<()> {
    let l = a.layout();
    let one = Layout::new(l.decomp, l.rank, 1, Stencil::Box, l.bc)?;
    let mut copy = comm.agree(DistArray::try_zeros(one))?;
    copy.interior_mut().assign(&a.interior());
    HaloExchange::new(comm, copy.layout()).exchange(&mut copy);
    let r = piece_cells(&l.decomp, l.rank);
    let (r0, c0) = (l.block.rows.start, l.block.cols.start);
    let local = copy.local();
    let mut k = slot;
    for i in r.rows.rev() {
        for j in r.cols.clone() {
            // Global (i, j) is local (i - r0 + 1, j - c0 + 1) in the one-layer copy.
            out[k] = local[[i - r0 + 1, j - c0 + 1]];
            k += comps;
        }
    }
    Ok(())
}

/// The bytes this rank holds at most while [`write_pvti`] writes `components` scalar components
/// in all (a vector counts 3, and `rank` 1) of a piece of `piece_points` points, from blocks
/// whose one-layer copy has `copy_cells` cells: the piece's values and, first, the copy being
/// exchanged, then the file built from the values.
pub fn pvti_bytes_held(piece_points: u64, components: u64, copy_cells: u64) -> u64 {
    let values = piece_points * components;
    8 * (values + values.max(copy_cells))
}

/// Writes `arrays` (distributed over `comm`, all of one decomposition) as partitioned VTK
/// ImageData: `DIR/STEM.pvti`, written by rank 0, naming the pieces relative to itself, and one
/// piece per rank, `DIR/STEM/piece-RRRR.vti` ([`piece_name`]), written by that rank: its block
/// and the points it shares with the blocks east and south of it ([`piece_cells`]), fetched by a
/// one-layer halo exchange on a copy (the arrays' own ghost cells may be stale). A `rank`
/// scalar gives each point's owner. Points lie at the cells, spaced `spacing` from `origin` (the
/// point of global cell `(ny − 1, 0)`, the bottom left); halo's row 0 is the top, so rows are
/// written last to first. Raw little-endian `Float64` appended data, exact to the bit; every
/// file through [`write_atomic`], the `.pvti` last, once every piece is there.
///
/// Collective; errors are agreed. Returns, on rank 0, the `.pvti` file then every piece; an
/// empty list elsewhere.
pub fn write_pvti(
    comm: &Comm,
    dir: &Path,
    stem: &str,
    origin: (f64, f64),
    spacing: (f64, f64),
    arrays: &[PieceArray<'_>],
) -> Result<Vec<PathBuf>> {
    // The same checks on every rank, from the same arguments: no need to agree.
    let Some(first) = arrays.first().and_then(|a| a.arrays().first().copied()) else {
        return Err(Error::Config("write_pvti: no arrays to write".into()));
    };
    let decomp = first.layout().decomp;
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    if !plain(stem) || stem.starts_with('.') {
        return Err(Error::Config(format!(
            "write_pvti: the stem {stem:?} is not a plain file name"
        )));
    }
    for a in arrays {
        if !plain(a.name()) || a.name() == "rank" {
            return Err(Error::Config(format!(
                "write_pvti: the array name {:?} is not a plain name other than \"rank\"",
                a.name()
            )));
        }
        if a.arrays().iter().any(|x| x.layout().decomp != decomp) {
            return Err(Error::Config(format!(
                "write_pvti: the array {} is not decomposed as {}",
                a.name(),
                first_name(arrays)
            )));
        }
    }
    if decomp.grid.size() != comm.size() {
        return Err(Error::Decomposition(format!(
            "write_pvti: the arrays are split over {} ranks but the communicator has {}",
            decomp.grid.size(),
            comm.size()
        )));
    }
    let pieces_dir = dir.join(stem);
    let root = comm.rank() == 0;
    let pvti = dir.join(format!("{stem}.pvti"));
    // An earlier run's .pvti goes first: while the pieces are rewritten, or if this write fails
    // half-way, no .pvti names a mix of old pieces and new.
    comm.agree(if root {
        super::files::ensure_dir(&pieces_dir).and_then(|()| match std::fs::remove_file(&pvti) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(super::files::io_err(&pvti, e))
            }
            _ => Ok(()),
        })
    } else {
        Ok(())
    })?;

    // This rank's piece.
    let rank = comm.rank();
    let cells = piece_cells(&decomp, rank);
    let points = cells.cells();
    let mut values: Vec<(&str, usize, Vec<f64>)> = Vec::with_capacity(arrays.len() + 1);
    for a in arrays {
        let comps = a.components();
        let mut v = vec![0.0; points * comps];
        for (slot, x) in a.arrays().into_iter().enumerate() {
            piece_values(comm, x, &mut v, slot, comps)?;
        }
        values.push((a.name(), comps, v));
    }
    let owners = cells
        .rows
        .clone()
        .rev()
        .flat_map(|i| cells.cols.clone().map(move |j| (i, j)))
        .map(|(i, j)| decomp.owner(i, j) as f64)
        .collect();
    values.push(("rank", 1, owners));
    let extent = extent_of(&cells, decomp.ny);
    let bytes = vti_bytes(extent, origin, spacing, &values);
    drop(values);
    let mine = dir.join(piece_name(stem, rank));
    comm.agree(write_atomic(&mine, &bytes))?;
    drop(bytes);

    // The file that names them, once every piece is there.
    let written = if root {
        let names: Vec<(&str, usize)> = arrays
            .iter()
            .map(|a| (a.name(), a.components()))
            .chain([("rank", 1)])
            .collect();
        let pieces: Vec<(Extent, String)> = (0..comm.size())
            .map(|r| {
                (
                    extent_of(&piece_cells(&decomp, r), decomp.ny),
                    piece_name(stem, r),
                )
            })
            .collect();
        let whole = Extent {
            x: (0, decomp.nx - 1),
            y: (0, decomp.ny - 1),
        };
        let bytes = pvti_bytes(whole, origin, spacing, &names, &pieces);
        let done = write_atomic(&pvti, &bytes);
        if done.is_ok() {
            remove_pieces_beyond(dir, stem, comm.size());
        }
        done.map(|()| {
            std::iter::once(pvti)
                .chain(pieces.iter().map(|(_, s)| dir.join(s)))
                .collect()
        })
    } else {
        Ok(Vec::new())
    };
    comm.agree(written)
}

/// Removes the pieces of ranks `size` and up from `DIR/STEM` (an earlier run's, on more ranks),
/// which the new .pvti does not name; files of any other name are left alone, and so are those
/// that cannot be removed (tidying, not a condition of the write).
fn remove_pieces_beyond(dir: &Path, stem: &str, size: usize) {
    let Ok(entries) = std::fs::read_dir(dir.join(stem)) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rank = name
            .strip_prefix("piece-")
            .and_then(|n| n.strip_suffix(".vti"))
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(r) = rank.filter(|&r| r >= size) {
            // Exactly as written, and a regular file.
            let ours = piece_name(stem, r) == format!("{stem}/{name}");
            if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

fn first_name<'a>(arrays: &'a [PieceArray<'_>]) -> &'a str {
    arrays.first().map_or("", |a| a.name())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomp::ProcGrid;

    #[test]
    fn pieces_overlap_by_one_point_and_cover_the_grid() {
        let d = Decomposition::new(10, 7, ProcGrid { px: 3, py: 2 }).unwrap();
        let mut count = vec![vec![0u32; 10]; 7];
        for r in 0..6 {
            let c = piece_cells(&d, r);
            let b = d.block(r);
            // A piece holds its block, and one more where a block follows.
            assert_eq!(c.rows.start, b.rows.start);
            assert_eq!(c.rows.end, (b.rows.end + 1).min(7));
            assert_eq!(c.cols.end, (b.cols.end + 1).min(10));
            for i in c.rows.clone() {
                for j in c.cols.clone() {
                    count[i][j] += 1;
                }
            }
        }
        // Every point is in a piece; those on the blocks' common edges in two, or four.
        assert!(count.iter().flatten().all(|&n| n >= 1));
        let shared = count.iter().flatten().filter(|&&n| n > 1).count();
        let (b0, b1) = (d.block(0), d.block(4));
        let (edge_col, edge_row) = (b0.cols.end, b1.rows.start);
        assert_eq!(count[edge_row][edge_col], 4);
        assert!(shared > 0);
        // The VTK extents: y counts up from the last row.
        let e = extent_of(&piece_cells(&d, 0), 7);
        assert_eq!(e.y.1, 6);
        assert_eq!(e.x.0, 0);
        let e = extent_of(&piece_cells(&d, 5), 7);
        assert_eq!((e.x.1, e.y.0), (9, 0));
    }

    #[test]
    fn piece_names_sort_by_rank() {
        assert_eq!(piece_name("field", 3), "field/piece-0003.vti");
        assert!(piece_name("f", 999) < piece_name("f", 1000));
    }
}
