//! Domain decomposition, pure index math: no MPI here, so all of it is unit-tested.
//!
//! Conventions (shared by every layer of `halo`):
//! - A global grid has `nx` cells along x (columns) and `ny` along y (rows); arrays are
//!   `ndarray::Array2` of shape `(ny, nx)`, row-major, indexed `[row, column]`.
//! - A [`ProcGrid`] has `px` ranks along x and `py` along y. Ranks are numbered row-major with x
//!   fastest: `rank = cy * px + cx`, which is also what `MPI_Cart_create` gives for dims
//!   `[py, px]`.
//! - Each direction is split as evenly as possible ([`split`]): the first `n % p` parts get one
//!   cell more than the others.
//! - North is the side of row 0 (smaller `y`), south the side of the last row, west the side of
//!   column 0, east the side of the last column.

mod block;
mod halo;
mod proc_grid;
mod split;
mod stats;

pub use block::{Block, Decomposition};
pub use halo::{frame, recv_rect, rounds, row_rect, send_rect, Dir, ExchangeKind, Rect, Stencil};
pub use proc_grid::{parse_pair, ProcGrid};
pub use split::{part_of, split};
pub use stats::{compare, cost, rank_cost, DecompCost, RankCost, LISTED_RANKS};
