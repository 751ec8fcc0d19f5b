//! Line plots, side by side: a computed profile against published data, a speed-up against its
//! ideal, a residual falling by decades on a log axis. Every chart in `halo` is drawn here, with one font, one look and one PNG encoder.

use super::png::{encode_rgb, register_font, FONT};
use crate::error::{Error, Result};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::ops::Range;

/// How a [`Series`] marks its points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A line through the points, in order.
    Line,
    /// An open circle at each point (reference data).
    Rings,
    /// A filled circle at each point (measurements).
    Dots,
}

/// A corner of a chart, for its legend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corner {
    /// Top left.
    UpperLeft,
    /// Top right.
    UpperRight,
    /// Bottom left.
    LowerLeft,
    /// Bottom right.
    LowerRight,
}

/// One set of `(x, y)` points in a [`Chart`].
#[derive(Debug, Clone)]
pub struct Series<'a> {
    /// The points.
    pub points: &'a [(f64, f64)],
    /// How they are drawn.
    pub mark: Mark,
    /// Their colour, RGB.
    pub colour: [u8; 3],
    /// Their name in the legend; `None` (or no points) leaves them out of it.
    pub name: Option<&'a str>,
}

impl<'a> Series<'a> {
    /// The name the legend lists for them: none for a series with no points, so a legend never
    /// names data that is not drawn (a reference table the run has none of, say).
    pub fn listed_name(&self) -> Option<&'a str> {
        self.name.filter(|_| !self.points.is_empty())
    }
}

/// One chart: axes, series, and where its legend goes.
#[derive(Debug, Clone)]
pub struct Chart<'a> {
    /// The chart's caption.
    pub caption: &'a str,
    /// The x axis's name.
    pub x_label: &'a str,
    /// The y axis's name.
    pub y_label: &'a str,
    /// What is drawn, in order (later series over earlier ones).
    pub series: Vec<Series<'a>>,
    /// The x axis's extent; `None` fits the points with a 5% margin.
    pub x_range: Option<Range<f64>>,
    /// The y axis's extent; `None` fits the points with a 5% margin.
    pub y_range: Option<Range<f64>>,
    /// Label the x axis with whole numbers (counts, such as ranks).
    pub whole_x: bool,
    /// Where the legend goes; `None` draws none.
    pub legend: Option<Corner>,
}

/// Blue, for computed or measured values.
pub const BLUE: [u8; 3] = [31, 119, 180];
/// Red, for reference values.
pub const RED: [u8; 3] = [214, 39, 40];
/// Grey, for ideals and guides.
pub const GREY: [u8; 3] = [150, 150, 150];

/// Draws `charts` side by side in a `width × height` picture under `title`; returns the PNG
/// file's bytes.
pub fn charts_png(title: &str, size: (u32, u32), charts: &[Chart<'_>]) -> Result<Vec<u8>> {
    render(title, size, charts, false)
}

/// Draws `chart` in a `width × height` picture under `title` as [`charts_png`] does, but with a
/// logarithmic y axis labelled in powers of ten: for what falls by decades, such as residuals
/// and errors. A log axis cannot place a y that is not positive and finite: such points are
/// left out. Without a `y_range` the axis fits the points with a margin of a twentieth of their
/// decades each side (at least a factor 1.2). Returns the PNG file's bytes.
pub fn log_y_png(title: &str, size: (u32, u32), chart: &Chart<'_>) -> Result<Vec<u8>> {
    render(title, size, std::slice::from_ref(chart), true)
}

/// Draws `charts` side by side under `title`, their y axes logarithmic if `log_y`.
fn render(title: &str, (w, h): (u32, u32), charts: &[Chart<'_>], log_y: bool) -> Result<Vec<u8>> {
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    register_font();
    let mut draw = || -> std::result::Result<(), String> {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw_charts(&root, title, charts, log_y).map_err(|e| e.to_string())
    };
    draw().map_err(|message| Error::Io {
        path: "(plot)".into(),
        message,
    })?;
    encode_rgb(w, h, &rgb)
}

/// One panel of [`panels_png`]: a computed curve, reference points, and the axes' names.
pub struct Panel<'a> {
    /// The panel's caption.
    pub caption: &'a str,
    /// The x axis's name.
    pub x_label: &'a str,
    /// The y axis's name.
    pub y_label: &'a str,
    /// The computed curve, drawn as a line.
    pub line: &'a [(f64, f64)],
    /// The line's name in the legend.
    pub line_name: &'a str,
    /// Reference points, drawn as circles.
    pub points: &'a [(f64, f64)],
    /// The points' name in the legend.
    pub points_name: &'a str,
    /// Put the legend in the lower left corner instead of the lower right.
    pub legend_left: bool,
}

/// Draws the panels side by side under `title`, 560 × 520 pixels each, the line in blue and the
/// points in red; returns the PNG file's bytes.
pub fn panels_png(title: &str, panels: &[Panel<'_>]) -> Result<Vec<u8>> {
    let charts: Vec<Chart<'_>> = panels.iter().map(Panel::chart).collect();
    charts_png(title, (560 * panels.len().max(1) as u32, 520), &charts)
}

impl<'a> Panel<'a> {
    /// The chart that draws the panel: its line in blue, its points as red rings.
    fn chart(&self) -> Chart<'a> {
        Chart {
            caption: self.caption,
            x_label: self.x_label,
            y_label: self.y_label,
            series: vec![
                Series {
                    points: self.line,
                    mark: Mark::Line,
                    colour: BLUE,
                    name: Some(self.line_name),
                },
                Series {
                    points: self.points,
                    mark: Mark::Rings,
                    colour: RED,
                    name: Some(self.points_name),
                },
            ],
            x_range: None,
            y_range: None,
            whole_x: false,
            legend: Some(if self.legend_left {
                Corner::LowerLeft
            } else {
                Corner::LowerRight
            }),
        }
    }
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// The extent of `xs` with a 5% margin each side; `0..1` when there are none.
fn bounds(xs: impl Iterator<Item = f64> + Clone) -> Range<f64> {
    let lo = xs.clone().fold(f64::INFINITY, f64::min);
    let hi = xs.fold(f64::NEG_INFINITY, f64::max);
    if lo > hi {
        return 0.0..1.0;
    }
    let pad = 0.05 * (hi - lo).max(1e-12);
    lo - pad..hi + pad
}

/// The extent of the positive, finite `ys` on a log axis, widened each side by a twentieth of
/// the decades they span (at least a factor 1.2), and down to the power of ten below when it
/// holds none (the axis labels only those and their multiples); `0.1..10` when there are none.
fn log_bounds(ys: impl Iterator<Item = f64> + Clone) -> Range<f64> {
    let placed = ys.filter(|&y| log_placed(y));
    let lo = placed.clone().fold(f64::INFINITY, f64::min);
    let hi = placed.fold(f64::NEG_INFINITY, f64::max);
    if lo > hi {
        return 0.1..10.0;
    }
    let pad = (hi / lo).powf(0.05).max(1.2);
    let (lo, hi) = (lo / pad, hi * pad);
    let below = 10f64.powf(lo.log10().floor());
    if 10.0 * below > hi {
        below..hi
    } else {
        lo..hi
    }
}

/// Whether a log axis can place `y`.
fn log_placed(y: f64) -> bool {
    y > 0.0 && y.is_finite()
}

fn draw_charts(
    root: &Area<'_>,
    title: &str,
    charts: &[Chart<'_>],
    log_y: bool,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let (top, body) = root.split_vertically(34);
    top.draw_text(title, &(FONT, 17).into_font().color(&BLACK), (12, 10))?;
    let areas = body.split_evenly((1, charts.len().max(1)));
    for (area, chart) in areas.iter().zip(charts) {
        draw_chart(area, chart, log_y)?;
    }
    root.present()?;
    Ok(())
}

fn draw_chart(
    area: &Area<'_>,
    p: &Chart<'_>,
    log_y: bool,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let all = p.series.iter().flat_map(|s| s.points.iter());
    let xs = p
        .x_range
        .clone()
        .unwrap_or_else(|| bounds(all.clone().map(|q| q.0)));
    let ys = p.y_range.clone().unwrap_or_else(|| {
        let ys = all.map(|q| q.1);
        if log_y {
            log_bounds(ys)
        } else {
            bounds(ys)
        }
    });
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(14)
        .caption(p.caption, (FONT, 15))
        .x_label_area_size(36)
        .y_label_area_size(52);
    if log_y {
        let c = builder.build_cartesian_2d(xs, ys.log_scale())?;
        draw_series(c, p, Some(&|y: &f64| format!("{y:.0e}")), log_placed)
    } else {
        let c = builder.build_cartesian_2d(xs, ys)?;
        draw_series(c, p, None, |_| true)
    }
}

/// Draws the mesh, series and legend of `p` on its coordinates `c` (linear or logarithmic in
/// y), its y labels written by `y_label` if given, and only the points whose y is `placed`.
fn draw_series<'a, 'b: 'a, Y>(
    mut c: ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, Y>>,
    p: &Chart<'_>,
    y_label: Option<&dyn Fn(&f64) -> String>,
    placed: fn(f64) -> bool,
) -> std::result::Result<(), Box<dyn std::error::Error>>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let xs = c.x_range();
    let whole_ticks = (xs.end - xs.start).ceil().clamp(1.0, 11.0) as usize + 1;
    let mut mesh = c.configure_mesh();
    mesh.x_desc(p.x_label)
        .y_desc(p.y_label)
        .label_style((FONT, 12));
    let whole = |x: &f64| format!("{x:.0}");
    if p.whole_x {
        mesh.x_labels(whole_ticks).x_label_formatter(&whole);
    }
    if let Some(f) = y_label {
        mesh.y_label_formatter(f);
    }
    mesh.draw()?;
    for s in &p.series {
        let colour = RGBColor(s.colour[0], s.colour[1], s.colour[2]);
        let (line, ring, dot) = (
            colour.stroke_width(2),
            colour.stroke_width(2),
            colour.filled(),
        );
        let points = s.points.iter().copied().filter(|q| placed(q.1));
        let drawn = match s.mark {
            Mark::Line => c.draw_series(LineSeries::new(points, line))?,
            Mark::Rings => c.draw_series(points.map(|q| Circle::new(q, 4, ring)))?,
            Mark::Dots => c.draw_series(points.map(|q| Circle::new(q, 4, dot)))?,
        };
        let Some(name) = s.listed_name() else {
            continue;
        };
        drawn.label(name);
        match s.mark {
            Mark::Line => drawn.legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], line)),
            Mark::Rings => drawn.legend(move |(x, y)| Circle::new((x + 9, y), 4, ring)),
            Mark::Dots => drawn.legend(move |(x, y)| Circle::new((x + 9, y), 4, dot)),
        };
    }
    let listed = p.series.iter().any(|s| s.listed_name().is_some());
    if let Some(corner) = p.legend.filter(|_| listed) {
        c.configure_series_labels()
            .label_font((FONT, 12))
            .border_style(BLACK)
            .background_style(WHITE)
            .position(match corner {
                Corner::UpperLeft => SeriesLabelPosition::UpperLeft,
                Corner::UpperRight => SeriesLabelPosition::UpperRight,
                Corner::LowerLeft => SeriesLabelPosition::LowerLeft,
                Corner::LowerRight => SeriesLabelPosition::LowerRight,
            })
            .draw()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_legend_names_only_what_is_drawn() {
        // The cavity at a Re with no reference table: the panel's points are empty.
        let line = [(0.0, 0.0), (1.0, 1.0)];
        let panel = Panel {
            caption: "u along x = 0.5",
            x_label: "u",
            y_label: "y",
            line: &line,
            line_name: "halo, 47x47",
            points: &[],
            points_name: "Ghia et al. 1982",
            legend_left: false,
        };
        let listed: Vec<_> = panel
            .chart()
            .series
            .iter()
            .filter_map(Series::listed_name)
            .collect();
        assert_eq!(listed, ["halo, 47x47"]);
        let with = Panel {
            points: &line,
            ..panel
        };
        let listed: Vec<_> = with
            .chart()
            .series
            .iter()
            .filter_map(Series::listed_name)
            .collect();
        assert_eq!(listed, ["halo, 47x47", "Ghia et al. 1982"]);
    }

    #[test]
    fn log_bounds_span_the_decades_and_hold_a_power_of_ten() {
        // What a log axis cannot place is left out.
        let r = log_bounds([1e-8, 1e-2, 0.0, -1.0, f64::NAN, f64::INFINITY].into_iter());
        let pad = 1e6f64.powf(0.05);
        assert!((r.start * pad / 1e-8 - 1.0).abs() < 1e-12, "{r:?}");
        assert!((r.end / pad / 1e-2 - 1.0).abs() < 1e-12, "{r:?}");
        // Within one decade: down to its power of ten, so the axis has a label.
        let r = log_bounds([3e-3, 5e-3].into_iter());
        assert!((r.start / 1e-3 - 1.0).abs() < 1e-12, "{r:?}");
        assert!((r.end / (5e-3 * 1.2) - 1.0).abs() < 1e-12, "{r:?}");
        // One point, or none.
        let one = log_bounds([2.0].into_iter());
        assert!(one.start <= 1.0 && one.end > 2.0, "{one:?}");
        assert_eq!(log_bounds([0.0].into_iter()), 0.1..10.0);
    }

    #[test]
    fn a_log_y_chart_draws_with_or_without_points() {
        let line = [(0.0, 1.0), (1.0, 1e-3), (2.0, 0.0)];
        for points in [&line[..], &[]] {
            let chart = Chart {
                caption: "residual",
                x_label: "iteration",
                y_label: "residual",
                series: vec![Series {
                    points,
                    mark: Mark::Line,
                    colour: BLUE,
                    name: Some("residual"),
                }],
                x_range: None,
                y_range: None,
                whole_x: true,
                legend: Some(Corner::UpperRight),
            };
            let png = log_y_png("t", (300, 200), &chart).unwrap();
            assert_eq!(&png[1..4], b"PNG");
        }
    }

    #[test]
    fn bounds_pad_the_points_and_survive_none() {
        let r = bounds([1.0, 3.0, 2.0].into_iter());
        assert!(
            (r.start - 0.9).abs() < 1e-12 && (r.end - 3.1).abs() < 1e-12,
            "{r:?}"
        );
        assert_eq!(bounds(std::iter::empty()), 0.0..1.0);
        let one = bounds([5.0].into_iter());
        assert!(one.start < 5.0 && one.end > 5.0, "{one:?}");
    }
}
