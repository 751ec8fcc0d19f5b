//! Grid-refinement studies: the same problem on finer and finer grids, the observed order of
//! accuracy and the Richardson-extrapolated value of every quantity a run reports.
//!
//! A quantity `q` computed with cell size `h` behaves as `q(h) ≈ q* + C·hᵖ`. From three grids
//! refined by one ratio `r = h₁/h₂ = h₂/h₃` the observed order is
//! `p = ln(|q₁ − q₂| / |q₂ − q₃|) / ln r` and the extrapolated value `q₃ + (q₃ − q₂)/(rᵖ − 1)`.
//! An error against an exact solution (`error`, whose limit is 0) gives its order from two grids:
//! `p = ln(e₁/e₂) / ln(h₁/h₂)`, from the last two (and no extrapolation: with that order it
//! is 0 by construction).
//!
//! Grids are `nx × ny` interior cells of the unit square, `h = 1/(n + 1)` along each side (the
//! walls lie in the ghost layer). Each step must refine both sides by the same ratio, above 1;
//! an order from three values further needs the last two steps to share one ratio, within
//! [`RATIO_TOLERANCE`] (127, 255, 511 do exactly: h = 1/128, 1/256, 1/512).

use crate::error::{Error, Result};
use crate::solver::Problem;

/// How far two refinement ratios may differ, relatively, and still count as one.
pub const RATIO_TOLERANCE: f64 = 0.01;

/// What a quantity's limit is known to be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// An error against an exact solution: its limit is 0, its order comes from the errors.
    Zero,
    /// A value whose limit is unknown (or known for some settings; see [`reference()`]).
    Value,
}

/// A quantity a `halo solve --json` report may carry that converges as the grid is refined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantity {
    /// Its key in the report.
    pub name: &'static str,
    /// Its limit.
    pub limit: Limit,
}

/// The quantities a study looks for in every grid's report, in the order it lists them; a
/// quantity missing from any grid's report is left out of the study. New quantities plug in by
/// name here (the cavity's come from [`crate::solver::cavity::CavityQuantities`]; its
/// secondary vortices only where every grid resolves them). `checksum` is not one: a sum over
/// the cells grows with the grid.
pub const QUANTITIES: &[Quantity] = &[
    Quantity {
        name: "error",
        limit: Limit::Zero,
    },
    Quantity {
        name: "psi_min",
        limit: Limit::Value,
    },
    Quantity {
        name: "psi_min_x",
        limit: Limit::Value,
    },
    Quantity {
        name: "psi_min_y",
        limit: Limit::Value,
    },
    Quantity {
        name: "omega_center",
        limit: Limit::Value,
    },
    Quantity {
        name: "u_min",
        limit: Limit::Value,
    },
    Quantity {
        name: "u_min_y",
        limit: Limit::Value,
    },
    Quantity {
        name: "v_max",
        limit: Limit::Value,
    },
    Quantity {
        name: "v_max_x",
        limit: Limit::Value,
    },
    Quantity {
        name: "v_min",
        limit: Limit::Value,
    },
    Quantity {
        name: "v_min_x",
        limit: Limit::Value,
    },
    Quantity {
        name: "psi_br",
        limit: Limit::Value,
    },
    Quantity {
        name: "psi_br_x",
        limit: Limit::Value,
    },
    Quantity {
        name: "psi_br_y",
        limit: Limit::Value,
    },
    Quantity {
        name: "psi_bl",
        limit: Limit::Value,
    },
    Quantity {
        name: "psi_bl_x",
        limit: Limit::Value,
    },
    Quantity {
        name: "psi_bl_y",
        limit: Limit::Value,
    },
];

/// Botella & Peyret (1998, Computers & Fluids 27:421), the lid-driven cavity at Re 1000, lid
/// moving in +x at y = 1: spectral values accurate to every digit shown. Their lid moves in −x:
/// mirrored (x → 1 − x, u → −u), ψ and ω change sign, and ω is halo's `v_x − u_y`, negative in
/// the primary vortex.
const BOTELLA_PEYRET_RE1000: &[(&str, f64)] = &[
    ("psi_min", -0.1189366),
    ("psi_min_x", 0.5308),
    ("psi_min_y", 0.5652),
    ("omega_center", -2.067753),
    ("u_min", -0.3885698),
    ("u_min_y", 0.1717),
    ("v_max", 0.3769447),
    ("v_max_x", 0.1578),
    ("v_min", -0.5270771),
    ("v_min_x", 0.9092),
];

/// The known limit of quantity `name` for `problem` (at Reynolds number `re` for the cavity):
/// 0 for an error, Botella & Peyret's value for the cavity at Re 1000, else `None`.
pub fn reference(name: &str, problem: Problem, re: f64) -> Option<f64> {
    match QUANTITIES.iter().find(|q| q.name == name)?.limit {
        Limit::Zero => Some(0.0),
        Limit::Value if problem == Problem::Cavity && re == 1000.0 => BOTELLA_PEYRET_RE1000
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, v)| v),
        Limit::Value => None,
    }
}

/// The cell sides `(hx, hy)` of an `nx × ny` grid of the unit square.
pub fn cell_size((nx, ny): (usize, usize)) -> (f64, f64) {
    (1.0 / (nx + 1) as f64, 1.0 / (ny + 1) as f64)
}

/// The refinement ratios `h_i / h_{i+1}` between consecutive grids; refuses fewer than two
/// grids, and a step that does not refine both sides by one ratio above 1.
pub fn ratios(grids: &[(usize, usize)]) -> Result<Vec<f64>> {
    if grids.len() < 2 {
        return Err(Error::Config(format!(
            "--grids needs at least 2 grids (3 for the order of values other than the error), \
             coarsest first, e.g. 127x127,255x255,511x511; got {}",
            grids.len()
        )));
    }
    grids
        .windows(2)
        .map(|w| {
            let (a, b) = (cell_size(w[0]), cell_size(w[1]));
            let (rx, ry) = (a.0 / b.0, a.1 / b.1);
            let name = |g: (usize, usize)| format!("{}x{}", g.0, g.1);
            if rx <= 1.0 + RATIO_TOLERANCE || ry <= 1.0 + RATIO_TOLERANCE {
                return Err(Error::Config(format!(
                    "--grids: {} is not finer than {} along both sides; list the grids coarsest \
                     first",
                    name(w[1]),
                    name(w[0])
                )));
            }
            if (rx / ry - 1.0).abs() > RATIO_TOLERANCE {
                return Err(Error::Config(format!(
                    "--grids: {} to {} refines x by {rx:.3} but y by {ry:.3}; refine both by one \
                     ratio",
                    name(w[0]),
                    name(w[1])
                )));
            }
            Ok((rx * ry).sqrt())
        })
        .collect()
}

/// The ratio of the last two refinements when they agree within [`RATIO_TOLERANCE`] (their
/// geometric mean), else `None`; `None` too with fewer than two.
pub fn common_ratio(ratios: &[f64]) -> Option<f64> {
    match ratios {
        [.., a, b] if (a / b - 1.0).abs() <= RATIO_TOLERANCE => Some((a * b).sqrt()),
        _ => None,
    }
}

/// The observed order of a value from its last three grids, refined by one ratio `r`:
/// `ln(|q₁ − q₂| / |q₂ − q₃|) / ln r`. `None` with fewer than three values, when a difference is
/// 0, or when the differences change sign (the values oscillate: no asymptotic order).
pub fn value_order(values: &[f64], r: f64) -> Option<f64> {
    let [.., q1, q2, q3] = values else {
        return None;
    };
    let (d12, d23) = (q1 - q2, q2 - q3);
    if d12 == 0.0 || d23 == 0.0 || (d12 > 0.0) != (d23 > 0.0) || r <= 1.0 {
        return None;
    }
    finite((d12 / d23).ln() / r.ln())
}

/// The observed order of an error (limit 0) from its last two grids, refined by `r`:
/// `ln(e₁/e₂) / ln r`. `None` with fewer than two errors or one not positive.
pub fn error_order(errors: &[f64], r: f64) -> Option<f64> {
    let [.., e1, e2] = errors else {
        return None;
    };
    let (e1, e2) = (e1.abs(), e2.abs());
    if e1 == 0.0 || e2 == 0.0 || r <= 1.0 {
        return None;
    }
    finite((e1 / e2).ln() / r.ln())
}

/// Richardson's extrapolation from the last two values `q₂, q₃`, refined by `r`, of order `p`:
/// `q₃ + (q₃ − q₂)/(rᵖ − 1)`. `None` when `rᵖ` is 1 (order 0).
pub fn extrapolate(q2: f64, q3: f64, r: f64, p: f64) -> Option<f64> {
    let d = r.powf(p) - 1.0;
    if d == 0.0 {
        return None;
    }
    finite(q3 + (q3 - q2) / d)
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// One quantity's study: its values per grid, coarsest first, and what they imply.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Estimate {
    /// The values, one per grid.
    pub values: Vec<f64>,
    /// The observed order of accuracy, when the values allow one.
    pub observed_order: Option<f64>,
    /// The Richardson-extrapolated value, when an order was observed; never for an error, whose
    /// extrapolation with its own order is 0 by construction.
    pub extrapolated: Option<f64>,
    /// The known limit, if any.
    pub reference: Option<f64>,
}

/// Studies `values` (one per grid, coarsest first) of a quantity with limit `limit` and known
/// limit `reference`, the grids refined by `ratios` (see [`ratios`]).
pub fn estimate(values: &[f64], ratios: &[f64], limit: Limit, reference: Option<f64>) -> Estimate {
    let (order, r) = match limit {
        Limit::Zero => {
            let r = ratios.last().copied().unwrap_or(f64::NAN);
            (error_order(values, r), r)
        }
        Limit::Value => match common_ratio(ratios) {
            Some(r) => (value_order(values, r), r),
            None => (None, f64::NAN),
        },
    };
    // An error extrapolated with the order of its own last two values is 0 by construction:
    // nothing to report.
    let extrapolated = match (limit, order, values) {
        (Limit::Value, Some(p), [.., q2, q3]) => extrapolate(*q2, *q3, r, p),
        _ => None,
    };
    Estimate {
        values: values.to_vec(),
        observed_order: order,
        extrapolated,
        reference,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// q(h) = q* + C·hᵖ sampled on `hs`.
    fn sample(q: f64, c: f64, p: f64, hs: &[f64]) -> Vec<f64> {
        hs.iter().map(|h| q + c * h.powf(p)).collect()
    }

    #[test]
    fn exact_power_laws_give_their_order_and_limit() {
        let hs = [1.0 / 32.0, 1.0 / 64.0, 1.0 / 128.0];
        for (q, c, p) in [(1.5, 3.0, 2.0), (-0.12, -0.7, 1.0), (2.0, 0.4, 4.0)] {
            let v = sample(q, c, p, &hs);
            let e = estimate(&v, &[2.0, 2.0], Limit::Value, None);
            assert!((e.observed_order.unwrap() - p).abs() < 1e-9, "{e:?}");
            assert!((e.extrapolated.unwrap() - q).abs() < 1e-12, "{e:?}");
        }
        // Errors: the order from the last two, whatever came before; no extrapolation, which
        // would be 0 by construction.
        let errs = [9.0, 4e-3, 1e-3];
        let e = estimate(&errs, &[2.0, 2.0], Limit::Zero, Some(0.0));
        assert!((e.observed_order.unwrap() - 2.0).abs() < 1e-12);
        assert_eq!(e.extrapolated, None);
        assert!(extrapolate(4e-3, 1e-3, 2.0, 2.0).unwrap().abs() < 1e-18);
        assert_eq!(error_order(&[1e-2, 1e-3], 10.0), Some(1.0));
    }

    #[test]
    fn orders_need_enough_grids_and_monotone_values() {
        assert_eq!(value_order(&[1.0, 0.5], 2.0), None);
        assert_eq!(error_order(&[1.0], 2.0), None);
        // Oscillating values have no asymptotic order; equal ones none either.
        assert_eq!(value_order(&[1.0, 0.5, 0.75], 2.0), None);
        assert_eq!(value_order(&[1.0, 1.0, 1.0], 2.0), None);
        assert_eq!(error_order(&[1.0, 0.0], 2.0), None);
        let e = estimate(&[1.0, 0.5, 0.75], &[2.0, 2.0], Limit::Value, None);
        assert_eq!((e.observed_order, e.extrapolated), (None, None));
        // Order 0 cannot be extrapolated.
        assert_eq!(extrapolate(1.0, 2.0, 2.0, 0.0), None);
    }

    #[test]
    fn grids_must_refine_both_sides_by_one_ratio() {
        let r = ratios(&[(31, 31), (63, 63), (127, 127)]).unwrap();
        assert_eq!(r, [2.0, 2.0]);
        let r = ratios(&[(127, 63), (255, 127)]).unwrap();
        assert_eq!(r, [2.0]);
        assert!(ratios(&[(31, 31)]).is_err());
        assert!(ratios(&[(63, 63), (31, 31)]).is_err());
        assert!(ratios(&[(31, 31), (31, 31)]).is_err());
        assert!(ratios(&[(31, 31), (63, 31)]).is_err());
        assert!(ratios(&[(31, 31), (63, 127)]).is_err());
        // Not one ratio over the last two steps: no order from values, one from errors.
        let r = ratios(&[(31, 31), (63, 63), (255, 255)]).unwrap();
        assert_eq!(common_ratio(&r), None);
        let e = estimate(&[1.0, 0.75, 0.7], &r, Limit::Value, None);
        assert_eq!(e.observed_order, None);
        let e = estimate(&[4e-3, 1e-3, 6.25e-5], &r, Limit::Zero, Some(0.0));
        assert!((e.observed_order.unwrap() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn references_by_name() {
        assert_eq!(reference("error", Problem::Heat, 100.0), Some(0.0));
        assert_eq!(
            reference("psi_min", Problem::Cavity, 1000.0),
            Some(-0.1189366)
        );
        assert_eq!(reference("psi_min", Problem::Cavity, 100.0), None);
        assert_eq!(
            reference("omega_center", Problem::Cavity, 1000.0),
            Some(-2.067753)
        );
        assert_eq!(reference("psi_br", Problem::Cavity, 1000.0), None);
        assert_eq!(reference("checksum", Problem::Poisson, 100.0), None);
    }
}
