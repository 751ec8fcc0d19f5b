//! Neighbourhood collectives: a round of a ghost update as one `MPI_Neighbor_alltoallw` on a
//! Cartesian communicator, each face described by a derived datatype over the arrays themselves,
//! so that MPI reads the sent cells and writes the ghost cells in place and nothing is packed.
//!
//! A Cartesian communicator's neighbourhood is its faces, in MPI's order: for each dimension the
//! rank one step back, then one step on. With dims `[py, px]` that is north, south, west, east,
//! the order of [`Dir::ALL`]'s first four. A box stencil's corners travel in the rows of a second
//! round ([`crate::decomp::row_rect`]); in its first round the north and south counts are zero.
//!
//! Several fields go in the same call: each face's datatype is a struct of one vector per field,
//! at the fields' distances from the first one. The distances are those of the arrays handed in;
//! when they change (other arrays), the datatypes are rebuilt.

use super::Message;
use crate::comm::Comm;
use crate::decomp::{Dir, Rect};
use crate::grid::Layout;
use mpi::ffi;
use mpi::raw::AsRaw;
use ndarray::Array2;
use std::os::raw::{c_int, c_void};

/// Faces in a Cartesian communicator's neighbour order.
const FACES: usize = 4;

/// One round: the region sent to and received from each face, if any.
struct Round {
    send: [Option<Rect>; FACES],
    recv: [Option<Rect>; FACES],
    send_types: [ffi::MPI_Datatype; FACES],
    recv_types: [ffi::MPI_Datatype; FACES],
    send_counts: [c_int; FACES],
    recv_counts: [c_int; FACES],
}

/// The neighbourhood transport of a [`super::HaloExchange`].
pub(super) struct Neighborhood {
    comm: Comm,
    stride: usize,
    fields: usize,
    rounds: Vec<Round>,
    /// The byte distances of the fields from the first, for which the datatypes were built.
    built_for: Option<Vec<isize>>,
}

impl Neighborhood {
    /// Plans `plan`'s rounds over a Cartesian communicator: `comm` itself when it has the layout's
    /// topology (duplicated), otherwise one made without reordering, so ranks keep their numbers.
    pub(super) fn new(
        comm: &Comm,
        layout: &Layout,
        shape: (usize, usize),
        fields: usize,
        plan: &[Vec<Message>],
    ) -> Self {
        let comm = if comm.cart_dims().is_some() {
            comm.duplicate()
        } else {
            let g = layout.decomp.grid;
            let periodic = [layout.bc.periodic_y(), layout.bc.periodic_x()];
            comm.cartesian(&[g.py, g.px], &periodic, false)
                .expect("the layout's process grid holds the communicator's ranks")
        };
        let double = unsafe { ffi::RSMPI_DOUBLE };
        let rounds = plan
            .iter()
            .map(|msgs| {
                let mut round = Round {
                    send: Default::default(),
                    recv: Default::default(),
                    send_types: [double; FACES],
                    recv_types: [double; FACES],
                    send_counts: [0; FACES],
                    recv_counts: [0; FACES],
                };
                for m in msgs {
                    let i = m.dir.index();
                    debug_assert!(i < FACES && Dir::ALL[i] == m.dir, "faces only");
                    round.send[i] = Some(m.send.clone());
                    round.recv[i] = Some(m.recv.clone());
                }
                round
            })
            .collect();
        Neighborhood {
            comm,
            stride: shape.1,
            fields,
            rounds,
            built_for: None,
        }
    }

    /// Runs every round on `data` (the exchange's fields); returns the bytes and messages sent.
    pub(super) fn run(&mut self, data: &mut [&mut Array2<f64>]) -> (u64, u64) {
        debug_assert_eq!(data.len(), self.fields);
        let base = data[0].as_mut_ptr();
        let distances: Vec<isize> = data
            .iter_mut()
            .map(|d| (d.as_mut_ptr() as isize) - (base as isize))
            .collect();
        if self.built_for.as_ref() != Some(&distances) {
            self.free_types();
            self.build_types(&distances);
            self.built_for = Some(distances);
        }
        let comm = self.comm.raw().as_raw();
        let zeros = [0 as ffi::MPI_Aint; FACES];
        let mut sent = (0, 0);
        for round in &self.rounds {
            // SAFETY: every datatype was built by `build_types` for these arrays' distances from
            // `base` and lies inside them: sent regions in the interiors, received ones in the
            // ghost frames, disjoint from each other (the same base is both buffers, as MPI reads
            // and writes different cells of it). The arrays are borrowed mutably for the call,
            // which is blocking, so nothing else touches them while MPI does; the count, type
            // and displacement arrays hold one entry per neighbour of the 2-dimensional grid.
            unsafe {
                ffi::MPI_Neighbor_alltoallw(
                    base as *const c_void,
                    round.send_counts.as_ptr(),
                    zeros.as_ptr(),
                    round.send_types.as_ptr(),
                    base as *mut c_void,
                    round.recv_counts.as_ptr(),
                    zeros.as_ptr(),
                    round.recv_types.as_ptr(),
                    comm,
                );
            }
            for r in round.send.iter().flatten() {
                sent.0 += 8 * (self.fields * r.cells()) as u64;
                sent.1 += 1;
            }
        }
        sent
    }

    /// Builds and commits one datatype per face and direction: a struct of one vector per field.
    fn build_types(&mut self, distances: &[isize]) {
        let (stride, fields) = (self.stride, self.fields);
        let make = |r: &Rect| -> ffi::MPI_Datatype {
            let mut vector = unsafe { ffi::RSMPI_DATATYPE_NULL };
            let mut whole = unsafe { ffi::RSMPI_DATATYPE_NULL };
            let offset = (8 * (r.rows.start * stride + r.cols.start)) as isize;
            let displs: Vec<ffi::MPI_Aint> = distances
                .iter()
                .map(|&d| (d + offset) as ffi::MPI_Aint)
                .collect();
            // SAFETY: plain constructors writing the handles they are given; the arrays hold
            // `fields` entries each. The vector may be freed once the struct is built from it
            // (MPI keeps what the struct needs); the struct is freed in `free_types`.
            unsafe {
                ffi::MPI_Type_vector(
                    r.rows.len() as c_int,
                    r.cols.len() as c_int,
                    stride as c_int,
                    ffi::RSMPI_DOUBLE,
                    &mut vector,
                );
                let types = vec![vector; fields];
                let lens = vec![1 as c_int; fields];
                ffi::MPI_Type_create_struct(
                    fields as c_int,
                    lens.as_ptr(),
                    displs.as_ptr(),
                    types.as_ptr(),
                    &mut whole,
                );
                ffi::MPI_Type_commit(&mut whole);
                ffi::MPI_Type_free(&mut vector);
            }
            whole
        };
        for round in &mut self.rounds {
            for i in 0..FACES {
                if let Some(r) = &round.send[i] {
                    round.send_types[i] = make(r);
                    round.send_counts[i] = 1;
                }
                if let Some(r) = &round.recv[i] {
                    round.recv_types[i] = make(r);
                    round.recv_counts[i] = 1;
                }
            }
        }
    }

    /// Frees the datatypes `build_types` made.
    fn free_types(&mut self) {
        if self.built_for.take().is_none() {
            return;
        }
        let double = unsafe { ffi::RSMPI_DOUBLE };
        for round in &mut self.rounds {
            for i in 0..FACES {
                for (t, c) in [
                    (&mut round.send_types[i], &mut round.send_counts[i]),
                    (&mut round.recv_types[i], &mut round.recv_counts[i]),
                ] {
                    if *c > 0 {
                        // SAFETY: a committed datatype of ours, no longer used by any call (every
                        // call using it was blocking and has returned), freed once.
                        unsafe { ffi::MPI_Type_free(t) };
                        *t = double;
                        *c = 0;
                    }
                }
            }
        }
    }
}

impl Drop for Neighborhood {
    fn drop(&mut self) {
        self.free_types();
    }
}
