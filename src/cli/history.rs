//! A run's convergence history, recorded on rank 0 for `--out`: the iteration, simulated time
//! and residual of every residual check, written as `history.csv` and drawn as `history.png`.
//!
//! It holds one row per check (the driver checks every `--check-every` iterations and at the
//! last; see [`History::most_bytes`]), and only the checks of this run: after a restart, those
//! from the checkpoint's iteration on. (Continuing an older `history.csv` would be honest only
//! if that file came from the very run the checkpoint did, which nothing records; and a run
//! that needed a restart usually died before writing its outputs.)

use super::progress::ProgressView;
use halo::io::plot::{self, Chart, Corner, Mark, Series};
use halo::node::signals;
use halo::solver::{Monitor, Progress, Stopping};

/// One residual check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Check {
    /// Iterations done when it was made.
    pub iter: usize,
    /// The simulated time then, for time-dependent problems.
    pub time: Option<f64>,
    /// The residual it found, as the driver's stopping rule read it.
    pub residual: f64,
}

/// The residual checks of a run, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// The checks, oldest first.
    pub checks: Vec<Check>,
}

impl History {
    /// The most bytes the history of a run stopped by `stop` holds on rank 0, at most one row
    /// per check: per check, its row as the list holds it (32 bytes, twice that while the list
    /// grows), its CSV line (at most 72 bytes) and its point in the plot (16).
    pub fn most_bytes(stop: &Stopping) -> u64 {
        let checks = stop.iters.div_ceil(stop.check_every.max(1)) as u64 + 1;
        checks * (2 * std::mem::size_of::<Check>() as u64 + 72 + 16)
    }

    /// Records `p` if the driver checked the residual there.
    pub fn record(&mut self, p: Progress) {
        if let Some(residual) = p.residual {
            self.checks.push(Check {
                iter: p.iter,
                time: p.time,
                residual,
            });
        }
    }

    /// The checks as CSV, `iter,time,residual`, a row per check; `time` is empty for problems
    /// without simulated time. Numbers are written in Rust's shortest form that reads back to
    /// the same bits, so the last residual equals the report's exactly.
    pub fn csv(&self) -> String {
        let mut s = String::from("iter,time,residual\n");
        for c in &self.checks {
            let time = c.time.map_or(String::new(), |t| format!("{t:?}"));
            s.push_str(&format!("{},{time},{:?}\n", c.iter, c.residual));
        }
        s
    }

    /// Whether the checks are plotted against simulated time (when every check has one) rather
    /// than against the iteration.
    fn against_time(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.time.is_some())
    }

    /// The residual on a log scale against the simulated time when the problem has one (time is
    /// what a time-stepped run approaches its steady state in, whatever its step), else against
    /// the iteration; `tol`, if any, as a red horizontal line. `title` heads the picture,
    /// `y_label` names the residual. 900 × 560 pixels; returns the PNG file's bytes.
    pub fn png(&self, title: &str, y_label: &str, tol: Option<f64>) -> halo::Result<Vec<u8>> {
        let by_time = self.against_time();
        let x = |c: &Check| match c.time {
            Some(t) if by_time => t,
            _ => c.iter as f64,
        };
        let line: Vec<(f64, f64)> = self.checks.iter().map(|c| (x(c), c.residual)).collect();
        let lo = line.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let hi = line.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
        let tol_line: Vec<(f64, f64)> = match tol {
            Some(t) if lo <= hi => vec![(lo, t), (hi, t)],
            _ => Vec::new(),
        };
        let tol_name = tol.map_or(String::new(), |t| format!("tolerance {t:e}"));
        let chart = Chart {
            caption: "residual at each check",
            x_label: if by_time {
                "simulated time"
            } else {
                "iteration"
            },
            y_label,
            series: vec![
                Series {
                    points: &tol_line,
                    mark: Mark::Line,
                    colour: plot::RED,
                    name: Some(&tol_name),
                },
                Series {
                    points: &line,
                    mark: Mark::Line,
                    colour: plot::BLUE,
                    name: Some("residual"),
                },
            ],
            x_range: None,
            y_range: None,
            whole_x: !by_time,
            legend: Some(Corner::UpperRight),
        };
        plot::log_y_png(title, Self::PNG_SIZE, &chart)
    }

    /// The size of [`History::png`]'s picture, in pixels.
    pub const PNG_SIZE: (u32, u32) = (900, 560);
}

/// Rank 0's monitor: shows progress when asked, and records the history when `--out` will
/// write it. On other ranks it holds neither. On every rank it passes on the stopping signals
/// caught (see [`signals`]) when `interruptible`.
#[derive(Default)]
pub struct Watch {
    /// The progress display, if any.
    pub view: Option<ProgressView>,
    /// The history being recorded, if any.
    pub history: Option<History>,
    /// Whether the signals of [`signals::SOLVE`] are caught, and stop the run.
    pub interruptible: bool,
}

impl Watch {
    /// Clears the progress display and hands back the history.
    pub fn finish(self) -> Option<History> {
        if let Some(v) = self.view {
            v.finish();
        }
        self.history
    }
}

impl Monitor for Watch {
    fn progress(&mut self, p: Progress) {
        if let Some(v) = &mut self.view {
            v.update(p);
        }
        if let Some(h) = &mut self.history {
            h.record(p);
        }
    }

    fn interruptible(&self) -> bool {
        self.interruptible
    }

    fn stop_asked(&self) -> i32 {
        signals::caught().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(iter: usize, time: Option<f64>, residual: Option<f64>) -> Progress {
        Progress {
            iter,
            iters: 10,
            residual,
            time,
        }
    }

    #[test]
    fn records_only_checks_and_writes_them_back_to_the_bit() {
        let mut w = Watch {
            view: None,
            history: Some(History::default()),
            interruptible: false,
        };
        w.progress(at(1, None, None));
        w.progress(at(2, None, Some(0.1 + 0.2)));
        w.progress(at(3, None, None));
        w.progress(at(4, None, Some(1e-300 / 3.0)));
        let h = w.finish().unwrap();
        assert_eq!(h.checks.len(), 2);
        let csv = h.csv();
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows[0], "iter,time,residual");
        assert_eq!(rows[1], "2,,0.30000000000000004");
        let last: Vec<&str> = rows[2].split(',').collect();
        assert_eq!(last[..2], ["4", ""]);
        assert_eq!(last[2].parse::<f64>().unwrap(), 1e-300 / 3.0);
        assert!(!h.against_time());
    }

    #[test]
    fn a_time_dependent_run_is_plotted_against_its_time() {
        let mut h = History::default();
        h.record(at(100, Some(0.25), Some(3.5e-2)));
        h.record(at(200, Some(0.5), Some(1e-4)));
        assert_eq!(
            h.csv(),
            "iter,time,residual\n100,0.25,0.035\n200,0.5,0.0001\n"
        );
        assert!(h.against_time());
        let png = h.png("cavity 15x15", "residual", Some(1e-3)).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        // Width and height, big-endian, in the IHDR chunk.
        let size = |k: usize| u32::from_be_bytes(png[k..k + 4].try_into().unwrap());
        assert_eq!((size(16), size(20)), History::PNG_SIZE);
    }

    #[test]
    fn an_empty_history_still_draws() {
        let h = History::default();
        assert_eq!(h.csv(), "iter,time,residual\n");
        assert!(h.png("laplace 8x8", "residual", None).is_ok());
    }
}
