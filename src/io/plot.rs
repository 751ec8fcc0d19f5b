//! Line plots, side by side: a computed profile against published data, a speed-up against its
//! ideal. Every chart in `halo` is drawn here, with one font, one look and one PNG encoder.

use super::png::{encode_rgb, register_font, FONT};
use crate::error::{Error, Result};
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
pub fn charts_png(title: &str, (w, h): (u32, u32), charts: &[Chart<'_>]) -> Result<Vec<u8>> {
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    register_font();
    let mut draw = || -> std::result::Result<(), String> {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw_charts(&root, title, charts).map_err(|e| e.to_string())
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

fn draw_charts(
    root: &Area<'_>,
    title: &str,
    charts: &[Chart<'_>],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let (top, body) = root.split_vertically(34);
    top.draw_text(title, &(FONT, 17).into_font().color(&BLACK), (12, 10))?;
    let areas = body.split_evenly((1, charts.len().max(1)));
    for (area, chart) in areas.iter().zip(charts) {
        draw_chart(area, chart)?;
    }
    root.present()?;
    Ok(())
}

fn draw_chart(
    area: &Area<'_>,
    p: &Chart<'_>,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let all = p.series.iter().flat_map(|s| s.points.iter());
    let xs = p
        .x_range
        .clone()
        .unwrap_or_else(|| bounds(all.clone().map(|q| q.0)));
    let ys = p
        .y_range
        .clone()
        .unwrap_or_else(|| bounds(all.map(|q| q.1)));
    let whole_ticks = (xs.end - xs.start).ceil().clamp(1.0, 11.0) as usize + 1;
    let mut c = ChartBuilder::on(area)
        .margin(14)
        .caption(p.caption, (FONT, 15))
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(xs, ys)?;
    let mut mesh = c.configure_mesh();
    mesh.x_desc(p.x_label)
        .y_desc(p.y_label)
        .label_style((FONT, 12));
    let whole = |x: &f64| format!("{x:.0}");
    if p.whole_x {
        mesh.x_labels(whole_ticks).x_label_formatter(&whole);
    }
    mesh.draw()?;
    for s in &p.series {
        let colour = RGBColor(s.colour[0], s.colour[1], s.colour[2]);
        let (line, ring, dot) = (
            colour.stroke_width(2),
            colour.stroke_width(2),
            colour.filled(),
        );
        let points = s.points.iter().copied();
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
