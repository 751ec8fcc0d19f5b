//! Process topologies: a communicator that knows its ranks form a grid (`MPI_Cart_create`).
//!
//! A job whose ranks each hold one block of a grid tells MPI so with [`Comm::cartesian`]: MPI
//! then knows who talks to whom, may renumber the ranks to fit the machine (`reorder`: ranks that
//! exchange most placed on the same node or socket), answers neighbour queries
//! ([`Comm::cart_shift`], [`Comm::cart_rank`], [`Comm::cart_coords`]), and runs neighbourhood
//! collectives (`MPI_Neighbor_alltoallw`) over the grid's faces. [`Comm::neighborhood`] names
//! each rank's neighbours itself (`MPI_Dist_graph_create_adjacent`), for neighbourhoods a grid's
//! faces do not cover (diagonals) or cover twice (a periodic dimension one or two ranks wide,
//! where MPI libraries disagree on which of two messages between the same pair goes where; in a
//! graph that lists each neighbour once there is only one). This layer knows nothing of
//! blocks and ghosts: a grid is `dims` (dimension 0 varies slowest, MPI's row-major order) and
//! whether each dimension wraps around.
//!
//! Example: `examples/cartesian.rs` (the grid MPI built, each rank's coordinates and neighbours,
//! checked against the index arithmetic).

use super::Comm;
use crate::error::{Error, Result};
use mpi::ffi;
use mpi::raw::{AsRaw, FromRaw};
use mpi::topology::SimpleCommunicator;
use std::os::raw::c_int;

impl Comm {
    /// A new communicator over the same ranks arranged as a grid of `dims` (`MPI_Cart_create`;
    /// collective), periodic along dimension `d` when `periodic[d]`. With `reorder`, MPI may give
    /// a rank a different number in the new communicator, to place grid neighbours close on the
    /// machine; [`Comm::rank`] of the result is the new number.
    ///
    /// The grid must hold exactly this communicator's ranks; a mismatch is refused on every rank
    /// alike (`Error::Invalid`), before MPI is called.
    pub fn cartesian(&self, dims: &[usize], periodic: &[bool], reorder: bool) -> Result<Comm> {
        let cells = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if dims.is_empty() || dims.len() != periodic.len() || cells != Some(self.size()) {
            return Err(Error::Invalid {
                quantity: "process grid",
                value: format!("{dims:?}"),
                why: format!(
                    "a Cartesian grid must hold exactly the communicator's {} ranks, with one periodic flag per dimension ({} given)",
                    self.size(),
                    periodic.len()
                ),
            });
        }
        let dims: Vec<c_int> = dims
            .iter()
            .map(|&d| super::count("process grid", d))
            .collect::<Result<_>>()?;
        let periods: Vec<c_int> = periodic.iter().map(|&p| c_int::from(p)).collect();
        // SAFETY: reads a predefined MPI handle, set by the MPI library and never written.
        let mut raw = unsafe { ffi::RSMPI_COMM_NULL };
        // SAFETY: `dims` and `periods` hold `dims.len()` ints each and are only read by the call;
        // `raw` is written by it. The product of `dims` is this communicator's size, so every
        // rank is in the grid and gets a live communicator back, never MPI_COMM_NULL.
        let rc = unsafe {
            ffi::MPI_Cart_create(
                self.raw().as_raw(),
                dims.len() as c_int,
                dims.as_ptr(),
                periods.as_ptr(),
                c_int::from(reorder),
                &mut raw,
            )
        };
        // SAFETY: reads a predefined MPI handle, set by the MPI library and never written.
        if rc != 0 || raw == unsafe { ffi::RSMPI_COMM_NULL } {
            return Err(Error::Config(format!(
                "MPI_Cart_create failed (error {rc})"
            )));
        }
        // SAFETY: `raw` is a live intra-communicator MPI just created for us, neither world nor
        // self, used nowhere else: `SimpleCommunicator` owns it from here and frees it on drop.
        Ok(Comm::new(unsafe { SimpleCommunicator::from_raw(raw) }))
    }

    /// The grid's dimensions and periodic flags, when this communicator has a Cartesian topology
    /// (`MPI_Topo_test`, `MPI_Cart_get`); `None` otherwise.
    pub fn cart_dims(&self) -> Option<(Vec<usize>, Vec<bool>)> {
        let comm = self.raw().as_raw();
        let mut kind: c_int = 0;
        let mut ndims: c_int = 0;
        // SAFETY: `comm` is this communicator's live handle; both calls only write the ints
        // they are given.
        unsafe {
            ffi::MPI_Topo_test(comm, &mut kind);
            if kind != ffi::RSMPI_CART {
                return None;
            }
            ffi::MPI_Cartdim_get(comm, &mut ndims);
        }
        let n = ndims as usize;
        let (mut dims, mut periods, mut coords) = (vec![0; n], vec![0; n], vec![0; n]);
        // SAFETY: the three arrays hold `ndims` ints each, as MPI_Cart_get writes.
        unsafe {
            ffi::MPI_Cart_get(
                comm,
                ndims,
                dims.as_mut_ptr(),
                periods.as_mut_ptr(),
                coords.as_mut_ptr(),
            );
        }
        Some((
            dims.iter().map(|&d| d as usize).collect(),
            periods.iter().map(|&p| p != 0).collect(),
        ))
    }

    /// The grid coordinates of `rank` (`MPI_Cart_coords`). Panics when this communicator has no
    /// Cartesian topology or `rank` is out of range: both are mistakes in the calling code.
    pub fn cart_coords(&self, rank: usize) -> Vec<usize> {
        let (dims, _) = self
            .cart_dims()
            .expect("cart_coords on a Cartesian communicator");
        assert!(rank < self.size(), "rank {rank} of {}", self.size());
        let mut coords = vec![0 as c_int; dims.len()];
        // SAFETY: `coords` holds one int per dimension, as MPI_Cart_coords writes; the rank is
        // in range.
        unsafe {
            ffi::MPI_Cart_coords(
                self.raw().as_raw(),
                rank as c_int,
                coords.len() as c_int,
                coords.as_mut_ptr(),
            );
        }
        coords.iter().map(|&c| c as usize).collect()
    }

    /// The rank at `coords` moved by `steps` (each dimension's step, any sign), wrapping along
    /// periodic dimensions; `None` past the edge of a non-periodic one (`MPI_Cart_rank`, which
    /// is only defined inside the grid there). Panics without a Cartesian topology.
    pub fn cart_rank(&self, coords: &[usize], steps: &[isize]) -> Option<usize> {
        let (dims, periodic) = self
            .cart_dims()
            .expect("cart_rank on a Cartesian communicator");
        assert!(coords.len() == dims.len() && steps.len() == dims.len());
        let mut at = Vec::with_capacity(dims.len());
        for d in 0..dims.len() {
            let c = coords[d] as isize + steps[d];
            if !periodic[d] && !(0..dims[d] as isize).contains(&c) {
                return None;
            }
            // MPI shifts periodic coordinates back into range itself.
            at.push(c as c_int);
        }
        let mut rank: c_int = 0;
        // SAFETY: `at` holds one int per dimension, inside the grid or along periodic ones.
        unsafe { ffi::MPI_Cart_rank(self.raw().as_raw(), at.as_ptr(), &mut rank) };
        Some(rank as usize)
    }

    /// The ranks `disp` steps before and after this one along dimension `dim`
    /// (`MPI_Cart_shift`): `(source, destination)`, `None` past a non-periodic edge. Panics
    /// without a Cartesian topology.
    pub fn cart_shift(&self, dim: usize, disp: isize) -> (Option<usize>, Option<usize>) {
        let (dims, _) = self
            .cart_dims()
            .expect("cart_shift on a Cartesian communicator");
        assert!(dim < dims.len(), "dimension {dim} of {}", dims.len());
        let (mut src, mut dst): (c_int, c_int) = (0, 0);
        // SAFETY: both ints are written by the call; the dimension is in range.
        unsafe {
            ffi::MPI_Cart_shift(
                self.raw().as_raw(),
                dim as c_int,
                disp as c_int,
                &mut src,
                &mut dst,
            );
        }
        // SAFETY: reads a predefined MPI handle, set by the MPI library and never written.
        let rank = |r: c_int| (r != unsafe { ffi::RSMPI_PROC_NULL }).then_some(r as usize);
        (rank(src), rank(dst))
    }

    /// A new communicator over the same ranks, numbered as in this one, whose neighbourhood
    /// collectives reach `peers` (`MPI_Dist_graph_create_adjacent`, no reordering; collective):
    /// every rank's messages go to and come from its `peers`, in that order. The relation must
    /// be symmetric (a rank lists `p` exactly when `p` lists it), and each peer appears once.
    pub fn neighborhood(&self, peers: &[usize]) -> Result<Comm> {
        let mut sorted = peers.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != peers.len() || sorted.last().is_some_and(|&p| p >= self.size()) {
            return Err(Error::Invalid {
                quantity: "neighbours",
                value: format!("{peers:?}"),
                why: format!(
                    "each must be one of the {} ranks, and appear once",
                    self.size()
                ),
            });
        }
        let peers: Vec<c_int> = peers.iter().map(|&p| p as c_int).collect();
        let n = peers.len() as c_int;
        // SAFETY: reads a predefined MPI handle, set by the MPI library and never written.
        let mut raw = unsafe { ffi::RSMPI_COMM_NULL };
        // SAFETY: `peers` holds `n` ranks of this communicator and is only read; the weights
        // are MPI_UNWEIGHTED and the info MPI_INFO_NULL, both predefined; `raw` is written.
        let rc = unsafe {
            ffi::MPI_Dist_graph_create_adjacent(
                self.raw().as_raw(),
                n,
                peers.as_ptr(),
                ffi::RSMPI_UNWEIGHTED(),
                n,
                peers.as_ptr(),
                ffi::RSMPI_UNWEIGHTED(),
                ffi::RSMPI_INFO_NULL,
                0,
                &mut raw,
            )
        };
        // SAFETY: reads a predefined MPI handle, set by the MPI library and never written.
        if rc != 0 || raw == unsafe { ffi::RSMPI_COMM_NULL } {
            return Err(Error::Config(format!(
                "MPI_Dist_graph_create_adjacent failed (error {rc})"
            )));
        }
        // SAFETY: as in `cartesian`: a live intra-communicator, owned from here on.
        Ok(Comm::new(unsafe { SimpleCommunicator::from_raw(raw) }))
    }
}
