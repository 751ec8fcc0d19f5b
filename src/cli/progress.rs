//! Progress display for long runs, on rank 0 (driven by [`super::history::Watch`], the monitor
//! that also records the run's history).

use halo::solver::Progress;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

/// Progress on rank 0: a bar on a terminal; elsewhere (under mpirun, whose ranks write into pipes,
/// or into a log) a plain line every second.
pub enum ProgressView {
    /// On a terminal.
    Bar(ProgressBar),
    /// Anywhere else.
    Lines {
        start: Instant,
        last: Instant,
        residual: Option<f64>,
    },
}

impl ProgressView {
    /// A view for a run of `iters` iterations.
    pub fn new(iters: usize) -> Self {
        if !std::io::stderr().is_terminal() {
            let now = Instant::now();
            return ProgressView::Lines {
                start: now,
                last: now,
                residual: None,
            };
        }
        let bar = ProgressBar::new(iters as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} it, {per_sec}, residual {msg}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        ProgressView::Bar(bar)
    }

    /// Shows where the run is.
    pub fn update(&mut self, p: Progress) {
        match self {
            ProgressView::Bar(bar) => {
                bar.set_position(p.iter as u64);
                if let Some(r) = p.residual {
                    bar.set_message(format!("{r:.3e}"));
                }
            }
            ProgressView::Lines {
                start,
                last,
                residual,
            } => {
                *residual = p.residual.or(*residual);
                if last.elapsed().as_secs_f64() < 1.0 && p.iter < p.iters {
                    return;
                }
                *last = Instant::now();
                let rate = p.iter as f64 / start.elapsed().as_secs_f64();
                let r = residual.map_or("-".into(), |r| format!("{r:.3e}"));
                eprintln!(
                    "progress: {}/{} it ({:.0}%), {rate:.0} it/s, residual {r}",
                    p.iter,
                    p.iters,
                    100.0 * p.iter as f64 / p.iters as f64
                );
            }
        }
    }

    /// Clears the bar.
    pub fn finish(self) {
        if let ProgressView::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
