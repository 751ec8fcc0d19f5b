//! A study's table as CSV and JSON, and its speed-up and efficiency plot.

use super::{Mode, Point};
use crate::error::{Error, Result};
use crate::io::png::{encode_rgb, register_font, FONT};
use crate::io::write_atomic;
use plotters::prelude::*;
use std::path::Path;

fn opt(x: Option<f64>) -> String {
    x.map_or(String::new(), |v| format!("{v}"))
}

/// Writes `scaling.csv`: a header and one row per rank count; empty cells where a run failed.
pub fn write_csv(path: &Path, points: &[Point]) -> Result<()> {
    let mut s = String::from("ranks,px,py,nx,ny,seconds,mcells_per_s,speedup,efficiency,comm_share,oversubscribed,runs,status\n");
    for p in points {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},\"{}\"\n",
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
            p.oversubscribed,
            p.runs,
            p.status.replace('"', "'")
        ));
    }
    write_atomic(path, s.as_bytes())
}

/// Writes `scaling.json`: the study's setting and its points.
pub fn write_json(
    path: &Path,
    mode: Mode,
    what: &str,
    cores: usize,
    points: &[Point],
) -> Result<()> {
    let v = serde_json::json!({ "mode": mode, "run": what, "cores": cores, "points": points });
    write_atomic(path, format!("{v}\n").as_bytes())
}

/// Draws `scaling.png`: speed-up against ranks with the ideal line, and parallel efficiency.
pub fn write_plot(path: &Path, mode: Mode, what: &str, points: &[Point]) -> Result<()> {
    let (w, h) = (1100u32, 460u32);
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    register_font();
    let mut draw = || -> std::result::Result<(), String> {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        chart(&root, mode, what, points).map_err(|e| e.to_string())
    };
    draw().map_err(|message| Error::Io {
        path: path.display().to_string(),
        message,
    })?;
    write_atomic(path, &encode_rgb(w, h, &rgb)?)
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn chart(
    root: &Area<'_>,
    mode: Mode,
    what: &str,
    points: &[Point],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let w = root.dim_in_pixel().0;
    let ok: Vec<(f64, f64, f64)> = points
        .iter()
        .filter_map(|p| Some((p.ranks as f64, p.speedup?, p.efficiency?)))
        .collect();
    let kmax = points.iter().map(|p| p.ranks).max().unwrap_or(1) as f64;
    let smax = ok.iter().map(|p| p.1).fold(kmax, f64::max) * 1.1;
    let emax = ok.iter().map(|p| p.2).fold(1.0, f64::max) * 1.15;
    let (title, body) = root.split_vertically(34);
    title.draw_text(
        &format!("{mode} scaling: {what}"),
        &(FONT, 17).into_font().color(&BLACK),
        (12, 10),
    )?;
    let (left, right) = body.split_horizontally(w / 2);
    let blue = RGBColor(31, 119, 180);
    let grey = RGBColor(150, 150, 150);
    let ylabel = if mode == Mode::Weak {
        "scaled speed-up"
    } else {
        "speed-up"
    };
    let mut c = ChartBuilder::on(&left)
        .margin(14)
        .caption(format!("{ylabel} vs ranks"), (FONT, 15))
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..kmax * 1.05 + 0.5, 0f64..smax)?;
    c.configure_mesh()
        .x_desc("ranks")
        .x_labels((kmax as usize + 2).min(12))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc(ylabel)
        .label_style((FONT, 12))
        .draw()?;
    c.draw_series(LineSeries::new(
        [(0.0, 0.0), (kmax * 1.05 + 0.5, kmax * 1.05 + 0.5)],
        grey.stroke_width(2),
    ))?
    .label("ideal")
    .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], grey.stroke_width(2)));
    c.draw_series(LineSeries::new(
        ok.iter().map(|p| (p.0, p.1)),
        blue.stroke_width(2),
    ))?
    .label("measured (median)")
    .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], blue.stroke_width(2)));
    c.draw_series(ok.iter().map(|p| Circle::new((p.0, p.1), 4, blue.filled())))?;
    c.configure_series_labels()
        .label_font((FONT, 12))
        .border_style(BLACK)
        .background_style(WHITE)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    let mut c = ChartBuilder::on(&right)
        .margin(14)
        .caption("parallel efficiency vs ranks", (FONT, 15))
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..kmax * 1.05 + 0.5, 0f64..emax)?;
    c.configure_mesh()
        .x_desc("ranks")
        .x_labels((kmax as usize + 2).min(12))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("efficiency")
        .label_style((FONT, 12))
        .draw()?;
    c.draw_series(LineSeries::new(
        [(0.0, 1.0), (kmax * 1.05 + 0.5, 1.0)],
        grey.stroke_width(2),
    ))?;
    c.draw_series(LineSeries::new(
        ok.iter().map(|p| (p.0, p.2)),
        blue.stroke_width(2),
    ))?;
    c.draw_series(ok.iter().map(|p| Circle::new((p.0, p.2), 4, blue.filled())))?;
    root.present()?;
    Ok(())
}
