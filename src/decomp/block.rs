//! Blocks of a global grid, one per rank.

use super::proc_grid::ProcGrid;
use super::split::{part_of, split};
use crate::error::{Error, Result};
use std::ops::Range;

/// An `nx × ny` global grid split over a [`ProcGrid`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decomposition {
    /// Global cells along x.
    pub nx: usize,
    /// Global cells along y.
    pub ny: usize,
    /// The process grid.
    pub grid: ProcGrid,
}

/// The part of the global grid that one rank owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The owning rank.
    pub rank: usize,
    /// The owner's process-grid coordinates `(cx, cy)`.
    pub coords: (usize, usize),
    /// Global columns of the block.
    pub cols: Range<usize>,
    /// Global rows of the block.
    pub rows: Range<usize>,
}

impl Block {
    /// Cells along x.
    pub fn nx(&self) -> usize {
        self.cols.len()
    }

    /// Cells along y.
    pub fn ny(&self) -> usize {
        self.rows.len()
    }

    /// The block's shape as an array shape, `(ny, nx)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.ny(), self.nx())
    }

    /// Cells in the block.
    pub fn cells(&self) -> usize {
        self.nx() * self.ny()
    }
}

impl Decomposition {
    /// Splits an `nx × ny` grid over `grid`; every block must hold at least one cell, and the
    /// grid's cells must be countable (`nx · ny` within `usize`).
    pub fn new(nx: usize, ny: usize, grid: ProcGrid) -> Result<Self> {
        if nx == 0 || ny == 0 {
            return Err(Error::Decomposition(format!(
                "grid {nx}x{ny}: both sides must be at least 1"
            )));
        }
        if nx.checked_mul(ny).is_none() {
            return Err(Error::Decomposition(format!(
                "grid {nx}x{ny}: more cells than can be counted ({} at most)",
                usize::MAX
            )));
        }
        if grid.px > nx || grid.py > ny {
            return Err(Error::Decomposition(format!(
                "process grid {grid} has more ranks than cells along {} of the {nx}x{ny} grid",
                if grid.px > nx { "x" } else { "y" }
            )));
        }
        Ok(Decomposition { nx, ny, grid })
    }

    /// Splits an `nx × ny` grid over `ranks` ranks with [`ProcGrid::auto`].
    pub fn auto(nx: usize, ny: usize, ranks: usize) -> Result<Self> {
        if nx == 0 || ny == 0 {
            return Err(Error::Decomposition(format!(
                "grid {nx}x{ny}: both sides must be at least 1"
            )));
        }
        Self::new(nx, ny, ProcGrid::auto(ranks, nx, ny)?)
    }

    /// The number of ranks.
    pub fn ranks(&self) -> usize {
        self.grid.size()
    }

    /// The block that `rank` owns.
    pub fn block(&self, rank: usize) -> Block {
        let (cx, cy) = self.grid.coords(rank);
        Block {
            rank,
            coords: (cx, cy),
            cols: split(self.nx, self.grid.px, cx),
            rows: split(self.ny, self.grid.py, cy),
        }
    }

    /// All blocks, in rank order.
    pub fn blocks(&self) -> impl Iterator<Item = Block> + '_ {
        (0..self.ranks()).map(|r| self.block(r))
    }

    /// The rank that owns global cell `(row, col)`, which must lie inside the grid; found in a
    /// few steps, whatever the rank count.
    pub fn owner(&self, row: usize, col: usize) -> usize {
        let cx = part_of(self.nx, self.grid.px, col);
        let cy = part_of(self.ny, self.grid.py, row);
        self.grid.rank_at(cx, cy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_tile_the_grid_exactly_once() {
        for (nx, ny, px, py) in [(10, 7, 3, 2), (5, 5, 5, 1), (1, 9, 1, 4), (17, 13, 4, 3)] {
            let d = Decomposition::new(nx, ny, ProcGrid::new(px, py).unwrap()).unwrap();
            let mut hits = vec![0u8; nx * ny];
            for b in d.blocks() {
                assert!(b.cells() > 0);
                for r in b.rows.clone() {
                    for c in b.cols.clone() {
                        hits[r * nx + c] += 1;
                        assert_eq!(d.owner(r, c), b.rank);
                    }
                }
            }
            assert!(hits.iter().all(|&h| h == 1), "{nx}x{ny} over {px}x{py}");
        }
    }

    #[test]
    fn uneven_split_by_hand() {
        // 10 columns over 3: 4,3,3; 7 rows over 2: 4,3.
        let d = Decomposition::new(10, 7, ProcGrid::new(3, 2).unwrap()).unwrap();
        let b = d.block(4); // cx = 1, cy = 1
        assert_eq!(b.coords, (1, 1));
        assert_eq!(b.cols, 4..7);
        assert_eq!(b.rows, 4..7);
        assert_eq!(b.shape(), (3, 3));
        assert_eq!(d.block(0).shape(), (4, 4));
    }

    #[test]
    fn refuses_empty_blocks_and_empty_grids() {
        let g = ProcGrid::new(4, 1).unwrap();
        let e = Decomposition::new(3, 10, g).unwrap_err();
        assert_eq!(
            e.to_string(),
            "process grid 4x1 has more ranks than cells along x of the 3x10 grid"
        );
        assert!(Decomposition::new(0, 10, ProcGrid::new(1, 1).unwrap()).is_err());
        assert!(Decomposition::auto(10, 0, 1).is_err());
    }
}
