//! Parsers for option values, shared by the subcommands; errors name the value and the form.

use super::fault::Fault;
use halo::decomp::ProcGrid;
use halo::solver::Problem;
use halo::Error;

/// Parses a problem name.
pub fn problem(s: &str) -> Result<Problem, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

/// Parses `NXxNY`.
pub fn grid(s: &str) -> Result<(usize, usize), String> {
    let (a, b) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("'{s}' is not of the form NXxNY, e.g. 512x512"))?;
    let n = |t: &str| {
        t.trim()
            .parse::<usize>()
            .map_err(|_| format!("'{s}': '{t}' is not a whole number of cells"))
    };
    Ok((n(a)?, n(b)?))
}

/// Parses `PXxPY`.
pub fn procs(s: &str) -> Result<ProcGrid, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

/// Parses `KIND@ITER[:RANK]`.
pub fn fault(s: &str) -> Result<Fault, String> {
    s.parse().map_err(|e: Error| e.to_string())
}
