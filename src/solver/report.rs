//! The summary of a run, as printed with `--json`.

use super::cavity::CavityQuantities;
use super::kernels::Stores;
use super::options::{Method, Problem};

/// What a run did and how fast: one JSON object line with `halo solve --json`.
///
/// Times are the slowest rank's; `bytes_sent` and `messages_sent` add up every rank's halo traffic
/// in the iteration loop. `checksum` sums the final field and `field_sha256` is its fingerprint,
/// both on the root rank only, from the field streamed there band by band
/// ([`crate::io::distributed_sha256`]); `field_digest`, on every rank, hashes the bands where
/// they are ([`crate::io::band_digest`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    /// The problem solved.
    pub problem: Problem,
    /// Ranks in the job.
    pub ranks: usize,
    /// Ranks along x.
    pub px: usize,
    /// Ranks along y.
    pub py: usize,
    /// Interior cells along x.
    pub nx: usize,
    /// Interior cells along y.
    pub ny: usize,
    /// Ghost width (iterations per halo exchange).
    pub ghost: usize,
    /// Rayon threads per rank.
    pub threads: usize,
    /// Sweeps per pass over cache-sized tiles (temporal blocking; 1 for none).
    pub time_block: usize,
    /// The stores rank 0's sweeps used: `cached` or `streaming` (non-temporal).
    pub stores: Stores,
    /// How halo exchanges travelled (`--exchange`).
    pub exchange: String,
    /// How ranks found their neighbours (`--topology`).
    pub topology: String,
    /// Iterations done (time steps, for heat).
    pub iters: usize,
    /// The slowest rank's time in seconds: for Jacobi the iteration loop alone; for the other
    /// solvers setup and solve together (what the user waits for), of which `setup_seconds` is
    /// the setup.
    pub seconds: f64,
    /// `nx·ny·iters / seconds / 1e6`, counting only the iterations this run did (not those
    /// before the checkpoint it restarted from).
    pub mcells_per_s: f64,
    /// The largest change of any cell in the last iteration (`max |u' − u|`); for the solvers
    /// other than Jacobi, the relative residual `‖r‖₂/‖r₀‖₂`.
    pub residual: f64,
    /// Whether `tol` was reached (always false without `--tol`).
    pub converged: bool,
    /// With stall detection: the iteration at which the run ended because its residual had
    /// stopped falling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stalled_at: Option<usize>,
    /// The sum of the final interior field, in row-major order (root only; absent when the run
    /// computed `field_digest` alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<f64>,
    /// SHA-256 of the final field as little-endian `f64` in row-major order, hex (root only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_sha256: Option<String>,
    /// The final field's digest of band hashes ([`crate::io::band_digest`]): the same for the
    /// same field on any decomposition, computed by all ranks at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_digest: Option<String>,
    /// The slowest rank's time in stencil sweeps and residual checks, in seconds.
    pub compute_seconds: f64,
    /// The slowest rank's time in halo exchanges and residual allreduces, in seconds.
    pub comm_seconds: f64,
    /// The slowest rank's time waiting for halo messages (part of `comm_seconds`); computing
    /// while messages travel (overlap, the default) shrinks it.
    pub wait_seconds: f64,
    /// Halo bytes sent by all ranks in the loop.
    pub bytes_sent: u64,
    /// Halo messages sent by all ranks in the loop.
    pub messages_sent: u64,
    /// Heat: the time step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dt: Option<f64>,
    /// With `--restart`: the iteration the checkpoint had reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restarted_from: Option<usize>,
    /// Cavity: the time steps taken (as `iters`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    /// Heat and cavity: the simulated time reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<f64>,
    /// Cavity with Anderson acceleration: its depth and window (the `time` is then the sum of
    /// the steps, not a moment of the flow's history).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anderson: Option<super::AndersonParams>,
    /// Poisson and heat: the largest `|u − u_exact|` over the grid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<f64>,
    /// Laplace and Poisson: the solver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solver: Option<Method>,
    /// Solvers other than Jacobi: the slowest rank's setup time (building the hierarchy, the
    /// right-hand side and the first residual), part of `seconds`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup_seconds: Option<f64>,
    /// Solvers other than Jacobi: the final `‖r‖₂/‖r₀‖₂`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative_residual: Option<f64>,
    /// Solvers other than Jacobi: the work done, in fine-grid sweep equivalents (each smoothing
    /// sweep or operator application on a level counts its share of the finest level's cells).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub work_units: Option<f64>,
    /// Multigrid solvers: the levels, finest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub levels: Option<Vec<LevelStats>>,
    /// With `--stats`: every rank's figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_rank: Option<Vec<RankStats>>,
    /// With `--stats`: the busiest rank's compute time over the mean.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compute_imbalance: Option<f64>,
    /// With `--stats`: the largest rank's peak resident memory over the mean
    /// ([`RankStats::peak_rss_bytes`]); absent when a rank's system does not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_imbalance: Option<f64>,
    /// Cavity, on the root rank: the vortices and centreline extrema of the fields, each under
    /// its own key (`psi_min`, `omega_center`, `u_min`, …), none when absent. The solver leaves
    /// it to its caller (the `halo` command fills it with
    /// [`CavityQuantities::of_distributed`]).
    #[serde(flatten)]
    pub cavity: Option<CavityQuantities>,
    /// The checkpoints the run wrote and the one it restarted from, when it did either.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_io: Option<CheckpointIo>,
}

/// The checkpoint I/O of a run, what an operator of a shared file system watches: all ranks
/// write and read together, so the times are the slowest rank's, from start to the file's
/// rename (writes) or to the last band verified (the read).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CheckpointIo {
    /// Checkpoints written.
    pub written: usize,
    /// Their bytes, all together.
    pub bytes_written: u64,
    /// Seconds writing them, all together.
    pub write_seconds: f64,
    /// Bytes of the checkpoint restarted from (0 without a restart).
    pub bytes_read: u64,
    /// Seconds reading it.
    pub read_seconds: f64,
}

impl Report {
    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a report always serialises")
    }
}

/// One rank's share of the work and the time it spent, for studying balance and overlap.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RankStats {
    /// The rank.
    pub rank: usize,
    /// Cells it owns.
    pub cells: usize,
    /// Seconds in stencil sweeps and residual checks.
    pub compute_seconds: f64,
    /// Seconds in halo exchanges: packing, waiting for neighbours, unpacking.
    pub halo_seconds: f64,
    /// Of those, seconds spent waiting for the neighbours' messages.
    pub wait_seconds: f64,
    /// Seconds in residual allreduces (waiting for the slowest rank included).
    pub reduce_seconds: f64,
    /// Halo messages it sent per iteration.
    pub messages_per_step: f64,
    /// Halo bytes it sent per iteration.
    pub bytes_per_step: f64,
    /// The process's peak resident set size in bytes (`VmHWM`): read at the end of the solve
    /// while the solver's arrays are still held, and again by the `halo` command once the
    /// fingerprints and outputs are done (the figure it reports). It counts everything the
    /// process touched, MPI's buffers included. 0 where the system does not say (no
    /// `/proc/self/status`).
    pub peak_rss_bytes: u64,
}

/// The largest rank's peak resident memory over the mean ([`imbalance`] of
/// [`RankStats::peak_rss_bytes`]); `None` when any rank's figure is unknown (0).
pub fn memory_imbalance(ranks: &[RankStats]) -> Option<f64> {
    (!ranks.is_empty() && ranks.iter().all(|r| r.peak_rss_bytes > 0))
        .then(|| imbalance(ranks, |r| r.peak_rss_bytes as f64))
}

/// The largest over the mean of `f` across ranks: 1 is perfect balance.
pub fn imbalance(ranks: &[RankStats], f: impl Fn(&RankStats) -> f64) -> f64 {
    let max = ranks.iter().map(&f).fold(0.0, f64::max);
    let mean = ranks.iter().map(&f).sum::<f64>() / ranks.len().max(1) as f64;
    if mean > 0.0 {
        max / mean
    } else {
        1.0
    }
}

/// One level of a multigrid hierarchy in a report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LevelStats {
    /// Nodes along x.
    pub nx: usize,
    /// Nodes along y.
    pub ny: usize,
    /// Ranks the level is split over (1 once agglomerated onto rank 0).
    pub ranks: usize,
    /// The slowest rank's seconds on the level (smoothing, residuals, transfers, and the
    /// gathers and scatters of agglomeration).
    pub seconds: f64,
}
