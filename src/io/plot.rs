//! Line plots with reference points, side by side: a computed profile against published data.

use super::png::{encode_rgb, register_font, FONT};
use crate::error::{Error, Result};
use plotters::prelude::*;

/// One panel: a computed curve, reference points, and the axes' names.
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

/// Draws the panels side by side under `title`; returns the PNG file's bytes.
pub fn panels_png(title: &str, panels: &[Panel<'_>]) -> Result<Vec<u8>> {
    let (w, h) = (560 * panels.len().max(1) as u32, 520u32);
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    register_font();
    let mut draw = || -> std::result::Result<(), String> {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw_panels(&root, title, panels).map_err(|e| e.to_string())
    };
    draw().map_err(|message| Error::Io {
        path: "(plot)".into(),
        message,
    })?;
    encode_rgb(w, h, &rgb)
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn bounds(xs: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let lo = xs.clone().fold(f64::INFINITY, f64::min);
    let hi = xs.fold(f64::NEG_INFINITY, f64::max);
    let pad = 0.05 * (hi - lo).max(1e-12);
    (lo - pad, hi + pad)
}

fn draw_panels(
    root: &Area<'_>,
    title: &str,
    panels: &[Panel<'_>],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let (top, body) = root.split_vertically(34);
    top.draw_text(title, &(FONT, 17).into_font().color(&BLACK), (12, 10))?;
    let areas = body.split_evenly((1, panels.len().max(1)));
    let blue = RGBColor(31, 119, 180);
    let red = RGBColor(214, 39, 40);
    for (area, p) in areas.iter().zip(panels) {
        let all = p.line.iter().chain(p.points.iter());
        let (x0, x1) = bounds(all.clone().map(|q| q.0));
        let (y0, y1) = bounds(all.map(|q| q.1));
        let mut c = ChartBuilder::on(area)
            .margin(14)
            .caption(p.caption, (FONT, 15))
            .x_label_area_size(36)
            .y_label_area_size(52)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        c.configure_mesh()
            .x_desc(p.x_label)
            .y_desc(p.y_label)
            .label_style((FONT, 12))
            .draw()?;
        c.draw_series(LineSeries::new(
            p.line.iter().copied(),
            blue.stroke_width(2),
        ))?
        .label(p.line_name)
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], blue.stroke_width(2)));
        c.draw_series(
            p.points
                .iter()
                .map(|&q| Circle::new(q, 4, red.stroke_width(2))),
        )?
        .label(p.points_name)
        .legend(move |(x, y)| Circle::new((x + 9, y), 4, red.stroke_width(2)));
        c.configure_series_labels()
            .label_font((FONT, 12))
            .border_style(BLACK)
            .background_style(WHITE)
            .position(if p.legend_left {
                SeriesLabelPosition::LowerLeft
            } else {
                SeriesLabelPosition::LowerRight
            })
            .draw()?;
    }
    root.present()?;
    Ok(())
}
