//! The subcommands of the `halo` binary, each parsing its options and printing its results over
//! the library.

pub mod args;
pub mod batch;
pub mod bench;
pub mod collectives;
pub mod decomp;
pub mod fault;
pub mod history;
pub mod outputs;
pub mod progress;
pub mod refine;
pub mod scale;
pub mod solve;
