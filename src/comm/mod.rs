//! Layer 1: message passing over MPI, safe and typed.
//!
//! [`init`] starts MPI once per process and hands out an [`Mpi`] guard (dropping it finalises
//! MPI); [`Mpi::world`] gives the [`Comm`] of every rank of the job. `Comm` wraps an rsmpi
//! communicator with collectives that return [`crate::Result`] instead of aborting:
//!
//! | MPI | checked, allocating form | zero-overhead form |
//! |---|---|---|
//! | `MPI_Bcast` | [`Comm::broadcast`], [`Comm::broadcast_vec`], [`Comm::broadcast_string`] | [`Comm::broadcast_into`] |
//! | `MPI_Scatter(v)` | [`Comm::scatter`], [`Comm::scatter_varcount`] | [`Comm::scatter_into`] |
//! | `MPI_Gather(v)` | [`Comm::gather`], [`Comm::gather_varcount`] | [`Comm::gather_into`] |
//! | `MPI_Allgather(v)` | [`Comm::all_gather`], [`Comm::all_gather_varcount`] | [`Comm::all_gather_into`] |
//! | `MPI_Reduce` | [`Comm::reduce`], [`Comm::reduce_value`] | [`Comm::reduce_into`] |
//! | `MPI_Allreduce` | [`Comm::all_reduce`], [`Comm::all_reduce_value`] | [`Comm::all_reduce_into`] |
//! | `MPI_Ibcast` | | [`Comm::immediate_broadcast`] (owns its buffer), [`ImmediateScope::broadcast_into`] (borrows it) |
//! | `MPI_Iscatter` | | [`Comm::immediate_scatter`], [`ImmediateScope::scatter_into`] |
//! | `MPI_Igather` | | [`Comm::immediate_gather`], [`ImmediateScope::gather_into`] |
//! | `MPI_Iallgather` | | [`Comm::immediate_all_gather`], [`ImmediateScope::all_gather_into`] |
//! | `MPI_Iallreduce` | | [`Comm::immediate_all_reduce`] (owns its buffers), [`ImmediateScope::all_reduce_into`] (borrows them) |
//! | `MPI_Cart_*` (topology) | [`Comm::cartesian`], [`Comm::cart_dims`], [`Comm::cart_coords`], [`Comm::cart_rank`], [`Comm::cart_shift`] | |
//! | `MPI_File_*` (MPI-IO) | [`Comm::open_file`], [`File::write_at_all`], [`File::read_at_all`], [`File::write_f64_at_all`], [`File::read_f64_at_all`], [`File::sync`], [`File::close`] | [`File::write_at`], [`File::read_at`] (this rank alone, not agreed) |
//!
//! **Checked forms** validate their arguments, make every rank agree on the outcome (a root-only
//! mistake such as scattering 10 elements over 3 ranks becomes the same `Err` on every rank),
//! and derive counts from the data. The agreement costs one small extra collective.
//!
//! **Zero-overhead forms** (`*_into`) send no extra messages: they check what the calling rank can
//! see (root in range, its own buffer lengths) and otherwise trust that all ranks pass matching
//! shapes, as MPI does. Use them in hot loops; put an [`Comm::agree`] after any rank-local step
//! that can fail on some ranks and not others.
//!
//! **Nonblocking forms** (`immediate_*`, MPI's `MPI_I*`) start a collective and return a request
//! to wait on, so that a solver computes while the collective travels: the buffers stay out of
//! reach until the request completes, and dropping a request waits for it (see
//! [`Comm::immediate_all_reduce`] and [`Comm::immediate_scope`]).
//!
//! [`Comm::agree`] is the error-agreement step the Parallel Research Kernels call `bail_out`: an
//! allreduce of a failure flag, so that every rank returns the same error together, and rank 0
//! can print it once.
//!
//! **Files** ([`Comm::open_file`], [`File`]): every rank opens one file and reads and writes its
//! own byte ranges at explicit offsets (MPI-IO), so no rank holds the whole file; the collective
//! calls agree on errors like the checked forms, transfers of any length are cut into pieces
//! MPI's `int` counts can take, and `f64`s are little-endian on disk whatever the host.
//!
//! Any type that implements [`Equivalence`] travels in these collectives: the numeric types, and
//! your own structs with `#[derive(Equivalence)]` (the derive is re-exported here with the trait)
//! or with a datatype built by hand.
//!
//! Blocks of a global 2D array scatter and gather over a process grid a layer up, in
//! [`crate::grid::scatter_blocks`] and [`crate::grid::gather_blocks`]: this layer knows nothing
//! of grids.
//!
//! Examples: `examples/hello.rs`, `broadcast.rs`, `scatter.rs`, `gather.rs`, `structs.rs` (a
//! derived struct and a hand-built datatype through broadcast, scatter and gather),
//! `nonblocking.rs` (reductions overlapped with work), `file_io.rs` (blocks of a global array
//! written to one file and read back crosswise with MPI-IO).

mod agree;
mod check;
mod collectives;
mod env;
mod file;
mod nonblocking;
mod topology;
mod varcount;

/// rsmpi, the MPI binding underneath: for what `halo` does not wrap (user-defined datatypes,
/// point-to-point messages), and as the crate path `#[derive(Equivalence)]` needs in a program
/// that does not depend on `mpi` itself: `#[mpi(crate = "halo::comm::mpi")]`.
#[doc(no_inline)]
pub use ::mpi;
pub use check::{run_checks, CheckResult};
pub use collectives::{ReduceOp, Reducible};
pub use env::{abort_on_panic, init, init_with_threading, launcher_rank, Mpi};
pub(crate) use file::le_bytes;
pub use file::{File, FileMode};
pub use mpi::traits::Equivalence;
pub use mpi::Threading;
pub use nonblocking::{AllReduce, Gather, Immediate, ImmediateScope, Request};
pub use varcount::VarChunks;

use crate::error::{Error, Result};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::marker::PhantomData;

/// A group of ranks that communicate: the world of a job, or part of it.
///
/// Neither `Send` nor `Sync`: MPI calls stay on the thread that initialised MPI (the design's
/// "funneled" rule); do arithmetic on other threads, communicate from this one. This holds with
/// every MPI library, also where a communicator handle is a plain integer (MPICH):
///
/// ```compile_fail,E0277
/// fn on_another_thread<T: Send>(_: T) {}
/// let mpi = halo::comm::init().unwrap();
/// on_another_thread(mpi.world()); // error: `Comm` cannot be sent between threads
/// ```
///
/// ```compile_fail,E0277
/// fn shared_with_another_thread<T: Sync>(_: &T) {}
/// let mpi = halo::comm::init().unwrap();
/// shared_with_another_thread(&mpi.world()); // error: `Comm` cannot be shared between threads
/// ```
pub struct Comm {
    raw: SimpleCommunicator,
    rank: usize,
    size: usize,
    /// Keeps `Comm` `!Send` and `!Sync` whatever type the MPI library's handle is.
    _one_thread: PhantomData<*const ()>,
}

impl Comm {
    pub(crate) fn new(raw: SimpleCommunicator) -> Self {
        let rank = raw.rank() as usize;
        let size = raw.size() as usize;
        Comm {
            raw,
            rank,
            size,
            _one_thread: PhantomData,
        }
    }

    /// This rank's number, `0..size()`.
    #[inline]
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of ranks.
    #[inline]
    pub fn size(&self) -> usize {
        self.size
    }

    /// The underlying rsmpi communicator, for what `halo` does not wrap.
    pub fn raw(&self) -> &SimpleCommunicator {
        &self.raw
    }

    /// Blocks until every rank has called it.
    pub fn barrier(&self) {
        self.raw.barrier();
    }

    /// Ends the whole job with `code` (`MPI_Abort`): for failures that cannot be agreed on.
    pub fn abort(&self, code: i32) -> ! {
        self.raw.abort(code)
    }

    /// A new communicator with the same ranks and a separate message space (`MPI_Comm_dup`).
    ///
    /// Libraries use one so that their messages never match the caller's.
    pub fn duplicate(&self) -> Comm {
        Comm::new(self.raw.duplicate())
    }

    /// The ranks that pass the same `color`, in a communicator of their own, numbered by `key`
    /// (ties by their number here) (`MPI_Comm_split`; collective). `None` for a rank that passes
    /// no colour, and takes part in no new communicator.
    pub fn split(&self, color: Option<u16>, key: i32) -> Option<Comm> {
        use mpi::topology::Color;
        let color = color.map_or(Color::undefined(), |c| Color::with_value(i32::from(c)));
        self.raw.split_by_color_with_key(color, key).map(Comm::new)
    }

    /// The number of this communicator's ranks that share this rank's node (and so its memory
    /// and last-level cache), from `MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)`. Collective.
    pub fn node_size(&self) -> usize {
        self.raw.split_shared(self.rank as i32).size() as usize
    }

    /// Wall-clock time in seconds (`MPI_Wtime`).
    pub fn wtime() -> f64 {
        mpi::time()
    }

    /// The root as an MPI rank, or `RootOutOfRange`, checked against the size cached in `self`:
    /// the zero-overhead collectives call MPI with it directly, because rsmpi's
    /// `process_at_rank` asks MPI for the communicator's size on every call.
    #[inline]
    fn root_rank(&self, root: usize) -> Result<std::os::raw::c_int> {
        if root >= self.size {
            return Err(Error::RootOutOfRange {
                root,
                size: self.size,
            });
        }
        Ok(root as std::os::raw::c_int)
    }

    /// The root as an rsmpi process, or `RootOutOfRange`. Checked identically on every rank.
    #[inline]
    pub(crate) fn root(&self, root: usize) -> Result<mpi::topology::Process<'_>> {
        if root >= self.size {
            return Err(Error::RootOutOfRange {
                root,
                size: self.size,
            });
        }
        Ok(self.raw.process_at_rank(root as i32))
    }
}

/// `send`, or when it is empty, an empty slice at a real address (`spare`'s, allocated with room
/// for one element). An empty slice's pointer is dangling: for bytes it is `1`, which is what
/// OpenMPI's `MPI_IN_PLACE` is (`(void *) 1`), so a variable-count gather from a rank with nothing
/// to send failed with `MPI_ERR_ARG` (or, in an allgather, read the receive buffer in place).
pub(crate) fn placed<'a, T>(send: &'a [T], spare: &'a [T]) -> &'a [T] {
    if send.is_empty() {
        spare
    } else {
        send
    }
}

/// A buffer for [`placed`]: room for one `T` on the heap, no element.
pub(crate) fn spare<T>() -> Vec<T> {
    Vec::with_capacity(1)
}

/// Converts a length to an MPI count.
#[inline]
fn count(what: &'static str, n: usize) -> Result<mpi::Count> {
    mpi::Count::try_from(n).map_err(|_| Error::CountOverflow { what, count: n })
}

/// MPI counts and displacements for chunks of the given lengths.
pub(crate) fn counts_and_displs(
    what: &'static str,
    lens: &[usize],
) -> Result<(Vec<mpi::Count>, Vec<mpi::Count>)> {
    let counts = lens
        .iter()
        .map(|&n| count(what, n))
        .collect::<Result<Vec<_>>>()?;
    let mut displs = Vec::with_capacity(lens.len());
    let mut at = 0usize;
    for &n in lens {
        displs.push(count(what, at)?);
        at += n;
    }
    count(what, at)?;
    Ok((counts, displs))
}
