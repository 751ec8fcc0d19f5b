//! Published solutions of the lid-driven cavity to check against.

/// Ghia, Ghia & Shin (1982), Table I, the Re = 100 column: `(y, u)` along the vertical
/// centreline x = 0.5, on their uniform 129 × 129 grid (walls included). U. Ghia, K. N. Ghia and
/// C. T. Shin, "High-Re solutions for incompressible flow using the Navier–Stokes equations and a
/// multigrid method", J. Comput. Phys. 48 (1982) 387–411.
pub const GHIA_RE100_U: [(f64, f64); 17] = [
    (1.0000, 1.00000),
    (0.9766, 0.84123),
    (0.9688, 0.78871),
    (0.9609, 0.73722),
    (0.9531, 0.68717),
    (0.8516, 0.23151),
    (0.7344, 0.00332),
    (0.6172, -0.13641),
    (0.5000, -0.20581),
    (0.4531, -0.21090),
    (0.2813, -0.15662),
    (0.1719, -0.10150),
    (0.1016, -0.06434),
    (0.0703, -0.04775),
    (0.0625, -0.04192),
    (0.0547, -0.03717),
    (0.0000, 0.00000),
];

/// Ghia, Ghia & Shin (1982), Table II, the Re = 100 column: `(x, v)` along the horizontal
/// centreline y = 0.5 (see [`GHIA_RE100_U`]).
pub const GHIA_RE100_V: [(f64, f64); 17] = [
    (1.0000, 0.00000),
    (0.9688, -0.05906),
    (0.9609, -0.07391),
    (0.9531, -0.08864),
    (0.9453, -0.10313),
    (0.9063, -0.16914),
    (0.8594, -0.22445),
    (0.8047, -0.24533),
    (0.5000, 0.05454),
    (0.2344, 0.17527),
    (0.2266, 0.17507),
    (0.1563, 0.16077),
    (0.0938, 0.12317),
    (0.0781, 0.10890),
    (0.0703, 0.10091),
    (0.0625, 0.09233),
    (0.0000, 0.00000),
];

/// Ghia, Ghia & Shin (1982), Table I, the Re = 400 column: `(y, u)` along x = 0.5 (see
/// [`GHIA_RE100_U`]).
pub const GHIA_RE400_U: [(f64, f64); 17] = [
    (0.0, 0.0),
    (0.0547, -0.08186),
    (0.0625, -0.09266),
    (0.0703, -0.10338),
    (0.1016, -0.14612),
    (0.1719, -0.24299),
    (0.2813, -0.32726),
    (0.4531, -0.17119),
    (0.5, -0.11477),
    (0.6172, 0.02135),
    (0.7344, 0.16256),
    (0.8516, 0.29093),
    (0.9531, 0.55892),
    (0.9609, 0.61756),
    (0.9688, 0.68439),
    (0.9766, 0.75837),
    (1.0, 1.0),
];

/// Ghia, Ghia & Shin (1982), Table II, the Re = 400 column: `(x, v)` along y = 0.5, as printed.
/// The value at x = 0.9063, −0.23827, is a known misprint: it breaks the profile between its
/// neighbours (−0.44993 and −0.22847), and every fine-grid solution reads about −0.38 there
/// ([`GHIA_RE400_V_MISPRINT`]).
pub const GHIA_RE400_V: [(f64, f64); 17] = [
    (0.0, 0.0),
    (0.0625, 0.18360),
    (0.0703, 0.19713),
    (0.0781, 0.20920),
    (0.0938, 0.22965),
    (0.1563, 0.28124),
    (0.2266, 0.30203),
    (0.2344, 0.30174),
    (0.5, 0.05186),
    (0.8047, -0.38598),
    (0.8594, -0.44993),
    (0.9063, -0.23827),
    (0.9453, -0.22847),
    (0.9531, -0.19254),
    (0.9609, -0.15663),
    (0.9688, -0.12146),
    (1.0, 0.0),
];

/// The x of the misprinted point of [`GHIA_RE400_V`], to leave out of comparisons.
pub const GHIA_RE400_V_MISPRINT: f64 = 0.9063;

/// Botella & Peyret (1998, Computers & Fluids 27:421), Table 9: `(y, u)` along x = 0.5 at
/// Re = 1000, spectral (N = 160), in halo's orientation (their lid moves in −x: u changes sign).
pub const BOTELLA_PEYRET_RE1000_U: [(f64, f64); 17] = [
    (0.0, 0.0),
    (0.0547, -0.1812881),
    (0.0625, -0.2023300),
    (0.0703, -0.2228955),
    (0.1016, -0.3004561),
    (0.1719, -0.3885691),
    (0.2813, -0.2803696),
    (0.4531, -0.1081999),
    (0.5, -0.0620561),
    (0.6172, 0.0570178),
    (0.7344, 0.1886747),
    (0.8516, 0.3372212),
    (0.9531, 0.4723329),
    (0.9609, 0.5169277),
    (0.9688, 0.5808359),
    (0.9766, 0.6644227),
    (1.0, 1.0),
];

/// Botella & Peyret (1998), Table 10: `(x, v)` along y = 0.5 at Re = 1000 (see
/// [`BOTELLA_PEYRET_RE1000_U`]).
pub const BOTELLA_PEYRET_RE1000_V: [(f64, f64); 17] = [
    (0.0, 0.0),
    (0.0625, 0.2807056),
    (0.0703, 0.2962703),
    (0.0781, 0.3099097),
    (0.0938, 0.3330442),
    (0.1563, 0.3769189),
    (0.2266, 0.3339924),
    (0.2344, 0.3253592),
    (0.5, 0.0257995),
    (0.8047, -0.3202137),
    (0.8594, -0.4264545),
    (0.9063, -0.5264392),
    (0.9453, -0.4103754),
    (0.9531, -0.3553213),
    (0.9609, -0.2936869),
    (0.9688, -0.2279225),
    (1.0, 0.0),
];

/// A published solution along the two centrelines.
#[derive(Debug, Clone, Copy)]
pub struct Centrelines {
    /// Who published it.
    pub source: &'static str,
    /// `(y, u)` along x = 0.5.
    pub u: &'static [(f64, f64)],
    /// `(x, v)` along y = 0.5.
    pub v: &'static [(f64, f64)],
}

/// The published centrelines at Reynolds number `re`, if any: Ghia et al.'s at 100 and 400,
/// Botella & Peyret's at 1000.
pub fn centrelines(re: f64) -> Option<Centrelines> {
    let ghia = "Ghia et al. 1982";
    match re {
        100.0 => Some(Centrelines {
            source: ghia,
            u: &GHIA_RE100_U,
            v: &GHIA_RE100_V,
        }),
        400.0 => Some(Centrelines {
            source: ghia,
            u: &GHIA_RE400_U,
            v: &GHIA_RE400_V,
        }),
        1000.0 => Some(Centrelines {
            source: "Botella & Peyret 1998",
            u: &BOTELLA_PEYRET_RE1000_U,
            v: &BOTELLA_PEYRET_RE1000_V,
        }),
        _ => None,
    }
}
