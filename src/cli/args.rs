//! Parsers for option values, shared by the subcommands; errors name the value and the form.

use super::fault::Fault;
use halo::decomp::{self, ProcGrid};
use halo::solver::Problem;
use halo::Error;

/// Parses a problem name.
pub fn problem(s: &str) -> Result<Problem, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

/// Parses `NXxNY`.
pub fn grid(s: &str) -> Result<(usize, usize), String> {
    decomp::parse_pair(s, "NXxNY").map_err(|e| e.to_string())
}

/// Parses `PXxPY`.
pub fn procs(s: &str) -> Result<ProcGrid, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

/// Parses `KIND@ITER[:RANK]`.
pub fn fault(s: &str) -> Result<Fault, String> {
    s.parse().map_err(|e: Error| e.to_string())
}
