//! One rank's view of a distributed grid: its block, ghost width, neighbours and boundaries.

use super::boundary::{Boundaries, Side};
use crate::decomp::{Block, Decomposition, Dir, ExchangeKind, Rect, Stencil};
use crate::error::{Error, Result};
use std::ops::Range;

/// Everything one rank needs to know about the distributed grid it holds a part of.
///
/// Pure data: built without MPI from a [`Decomposition`] and a rank, so it can be tested alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The global grid and its process grid.
    pub decomp: Decomposition,
    /// This rank.
    pub rank: usize,
    /// This rank's block of the global grid.
    pub block: Block,
    /// Ghost layers on every side (the stencil width).
    pub ghost: usize,
    /// Which ghost cells the exchange fills.
    pub stencil: Stencil,
    /// The conditions on the edges of the global domain.
    pub bc: Boundaries,
    /// How ghost updates travel ([`crate::grid::HaloExchange`]); the cells they fill are the
    /// same whichever.
    pub exchange: ExchangeKind,
}

impl Layout {
    /// The layout of `rank`'s block, its ghosts updated by [`ExchangeKind::default`] (see
    /// [`Layout::with_exchange`]). Fails when `ghost` is 0 or wider than any block (a ghost
    /// region must come from the direct neighbour alone), or the boundaries are inconsistent.
    pub fn new(
        decomp: Decomposition,
        rank: usize,
        ghost: usize,
        stencil: Stencil,
        bc: Boundaries,
    ) -> Result<Self> {
        bc.validate()?;
        if ghost == 0 {
            return Err(Error::Decomposition(
                "the ghost width must be at least 1".into(),
            ));
        }
        let min_nx = decomp.nx / decomp.grid.px;
        let min_ny = decomp.ny / decomp.grid.py;
        // The narrowest side of any block.
        let (axis, n) = if min_nx <= min_ny {
            ("x", min_nx)
        } else {
            ("y", min_ny)
        };
        if ghost > n {
            return Err(Error::Invalid {
                quantity: "ghost width",
                value: ghost.to_string(),
                why: format!(
                    "wider than the smallest block ({n} cells along {axis} on the {} process grid); use fewer ranks, a larger grid or a smaller ghost width",
                    decomp.grid
                ),
            });
        }
        Ok(Layout {
            block: decomp.block(rank),
            decomp,
            rank,
            ghost,
            stencil,
            bc,
            exchange: ExchangeKind::default(),
        })
    }

    /// This layout with its ghost updates made by `exchange`.
    pub fn with_exchange(self, exchange: ExchangeKind) -> Self {
        Layout { exchange, ..self }
    }

    /// The ghosted array's shape, `(ny + 2·ghost, nx + 2·ghost)`.
    pub fn local_shape(&self) -> (usize, usize) {
        let w = 2 * self.ghost;
        (self.block.ny() + w, self.block.nx() + w)
    }

    /// The interior (this rank's block) in local indices.
    pub fn interior(&self) -> Rect {
        let w = self.ghost;
        Rect {
            rows: w..w + self.block.ny(),
            cols: w..w + self.block.nx(),
        }
    }

    /// The rank in direction `d`, wrapping around periodic edges; `None` at a physical edge.
    pub fn neighbor(&self, d: Dir) -> Option<usize> {
        self.decomp.grid.neighbor(
            self.rank,
            d.dx,
            d.dy,
            self.bc.periodic_x(),
            self.bc.periodic_y(),
        )
    }

    /// Whether `side` of this block is an edge of the global domain with a non-periodic condition
    /// (its ghost cells hold the boundary condition, not a neighbour's cells).
    pub fn is_physical(&self, side: Side) -> bool {
        let d = match side {
            Side::North => Dir { dx: 0, dy: -1 },
            Side::South => Dir { dx: 0, dy: 1 },
            Side::West => Dir { dx: -1, dy: 0 },
            Side::East => Dir { dx: 1, dy: 0 },
        };
        self.neighbor(d).is_none()
    }

    /// The interior grown by `e` cells into the ghost zone on every side that has a neighbour (not
    /// on physical edges): where a communication-avoiding solver updates redundantly `e` sweeps
    /// before the next exchange. `e` must not exceed the ghost width.
    pub fn grown(&self, e: usize) -> Rect {
        debug_assert!(e <= self.ghost);
        let r = self.interior();
        let g = |side| if self.is_physical(side) { 0 } else { e };
        Rect {
            rows: r.rows.start - g(Side::North)..r.rows.end + g(Side::South),
            cols: r.cols.start - g(Side::West)..r.cols.end + g(Side::East),
        }
    }

    /// The interior less its outermost cells on every side that has a neighbour: the cells a
    /// star stencil can update from this rank's own values alone, while a halo exchange is still
    /// in flight. Empty when the block is too thin.
    pub fn core(&self) -> Rect {
        let r = self.interior();
        let cut = |side| usize::from(!self.is_physical(side));
        let rows = r.rows.start + cut(Side::North)..r.rows.end - cut(Side::South);
        let cols = r.cols.start + cut(Side::West)..r.cols.end - cut(Side::East);
        let clamp = |x: Range<usize>| x.start..x.end.max(x.start);
        Rect {
            rows: clamp(rows),
            cols: clamp(cols),
        }
    }

    /// The global `(row, col)` of local cell `(i, j)`; may lie outside the global grid (as
    /// `isize`) for ghost cells on physical edges.
    pub fn global_of(&self, i: usize, j: usize) -> (isize, isize) {
        let w = self.ghost as isize;
        (
            self.block.rows.start as isize + i as isize - w,
            self.block.cols.start as isize + j as isize - w,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomp::ProcGrid;
    use crate::grid::Boundary;

    fn layout(nx: usize, ny: usize, px: usize, py: usize, rank: usize, w: usize) -> Result<Layout> {
        let d = Decomposition::new(nx, ny, ProcGrid::new(px, py).unwrap()).unwrap();
        Layout::new(
            d,
            rank,
            w,
            Stencil::Box,
            Boundaries::all(Boundary::Dirichlet(0.0)),
        )
    }

    #[test]
    fn shapes_and_interior() {
        let l = layout(10, 7, 3, 2, 4, 2).unwrap(); // block 3x3 at cols 4..7, rows 4..7
        assert_eq!(l.local_shape(), (7, 7));
        assert_eq!(
            l.interior(),
            Rect {
                rows: 2..5,
                cols: 2..5
            }
        );
        assert_eq!(l.global_of(2, 2), (4, 4));
        assert_eq!(l.global_of(0, 0), (2, 2));
    }

    #[test]
    fn grows_only_towards_neighbours() {
        // Rank 4 of 3x2 is bottom-middle: neighbours west, east, north; south is the edge.
        let l = layout(10, 7, 3, 2, 4, 2).unwrap();
        assert!(l.is_physical(Side::South));
        assert!(!l.is_physical(Side::North));
        assert_eq!(
            l.grown(1),
            Rect {
                rows: 1..5,
                cols: 1..6
            }
        );
        assert_eq!(l.grown(0), l.interior());
    }

    #[test]
    fn the_core_drops_one_cell_towards_each_neighbour() {
        // Rank 4 of 3x2: neighbours west, east, north; block 3x3 at local rows/cols 2..5.
        let l = layout(10, 7, 3, 2, 4, 2).unwrap();
        assert_eq!(
            l.core(),
            Rect {
                rows: 3..5,
                cols: 3..4
            }
        );
        // A one-column block between two neighbours has no core.
        let l = layout(3, 7, 3, 1, 1, 1).unwrap();
        assert_eq!(l.core().cells(), 0);
    }

    #[test]
    fn ghost_wider_than_a_block_is_refused() {
        let e = layout(4, 100, 4, 1, 0, 2).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("ghost width 2: wider than the smallest block (1 cells along x"),
            "{e}"
        );
        // The narrower side is named, whichever it is: 64x64 over 1x2 is 64 wide, 32 high.
        let e = layout(64, 64, 1, 2, 0, 1000).unwrap_err().to_string();
        assert!(e.contains("(32 cells along y on the 1x2"), "{e}");
        let e = layout(1000, 600, 3, 2, 0, 400).unwrap_err().to_string();
        assert!(e.contains("(300 cells along y on the 3x2"), "{e}");
        assert!(layout(8, 100, 4, 1, 0, 2).is_ok());
        assert!(layout(8, 100, 4, 1, 0, 0).is_err());
    }

    #[test]
    fn periodic_edges_have_neighbours() {
        let d = Decomposition::new(8, 8, ProcGrid::new(2, 1).unwrap()).unwrap();
        let mut bc = Boundaries::all(Boundary::Dirichlet(0.0));
        bc.west = Boundary::Periodic;
        bc.east = Boundary::Periodic;
        let l = Layout::new(d, 0, 1, Stencil::Star, bc).unwrap();
        assert_eq!(l.neighbor(Dir { dx: -1, dy: 0 }), Some(1));
        assert!(!l.is_physical(Side::West));
        assert!(l.is_physical(Side::North));
        bc.east = Boundary::Neumann;
        assert!(Layout::new(d, 0, 1, Stencil::Star, bc).is_err());
    }
}
