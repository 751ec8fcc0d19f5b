//! Ghost regions of a block: which cells a rank sends to each neighbour and where it receives.
//!
//! A rank stores its block with `w` layers of ghost cells on every side (PETSc's *stencil
//! width*): a *ghosted* (local) array of `(ny + 2w) × (nx + 2w)` cells whose interior
//! `[w..w+ny, w..w+nx]` is the block. A *star* stencil needs the four faces from the four
//! edge neighbours; a *box* stencil also needs the corners from the diagonal neighbours.

use std::ops::Range;

/// Which ghost cells a stencil reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stencil {
    /// Faces only: north, south, west, east (5-point stencils).
    Star,
    /// Faces and corners (9-point stencils, and redundant updates of the ghost zone).
    Box,
}

/// One of the eight directions from a block to a neighbour, as `(dx, dy)` steps on the process
/// grid; north is `dy = -1`, west is `dx = -1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dir {
    /// Step along x: -1 (west), 0 or 1 (east).
    pub dx: i8,
    /// Step along y: -1 (north), 0 or 1 (south).
    pub dy: i8,
}

impl Dir {
    /// The four faces, then the four corners.
    pub const ALL: [Dir; 8] = [
        Dir { dx: 0, dy: -1 },
        Dir { dx: 0, dy: 1 },
        Dir { dx: -1, dy: 0 },
        Dir { dx: 1, dy: 0 },
        Dir { dx: -1, dy: -1 },
        Dir { dx: 1, dy: -1 },
        Dir { dx: -1, dy: 1 },
        Dir { dx: 1, dy: 1 },
    ];

    /// The directions a stencil exchanges with.
    pub fn of(stencil: Stencil) -> &'static [Dir] {
        match stencil {
            Stencil::Star => &Dir::ALL[..4],
            Stencil::Box => &Dir::ALL[..],
        }
    }

    /// The opposite direction.
    pub fn opposite(self) -> Dir {
        Dir {
            dx: -self.dx,
            dy: -self.dy,
        }
    }

    /// A small number naming the direction (its place in [`Dir::ALL`]), used as a message tag:
    /// a message travelling in direction `d` carries tag `d.index()`.
    pub fn index(self) -> usize {
        Dir::ALL
            .iter()
            .position(|&d| d == self)
            .expect("one of the eight")
    }
}

/// A rectangle of a ghosted array, in local (ghosted) row and column indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rect {
    /// Local rows.
    pub rows: Range<usize>,
    /// Local columns.
    pub cols: Range<usize>,
}

impl Rect {
    /// Cells in the rectangle.
    pub fn cells(&self) -> usize {
        self.rows.len() * self.cols.len()
    }
}

/// The parts of `outer` outside `inner` (which must lie within it): a strip above, a strip below,
/// and the strips left and right of `inner` between them. Empty parts are left out.
pub fn frame(outer: &Rect, inner: &Rect) -> Vec<Rect> {
    let parts = [
        Rect {
            rows: outer.rows.start..inner.rows.start,
            cols: outer.cols.clone(),
        },
        Rect {
            rows: inner.rows.end..outer.rows.end,
            cols: outer.cols.clone(),
        },
        Rect {
            rows: inner.rows.clone(),
            cols: outer.cols.start..inner.cols.start,
        },
        Rect {
            rows: inner.rows.clone(),
            cols: inner.cols.end..outer.cols.end,
        },
    ];
    parts.into_iter().filter(|r| r.cells() > 0).collect()
}

/// How a ghost update travels (`halo solve --exchange`); every method fills the same ghost cells
/// with the same values, so a solver's field is the same to the last bit whichever is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExchangeKind {
    /// Fresh `MPI_Irecv`/`MPI_Isend` for every message of every exchange, packed by hand: one
    /// message per neighbour (8 for a box stencil).
    P2p,
    /// The same messages as persistent requests (`MPI_Recv_init`/`MPI_Send_init` once,
    /// `MPI_Startall` per exchange) on buffers set up once.
    Persistent,
    /// One `MPI_Neighbor_alltoallw` over a graph of the neighbouring ranks, rows, columns and
    /// corners described by derived datatypes so that nothing is packed by hand: one message
    /// per neighbouring rank, carrying everything the pair exchanges. The default: it measured
    /// best overall (BENCHMARKS.md, "Halo exchange methods"). It runs whole in
    /// [`crate::grid::Exchange::end`], so a solver's overlap of computation with it is lost.
    #[default]
    Neighbor,
    /// For box stencils, x first and then y with the corners in the rows: 4 messages instead of
    /// 8, in two rounds. A star stencil has no corners to carry: it exchanges as `P2p` does.
    TwoPhase,
}

impl ExchangeKind {
    /// Every method, in the order the CLI lists them.
    pub const ALL: [ExchangeKind; 4] = [
        ExchangeKind::P2p,
        ExchangeKind::Persistent,
        ExchangeKind::Neighbor,
        ExchangeKind::TwoPhase,
    ];

    /// The name `--exchange` takes.
    pub fn name(self) -> &'static str {
        match self {
            ExchangeKind::P2p => "p2p",
            ExchangeKind::Persistent => "persistent",
            ExchangeKind::Neighbor => "neighbor",
            ExchangeKind::TwoPhase => "two-phase",
        }
    }

    /// Whether a box stencil's corners travel in a second round, in the rows (x first, then y).
    pub fn corners_in_rows(self) -> bool {
        self == ExchangeKind::TwoPhase
    }
}

impl std::fmt::Display for ExchangeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ExchangeKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        ExchangeKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ExchangeKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown exchange '{s}' (known: {})", names.join(", "))
            })
    }
}

/// The rounds of a ghost update: for each, the directions whose messages travel in it.
///
/// One round with every direction of the stencil, or, when a box stencil's corners travel in the
/// rows (`kind.corners_in_rows()`), two: west and east, then north and south (see
/// [`row_rect`]).
pub fn rounds(stencil: Stencil, kind: ExchangeKind) -> Vec<Vec<Dir>> {
    if stencil == Stencil::Box && kind.corners_in_rows() {
        vec![Dir::ALL[2..4].to_vec(), Dir::ALL[0..2].to_vec()]
    } else {
        vec![Dir::of(stencil).to_vec()]
    }
}

/// The region of a north or south message (`d.dx == 0`) in the second round of a ghost update
/// whose corners travel in the rows: the face grown by `w` columns on each side that has a
/// neighbour along x (`west`, `east`), whose ghost columns the first round has just filled. A
/// block and its north or south neighbour share their column of the process grid, so they grow
/// alike, and the grown cells are exactly the corners the diagonal neighbours would have sent.
pub fn row_rect(
    nx: usize,
    ny: usize,
    w: usize,
    d: Dir,
    send: bool,
    west: bool,
    east: bool,
) -> Rect {
    debug_assert_eq!(d.dx, 0);
    let face = if send {
        send_rect(nx, ny, w, d)
    } else {
        recv_rect(nx, ny, w, d)
    };
    Rect {
        rows: face.rows,
        cols: face.cols.start - if west { w } else { 0 }..face.cols.end + if east { w } else { 0 },
    }
}

/// The range along one axis: the `w` cells before the interior (`step = -1` receiving), the
/// first/last `w` interior cells (sending), the interior itself (`step = 0`), or the `w` cells
/// after it.
fn axis(n: usize, w: usize, step: i8, send: bool) -> Range<usize> {
    match (step, send) {
        (0, _) => w..w + n,
        (-1, true) => w..2 * w,
        (-1, false) => 0..w,
        (_, true) => n..n + w,
        (_, false) => w + n..n + 2 * w,
    }
}

/// The interior cells of an `nx × ny` block that go to the neighbour in direction `d`.
pub fn send_rect(nx: usize, ny: usize, w: usize, d: Dir) -> Rect {
    Rect {
        rows: axis(ny, w, d.dy, true),
        cols: axis(nx, w, d.dx, true),
    }
}

/// The ghost cells of an `nx × ny` block that the neighbour in direction `d` fills.
pub fn recv_rect(nx: usize, ny: usize, w: usize, d: Dir) -> Rect {
    Rect {
        rows: axis(ny, w, d.dy, false),
        cols: axis(nx, w, d.dx, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_of_a_4x3_block_with_ghost_width_1() {
        // Ghosted array 5 rows x 6 columns; interior rows 1..4, columns 1..5.
        let n = Dir { dx: 0, dy: -1 };
        assert_eq!(
            send_rect(4, 3, 1, n),
            Rect {
                rows: 1..2,
                cols: 1..5
            }
        );
        assert_eq!(
            recv_rect(4, 3, 1, n),
            Rect {
                rows: 0..1,
                cols: 1..5
            }
        );
        let e = Dir { dx: 1, dy: 0 };
        assert_eq!(
            send_rect(4, 3, 1, e),
            Rect {
                rows: 1..4,
                cols: 4..5
            }
        );
        assert_eq!(
            recv_rect(4, 3, 1, e),
            Rect {
                rows: 1..4,
                cols: 5..6
            }
        );
        let se = Dir { dx: 1, dy: 1 };
        assert_eq!(
            send_rect(4, 3, 1, se),
            Rect {
                rows: 3..4,
                cols: 4..5
            }
        );
        assert_eq!(
            recv_rect(4, 3, 1, se),
            Rect {
                rows: 4..5,
                cols: 5..6
            }
        );
    }

    #[test]
    fn what_one_sends_fits_where_the_other_receives() {
        // Sender block 5x4 east of... any pair: send in d must match recv from -d in shape.
        for w in 1..=3 {
            for d in Dir::ALL {
                let (s, r) = (send_rect(7, 5, w, d), recv_rect(7, 5, w, d));
                assert_eq!(s.rows.len(), r.rows.len());
                assert_eq!(s.cols.len(), r.cols.len());
                assert_eq!(d.opposite().opposite(), d);
                assert_eq!(Dir::ALL[d.index()], d);
            }
        }
    }

    #[test]
    fn a_frame_and_its_core_tile_the_outer_rectangle() {
        let outer = Rect {
            rows: 0..7,
            cols: 1..9,
        };
        for inner in [
            Rect {
                rows: 2..5,
                cols: 3..6,
            },
            Rect {
                rows: 3..3,
                cols: 1..9,
            },
            outer.clone(),
        ] {
            let mut hits = vec![vec![0; 10]; 8];
            for r in frame(&outer, &inner).iter().chain(std::iter::once(&inner)) {
                for i in r.rows.clone() {
                    for j in r.cols.clone() {
                        hits[i][j] += 1;
                    }
                }
            }
            for (i, row) in hits.iter().enumerate() {
                for (j, &h) in row.iter().enumerate() {
                    let inside = outer.rows.contains(&i) && outer.cols.contains(&j);
                    assert_eq!(h, usize::from(inside), "cell ({i},{j}) with core {inner:?}");
                }
            }
        }
    }

    #[test]
    fn two_rounds_fill_what_eight_messages_fill() {
        // A block with neighbours on every side: the rows of the second round cover the faces
        // and the four corners, the first round the side faces; together every ghost cell once.
        let (nx, ny, w) = (5, 4, 2);
        let rounds = rounds(Stencil::Box, ExchangeKind::TwoPhase);
        assert_eq!(rounds.len(), 2);
        assert_eq!(rounds.iter().map(Vec::len).sum::<usize>(), 4);
        let mut hits = vec![vec![0; nx + 2 * w]; ny + 2 * w];
        for d in &rounds[0] {
            let r = recv_rect(nx, ny, w, *d);
            r.rows
                .for_each(|i| r.cols.clone().for_each(|j| hits[i][j] += 1));
        }
        for d in &rounds[1] {
            let r = row_rect(nx, ny, w, *d, false, true, true);
            let s = row_rect(nx, ny, w, *d, true, true, true);
            assert_eq!((s.rows.len(), s.cols.len()), (r.rows.len(), r.cols.len()));
            r.rows
                .for_each(|i| r.cols.clone().for_each(|j| hits[i][j] += 1));
        }
        for (i, row) in hits.iter().enumerate() {
            for (j, &h) in row.iter().enumerate() {
                let interior = (w..w + ny).contains(&i) && (w..w + nx).contains(&j);
                assert_eq!(h, usize::from(!interior), "cell ({i},{j})");
            }
        }
        // Without a west neighbour the rows stop at the west ghost columns, as the corner
        // messages would (no north-west neighbour either).
        let n = Dir { dx: 0, dy: -1 };
        assert_eq!(
            row_rect(nx, ny, w, n, false, false, true).cols,
            w..nx + 2 * w
        );
        assert_eq!(rounds_of_star(), 1);
    }

    fn rounds_of_star() -> usize {
        rounds(Stencil::Star, ExchangeKind::TwoPhase).len()
    }

    #[test]
    fn exchange_kinds_parse_their_names() {
        for k in ExchangeKind::ALL {
            assert_eq!(k.name().parse::<ExchangeKind>(), Ok(k));
        }
        let e = "p2P".parse::<ExchangeKind>().unwrap_err();
        assert!(e.contains("p2p, persistent, neighbor, two-phase"), "{e}");
    }

    #[test]
    fn ghost_regions_tile_the_ghost_frame() {
        // With the box stencil the eight receive regions cover every ghost cell exactly once.
        let (nx, ny, w) = (5, 4, 2);
        let mut hits = vec![vec![0; nx + 2 * w]; ny + 2 * w];
        for d in Dir::of(Stencil::Box) {
            let r = recv_rect(nx, ny, w, *d);
            for i in r.rows.clone() {
                for j in r.cols.clone() {
                    hits[i][j] += 1;
                }
            }
        }
        for (i, row) in hits.iter().enumerate() {
            for (j, &h) in row.iter().enumerate() {
                let interior = (w..w + ny).contains(&i) && (w..w + nx).contains(&j);
                assert_eq!(h, usize::from(!interior), "cell ({i},{j})");
            }
        }
    }
}
