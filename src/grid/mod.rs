//! Layer 2 with MPI: distributed 2D arrays with ghost cells, and halo exchange.
//!
//! Vocabulary after PETSc's DMDA:
//! - the **global** array is the whole `nx × ny` grid; no rank holds it (but see
//!   [`DistArray::gather`]);
//! - each rank's **local** (ghosted) array holds its block plus `ghost` layers of ghost cells on
//!   every side; the block itself is the **interior**;
//! - the **stencil width** is the ghost width; a **star** stencil needs the faces of the
//!   neighbours' blocks, a **box** stencil the corners too;
//! - a ghost update is split into [`HaloExchange::begin`] (pack, post nonblocking sends and
//!   receives) and [`Exchange::end`] (wait, unpack), so that a solver can update cells that need
//!   no ghost while the messages travel.
//!
//! Ghost cells on the edge of the global domain hold the [`Boundary`] condition instead:
//! Dirichlet values, a zero-gradient mirror (Neumann), or the other side's cells (periodic, filled
//! by the exchange like any neighbour's).
//!
//! Examples: `examples/halo_exchange.rs` (ghosts filled with the neighbours' ranks, checked) and
//! `examples/heat2d.rs` (a heat solver written only against this public API).

mod array;
mod boundary;
mod exchange;
mod layout;

pub use array::DistArray;
pub use boundary::{Boundaries, Boundary, Side};
pub use exchange::{pack, unpack, Exchange, HaloExchange};
pub use layout::Layout;
