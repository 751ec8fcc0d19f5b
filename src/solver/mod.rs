//! Layer 3: 5-point stencil solvers on distributed grids.
//!
//! [`solve`] runs a [`Config`] on a communicator's ranks: halo exchange, a sweep of the kernel
//! over each rank's block (on rayon threads within the rank), a residual allreduce every
//! `check_every` iterations, and at the end a [`Report`] and the gathered field. The problems
//! ([`Problem`]): `laplace` (the classic Jacobi benchmark), `poisson` (a manufactured solution,
//! second order in h) and `heat` (explicit time steps, checked against the exact decay).
//!
//! Speed: [`kernels`] holds the row update, vectorised for the CPU found at run time and able to
//! stream its results past the cache ([`kernels::Stores`], chosen by [`memory`] from the cache
//! size); [`tiling`] runs several sweeps per pass over cache-sized tiles (temporal blocking).
//!
//! The field after a fixed number of iterations is bitwise identical for every rank count,
//! process grid, thread count, ghost width, store kind and temporal block.
//!
//! Example: `examples/heat2d.rs` writes its own heat solver on the public grid API instead.

pub mod cavity;
mod checkpoint;
mod config;
pub mod kernels;
pub mod memory;
mod output;
mod problems;
mod report;
mod run;
pub mod tiling;

pub use config::{Config, Fault, FaultKind, Problem};
pub use output::write_outputs;
pub use problems::{point, sine_mode};
pub use report::Report;
pub use run::{imbalance, solve, Progress, RankStats, Solution};
