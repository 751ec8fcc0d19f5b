//! `halo`: tightly coupled high-performance computing on MPI, from safe, typed Rust.
//!
//! A tightly coupled job splits one problem over many ranks that exchange data every step; when
//! one rank fails the whole job stops. `halo` is built in layers, each usable on its own:
//!
//! 1. [`comm`]: message passing over MPI (OpenMPI or MPICH, through rsmpi). Broadcast, scatter,
//!    gather (and their variable-count forms), allgather, reduce and allreduce of any
//!    `Equivalence` type that return [`Result`] instead of aborting, and an error-agreement step
//!    so that every rank leaves together. It knows nothing of grids.
//! 2. [`decomp`]: domain decomposition as pure index math (no MPI): process grids, each rank's
//!    block of the global grid, neighbours, ghost regions. [`grid`]: the same with MPI: the
//!    decomposition of a job's ranks, block scatter/gather of a global 2D array, a distributed
//!    array with ghost cells of width W, boundary conditions, and a halo exchange by four methods
//!    (point-to-point, persistent, neighbourhood collective, two-phase), split into `begin` and
//!    `end` so that computation can overlap communication where the method allows.
//! 3. [`solver`]: iterative solvers on a grid split across ranks — the Jacobi family for Laplace,
//!    Poisson and heat, geometric multigrid and conjugate gradients for Laplace and Poisson, and
//!    the lid-driven cavity — each a small [`solver::Solver`] run by one
//!    [`solver::drive`]r that owns stopping, checks, checkpoints, timing and progress; rayon
//!    threads inside each rank; bitwise identical for any decomposition.
//!
//! Beside them, [`io`] writes what people open (VTK files for ParaView, PNG pictures, hashes of
//! fields) and the checkpoints runs restart from; [`bench`](mod@bench) and [`scale`] measure;
//! [`node`] knows the machine under a rank (memory, cores, signals) and [`sched`] the batch
//! allocation a job runs in.
//!
//! ```no_run
//! use halo::comm::ReduceOp;
//!
//! fn main() -> halo::Result<()> {
//!     let mpi = halo::comm::init()?;          // once per process; dropping it finalises MPI
//!     let world = mpi.world();
//!     let n = world.broadcast(0, 1000u64)?;   // root 0's value on every rank
//!     let total = world.all_reduce_value(n * world.rank() as u64, ReduceOp::Sum)?;
//!     if world.rank() == 0 {
//!         println!("{} ranks, total {total}", world.size());
//!     }
//!     Ok(())
//! }
//! ```
//!
//! Run it with `mpirun -n 4 target/release/examples/NAME`. The examples in `examples/` (one per
//! idea: `hello`, `broadcast`, `scatter`, `gather`, `nonblocking`, `structs`,
//! `scatter_gather_2d`, `halo_exchange`, `heat2d`, `cavity`) check their own answers.
#![warn(missing_docs)]

pub mod bench;
pub mod comm;
pub mod decomp;
pub mod error;
pub mod grid;
pub mod io;
pub mod node;
pub mod scale;
pub mod sched;
pub mod solver;

pub use error::{Error, Result};
