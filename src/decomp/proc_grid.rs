//! Process grids: how many ranks along x and y, and who neighbours whom.

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// A `px × py` grid of ranks: `px` along x (columns), `py` along y (rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcGrid {
    /// Ranks along x.
    pub px: usize,
    /// Ranks along y.
    pub py: usize,
}

impl ProcGrid {
    /// The most ranks a process grid may have: MPI numbers ranks with C `int`s, so no job has
    /// more than `i32::MAX`.
    pub const MAX_RANKS: usize = i32::MAX as usize;

    /// A grid of `px × py` ranks; both must be at least 1, and together at most
    /// [`Self::MAX_RANKS`].
    pub fn new(px: usize, py: usize) -> Result<Self> {
        if px == 0 || py == 0 {
            return Err(Error::Decomposition(format!(
                "process grid {px}x{py}: both sides must be at least 1"
            )));
        }
        if px.checked_mul(py).is_none_or(|n| n > Self::MAX_RANKS) {
            return Err(Error::Decomposition(format!(
                "process grid {px}x{py}: more ranks than MPI can number (at most {})",
                Self::MAX_RANKS
            )));
        }
        Ok(ProcGrid { px, py })
    }

    /// The number of ranks, `px * py`.
    pub fn size(&self) -> usize {
        self.px * self.py
    }

    /// Every `px × py` with `px * py == ranks`, `px` ascending. Takes about `√ranks` steps (the
    /// divisors come in pairs around it): some 46 000 for [`Self::MAX_RANKS`].
    pub fn factorizations(ranks: usize) -> Vec<ProcGrid> {
        let (mut small, mut large) = (Vec::new(), Vec::new());
        let mut d = 1;
        while d <= ranks / d {
            if ranks.is_multiple_of(d) {
                small.push(d);
                if d != ranks / d {
                    large.push(ranks / d);
                }
            }
            d += 1;
        }
        small
            .into_iter()
            .chain(large.into_iter().rev())
            .map(|px| ProcGrid { px, py: ranks / px })
            .collect()
    }

    /// Refuses at once a rank count that no process grid can split an `nx × ny` grid for: none,
    /// more than MPI can number, or more than the grid has cells.
    pub(crate) fn check_count(ranks: usize, nx: usize, ny: usize) -> Result<()> {
        if ranks == 0 {
            return Err(Error::Decomposition("no ranks to decompose over".into()));
        }
        if ranks > Self::MAX_RANKS {
            return Err(Error::Decomposition(format!(
                "{ranks} ranks: more than MPI can number (at most {})",
                Self::MAX_RANKS
            )));
        }
        match nx.checked_mul(ny) {
            Some(cells) if ranks > cells => Err(Error::Decomposition(format!(
                "{ranks} ranks cannot split a {nx}x{ny} grid: more ranks than its {cells} cells"
            ))),
            _ => Ok(()),
        }
    }

    /// Cells on the cuts between blocks of an `nx × ny` grid: `(px-1)·ny + (py-1)·nx`.
    ///
    /// Each cut cell is sent once in each direction per halo exchange of width 1, so this is
    /// half the cells a width-1 star-stencil exchange moves.
    pub fn cut_cells(&self, nx: usize, ny: usize) -> usize {
        (self.px - 1) * ny + (self.py - 1) * nx
    }

    /// The grid for `ranks` ranks that cuts an `nx × ny` grid least ([`Self::cut_cells`]).
    ///
    /// Only grids whose every block holds at least one cell are candidates (`px <= nx`,
    /// `py <= ny`). Ties go to the squarer grid, then to more ranks along y (row cuts make
    /// contiguous halos in row-major storage). Works for any rank count up to
    /// [`Self::MAX_RANKS`], primes included, in about `√ranks` steps.
    pub fn auto(ranks: usize, nx: usize, ny: usize) -> Result<Self> {
        Self::check_count(ranks, nx, ny)?;
        Self::factorizations(ranks)
            .into_iter()
            .filter(|g| g.px <= nx && g.py <= ny)
            .min_by_key(|g| (g.cut_cells(nx, ny), g.px.abs_diff(g.py), g.px))
            .ok_or_else(|| {
                Error::Decomposition(format!(
                    "{ranks} ranks cannot split a {nx}x{ny} grid: every factorisation puts more ranks than cells along x or y"
                ))
            })
    }

    /// The `(cx, cy)` coordinates of `rank`.
    pub fn coords(&self, rank: usize) -> (usize, usize) {
        debug_assert!(rank < self.size());
        (rank % self.px, rank / self.px)
    }

    /// The rank at coordinates `(cx, cy)`.
    pub fn rank_at(&self, cx: usize, cy: usize) -> usize {
        debug_assert!(cx < self.px && cy < self.py);
        cy * self.px + cx
    }

    /// The rank `dx` steps along x and `dy` along y from `rank` (each -1, 0 or 1; diagonals
    /// too), or `None` past a non-periodic edge.
    pub fn neighbor(
        &self,
        rank: usize,
        dx: i8,
        dy: i8,
        periodic_x: bool,
        periodic_y: bool,
    ) -> Option<usize> {
        let (cx, cy) = self.coords(rank);
        let x = step(cx, self.px, dx, periodic_x)?;
        let y = step(cy, self.py, dy, periodic_y)?;
        Some(self.rank_at(x, y))
    }
}

/// Coordinate `c` of `n` moved by `d` (-1, 0, 1), wrapping when `wrap`.
fn step(c: usize, n: usize, d: i8, wrap: bool) -> Option<usize> {
    match d {
        0 => Some(c),
        -1 if c > 0 => Some(c - 1),
        -1 => wrap.then(|| n - 1),
        _ if c + 1 < n => Some(c + 1),
        _ => wrap.then_some(0),
    }
}

impl fmt::Display for ProcGrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.px, self.py)
    }
}

impl FromStr for ProcGrid {
    type Err = Error;

    /// Parses `PXxPY`, e.g. `4x2` (see [`parse_pair`]).
    fn from_str(s: &str) -> Result<Self> {
        let (px, py) = parse_pair(s, "PXxPY")?;
        ProcGrid::new(px, py)
    }
}

/// Parses a pair of whole numbers written `AxB` (also `AXB`, `A×B` or `A,B`; spaces around
/// either number are ignored), such as a grid's `NXxNY` or a process grid's `PXxPY`.
///
/// `form` names what is expected, e.g. `"NXxNY"`; an error names the value given and that form.
/// Zero is accepted: whether it makes sense is the caller's question.
///
/// ```
/// use halo::decomp::parse_pair;
/// assert_eq!(parse_pair("512x256", "NXxNY").unwrap(), (512, 256));
/// let e = parse_pair("512", "NXxNY").unwrap_err();
/// assert!(e.to_string().contains("'512' is not of the form NXxNY"));
/// ```
pub fn parse_pair(s: &str, form: &str) -> Result<(usize, usize)> {
    let (a, b) = s.trim().split_once(['x', 'X', ',', '×']).ok_or_else(|| {
        Error::Decomposition(format!(
            "'{s}' is not of the form {form}: two whole numbers joined by x, e.g. 4x2"
        ))
    })?;
    let n = |t: &str| {
        let t = t.trim();
        t.parse::<usize>().map_err(|_| {
            Error::Decomposition(format!(
                "'{s}' is not of the form {form}: '{t}' is not a whole number"
            ))
        })
    };
    Ok((n(a)?, n(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coords_and_ranks_are_inverse_and_x_runs_fastest() {
        let g = ProcGrid::new(3, 2).unwrap();
        assert_eq!(g.coords(0), (0, 0));
        assert_eq!(g.coords(2), (2, 0));
        assert_eq!(g.coords(3), (0, 1));
        for r in 0..g.size() {
            let (cx, cy) = g.coords(r);
            assert_eq!(g.rank_at(cx, cy), r);
        }
    }

    #[test]
    fn neighbors_of_a_3x2_grid() {
        // (north, south, west, east) of `rank`.
        let sides = |g: ProcGrid, rank, px, py| {
            let at = |dx, dy| g.neighbor(rank, dx, dy, px, py);
            (at(0, -1), at(0, 1), at(-1, 0), at(1, 0))
        };
        let g = ProcGrid::new(3, 2).unwrap();
        // 0 1 2
        // 3 4 5
        assert_eq!(sides(g, 4, false, false), (Some(1), None, Some(3), Some(5)));
        assert_eq!(sides(g, 0, false, false), (None, Some(3), None, Some(1)));
        assert_eq!(
            sides(g, 0, true, true),
            (Some(3), Some(3), Some(2), Some(1))
        );
        assert_eq!(g.neighbor(4, -1, -1, false, false), Some(0));
        assert_eq!(g.neighbor(4, 1, 1, false, false), None);
        assert_eq!(g.neighbor(2, 1, 1, true, false), Some(3));
        assert_eq!(g.neighbor(0, -1, -1, true, true), Some(5));
        let one = ProcGrid::new(1, 1).unwrap();
        assert_eq!(sides(one, 0, true, false), (None, None, Some(0), Some(0)));
    }

    #[test]
    fn auto_minimises_cut_cells() {
        // Square grid: the squarest factorisation.
        assert_eq!(
            ProcGrid::auto(4, 100, 100).unwrap(),
            ProcGrid { px: 2, py: 2 }
        );
        // Ties on a square grid go to cuts between rows.
        assert_eq!(
            ProcGrid::auto(2, 100, 100).unwrap(),
            ProcGrid { px: 1, py: 2 }
        );
        // A prime count on a wide grid cuts across the long side: 4 cuts of 600 < 4 cuts of 1000.
        assert_eq!(
            ProcGrid::auto(5, 1000, 600).unwrap(),
            ProcGrid { px: 5, py: 1 }
        );
        assert_eq!(
            ProcGrid::auto(5, 600, 1000).unwrap(),
            ProcGrid { px: 1, py: 5 }
        );
        // 6 ranks on 1000x600: 3x2 cuts 2*600+1*1000=2200; 2x3 cuts 600+2000=2600; 6x1 cuts 3000.
        assert_eq!(
            ProcGrid::auto(6, 1000, 600).unwrap(),
            ProcGrid { px: 3, py: 2 }
        );
        // Every candidate is checked against brute force.
        for ranks in 1..=24 {
            for (nx, ny) in [(7, 300), (64, 64), (500, 20), (13, 17)] {
                let Ok(g) = ProcGrid::auto(ranks, nx, ny) else {
                    continue;
                };
                let best = ProcGrid::factorizations(ranks)
                    .into_iter()
                    .filter(|f| f.px <= nx && f.py <= ny)
                    .map(|f| f.cut_cells(nx, ny))
                    .min()
                    .unwrap();
                assert_eq!(g.cut_cells(nx, ny), best);
                assert_eq!(g.size(), ranks);
            }
        }
    }

    #[test]
    fn auto_skips_grids_with_empty_blocks_and_fails_clearly() {
        // 4 ranks on a 3-wide grid cannot be 4x1.
        assert_eq!(
            ProcGrid::auto(4, 3, 1000).unwrap(),
            ProcGrid { px: 1, py: 4 }
        );
        let e = ProcGrid::auto(7, 3, 3).unwrap_err();
        assert!(
            e.to_string().contains("7 ranks cannot split a 3x3 grid"),
            "{e}"
        );
        assert!(ProcGrid::auto(0, 3, 3).is_err());
    }

    #[test]
    fn factorizations_are_every_divisor_pair_in_order() {
        for ranks in 0..=500usize {
            let slow: Vec<ProcGrid> = (1..=ranks)
                .filter(|px| ranks.is_multiple_of(*px))
                .map(|px| ProcGrid { px, py: ranks / px })
                .collect();
            assert_eq!(ProcGrid::factorizations(ranks), slow, "{ranks}");
        }
        // The largest prime MPI can number, and a square: in √ranks steps, not ranks.
        let p = ProcGrid::factorizations(ProcGrid::MAX_RANKS);
        assert_eq!(p.len(), 2, "2^31 - 1 is prime");
        assert_eq!(
            p[0],
            ProcGrid {
                px: 1,
                py: ProcGrid::MAX_RANKS
            }
        );
        let sq = ProcGrid::factorizations(46337 * 46337);
        assert_eq!(sq.len(), 3);
        assert_eq!(
            sq[1],
            ProcGrid {
                px: 46337,
                py: 46337
            }
        );
    }

    #[test]
    fn rank_counts_beyond_mpi_or_the_cells_are_refused_at_once() {
        // These looped over every count up to the rank count (a trillion here: a hang).
        let e = ProcGrid::auto(1_000_000_000_000, 100, 100).unwrap_err();
        assert_eq!(
            e.to_string(),
            "1000000000000 ranks: more than MPI can number (at most 2147483647)"
        );
        let e = ProcGrid::auto(999_999_937, 100, 100).unwrap_err();
        assert_eq!(
            e.to_string(),
            "999999937 ranks cannot split a 100x100 grid: more ranks than its 10000 cells"
        );
        assert!(ProcGrid::auto(usize::MAX, usize::MAX, usize::MAX).is_err());
        // As many ranks as cells is a split, one cell each.
        assert_eq!(ProcGrid::auto(12, 4, 3).unwrap(), ProcGrid { px: 4, py: 3 });
        // The most MPI can number, on a grid that takes them.
        let g = ProcGrid::auto(ProcGrid::MAX_RANKS, 1 << 31, 1).unwrap();
        assert_eq!(
            g,
            ProcGrid {
                px: ProcGrid::MAX_RANKS,
                py: 1
            }
        );
        let e = ProcGrid::new(65536, 65536).unwrap_err();
        assert!(
            e.to_string().contains("more ranks than MPI can number"),
            "{e}"
        );
        assert!(ProcGrid::new(usize::MAX, 2).is_err());
        assert_eq!(
            ProcGrid::new(ProcGrid::MAX_RANKS, 1).unwrap().size(),
            ProcGrid::MAX_RANKS
        );
    }

    #[test]
    fn parses_pxpy() {
        assert_eq!(
            "4x2".parse::<ProcGrid>().unwrap(),
            ProcGrid { px: 4, py: 2 }
        );
        assert_eq!(
            " 1X3 ".parse::<ProcGrid>().unwrap(),
            ProcGrid { px: 1, py: 3 }
        );
        assert!("0x2".parse::<ProcGrid>().is_err());
        assert!("4".parse::<ProcGrid>().is_err());
        assert!("ax2".parse::<ProcGrid>().is_err());
        assert!("-1x2".parse::<ProcGrid>().is_err());
    }

    #[test]
    fn pairs_take_every_separator_and_errors_name_the_value_and_the_form() {
        for s in ["12x5", "12X5", "12×5", "12,5", " 12 x 5 "] {
            assert_eq!(parse_pair(s, "NXxNY").unwrap(), (12, 5), "{s}");
        }
        assert_eq!(parse_pair("0x7", "NXxNY").unwrap(), (0, 7));
        let e = parse_pair("abc", "NXxNY").unwrap_err().to_string();
        assert!(e.contains("'abc' is not of the form NXxNY"), "{e}");
        let e = parse_pair("-5x10", "PXxPY").unwrap_err().to_string();
        assert!(e.contains("'-5x10' is not of the form PXxPY"), "{e}");
        assert!(e.contains("'-5' is not a whole number"), "{e}");
        let e = parse_pair("99999999999999999999x5", "NXxNY").unwrap_err();
        assert!(e.to_string().contains("not a whole number"), "{e}");
        assert!(parse_pair("3x", "NXxNY").is_err());
        assert!(parse_pair("3x4x5", "NXxNY").is_err());
        let e = "ax2".parse::<ProcGrid>().unwrap_err().to_string();
        assert!(e.contains("PXxPY"), "{e}");
    }
}
