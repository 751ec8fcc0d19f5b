//! Scaling studies: the same problem run at several rank counts, in strong or weak mode.
//!
//! [`run_study`] launches one `mpirun -n K <halo> solve … --json` per rank count and repetition
//! (or `srun`), collects each run's JSON summary, takes the median time of the repetitions, and
//! derives speed-up and parallel efficiency relative to the smallest rank count:
//! - **strong** scaling keeps the global grid: `S(K) = K₀·T(K₀)/T(K)`, `E = S/K`;
//! - **weak** scaling keeps each rank's block, so the global grid grows with K:
//!   `E(K) = T(K₀)/T(K)`, and the scaled speed-up is `S = K·E`.
//!
//! Every run is asked for `--stats`, so each point also carries the largest rank's peak resident
//! memory ([`Point::peak_rss_bytes`]).
//!
//! A run that fails or times out is reported as such; the other points still run. Each run is a
//! [`Job`]: a timed-out run is ended whole, mpirun and every rank it started, and so is the
//! running job when the study is stopped by a signal ([`crate::node::signals`]).

mod launch;
mod output;
pub mod refine;

pub use launch::{run_with_timeout, srun_mpi, Finished, Job, Launcher, RunOutcome, Slots, GRACE};
pub use output::{write_csv, write_json, write_plot};

use crate::bench::median;
use crate::decomp::ProcGrid;
use crate::error::{Error, Result};
use crate::node::signals;
use std::fmt;
use std::time::Duration;

/// How the problem size follows the rank count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The same global grid at every rank count.
    Strong,
    /// The same block per rank: the global grid grows with the rank count.
    Weak,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Strong => "strong",
            Mode::Weak => "weak",
        })
    }
}

/// A scaling study: what to run and how.
#[derive(Debug, Clone)]
pub struct Study {
    /// Strong or weak.
    pub mode: Mode,
    /// The rank counts; they are run once each, in increasing order (see [`rank_order`]).
    pub ranks: Vec<usize>,
    /// Runs per rank count; the median time counts.
    pub repeat: usize,
    /// The global grid (strong) or each rank's block (weak), `(nx, ny)`.
    pub grid: (usize, usize),
    /// The other `halo solve` options, passed to every run as they are.
    pub solve_args: Vec<String>,
    /// How to start a job.
    pub launcher: Launcher,
    /// A run still going after this long is stopped and reported as timed out.
    pub timeout: Duration,
    /// Cores on this machine; runs whose ranks × threads exceed it are oversubscribed.
    pub cores: usize,
    /// Threads per rank (`--threads`, also among [`Study::solve_args`]); the launcher gives each
    /// rank this many cores where it can (see [`Launcher::give_threads`]).
    pub threads: usize,
}

/// One rank count's result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Point {
    /// Ranks.
    pub ranks: usize,
    /// The process grid (from the run's report, or the one asked for in weak mode); `None` when
    /// no run said.
    pub px: Option<usize>,
    /// The process grid.
    pub py: Option<usize>,
    /// The global grid.
    pub nx: usize,
    /// The global grid.
    pub ny: usize,
    /// The median loop time over the successful repetitions, seconds.
    pub seconds: Option<f64>,
    /// Cell updates per second at the median time, millions.
    pub mcells_per_s: Option<f64>,
    /// Speed-up against the smallest successful rank count (scaled speed-up in weak mode).
    pub speedup: Option<f64>,
    /// Parallel efficiency, 1 being ideal.
    pub efficiency: Option<f64>,
    /// The share of the loop spent communicating, in the median run.
    pub comm_share: Option<f64>,
    /// The largest rank's peak resident set size in bytes, in the median run (see
    /// [`largest_peak_rss`]); `None` when no run said.
    pub peak_rss_bytes: Option<u64>,
    /// Whether the machine had fewer cores than ranks × threads.
    pub oversubscribed: bool,
    /// Successful repetitions.
    pub runs: usize,
    /// `ok`, or why a run failed.
    pub status: String,
}

/// The process grid and global grid for a weak-scaling run of `ranks` ranks with blocks of
/// `bx × by` cells: the factorisation that cuts the resulting global grid least (ties: squarer,
/// then fewer ranks along x), exactly `(px·bx) × (py·by)` so every rank owns one full block.
pub fn weak_grid(ranks: usize, bx: usize, by: usize) -> Result<(ProcGrid, usize, usize)> {
    if ranks == 0 || bx == 0 || by == 0 {
        return Err(Error::Config(format!("weak scaling needs ranks and a block of at least 1 cell, not {ranks} ranks of {bx}x{by}")));
    }
    let g = ProcGrid::factorizations(ranks)
        .into_iter()
        .min_by_key(|g| (g.cut_cells(g.px * bx, g.py * by), g.px.abs_diff(g.py), g.px))
        .expect("every count has the factorisation 1 x count");
    Ok((g, g.px * bx, g.py * by))
}

/// The largest `peak_rss_bytes` among the `per_rank` entries of a `halo solve --json --stats`
/// report; `None` without them, or when any rank's figure is unknown (0, no `/proc`).
pub fn largest_peak_rss(report: &serde_json::Value) -> Option<u64> {
    let peaks = report["per_rank"]
        .as_array()?
        .iter()
        .map(|r| r["peak_rss_bytes"].as_u64().filter(|&b| b > 0))
        .collect::<Option<Vec<u64>>>()?;
    peaks.into_iter().max()
}

/// The rank counts a study runs: each once, in increasing order, so the first is the smallest
/// and every speed-up is measured against fewer ranks.
pub fn rank_order(given: &[usize]) -> Vec<usize> {
    let mut ranks = given.to_vec();
    ranks.sort_unstable();
    ranks.dedup();
    ranks
}

/// Fills in speed-up and efficiency relative to the point with the fewest ranks that has a time,
/// whatever the order of `points`.
pub fn derive_speedups(mode: Mode, points: &mut [Point]) {
    let Some((k0, t0)) = points
        .iter()
        .filter_map(|p| p.seconds.map(|t| (p.ranks, t)))
        .min_by_key(|&(k, _)| k)
        .map(|(k, t)| (k as f64, t))
    else {
        return;
    };
    for p in points.iter_mut() {
        let Some(t) = p.seconds else { continue };
        let k = p.ranks as f64;
        let (s, e) = match mode {
            Mode::Strong => {
                let s = k0 * t0 / t;
                (s, s / k)
            }
            Mode::Weak => {
                let e = t0 / t;
                (k * e, e)
            }
        };
        p.speedup = Some(s);
        p.efficiency = Some(e);
    }
}

/// Why a study ended before its last run: a signal caught (see [`crate::node::signals`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    /// The signal, e.g. `libc::SIGINT`.
    pub signal: i32,
    /// The rank count cut short (its running job ended, or its repetitions not all run); `None`
    /// when the signal came between rank counts.
    pub ranks: Option<usize>,
}

/// What a study measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// One point per rank count, in the order run; the status of those a stop cut short or
    /// left unrun says so.
    pub points: Vec<Point>,
    /// Set when a signal stopped the study before its last run.
    pub stopped: Option<Stop>,
}

/// Runs the study, calling `progress(done, total, point_so_far)` after every run. Returns one
/// point per rank count, in the order of [`rank_order`].
///
/// A SIGINT, SIGTERM or SIGHUP caught meanwhile (once [`crate::node::signals::install`] was called) ends the
/// running job whole and stops the study: the points finished are kept, the others are marked.
pub fn run_study(
    study: &Study,
    exe: &std::path::Path,
    mut progress: impl FnMut(usize, usize, &str),
) -> Result<Outcome> {
    let ranks = rank_order(&study.ranks);
    let total = ranks.len() * study.repeat;
    let mut done = 0;
    let mut points = Vec::new();
    let mut stopped: Option<Stop> = None;
    for &k in &ranks {
        let (procs, nx, ny) = match study.mode {
            Mode::Strong => (None, study.grid.0, study.grid.1),
            Mode::Weak => {
                let (g, nx, ny) = weak_grid(k, study.grid.0, study.grid.1)?;
                (Some(g), nx, ny)
            }
        };
        let oversubscribed = k.saturating_mul(study.threads.max(1)) > study.cores;
        let mut point = Point {
            ranks: k,
            px: procs.map(|g| g.px),
            py: procs.map(|g| g.py),
            nx,
            ny,
            seconds: None,
            mcells_per_s: None,
            speedup: None,
            efficiency: None,
            comm_share: None,
            peak_rss_bytes: None,
            oversubscribed,
            runs: 0,
            status: String::new(),
        };
        if let Some(stop) = stopped {
            point.status = format!("not run: stopped by {}", signals::name(stop.signal));
            points.push(point);
            continue;
        }
        let mut args = study.solve_args.clone();
        // Every rank's figures, for the largest rank's peak memory; they are gathered anyway,
        // --stats only puts them in the report.
        args.extend(["--stats".into(), "--grid".into(), format!("{nx}x{ny}")]);
        if let Some(g) = procs {
            args.extend(["--procs".into(), g.to_string()]);
        }
        let mut times = Vec::new();
        let mut reports = Vec::new();
        let mut failure = None;
        let mut tried = 0;
        for rep in 0..study.repeat {
            let outcome = match signals::caught() {
                Some(sig) if rep == 0 => {
                    stopped = Some(Stop {
                        signal: sig,
                        ranks: None,
                    });
                    break;
                }
                Some(sig) => RunOutcome::Stopped(sig),
                None => study
                    .launcher
                    .run(exe, k, oversubscribed, &args, study.timeout),
            };
            let note = match &outcome {
                RunOutcome::Ok(r) => {
                    let t = r["seconds"].as_f64().unwrap_or(f64::NAN);
                    times.push(t);
                    reports.push(r.clone());
                    format!("{k} ranks, run {}/{}: {t:.4} s", rep + 1, study.repeat)
                }
                RunOutcome::Failed(why) => {
                    failure = Some(why.clone());
                    format!("{k} ranks, run {}/{}: {why}", rep + 1, study.repeat)
                }
                RunOutcome::Stopped(sig) => {
                    stopped = Some(Stop {
                        signal: *sig,
                        ranks: Some(k),
                    });
                    break;
                }
            };
            done += 1;
            tried += 1;
            progress(done, total, &note);
        }
        if let Some(stop) = stopped {
            let name = signals::name(stop.signal);
            point.status = match stop.ranks {
                None => format!("not run: stopped by {name}"),
                Some(_) if study.repeat == 1 => format!("stopped by {name} while running"),
                Some(_) => format!("stopped by {name} after {tried} of {} runs", study.repeat),
            };
            points.push(point);
            continue;
        }
        let seconds = median(&times);
        // The report of the run whose time is nearest the median.
        let typical = seconds.and_then(|m| {
            reports
                .iter()
                .min_by(|a, b| {
                    let d = |r: &serde_json::Value| {
                        (r["seconds"].as_f64().unwrap_or(f64::INFINITY) - m).abs()
                    };
                    d(a).total_cmp(&d(b))
                })
                .cloned()
        });
        let get = |key: &str| typical.as_ref().and_then(|r| r[key].as_f64());
        point.px = get("px").map(|v| v as usize).or(point.px);
        point.py = get("py").map(|v| v as usize).or(point.py);
        point.mcells_per_s = seconds.and_then(|t| {
            let iters = get("iters")?;
            Some(nx as f64 * ny as f64 * iters / t / 1e6)
        });
        point.comm_share = get("comm_seconds").zip(get("seconds")).map(|(c, s)| c / s);
        point.peak_rss_bytes = typical.as_ref().and_then(largest_peak_rss);
        point.seconds = seconds;
        point.runs = times.len();
        point.status = match (&failure, times.len()) {
            (None, _) => "ok".into(),
            (Some(why), 0) => why.clone(),
            (Some(why), n) => format!("{n} of {} runs ok; {why}", study.repeat),
        };
        points.push(point);
    }
    derive_speedups(study.mode, &mut points);
    Ok(Outcome { points, stopped })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_grids_grow_with_whole_blocks() {
        // With fixed blocks, strips cut least: 4 blocks of 100x100 in a column cut 3·100 cells,
        // as a 2x2 square 2·200.
        let (g, nx, ny) = weak_grid(4, 100, 100).unwrap();
        assert_eq!((g.px, g.py, nx, ny), (1, 4, 100, 400));
        // Ties go to cuts between rows.
        let (g, nx, ny) = weak_grid(2, 100, 100).unwrap();
        assert_eq!((g.px, g.py, nx, ny), (1, 2, 100, 200));
        // Wide, short blocks sit side by side, cut along their short sides.
        let (g, _, _) = weak_grid(4, 400, 100).unwrap();
        assert_eq!((g.px, g.py), (4, 1));
        // A prime count is a strip of blocks; cutting between columns of 50-row blocks is cheaper.
        let (g, nx, ny) = weak_grid(3, 200, 50).unwrap();
        assert_eq!((g.px, g.py, nx, ny), (3, 1, 600, 50));
        let (g, _, _) = weak_grid(1, 7, 9).unwrap();
        assert_eq!((g.px, g.py), (1, 1));
        assert!(weak_grid(0, 7, 9).is_err());
    }

    fn point(ranks: usize, seconds: Option<f64>) -> Point {
        Point {
            ranks,
            px: Some(1),
            py: Some(ranks),
            nx: 10,
            ny: 10,
            seconds,
            mcells_per_s: None,
            speedup: None,
            efficiency: None,
            comm_share: None,
            peak_rss_bytes: None,
            oversubscribed: false,
            runs: 1,
            status: "ok".into(),
        }
    }

    #[test]
    fn strong_and_weak_speedups_by_hand() {
        let mut p = vec![
            point(1, Some(8.0)),
            point(2, Some(5.0)),
            point(4, None),
            point(8, Some(2.0)),
        ];
        derive_speedups(Mode::Strong, &mut p);
        assert_eq!(p[1].speedup, Some(1.6));
        assert_eq!(p[1].efficiency, Some(0.8));
        assert_eq!(p[2].speedup, None);
        assert_eq!(p[3].efficiency, Some(0.5));
        // Relative to 2 ranks when 1 is missing: S(4) = 2·T(2)/T(4).
        let mut p = vec![point(1, None), point(2, Some(6.0)), point(4, Some(4.0))];
        derive_speedups(Mode::Strong, &mut p);
        assert_eq!(p[2].speedup, Some(3.0));
        assert_eq!(p[2].efficiency, Some(0.75));
        // Weak: efficiency T(K0)/T(K), scaled speed-up K·E.
        let mut p = vec![point(1, Some(2.0)), point(4, Some(2.5))];
        derive_speedups(Mode::Weak, &mut p);
        assert_eq!(p[1].efficiency, Some(0.8));
        assert_eq!(p[1].speedup, Some(3.2));
    }

    #[test]
    fn the_baseline_is_the_fewest_ranks_in_any_order() {
        // Given 2 before 1, the 1-rank run is still the baseline: S(1) = 1, S(2) = T(1)/T(2).
        let mut p = vec![point(2, Some(7.0)), point(1, Some(10.0))];
        derive_speedups(Mode::Strong, &mut p);
        assert_eq!(
            (p[0].speedup, p[0].efficiency),
            (Some(10.0 / 7.0), Some(5.0 / 7.0))
        );
        assert_eq!((p[1].speedup, p[1].efficiency), (Some(1.0), Some(1.0)));
        // Weak, 3 before 1: no efficiency above 1 from a larger baseline.
        let mut p = vec![point(3, Some(5.0)), point(1, Some(4.0))];
        derive_speedups(Mode::Weak, &mut p);
        assert_eq!(p[0].efficiency, Some(0.8));
        assert_eq!(p[1].efficiency, Some(1.0));
        assert_eq!(rank_order(&[2, 1, 1, 4, 2]), [1, 2, 4]);
        assert_eq!(rank_order(&[3]), [3]);
    }

    #[test]
    fn the_largest_peak_is_taken_over_every_rank_and_only_when_all_are_known() {
        let report = |peaks: &[u64]| {
            let ranks: Vec<_> = peaks
                .iter()
                .enumerate()
                .map(|(rank, p)| serde_json::json!({"rank": rank, "peak_rss_bytes": p}))
                .collect();
            serde_json::json!({ "seconds": 1.0, "per_rank": ranks })
        };
        assert_eq!(largest_peak_rss(&report(&[30, 70, 50])), Some(70));
        assert_eq!(largest_peak_rss(&report(&[1 << 40])), Some(1 << 40));
        // A rank that could not say makes the largest unknown, not the largest of the others.
        assert_eq!(largest_peak_rss(&report(&[30, 0])), None);
        assert_eq!(largest_peak_rss(&serde_json::json!({"seconds": 1.0})), None);
        assert_eq!(
            largest_peak_rss(&serde_json::json!({"per_rank": [{"rank": 0}]})),
            None
        );
    }
}
