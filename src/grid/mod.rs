//! Layer 2 with MPI: distributed 2D arrays with ghost cells, and halo exchange.
//!
//! [`decompose`] splits a global grid over a communicator's ranks (a [`crate::decomp`]
//! decomposition of the right size); [`scatter_blocks`] and [`gather_blocks`] move a whole global
//! array, held on one root, to and from the ranks' blocks.
//!
//! Vocabulary after PETSc's DMDA:
//! - the **global** array is the whole `nx × ny` grid; no rank holds it (but see
//!   [`DistArray::gather`]);
//! - each rank's **local** (ghosted) array holds its block plus `ghost` layers of ghost cells on
//!   every side; the block itself is the **interior**;
//! - the **stencil width** is the ghost width; a **star** stencil needs the faces of the
//!   neighbours' blocks, a **box** stencil the corners too;
//! - a ghost update is split into [`HaloExchange::begin`] and [`Exchange::end`], so that a
//!   solver can update cells that need no ghost while the messages travel; how much travels
//!   meanwhile depends on the method ([`crate::decomp::ExchangeKind`]): `p2p` and `persistent`
//!   send everything at `begin`, `two-phase` its first round, and `neighbor` (the default) moves
//!   everything at `end`.
//!
//! Ghost cells on the edge of the global domain hold the [`Boundary`] condition instead:
//! Dirichlet values, a zero-gradient mirror (Neumann), or the other side's cells (periodic, filled
//! by the exchange like any neighbour's).
//!
//! Examples: `examples/scatter_gather_2d.rs` (a global array scattered in blocks, changed,
//! gathered back and checked), `examples/halo_exchange.rs` (ghosts filled with the neighbours'
//! ranks, checked) and `examples/heat2d.rs` (a heat solver written only against this public API).

mod array;
mod bands;
mod blocks;
mod boundary;
mod exchange;
mod layout;

pub use array::DistArray;
pub use bands::{assemble_bands, scatter_bands, Assembly, Bands, BAND_BYTES};
pub use blocks::{check_blocks, decompose, gather_blocks, scatter_blocks};
pub use boundary::{Boundaries, Boundary, Side};
pub use exchange::{pack, unpack, Exchange, HaloExchange};
pub use layout::Layout;
