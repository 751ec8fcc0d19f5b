//! Layer 3: iterative solvers on distributed grids, and the one driver that runs them.
//!
//! The rooms, as PETSc splits a solve between its driver and its KSP/PC objects:
//! - [`driver`]: the loop every solve shares — stopping rules, residual checks and divergence,
//!   checkpoints, timing, progress — around a [`Solver`], which owns only its arithmetic: its
//!   state and one pass of its iteration. A [`Monitor`] watches from outside (progress bars, a
//!   fault injected on purpose in tests).
//! - the solvers: [`jacobi`] (Jacobi sweeps of `laplace` and `poisson`, explicit steps of
//!   `heat`), [`implicit`] (`heat`'s implicit steps, each solved by multigrid), [`cavity`] (the
//!   lid-driven cavity), and for `laplace` and `poisson` as one linear system (`elliptic.rs`)
//!   multigrid as the solver (`cycles.rs`: `mg`, `fmg`), conjugate gradients plain or
//!   preconditioned by a cycle (`krylov.rs`: `cg`, `mgcg`) and pipelined (`pipecg.rs`).
//!   `registry.rs` says which solves what, by [`Method`].
//! - [`multigrid`]: the level hierarchy on the distributed grid, its cycles and agglomeration;
//!   [`exact`]: dot products summed exactly, so Krylov iterates do not depend on the
//!   decomposition.
//! - [`options`]: what to solve and how, in parts that each go to their room (the domain, the
//!   stopping rules, each problem's own parameters); [`problems`]: the Jacobi family's problems.
//! - [`kernels`], [`tiling`], [`memory`]: the row update, vectorised for the CPU found at run
//!   time and able to stream past the cache; several sweeps per pass over cache-sized tiles;
//!   cache sizes.
//!
//! [`solve`] puts them together for a [`Config`]: layout, solver, restart, drive, [`Report`]. It
//! does no I/O of its own beyond checkpoints (through [`crate::io`]); hashes, pictures and VTK
//! files are the caller's.
//!
//! The field after a fixed number of iterations is bitwise identical for every rank count,
//! process grid, thread count, ghost width, store kind and temporal block; so is the field of
//! every multigrid and CG solve, and the number of iterations it takes.
//!
//! Examples: `examples/cavity.rs` drives the cavity solver with [`drive`]; `examples/heat2d.rs`
//! writes its own heat solver on the public grid API instead.

pub mod cavity;
mod cycles;
pub mod driver;
mod elliptic;
pub mod exact;
pub mod implicit;
pub mod jacobi;
pub mod kernels;
mod krylov;
pub mod memory;
pub mod multigrid;
pub mod options;
mod pipecg;
pub mod problems;
mod registry;
mod report;
mod solve;
pub mod tiling;

pub use driver::{drive, Driven, Monitor, Progress, Solver, Start, Timings, Unwatched};
pub use options::{
    AndersonParams, CavityParams, Checkpointing, Config, Domain, Fingerprints, HeatParams,
    Manufactured, Method, Problem, Solving, Stopping, Sweeps, Topology,
};
pub use problems::{point, sine_mode};
pub use report::{imbalance, memory_imbalance, CheckpointIo, LevelStats, RankStats, Report};
pub use solve::{cartesian, solve, solve_reserving, After, Solution};
