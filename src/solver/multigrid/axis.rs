//! One axis of the level hierarchy: where its nodes sit, how it coarsens, its 1D operator and its
//! transfer weights. Pure index math, the same on every rank.
//!
//! Positions are integers in units of the finest spacing: the finest level's `n` nodes sit at
//! `1..=n`, the walls at `0` and `n + 1`. A coarsened axis keeps every second node (the fine
//! nodes of odd 0-based index, `1, 3, 5, …`), so a coarse node always sits on a fine one and every
//! other fine node lies between two coarse nodes, or between a coarse node and a wall. With
//! `n = 2ᵏ − 1` the coarse spacing is uniform; otherwise the last interval, next to the far wall,
//! is shorter than the others, and the operator and weights below follow the true distances.

/// One axis of one level.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The interior nodes' positions, increasing.
    pub pos: Vec<usize>,
    /// The far wall's position (`n + 1` of the finest level).
    pub wall: usize,
    /// The finest level's spacing in the domain's units.
    pub h0: f64,
}

/// How the nodes of a fine axis take the coarse correction, and how a coarse node gathers the
/// fine residual (the transpose): per node, the neighbours and weights. Indices are global and
/// may be `-1` or `n` (the walls, which lie in the ghost layer and hold 0).
#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    /// Per fine node: `(left coarse node, its weight, right coarse node, its weight)`; a fine node
    /// on a coarse one has weights `(1, 0)` and the same node twice.
    pub interpolate: Vec<(isize, f64, isize, f64)>,
    /// Per coarse node: `(its fine node c, weight of c − 1, weight of c + 1)`; the fine node
    /// itself has weight 1.
    pub restrict: Vec<(isize, f64, f64)>,
    /// Per fine node: cubic interpolation (full multigrid's), as four `(coarse node, weight)`
    /// taps: the Lagrange cubic through the four nearest coarse nodes and walls (fewer, padded
    /// with zero weights, where the axis has fewer).
    pub cubic: Vec<[(isize, f64); 4]>,
}

impl Axis {
    /// The finest level's axis: `n` nodes of spacing `h0`.
    pub fn finest(n: usize, h0: f64) -> Axis {
        Axis {
            pos: (1..=n).collect(),
            wall: n + 1,
            h0,
        }
    }

    /// Nodes on the axis.
    pub fn n(&self) -> usize {
        self.pos.len()
    }

    /// Whether the axis can lose half its nodes and keep one.
    pub fn coarsenable(&self) -> bool {
        self.n() >= 2
    }

    /// The axis with every second node: those of odd 0-based index.
    pub fn coarsened(&self) -> Axis {
        Axis {
            pos: self.pos.iter().skip(1).step_by(2).copied().collect(),
            wall: self.wall,
            h0: self.h0,
        }
    }

    /// The spacing between interior nodes in the domain's units (the first interval, which is
    /// always a whole one; only the last may be shorter).
    pub fn spacing(&self) -> f64 {
        self.pos.first().map_or(0.0, |&p| p as f64 * self.h0)
    }

    /// The distances from node `k` to its left and right neighbours (or walls), in the domain's
    /// units.
    fn gaps(&self, k: usize) -> (f64, f64) {
        let left = if k == 0 { 0 } else { self.pos[k - 1] };
        let right = self.pos.get(k + 1).copied().unwrap_or(self.wall);
        let p = self.pos[k];
        ((p - left) as f64 * self.h0, (right - p) as f64 * self.h0)
    }

    /// The 1D operator, node by node: `(1/h_left, 1/h_right, (h_left + h_right)/2)`, the
    /// couplings of the flux form `(u − u_l)/h_l + (u − u_r)/h_r` and the node's dual length.
    pub fn stiffness(&self) -> Vec<(f64, f64, f64)> {
        (0..self.n())
            .map(|k| {
                let (l, r) = self.gaps(k);
                (1.0 / l, 1.0 / r, 0.5 * (l + r))
            })
            .collect()
    }

    /// The transfer between this axis and `coarse`, which is either [`Axis::coarsened`] (linear
    /// interpolation by distance) or this axis itself (the identity, for a level that keeps
    /// this axis).
    pub fn transfer(&self, coarse: &Axis) -> Transfer {
        let n = self.n();
        if coarse.n() == n {
            return Transfer {
                interpolate: (0..n as isize).map(|k| (k, 1.0, k, 0.0)).collect(),
                restrict: (0..n as isize).map(|k| (k, 0.0, 0.0)).collect(),
                cubic: (0..n as isize)
                    .map(|k| [(k, 1.0), (k, 0.0), (k, 0.0), (k, 0.0)])
                    .collect(),
            };
        }
        debug_assert_eq!(coarse.n(), n / 2);
        // The position of fine node `k`, the walls included (k = -1 and k = n).
        let at = |k: isize| -> f64 {
            if k < 0 {
                0.0
            } else {
                self.pos.get(k as usize).copied().unwrap_or(self.wall) as f64
            }
        };
        let interpolate: Vec<(isize, f64, isize, f64)> = (0..n as isize)
            .map(|k| {
                if k % 2 == 1 {
                    let c = (k - 1) / 2;
                    (c, 1.0, c, 0.0)
                } else {
                    // Between fine nodes k − 1 and k + 1, which are coarse nodes k/2 − 1 and k/2
                    // (or walls).
                    let (l, p, r) = (at(k - 1), at(k), at(k + 1));
                    let span = r - l;
                    (k / 2 - 1, (r - p) / span, k / 2, (p - l) / span)
                }
            })
            .collect();
        let restrict = (0..coarse.n() as isize)
            .map(|c| {
                let k = 2 * c + 1;
                // The fine neighbours' weights towards coarse node c, zero for a wall.
                let left = interpolate[(k - 1) as usize].3;
                let right = interpolate
                    .get((k + 1) as usize)
                    .map_or(0.0, |&(_, wl, _, _)| wl);
                (k, left, right)
            })
            .collect();
        Transfer {
            interpolate,
            restrict,
            cubic: (0..n).map(|k| self.cubic_taps(coarse, k)).collect(),
        }
    }

    /// The cubic taps of fine node `k` from `coarse` (this axis coarsened).
    fn cubic_taps(&self, coarse: &Axis, k: usize) -> [(isize, f64); 4] {
        let nc = coarse.n() as isize;
        let k = k as isize;
        if k % 2 == 1 {
            let c = (k - 1) / 2;
            return [(c, 1.0), (c, 0.0), (c, 0.0), (c, 0.0)];
        }
        // Coarse nodes and the walls, -1 and nc, hold the data; take the four (or all, if fewer)
        // nearest fine node k, which lies between coarse k/2 − 1 and k/2.
        let at = |c: isize| -> f64 {
            if c < 0 {
                0.0
            } else {
                coarse.pos.get(c as usize).copied().unwrap_or(coarse.wall) as f64
            }
        };
        let width = (nc + 2).min(4);
        let start = (k / 2 - 2).clamp(-1, nc + 1 - width);
        let x = self.pos[k as usize] as f64;
        let mut taps = [(start, 0.0); 4];
        for a in 0..width {
            let ca = start + a;
            let mut w = 1.0;
            for b in 0..width {
                if b != a {
                    let cb = start + b;
                    w *= (x - at(cb)) / (at(ca) - at(cb));
                }
            }
            taps[a as usize] = (ca, w);
        }
        taps
    }
}

/// The coarsening rule: from a level's two axes, which to coarsen for the next level, or `None`
/// when this level is the coarsest.
///
/// An axis is coarsened when it has at least two nodes and its spacing is at most 1.5 × the
/// smallest spacing among the axes that can still be coarsened: square cells coarsen both ways,
/// and cells long in one direction coarsen only the other until they are square again
/// (semi-coarsening, which keeps point smoothers effective on stretched grids). The hierarchy
/// stops when no axis has more than three nodes.
pub fn coarsening(x: &Axis, y: &Axis) -> Option<(bool, bool)> {
    if x.n() <= 3 && y.n() <= 3 {
        return None;
    }
    let candidates = [x, y].map(|a| a.coarsenable().then(|| a.spacing()));
    let finest = candidates
        .iter()
        .flatten()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let pick = |h: Option<f64>| h.is_some_and(|h| h <= 1.5 * finest);
    let (cx, cy) = (pick(candidates[0]), pick(candidates[1]));
    (cx || cy).then_some((cx, cy))
}

/// Every level's axes, finest first, for an `nx × ny` grid of spacings `hx`, `hy`.
pub fn levels(nx: usize, ny: usize, hx: f64, hy: f64) -> Vec<(Axis, Axis)> {
    let mut out = vec![(Axis::finest(nx, hx), Axis::finest(ny, hy))];
    loop {
        let (x, y) = out.last().expect("at least the finest level");
        let Some((cx, cy)) = coarsening(x, y) else {
            return out;
        };
        let next = (
            if cx { x.coarsened() } else { x.clone() },
            if cy { y.coarsened() } else { y.clone() },
        );
        out.push(next);
    }
}

/// The first global index of each part of a coarsened axis, from the fine axis's: a rank keeps
/// the coarse nodes that sit on its fine nodes (fine `2c + 1` in `[a, b)` gives `c` in
/// `[⌊a/2⌋, ⌊b/2⌋)`). `cuts` holds every part's start and, last, the node count.
pub fn coarse_cuts(cuts: &[usize], coarsened: bool) -> Vec<usize> {
    if coarsened {
        cuts.iter().map(|&c| c / 2).collect()
    } else {
        cuts.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_sizes_coarsen_to_uniform_spacing_and_even_ones_keep_a_short_last_interval() {
        let a = Axis::finest(7, 0.125).coarsened();
        assert_eq!(a.pos, vec![2, 4, 6]);
        assert_eq!(a.stiffness()[2], (4.0, 4.0, 0.25));
        let b = Axis::finest(6, 1.0 / 7.0).coarsened();
        assert_eq!(b.pos, vec![2, 4, 6]);
        let (cw, ce, w) = b.stiffness()[2];
        assert!((cw - 3.5).abs() < 1e-12 && (ce - 7.0).abs() < 1e-12);
        assert!((w - 1.5 / 7.0).abs() < 1e-15);
    }

    #[test]
    fn interpolation_is_linear_by_distance_and_restriction_its_transpose() {
        for n in [1usize, 2, 5, 6, 7, 10] {
            let f = Axis::finest(n, 1.0 / (n + 1) as f64);
            let c = f.coarsened();
            let t = f.transfer(&c);
            // Linear functions vanishing at the left wall are interpolated exactly.
            let cval = |k: isize| {
                if k < 0 {
                    0.0
                } else {
                    c.pos.get(k as usize).map_or(0.0, |&p| p as f64)
                }
            };
            for (k, &(l, wl, r, wr)) in t.interpolate.iter().enumerate() {
                let got = wl * cval(l) + wr * cval(r);
                let near_far_wall = r as usize >= c.n() && wr > 0.0;
                if !near_far_wall {
                    assert!((got - f.pos[k] as f64).abs() < 1e-12, "n={n} k={k}");
                }
            }
            // R = Pᵀ entry by entry.
            for (ci, &(k, lw, rw)) in t.restrict.iter().enumerate() {
                let ci = ci as isize;
                let weight_from = |fine: isize| {
                    t.interpolate
                        .get(fine as usize)
                        .map_or(0.0, |&(l, wl, r, wr)| {
                            (if l == ci { wl } else { 0.0 })
                                + (if r == ci && r != l { wr } else { 0.0 })
                        })
                };
                assert_eq!(weight_from(k), 1.0);
                assert_eq!(weight_from(k - 1), lw, "n={n} c={ci}");
                assert_eq!(weight_from(k + 1), rw, "n={n} c={ci}");
            }
        }
    }

    #[test]
    fn cubic_interpolation_is_exact_for_cubics_vanishing_at_the_walls() {
        for n in [7usize, 6, 15, 20] {
            let f = Axis::finest(n, 1.0 / (n + 1) as f64);
            let c = f.coarsened();
            let t = f.transfer(&c);
            let wall = f.wall as f64;
            let p = |x: f64| x * (wall - x) * (x + 3.0);
            let cval = |k: isize| {
                if k < 0 {
                    0.0
                } else {
                    c.pos.get(k as usize).map_or(0.0, |&q| p(q as f64))
                }
            };
            for (k, taps) in t.cubic.iter().enumerate() {
                let got: f64 = taps.iter().map(|&(c, w)| w * cval(c)).sum();
                let want = p(f.pos[k] as f64);
                assert!(
                    (got - want).abs() < 1e-9 * want.abs().max(1.0),
                    "n={n} k={k}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn stretched_cells_coarsen_the_short_side_until_square() {
        let lv = levels(4095, 255, 1.0 / 4096.0, 1.0 / 256.0);
        let sizes: Vec<(usize, usize)> = lv.iter().map(|(x, y)| (x.n(), y.n())).collect();
        assert_eq!(
            &sizes[..6],
            &[
                (4095, 255),
                (2047, 255),
                (1023, 255),
                (511, 255),
                (255, 255),
                (127, 127)
            ]
        );
        let last = *sizes.last().unwrap();
        assert!(last.0 <= 3 && last.1 <= 3, "coarsest {last:?}");
        let square = levels(1023, 1023, 1.0 / 1024.0, 1.0 / 1024.0);
        assert_eq!(square.len(), 9);
        assert_eq!((square[8].0.n(), square[8].1.n()), (3, 3));
        // Any size ends in a small coarsest grid.
        for (nx, ny) in [(1, 1), (2, 9), (100, 37), (1000, 3)] {
            let lv = levels(nx, ny, 1.0 / (nx + 1) as f64, 1.0 / (ny + 1) as f64);
            let (x, y) = lv.last().unwrap();
            assert!(x.n() <= 3 && y.n() <= 3 || !x.coarsenable() && !y.coarsenable());
        }
    }

    #[test]
    fn coarse_parts_hold_the_coarse_nodes_on_their_fine_nodes() {
        let fine = [0, 3, 7, 10];
        let coarse = coarse_cuts(&fine, true);
        assert_eq!(coarse, vec![0, 1, 3, 5]);
        for (p, w) in fine.windows(2).enumerate() {
            for c in coarse[p]..coarse[p + 1] {
                assert!((w[0]..w[1]).contains(&(2 * c + 1)));
            }
        }
    }
}
