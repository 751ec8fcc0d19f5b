//! PNG pictures of fields: a heatmap with a colour bar, the decomposition drawn over a field, and
//! sets of blocks side by side (a multigrid hierarchy's levels).

use crate::decomp::{Block, Decomposition};
use crate::error::{Error, Result};
use ndarray::Array2;
use plotters::prelude::*;
use std::sync::Once;

/// The font family every picture uses (DejaVu Sans, built in: no system fonts needed).
pub(super) const FONT: &str = "sans-serif";
const MARGIN: u32 = 12;
const TITLE: u32 = 34;
const BAR: u32 = 110;
/// The longest side of the field in a picture, in pixels.
const MAX_SIDE: u32 = 900;
/// Small grids are drawn at least this large.
const MIN_SIDE: u32 = 360;

/// The colours of ranks' blocks, by rank modulo their number.
const PALETTE: [[u8; 3]; 8] = [
    [141, 211, 199],
    [255, 255, 179],
    [190, 186, 218],
    [251, 128, 114],
    [128, 177, 211],
    [253, 180, 98],
    [179, 222, 105],
    [252, 205, 229],
];

/// Registers [`FONT`] with plotters, once per process.
pub(super) fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// An RGB picture being drawn.
struct Picture {
    w: u32,
    h: u32,
    rgb: Vec<u8>,
}

impl Picture {
    fn new(w: u32, h: u32) -> Self {
        Picture {
            w,
            h,
            rgb: vec![255; (w * h * 3) as usize],
        }
    }

    fn put(&mut self, x: u32, y: u32, c: [u8; 3]) {
        let at = ((y * self.w + x) * 3) as usize;
        self.rgb[at..at + 3].copy_from_slice(&c);
    }

    /// Draws text and lines with plotters over the pixels drawn so far.
    fn draw(
        &mut self,
        f: impl FnOnce(&DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>),
    ) -> Result<()> {
        register_font();
        let root = BitMapBackend::with_buffer(&mut self.rgb, (self.w, self.h)).into_drawing_area();
        f(&root);
        root.present().map_err(|e| Error::Io {
            path: "(picture)".into(),
            message: e.to_string(),
        })
    }

    fn encode(&self) -> Result<Vec<u8>> {
        encode_rgb(self.w, self.h, &self.rgb)
    }
}

/// A PNG file's bytes for a `w × h` RGB picture.
pub(super) fn encode_rgb(w: u32, h: u32, rgb: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let err = |e: png::EncodingError| Error::Io {
        path: "(png)".into(),
        message: e.to_string(),
    };
    let mut writer = enc.write_header().map_err(err)?;
    writer.write_image_data(rgb).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}

/// The viridis colour map at `t` in `[0, 1]` (linear between nine of its samples).
pub fn viridis(t: f64) -> [u8; 3] {
    const STOPS: [[u8; 3]; 9] = [
        [68, 1, 84],
        [71, 44, 122],
        [59, 81, 139],
        [44, 113, 142],
        [33, 144, 141],
        [39, 173, 129],
        [92, 200, 99],
        [170, 220, 50],
        [253, 231, 37],
    ];
    if t.is_nan() {
        return [255, 0, 255];
    }
    let x = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let k = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - k as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (STOPS[k], STOPS[k + 1]);
    [mix(a[0], b[0]), mix(a[1], b[1]), mix(a[2], b[2])]
}

/// The shape `(h, w)` (rows, columns of pixels) at which pictures draw an `nx × ny` field: its
/// longer side 900 pixels when it has more cells, else scaled up a whole number of times to at
/// least 360. Pixel `(y, x)` shows the global cell [`picture_cell`]`(y, x)`: a field sampled at
/// those cells (`DistArray::sample`) draws to the same picture as the whole field, given the
/// whole field's range ([`Sampled`]).
pub fn picture_shape(nx: usize, ny: usize) -> (usize, usize) {
    let (w, h) = field_size(nx, ny);
    (h as usize, w as usize)
}

/// The global cell `(row, col)` a picture of `h × w` pixels shows at pixel `(y, x)` of an
/// `nx × ny` field: `(y·ny/h, x·nx/w)`, rounded down.
pub fn picture_cell(
    (y, x): (usize, usize),
    (h, w): (usize, usize),
    (nx, ny): (usize, usize),
) -> (usize, usize) {
    (
        ((y as u64 * ny as u64) / h as u64) as usize,
        ((x as u64 * nx as u64) / w as u64) as usize,
    )
}

/// A field as pictures draw it without holding it whole: its values at the pixels of a picture
/// ([`picture_shape`], [`picture_cell`]) and the finite range of the whole field, which sets the
/// colour scale (`None`: no finite value).
#[derive(Debug, Clone, Copy)]
pub struct Sampled<'a> {
    /// The field at the picture's pixels, `(h, w)`.
    pub values: &'a Array2<f64>,
    /// The finite minimum and maximum of the whole field ([`finite_range`] of it).
    pub range: Option<(f64, f64)>,
}

impl<'a> Sampled<'a> {
    /// A whole field as its own sample.
    fn whole(field: &'a Array2<f64>) -> Self {
        Sampled {
            values: field,
            range: finite_range(field.iter().copied()),
        }
    }

    /// The colour scale: the range, or 0 to 1 when there is none.
    fn scale(&self) -> (f64, f64) {
        self.range.unwrap_or((0.0, 1.0))
    }
}

/// The finite minimum and maximum of `values`, `None` when none is finite; pictures of a field
/// scale their colours to it.
pub fn finite_range(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .into_iter()
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| {
            (l.min(x), h.max(x))
        });
    (lo <= hi).then_some((lo, hi))
}

/// The size in pixels at which an `nx × ny` field is drawn.
fn field_size(nx: usize, ny: usize) -> (u32, u32) {
    let long = nx.max(ny) as f64;
    let scale = if long > MAX_SIDE as f64 {
        MAX_SIDE as f64 / long
    } else {
        (MIN_SIDE as f64 / long).ceil().max(1.0)
    };
    (
        ((nx as f64 * scale).round() as u32).max(1),
        ((ny as f64 * scale).round() as u32).max(1),
    )
}

fn tick(v: f64) -> String {
    if v == 0.0 || (1e-3..1e4).contains(&v.abs()) {
        format!("{v:.4}")
    } else {
        format!("{v:.2e}")
    }
}

/// Paints `field` at `(x0, y0)` in `w × h` pixels, row 0 at the top, with `colour(value)`.
fn paint(
    p: &mut Picture,
    field: &Array2<f64>,
    x0: u32,
    y0: u32,
    w: u32,
    h: u32,
    colour: impl Fn(f64) -> [u8; 3],
) {
    let (ny, nx) = field.dim();
    let (h_, w_) = (h as usize, w as usize);
    for y in 0..h {
        for x in 0..w {
            let (i, j) = picture_cell((y as usize, x as usize), (h_, w_), (nx, ny));
            p.put(x0 + x, y0 + y, colour(field[[i, j]]));
        }
    }
}

/// A heatmap of `field` (shape `(ny, nx)`, row 0 at the top) in the viridis colour map, with a
/// colour bar and its scale, under `title`. Returns the PNG file's bytes.
pub fn heatmap_png(field: &Array2<f64>, title: &str) -> Result<Vec<u8>> {
    heatmap_with_contours_png(field, None, title)
}

/// [`heatmap_png`] with `levels` evenly spaced contour lines of `contours` (same shape) drawn
/// over it in white: streamlines, for a stream function.
pub fn heatmap_with_contours_png(
    field: &Array2<f64>,
    contours: Option<(&Array2<f64>, usize)>,
    title: &str,
) -> Result<Vec<u8>> {
    let contours = contours.map(|(c, n)| (Sampled::whole(c), n));
    sampled_heatmap_png(Sampled::whole(field), contours, title)
}

/// [`heatmap_with_contours_png`] from sampled fields: `field` and the `contours`' field sampled
/// at the same pixels, each with its whole field's range. A heatmap drawn from a field's sample
/// is the heatmap of the whole field, to the byte; contours, drawn from the sample, can differ by
/// a pixel from those of the whole field where it has more cells than the picture pixels.
pub fn sampled_heatmap_png(
    field: Sampled<'_>,
    contours: Option<(Sampled<'_>, usize)>,
    title: &str,
) -> Result<Vec<u8>> {
    let (ny, nx) = field.values.dim();
    let (w, h) = field_size(nx, ny);
    let (lo, hi) = field.scale();
    let t = |v: f64| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
    let mut p = Picture::new(w + 2 * MARGIN + BAR, h.max(200) + MARGIN + TITLE);
    paint(&mut p, field.values, MARGIN, TITLE, w, h, |v| viridis(t(v)));
    if let Some((c, levels)) = contours {
        draw_contours(&mut p, c, levels, MARGIN, TITLE, w, h);
    }
    // The colour bar: top is the maximum.
    let (bx, bh) = (MARGIN + w + 16, h.max(200));
    for y in 0..bh {
        let c = viridis(1.0 - y as f64 / (bh - 1).max(1) as f64);
        for x in 0..18 {
            p.put(bx + x, TITLE + y, c);
        }
    }
    p.draw(|root| {
        let text = (FONT, 15).into_font().color(&BLACK);
        let small = (FONT, 12).into_font().color(&BLACK);
        let _ = root.draw_text(title, &text, (MARGIN as i32, 9));
        let _ = root.draw(&Rectangle::new(
            [
                (bx as i32, TITLE as i32),
                ((bx + 18) as i32, (TITLE + bh) as i32),
            ],
            BLACK.stroke_width(1),
        ));
        for k in 0..=4 {
            let f = k as f64 / 4.0;
            let y = (TITLE as f64 + (1.0 - f) * (bh - 1) as f64) as i32;
            let _ = root.draw(&PathElement::new(
                vec![((bx + 18) as i32, y), ((bx + 23) as i32, y)],
                BLACK,
            ));
            let _ = root.draw_text(&tick(lo + f * (hi - lo)), &small, ((bx + 26) as i32, y - 6));
        }
    })?;
    p.encode()
}

/// Marks in white the pixels where `c`, sampled bilinearly at pixel centres, crosses one of
/// `levels` evenly spaced values between its minimum and maximum.
fn draw_contours(p: &mut Picture, c: Sampled<'_>, levels: usize, x0: u32, y0: u32, w: u32, h: u32) {
    let (lo, hi) = c.scale();
    let c = c.values;
    let (ny, nx) = c.dim();
    if hi <= lo || levels == 0 {
        return;
    }
    let step = (hi - lo) / (levels + 1) as f64;
    let sample = |x: u32, y: u32| {
        let fy = ((y as f64 + 0.5) * ny as f64 / h as f64 - 0.5).clamp(0.0, (ny - 1) as f64);
        let fx = ((x as f64 + 0.5) * nx as f64 / w as f64 - 0.5).clamp(0.0, (nx - 1) as f64);
        let (i, j) = (fy.floor() as usize, fx.floor() as usize);
        let (i1, j1) = ((i + 1).min(ny - 1), (j + 1).min(nx - 1));
        let (a, b) = (fy - i as f64, fx - j as f64);
        let top = c[[i, j]] * (1.0 - b) + c[[i, j1]] * b;
        let bottom = c[[i1, j]] * (1.0 - b) + c[[i1, j1]] * b;
        top * (1.0 - a) + bottom * a
    };
    let band = |v: f64| ((v - lo) / step).floor() as i64;
    let bands: Vec<i64> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .map(|(x, y)| band(sample(x, y)))
        .collect();
    for y in 0..h {
        for x in 0..w {
            let k = (y * w + x) as usize;
            let right = x + 1 < w && bands[k + 1] != bands[k];
            let below = y + 1 < h && bands[k + w as usize] != bands[k];
            if right || below {
                p.put(x0 + x, y0 + y, [255, 255, 255]);
            }
        }
    }
}

/// `field` in muted colours with `decomp`'s blocks outlined and each labelled with its rank:
/// which rank owns which part of the grid. Returns the PNG file's bytes.
pub fn decomposition_png(
    field: &Array2<f64>,
    decomp: &Decomposition,
    title: &str,
) -> Result<Vec<u8>> {
    sampled_decomposition_png(Sampled::whole(field), decomp, title)
}

/// [`decomposition_png`] from a sampled field (see [`sampled_heatmap_png`]): the same picture.
pub fn sampled_decomposition_png(
    field: Sampled<'_>,
    decomp: &Decomposition,
    title: &str,
) -> Result<Vec<u8>> {
    let (ny, nx) = field.values.dim();
    let (w, h) = field_size(nx, ny);
    let (lo, hi) = field.scale();
    let t = |v: f64| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
    let mut p = Picture::new(w + 2 * MARGIN, h + MARGIN + TITLE);
    paint(&mut p, field.values, MARGIN, TITLE, w, h, |v| {
        let c = viridis(t(v));
        // Blend halfway to white so the outlines and numbers stand out.
        [c[0] / 2 + 128, c[1] / 2 + 128, c[2] / 2 + 128]
    });
    p.draw(|root| {
        let _ = root.draw_text(
            title,
            &(FONT, 15).into_font().color(&BLACK),
            (MARGIN as i32, 9),
        );
        outline_blocks(root, decomp, (MARGIN, TITLE), (w, h), 2);
    })?;
    p.encode()
}

/// A picture of `decomp` alone: every block in its own colour and numbered by rank, with the
/// cells it sends to its neighbours each exchange (the neighbours' ghost cells, `ghost` deep;
/// drawn at least 3 pixels deep) in a darker shade. Returns the PNG file's bytes.
pub fn decomposition_map_png(decomp: &Decomposition, ghost: usize, title: &str) -> Result<Vec<u8>> {
    let (nx, ny) = (decomp.nx, decomp.ny);
    let (w, h) = field_size(nx, ny);
    let legend = 22;
    let mut p = Picture::new(w + 2 * MARGIN, h + MARGIN + TITLE + legend);
    let px = |col: usize| (col as u64 * w as u64 / nx as u64) as u32;
    let py = |row: usize| (row as u64 * h as u64 / ny as u64) as u32;
    let band_x = ((ghost as u64 * w as u64 / nx as u64) as u32).max(3);
    let band_y = ((ghost as u64 * h as u64 / ny as u64) as u32).max(3);
    for b in decomp.blocks() {
        let (x0, x1, y0, y1) = (
            px(b.cols.start),
            px(b.cols.end),
            py(b.rows.start),
            py(b.rows.end),
        );
        let has = |dx, dy| decomp.grid.neighbor(b.rank, dx, dy, false, false).is_some();
        let (west, east, north, south) = (has(-1, 0), has(1, 0), has(0, -1), has(0, 1));
        let base = PALETTE[b.rank % PALETTE.len()];
        for y in y0..y1 {
            for x in x0..x1 {
                let band = (west && x - x0 < band_x)
                    || (east && x1 - x < band_x + 1)
                    || (north && y - y0 < band_y)
                    || (south && y1 - y < band_y + 1);
                let c = if band {
                    base.map(|v| (v as u32 * 3 / 5) as u8)
                } else {
                    base
                };
                p.put(MARGIN + x, TITLE + y, c);
            }
        }
    }
    p.draw(|root| {
        let _ = root.draw_text(
            title,
            &(FONT, 15).into_font().color(&BLACK),
            (MARGIN as i32, 9),
        );
        let small = (FONT, 12).into_font().color(&BLACK);
        let note = format!("darker: cells sent to neighbours ({ghost} deep, their ghosts)");
        let _ = root.draw_text(&note, &small, (MARGIN as i32, (TITLE + h + 8) as i32));
        outline_blocks(root, decomp, (MARGIN, TITLE), (w, h), 1);
    })?;
    p.encode()
}

/// Outlines every block of `decomp`, drawn `w × h` pixels large at `origin`, and writes its rank
/// in the middle.
fn outline_blocks(
    root: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    decomp: &Decomposition,
    origin: (u32, u32),
    (w, h): (u32, u32),
    stroke: u32,
) {
    let px = |col: usize| (origin.0 as u64 + col as u64 * w as u64 / decomp.nx as u64) as i32;
    let py = |row: usize| (origin.1 as u64 + row as u64 * h as u64 / decomp.ny as u64) as i32;
    let label = ((w / decomp.grid.px as u32).min(h / decomp.grid.py as u32) / 3).clamp(8, 40);
    let style = (FONT, label as f64).into_font().color(&BLACK);
    for b in decomp.blocks() {
        let (x0, x1, y0, y1) = (
            px(b.cols.start),
            px(b.cols.end),
            py(b.rows.start),
            py(b.rows.end),
        );
        let _ = root.draw(&Rectangle::new(
            [(x0, y0), (x1, y1)],
            BLACK.stroke_width(stroke),
        ));
        let s = b.rank.to_string();
        let (tw, th) = root.estimate_text_size(&s, &style).unwrap_or((0, 0));
        let _ = root.draw_text(
            &s,
            &style,
            ((x0 + x1 - tw as i32) / 2, (y0 + y1 - th as i32) / 2),
        );
    }
}

/// One panel of [`block_sets_png`]: a grid of nodes and the blocks it is cut into.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockSet {
    /// The panel's caption: one or two lines, split at `'\n'`.
    pub caption: String,
    /// Nodes along x and y.
    pub n: (usize, usize),
    /// The blocks, in node indices, each coloured and numbered by its rank; a panel of one block
    /// names it `rank N`.
    pub blocks: Vec<Block>,
}

/// The side of a [`block_sets_png`] panel's longer axis, in pixels.
const SET_SIDE: u32 = 280;
/// Panels per row in [`block_sets_png`].
const SET_COLUMNS: usize = 3;
/// Space for a panel's two-line caption, and between panels.
const SET_CAPTION: u32 = 38;
const SET_GAP: u32 = 18;
/// Lines between nodes are drawn where nodes lie at least this many pixels apart.
const NODE_LINES_FROM: u32 = 4;

/// Block sets side by side, three to a row, under `title`, with `note` below them.
/// Every set covers the same domain, `domain` wide and high (its aspect ratio is what counts), so
/// a set of few nodes is visibly coarse: where its nodes lie at least 4 pixels apart, thin darker
/// lines separate them. Each block is filled with its rank's colour, outlined and numbered (left
/// unnumbered where too small to read). Returns the PNG file's bytes.
pub fn block_sets_png(
    title: &str,
    note: &str,
    domain: (f64, f64),
    sets: &[BlockSet],
) -> Result<Vec<u8>> {
    let ratio = if domain.0 > 0.0 && domain.1 > 0.0 {
        domain.1 / domain.0
    } else {
        1.0
    };
    let (fw, fh) = if ratio <= 1.0 {
        (SET_SIDE, ((SET_SIDE as f64 * ratio).round() as u32).max(1))
    } else {
        (((SET_SIDE as f64 / ratio).round() as u32).max(1), SET_SIDE)
    };
    let columns = sets.len().clamp(1, SET_COLUMNS);
    let rows = sets.len().div_ceil(SET_COLUMNS).max(1);
    let legend = 24;
    let w = (2 * MARGIN + columns as u32 * fw + (columns as u32 - 1) * SET_GAP).max(480);
    let h = TITLE + rows as u32 * (SET_CAPTION + fh + SET_GAP) + legend;
    let mut p = Picture::new(w, h);
    // Each panel's field: its top-left corner in the picture.
    let corner = |k: usize| {
        let (col, row) = ((k % SET_COLUMNS) as u32, (k / SET_COLUMNS) as u32);
        (
            MARGIN + col * (fw + SET_GAP),
            TITLE + row * (SET_CAPTION + fh + SET_GAP) + SET_CAPTION,
        )
    };
    for (k, set) in sets.iter().enumerate() {
        let (x0, y0) = corner(k);
        let (nx, ny) = (set.n.0.max(1), set.n.1.max(1));
        let px = |col: usize| (col as u64 * fw as u64 / nx as u64) as u32;
        let py = |row: usize| (row as u64 * fh as u64 / ny as u64) as u32;
        // Pixels on which a node (not the first) starts, where nodes are far enough apart.
        let starts = |n: usize, side: u32, at: &dyn Fn(usize) -> u32| {
            let mut line = vec![false; side as usize];
            if side as usize >= NODE_LINES_FROM as usize * n {
                for i in 1..n {
                    line[at(i) as usize] = true;
                }
            }
            line
        };
        let (line_x, line_y) = (starts(nx, fw, &px), starts(ny, fh, &py));
        for b in &set.blocks {
            let base = PALETTE[b.rank % PALETTE.len()];
            let dark = base.map(|v| (v as u32 * 4 / 5) as u8);
            // (Clipped to the grid: a block beyond it is drawn only where it overlaps.)
            let (cols, rows) = (b.cols.end.min(nx), b.rows.end.min(ny));
            for y in py(b.rows.start.min(rows))..py(rows) {
                for x in px(b.cols.start.min(cols))..px(cols) {
                    let c = if line_x[x as usize] || line_y[y as usize] {
                        dark
                    } else {
                        base
                    };
                    p.put(x0 + x, y0 + y, c);
                }
            }
        }
    }
    p.draw(|root| {
        let _ = root.draw_text(
            title,
            &(FONT, 15).into_font().color(&BLACK),
            (MARGIN as i32, 9),
        );
        let caption = (FONT, 13).into_font().color(&BLACK);
        for (k, set) in sets.iter().enumerate() {
            let (x0, y0) = corner(k);
            for (i, line) in set.caption.lines().take(2).enumerate() {
                let y = y0 as i32 - SET_CAPTION as i32 + 2 + 16 * i as i32;
                let _ = root.draw_text(line, &caption, (x0 as i32, y));
            }
            let (nx, ny) = (set.n.0.max(1) as u64, set.n.1.max(1) as u64);
            let px = |col: usize| x0 as i32 + (col as u64 * fw as u64 / nx) as i32;
            let py = |row: usize| y0 as i32 + (row as u64 * fh as u64 / ny) as i32;
            for b in &set.blocks {
                let (cols, rows) = (b.cols.end.min(nx as usize), b.rows.end.min(ny as usize));
                let (bx0, bx1, by0, by1) = (
                    px(b.cols.start.min(cols)),
                    px(cols),
                    py(b.rows.start.min(rows)),
                    py(rows),
                );
                let _ = root.draw(&Rectangle::new([(bx0, by0), (bx1, by1)], BLACK));
                let side = (bx1 - bx0).min(by1 - by0);
                if side < 14 {
                    continue;
                }
                let label = if set.blocks.len() == 1 {
                    format!("rank {}", b.rank)
                } else {
                    b.rank.to_string()
                };
                let size = (side / 3).clamp(9, 28);
                let style = (FONT, size as f64).into_font().color(&BLACK);
                let (tw, th) = root.estimate_text_size(&label, &style).unwrap_or((0, 0));
                let _ = root.draw_text(
                    &label,
                    &style,
                    ((bx0 + bx1 - tw as i32) / 2, (by0 + by1 - th as i32) / 2),
                );
            }
        }
        let small = (FONT, 12).into_font().color(&BLACK);
        let _ = root.draw_text(note, &small, (MARGIN as i32, (h - legend + 4) as i32));
    })?;
    p.encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_ends_and_nan() {
        assert_eq!(viridis(0.0), [68, 1, 84]);
        assert_eq!(viridis(1.0), [253, 231, 37]);
        assert_eq!(viridis(-3.0), viridis(0.0));
        assert_eq!(viridis(f64::NAN), [255, 0, 255]);
    }

    /// `field` sampled as `DistArray::sample` does, on one rank.
    fn sample(field: &Array2<f64>, (h, w): (usize, usize)) -> Array2<f64> {
        let (ny, nx) = field.dim();
        Array2::from_shape_fn((h, w), |p| field[picture_cell(p, (h, w), (nx, ny))])
    }

    #[test]
    fn a_picture_of_a_sample_is_the_picture_of_the_whole_field() {
        // Larger than the picture both ways, not a multiple of it, extremes between samples.
        let (nx, ny) = (1234, 1001);
        let field = Array2::from_shape_fn((ny, nx), |(i, j)| {
            let (x, y) = (j as f64 / nx as f64, i as f64 / ny as f64);
            (7.0 * x).sin() * (5.0 * y).cos() + if (i, j) == (3, 5) { 9.0 } else { 0.0 }
        });
        let shape = picture_shape(nx, ny);
        assert_eq!(shape, (730, 900));
        let s = sample(&field, shape);
        let sampled = Sampled {
            values: &s,
            range: finite_range(field.iter().copied()),
        };
        // The spike is in the range, not in the sample: its range alone would differ.
        assert_ne!(finite_range(s.iter().copied()), sampled.range);
        let whole = heatmap_png(&field, "t").unwrap();
        assert_eq!(sampled_heatmap_png(sampled, None, "t").unwrap(), whole);
        let d = Decomposition::new(nx, ny, crate::decomp::ProcGrid { px: 3, py: 2 }).unwrap();
        assert_eq!(
            sampled_decomposition_png(sampled, &d, "t").unwrap(),
            decomposition_png(&field, &d, "t").unwrap()
        );
        // A small grid is drawn larger than it is: its sample repeats cells, to the same bytes.
        let small = field.slice(ndarray::s![..50, ..70]).to_owned();
        let shape = picture_shape(70, 50);
        assert_eq!(shape, (300, 420));
        let s = sample(&small, shape);
        let sampled = Sampled {
            values: &s,
            range: finite_range(small.iter().copied()),
        };
        assert_eq!(
            sampled_heatmap_png(sampled, None, "t").unwrap(),
            heatmap_png(&small, "t").unwrap()
        );
    }

    #[test]
    fn sizes_stay_between_the_limits() {
        assert_eq!(field_size(4096, 2048), (900, 450));
        assert_eq!(field_size(10, 5), (360, 180));
        assert_eq!(field_size(1, 1), (360, 360));
    }

    #[test]
    fn block_sets_colour_blocks_by_rank_and_line_coarse_nodes() {
        let block = |rank, cols, rows| Block {
            rank,
            coords: (rank, 0),
            cols,
            rows,
        };
        let sets = [
            BlockSet {
                caption: "fine\ntwo ranks".into(),
                n: (100, 100),
                blocks: vec![block(0, 0..50, 0..100), block(1, 50..100, 0..100)],
            },
            BlockSet {
                caption: "coarse".into(),
                n: (3, 3),
                // Past the grid: clipped, not a panic.
                blocks: vec![block(0, 0..3, 0..4)],
            },
        ];
        let bytes = block_sets_png("t", "n", (1.0, 1.0), &sets).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut rgb).unwrap();
        let w = 2 * MARGIN + 2 * SET_SIDE + SET_GAP;
        assert_eq!(
            (info.width, info.height),
            (w, TITLE + SET_CAPTION + SET_SIDE + SET_GAP + 24)
        );
        let at = |x: u32, y: u32| {
            let k = ((y * info.width + x) * 3) as usize;
            [rgb[k], rgb[k + 1], rgb[k + 2]]
        };
        let y = TITLE + SET_CAPTION + 20;
        // The fine panel: rank 0's colour on the left, rank 1's on the right, no node lines
        // (100 nodes in 280 pixels).
        assert_eq!(at(MARGIN + 20, y), PALETTE[0]);
        assert_eq!(at(MARGIN + SET_SIDE - 20, y), PALETTE[1]);
        assert_eq!(at(MARGIN + 100, y), PALETTE[0]);
        // The coarse panel: 3 nodes, a darker line where the second starts (pixel 93).
        let x0 = MARGIN + SET_SIDE + SET_GAP;
        assert_eq!(at(x0 + 20, y), PALETTE[0]);
        assert_eq!(at(x0 + 93, y), PALETTE[0].map(|v| (v as u32 * 4 / 5) as u8));
    }
}
