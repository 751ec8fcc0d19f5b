//! Neighbourhood collectives: a ghost update as one `MPI_Neighbor_alltoallw`, each neighbour's
//! cells described by a derived datatype over the arrays themselves, so that MPI reads the sent
//! cells and writes the ghost cells in place and nothing is packed by hand.
//!
//! The neighbourhood is a distributed graph listing each neighbouring rank once
//! ([`Comm::neighborhood`]), not the Cartesian communicator's own: a Cartesian neighbourhood has
//! the four faces only (a box stencil's corners come from the diagonals), and where a periodic
//! dimension is one or two ranks wide it names the same rank on both sides, after which MPI
//! libraries disagree on which of the two messages lands in which block (OpenMPI 4.1 and MPICH
//! 4.0 differ). With each rank listed once there is one message per pair: it carries every
//! region the pair exchanges, in the order of the sender's directions ([`crate::decomp::Dir::index`]), and the
//! receiver lays its ghost regions out in the same order (the sender's direction is the opposite
//! of the receiver's).
//!
//! Several fields go in the same call: each datatype repeats its regions for every field, at the
//! fields' distances from the first one. The distances are those of the arrays handed in; the
//! datatypes of the last few sets of distances are kept (a solver that swaps two arrays between
//! steps alternates between two), others are built when first met.

use super::Message;
use crate::comm::Comm;
use crate::decomp::Rect;
use crate::grid::DistArray;
use mpi::ffi;
use mpi::raw::AsRaw;
use std::os::raw::{c_int, c_void};

/// What travels between this rank and one neighbouring rank.
struct Peer {
    /// The regions sent, in the order of their directions' indices.
    send: Vec<Rect>,
    /// The ghost regions received, in the order of the sender's directions' indices.
    recv: Vec<Rect>,
}

/// Every peer's committed send and receive datatypes for one set of field distances.
struct Types {
    /// The byte distances of the fields from the first.
    distances: Vec<isize>,
    send: Vec<ffi::MPI_Datatype>,
    recv: Vec<ffi::MPI_Datatype>,
}

/// How many sets of datatypes are kept.
const KEPT: usize = 4;

/// The neighbourhood transport of a [`super::HaloExchange`].
pub(super) struct Neighborhood {
    comm: Comm,
    stride: usize,
    fields: usize,
    peers: Vec<Peer>,
    /// One per peer: a message of one datatype each, at displacement 0.
    counts: Vec<c_int>,
    zeros: Vec<ffi::MPI_Aint>,
    /// The most recently used last.
    types: Vec<Types>,
}

impl Neighborhood {
    /// Plans the messages of `plan` (one round) over a graph communicator of their ranks
    /// (collective).
    pub(super) fn new(
        comm: &Comm,
        shape: (usize, usize),
        fields: usize,
        plan: &[Vec<Message>],
    ) -> Self {
        assert_eq!(plan.len(), 1, "a neighbourhood exchange runs in one round");
        let msgs = &plan[0];
        let mut ranks: Vec<usize> = Vec::new();
        for m in msgs {
            if !ranks.contains(&m.peer) {
                ranks.push(m.peer);
            }
        }
        let peers: Vec<Peer> = ranks
            .iter()
            .map(|&p| {
                let mut send: Vec<&Message> = msgs.iter().filter(|m| m.peer == p).collect();
                let mut recv = send.clone();
                send.sort_by_key(|m| m.dir.index());
                // The sender's direction towards this rank is the opposite of this rank's.
                recv.sort_by_key(|m| m.dir.opposite().index());
                Peer {
                    send: send.iter().map(|m| m.send.clone()).collect(),
                    recv: recv.iter().map(|m| m.recv.clone()).collect(),
                }
            })
            .collect();
        let graph = comm
            .neighborhood(&ranks)
            .expect("neighbours are ranks of the communicator, each listed once");
        Neighborhood {
            comm: graph,
            stride: shape.1,
            fields,
            counts: vec![1; peers.len()],
            zeros: vec![0; peers.len()],
            peers,
            types: Vec::with_capacity(KEPT),
        }
    }

    /// Runs the update on `data` (the exchange's fields); returns the bytes and messages sent.
    pub(super) fn run(&mut self, data: &mut [&mut DistArray]) -> (u64, u64) {
        debug_assert_eq!(data.len(), self.fields);
        let first = data[0].local().as_ptr() as isize;
        let distances = || data.iter().map(|d| d.local().as_ptr() as isize - first);
        match self
            .types
            .iter()
            .position(|t| t.distances.iter().copied().eq(distances()))
        {
            Some(k) => {
                let t = self.types.remove(k);
                self.types.push(t);
            }
            None => {
                if self.types.len() == KEPT {
                    free(self.types.remove(0));
                }
                let t = self.build_types(distances().collect());
                self.types.push(t);
            }
        }
        let t = self.types.last().expect("just made or found");
        // The first field's cells, where every datatype is placed from; taken last, so that no
        // other borrow of the arrays comes after it.
        let base = data[0].local_mut().as_mut_ptr();
        // SAFETY: every datatype was built by `build_types` for these arrays' distances from
        // `base` and lies inside them: sent regions in the interiors, received ones in the ghost
        // frames, disjoint from each other (the same base is both buffers, as MPI reads and
        // writes different cells of it). The arrays are borrowed mutably for the call, which is
        // blocking, so nothing else touches them while MPI does. The count, displacement and
        // type arrays hold one entry per neighbour of the graph, in its order.
        unsafe {
            ffi::MPI_Neighbor_alltoallw(
                base as *const c_void,
                self.counts.as_ptr(),
                self.zeros.as_ptr(),
                t.send.as_ptr(),
                base as *mut c_void,
                self.counts.as_ptr(),
                self.zeros.as_ptr(),
                t.recv.as_ptr(),
                self.comm.raw().as_raw(),
            );
        }
        let cells: usize = self
            .peers
            .iter()
            .flat_map(|p| &p.send)
            .map(Rect::cells)
            .sum();
        (8 * (self.fields * cells) as u64, self.peers.len() as u64)
    }

    /// Builds and commits each peer's two datatypes for fields at `distances`: its regions,
    /// field by field.
    fn build_types(&self, distances: Vec<isize>) -> Types {
        let stride = self.stride;
        let make = |rects: &[Rect]| -> ffi::MPI_Datatype {
            let mut vectors = Vec::with_capacity(rects.len());
            let mut displs = Vec::with_capacity(rects.len() * distances.len());
            let mut types = Vec::with_capacity(rects.len() * distances.len());
            for r in rects {
                // SAFETY: reads a predefined MPI handle, set by the MPI library and never written.
                let mut v = unsafe { ffi::RSMPI_DATATYPE_NULL };
                // SAFETY: a constructor writing the handle it is given.
                unsafe {
                    ffi::MPI_Type_vector(
                        r.rows.len() as c_int,
                        r.cols.len() as c_int,
                        stride as c_int,
                        ffi::RSMPI_DOUBLE,
                        &mut v,
                    );
                }
                vectors.push(v);
            }
            // Field by field, each region in order: the sender and the receiver agree on it.
            for &d in &distances {
                for (r, &v) in rects.iter().zip(&vectors) {
                    let offset = (8 * (r.rows.start * stride + r.cols.start)) as isize;
                    displs.push((d + offset) as ffi::MPI_Aint);
                    types.push(v);
                }
            }
            let lens = vec![1 as c_int; types.len()];
            // SAFETY: reads a predefined MPI handle, set by the MPI library and never written.
            let mut whole = unsafe { ffi::RSMPI_DATATYPE_NULL };
            // SAFETY: the three arrays hold `types.len()` entries each; the vectors may be freed
            // once the struct is built from them (MPI keeps what the struct needs); the struct
            // is freed in `free_types`.
            unsafe {
                ffi::MPI_Type_create_struct(
                    types.len() as c_int,
                    lens.as_ptr(),
                    displs.as_ptr(),
                    types.as_ptr(),
                    &mut whole,
                );
                ffi::MPI_Type_commit(&mut whole);
                for v in &mut vectors {
                    ffi::MPI_Type_free(v);
                }
            }
            whole
        };
        Types {
            send: self.peers.iter().map(|p| make(&p.send)).collect(),
            recv: self.peers.iter().map(|p| make(&p.recv)).collect(),
            distances,
        }
    }
}

/// Frees a set of datatypes `build_types` made.
fn free(types: Types) {
    for mut t in types.send.into_iter().chain(types.recv) {
        // SAFETY: a committed datatype of ours, no longer used by any call (every call using it
        // was blocking and has returned), freed once: `types` is consumed.
        unsafe { ffi::MPI_Type_free(&mut t) };
    }
}

impl Drop for Neighborhood {
    fn drop(&mut self) {
        for t in self.types.drain(..) {
            free(t);
        }
    }
}
