//! A study's table as CSV and JSON, and its speed-up and efficiency plot.

use super::{Mode, Point, Stop};
use crate::error::Result;
use crate::io::plot::{self, Chart, Corner, Mark, Series};
use crate::io::write_atomic;
use crate::node::signals;
use std::path::Path;

fn opt(x: Option<f64>) -> String {
    x.map_or(String::new(), |v| format!("{v}"))
}

/// Writes `scaling.csv`: a header and one row per rank count; empty cells where a run failed.
pub fn write_csv(path: &Path, points: &[Point]) -> Result<()> {
    let mut s = String::from("ranks,px,py,nx,ny,seconds,mcells_per_s,speedup,efficiency,comm_share,peak_rss_bytes,oversubscribed,runs,status\n");
    for p in points {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},\"{}\"\n",
            p.ranks,
            p.px.map_or(String::new(), |v| v.to_string()),
            p.py.map_or(String::new(), |v| v.to_string()),
            p.nx,
            p.ny,
            opt(p.seconds),
            opt(p.mcells_per_s),
            opt(p.speedup),
            opt(p.efficiency),
            opt(p.comm_share),
            p.peak_rss_bytes.map_or(String::new(), |v| v.to_string()),
            p.oversubscribed,
            p.runs,
            p.status.replace('"', "'")
        ));
    }
    write_atomic(path, s.as_bytes())
}

/// Writes `scaling.json`: the study's setting and its points; `partial` and `stopped_by` (the
/// signal's name, or null) say whether a signal stopped the study before its end.
pub fn write_json(
    path: &Path,
    mode: Mode,
    what: &str,
    cores: usize,
    points: &[Point],
    stopped: Option<Stop>,
) -> Result<()> {
    let v = serde_json::json!({
        "mode": mode,
        "run": what,
        "cores": cores,
        "partial": stopped.is_some(),
        "stopped_by": stopped.map(|s| signals::name(s.signal)),
        "points": points,
    });
    write_atomic(path, format!("{v}\n").as_bytes())
}

/// Draws `scaling.png`: speed-up against ranks with the ideal line, and parallel efficiency; the
/// title says "partial" when a signal stopped the study.
pub fn write_plot(
    path: &Path,
    mode: Mode,
    what: &str,
    points: &[Point],
    stopped: Option<Stop>,
) -> Result<()> {
    let speedup: Vec<(f64, f64)> = points
        .iter()
        .filter_map(|p| Some((p.ranks as f64, p.speedup?)))
        .collect();
    let efficiency: Vec<(f64, f64)> = points
        .iter()
        .filter_map(|p| Some((p.ranks as f64, p.efficiency?)))
        .collect();
    let kmax = points.iter().map(|p| p.ranks).max().unwrap_or(1) as f64;
    let xmax = kmax * 1.05 + 0.5;
    let smax = speedup.iter().map(|p| p.1).fold(kmax, f64::max) * 1.1;
    let emax = efficiency.iter().map(|p| p.1).fold(1.0, f64::max) * 1.15;
    let ylabel = if mode == Mode::Weak {
        "scaled speed-up"
    } else {
        "speed-up"
    };
    let caption = format!("{ylabel} vs ranks");
    // The ideal line ends inside the chart: plotters would squash a line leaving it.
    let corner = xmax.min(smax);
    let ideal_speedup = [(0.0, 0.0), (corner, corner)];
    let ideal_efficiency = [(0.0, 1.0), (xmax, 1.0)];
    let mut left = chart(&caption, ylabel, &ideal_speedup, &speedup, (xmax, smax));
    left.series[0].name = Some("ideal");
    left.series[1].name = Some("measured (median)");
    let right = chart(
        "parallel efficiency vs ranks",
        "efficiency",
        &ideal_efficiency,
        &efficiency,
        (xmax, emax),
    );
    let partial = match stopped {
        Some(s) => format!(" (partial: stopped by {})", signals::name(s.signal)),
        None => String::new(),
    };
    let title = format!("{mode} scaling: {what}{partial}");
    write_atomic(
        path,
        &plot::charts_png(&title, (1100, 460), &[left, right])?,
    )
}

/// A chart against ranks from the origin to `top`: `measured` as a blue line through dots over
/// `ideal` as a grey line, with a legend (empty until the series are named).
fn chart<'a>(
    caption: &'a str,
    y_label: &'a str,
    ideal: &'a [(f64, f64)],
    measured: &'a [(f64, f64)],
    top: (f64, f64),
) -> Chart<'a> {
    let series = |points, mark, colour| Series {
        points,
        mark,
        colour,
        name: None,
    };
    Chart {
        caption,
        x_label: "ranks",
        y_label,
        series: vec![
            series(ideal, Mark::Line, plot::GREY),
            series(measured, Mark::Line, plot::BLUE),
            series(measured, Mark::Dots, plot::BLUE),
        ],
        x_range: Some(0.0..top.0),
        y_range: Some(0.0..top.1),
        whole_x: true,
        legend: Some(Corner::UpperLeft),
    }
}
