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

/// Renames the quantity in an [`Error::Invalid`] after the option that sets it (`ghost width`
/// becomes `--ghost`), so that messages speak the command's language. `ghost_from` names the
/// option the ghost width follows when `--ghost` was not given (`halo solve` derives it from
/// `--time-block`).
pub fn flag_names(e: Error, ghost_from: Option<&'static str>) -> Error {
    let Error::Invalid {
        quantity,
        value,
        mut why,
    } = e
    else {
        return e;
    };
    let flag = match quantity {
        "grid" => "--grid",
        "ghost width" => match ghost_from {
            Some(other) => {
                why.push_str(&format!(
                    " (the ghost width follows {other} unless --ghost is given)"
                ));
                other
            }
            None => "--ghost",
        },
        "threads" => "--threads",
        "iterations" => "--iters",
        "check interval" => "--check-every",
        "tolerance" => "--tol",
        "time block" => "--time-block",
        "diffusivity" => "--alpha",
        "time step" => "--dt",
        "Reynolds number" => "--re",
        "SOR sweeps" => "--sweeps",
        "Anderson depth" => "--anderson-depth",
        "Anderson window" => "--anderson-window",
        "checkpoint interval" => "--checkpoint-every",
        "solver" => "--solver",
        "smoothing sweeps" => "--pre/--post",
        "cycle" => "--cycle",
        "manufactured solution" => "--manufactured",
        "scheme" => "--scheme",
        "elements" => "--elements",
        "repetitions" => "--reps",
        "message size" => "--message-size",
        "block" => "--blocks",
        other => other,
    };
    Error::Invalid {
        quantity: flag,
        value,
        why,
    }
}
