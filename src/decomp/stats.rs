//! What a decomposition costs: halo traffic per rank, surface-to-volume, load imbalance.

use super::halo::{send_rect, Dir, Stencil};
use super::{Decomposition, ProcGrid};
use crate::error::Result;

/// The most ranks [`cost`] lists one by one (and `halo decomp` prints). A list holds a few
/// hundred bytes a rank and grows with the rank count, past what anyone reads; the totals cover
/// every rank, however many.
pub const LISTED_RANKS: usize = 4096;

/// One rank's share of a decomposition and its halo traffic per exchange.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RankCost {
    /// The rank.
    pub rank: usize,
    /// Its process-grid coordinates `(cx, cy)`.
    pub coords: (usize, usize),
    /// Its first global column and row.
    pub offset: (usize, usize),
    /// Its block's size `(nx, ny)`.
    pub size: (usize, usize),
    /// The ranks it exchanges with, by direction name (`n`, `s`, `w`, `e`, `nw`, …).
    pub neighbors: Vec<(String, usize)>,
    /// Messages it sends per exchange.
    pub messages: usize,
    /// Cells it sends per exchange.
    pub halo_cells: usize,
    /// Bytes it sends per exchange (8 per `f64` cell).
    pub halo_bytes: usize,
}

/// The cost of one decomposition with a given ghost width and stencil.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DecompCost {
    /// The process grid.
    pub px: usize,
    /// The process grid.
    pub py: usize,
    /// Every rank, in rank order: from [`cost`] for at most [`LISTED_RANKS`] ranks, else `None`
    /// (and left out of the JSON), as from [`compare`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranks: Option<Vec<RankCost>>,
    /// Bytes all ranks send per exchange.
    pub total_bytes: usize,
    /// The most bytes one rank sends per exchange.
    pub max_bytes: usize,
    /// Cells sent per exchange over cells owned, all ranks together.
    pub surface_to_volume: f64,
    /// The largest block over the mean block, in cells (1 is perfect balance).
    pub imbalance: f64,
}

fn dir_name(d: Dir) -> String {
    let ns = match d.dy {
        -1 => "n",
        1 => "s",
        _ => "",
    };
    let we = match d.dx {
        -1 => "w",
        1 => "e",
        _ => "",
    };
    format!("{ns}{we}")
}

/// One rank's block and halo traffic in `decomp` with `ghost` layers and `stencil`,
/// non-periodic edges.
pub fn rank_cost(decomp: &Decomposition, rank: usize, ghost: usize, stencil: Stencil) -> RankCost {
    let b = decomp.block(rank);
    let mut neighbors = Vec::new();
    let mut cells = 0usize;
    for &d in Dir::of(stencil) {
        if let Some(n) = decomp.grid.neighbor(b.rank, d.dx, d.dy, false, false) {
            neighbors.push((dir_name(d), n));
            cells = cells.saturating_add(send_rect(b.nx(), b.ny(), ghost, d).cells());
        }
    }
    RankCost {
        rank: b.rank,
        coords: b.coords,
        offset: (b.cols.start, b.rows.start),
        size: (b.nx(), b.ny()),
        messages: neighbors.len(),
        neighbors,
        halo_cells: cells,
        halo_bytes: cells.saturating_mul(8),
    }
}

/// Ranks along one axis of a process grid that are alike: `count` of them, each `len` cells
/// long, with (`before`) or without a neighbour on the low side, and (`after`) on the high side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Alike {
    count: usize,
    len: usize,
    before: bool,
    after: bool,
}

/// The ranks along an axis of `n` cells split into `parts`, in at most six groups of alike ones
/// (first, middle and last, each of the longer and the shorter blocks): what the cost of any
/// rank depends on, counted without visiting each rank.
fn alike(n: usize, parts: usize) -> Vec<Alike> {
    let (base, extra) = (n / parts, n % parts);
    let ends = [0, 1.min(parts), parts.saturating_sub(1).max(1), parts];
    let mut out = Vec::new();
    for w in ends.windows(2) {
        let (a, b) = (w[0], w[1]);
        // The first `extra` ranks have one cell more.
        let cut = extra.clamp(a, b);
        // (`base + 1` saturates only where no rank has it: one part of `usize::MAX` cells.)
        for (lo, hi, len) in [(a, cut, base.saturating_add(1)), (cut, b, base)] {
            if lo < hi {
                out.push(Alike {
                    count: hi - lo,
                    len,
                    before: a > 0,
                    after: b < parts,
                });
            }
        }
    }
    out
}

/// The halo traffic of `decomp` with `ghost` layers and `stencil`, non-periodic edges. The
/// totals take a few steps whatever the rank count; the per-rank list is made for at most
/// [`LISTED_RANKS`] ranks.
pub fn cost(decomp: &Decomposition, ghost: usize, stencil: Stencil) -> DecompCost {
    let ranks = (decomp.ranks() <= LISTED_RANKS).then(|| {
        (0..decomp.ranks())
            .map(|r| rank_cost(decomp, r, ghost, stencil))
            .collect()
    });
    DecompCost {
        ranks,
        ..totals(decomp, ghost, stencil)
    }
}

/// [`cost`] without the per-rank list.
fn totals(decomp: &Decomposition, ghost: usize, stencil: Stencil) -> DecompCost {
    let (columns, rows) = (
        alike(decomp.nx, decomp.grid.px),
        alike(decomp.ny, decomp.grid.py),
    );
    let (mut total, mut most, mut biggest) = (0usize, 0usize, 0usize);
    for x in &columns {
        for y in &rows {
            let sends = |d: &Dir| {
                let side = |step: i8, a: &Alike| match step {
                    -1 => a.before,
                    1 => a.after,
                    _ => true,
                };
                side(d.dx, x) && side(d.dy, y)
            };
            let cells = Dir::of(stencil)
                .iter()
                .filter(|d| sends(d))
                .map(|&d| send_rect(x.len, y.len, ghost, d).cells())
                .fold(0usize, usize::saturating_add);
            let ranks = x.count.saturating_mul(y.count);
            total = total.saturating_add(cells.saturating_mul(ranks));
            most = most.max(cells);
            biggest = biggest.max(x.len.saturating_mul(y.len));
        }
    }
    let owned = decomp
        .nx
        .checked_mul(decomp.ny)
        .map_or(decomp.nx as f64 * decomp.ny as f64, |c| c as f64);
    DecompCost {
        px: decomp.grid.px,
        py: decomp.grid.py,
        ranks: None,
        total_bytes: total.saturating_mul(8),
        max_bytes: most.saturating_mul(8),
        surface_to_volume: total as f64 / owned,
        imbalance: biggest as f64 / (owned / decomp.ranks() as f64),
    }
}

/// Every feasible process grid for `ranks` ranks on an `nx × ny` grid, cheapest first (by total
/// bytes per exchange, then by the busiest rank's bytes); their totals, without per-rank lists.
/// Takes about `√ranks` steps; a rank count that cannot split the grid is refused at once.
pub fn compare(
    nx: usize,
    ny: usize,
    ranks: usize,
    ghost: usize,
    stencil: Stencil,
) -> Result<Vec<DecompCost>> {
    ProcGrid::check_count(ranks, nx, ny)?;
    let mut all: Vec<DecompCost> = ProcGrid::factorizations(ranks)
        .into_iter()
        .filter_map(|g| Decomposition::new(nx, ny, g).ok())
        .map(|d| totals(&d, ghost, stencil))
        .collect();
    if all.is_empty() {
        // Let the automatic choice explain why nothing fits.
        Decomposition::auto(nx, ny, ranks)?;
    }
    all.sort_by_key(|c| (c.total_bytes, c.max_bytes, c.px));
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(nx: usize, ny: usize, px: usize, py: usize) -> Decomposition {
        Decomposition::new(nx, ny, ProcGrid::new(px, py).unwrap()).unwrap()
    }

    #[test]
    fn a_prime_rank_count_in_strips_by_hand() {
        // 1000x600 over 5 ranks as 5x1: blocks 200x600; inner ranks send a 600-cell column each
        // way, edge ranks one.
        let c = cost(&grid(1000, 600, 5, 1), 1, Stencil::Star);
        let listed = c.ranks.as_ref().unwrap();
        let cells: Vec<usize> = listed.iter().map(|r| r.halo_cells).collect();
        assert_eq!(cells, vec![600, 1200, 1200, 1200, 600]);
        assert_eq!(c.total_bytes, 8 * 4800);
        assert_eq!(c.max_bytes, 8 * 1200);
        assert_eq!(c.imbalance, 1.0);
        assert!((c.surface_to_volume - 4800.0 / 600_000.0).abs() < 1e-15);
        assert_eq!(listed[2].neighbors, vec![("w".into(), 1), ("e".into(), 3)]);
        assert_eq!(listed[2].offset, (400, 0));
    }

    #[test]
    fn uneven_splits_by_hand() {
        // 10x7 over 3x2: columns 4,3,3; rows 4,3. Rank 0 (4x4) sends 4 east + 4 south = 8 cells;
        // rank 1 (3x4) sends 4 west, 4 east, 3 south = 11; rank 4 (3x3): 3+3+3 = 9.
        let c = cost(&grid(10, 7, 3, 2), 1, Stencil::Star);
        let listed = c.ranks.as_ref().unwrap();
        assert_eq!(listed[0].halo_cells, 8);
        assert_eq!(listed[1].halo_cells, 11);
        assert_eq!(listed[4].halo_cells, 9);
        assert_eq!(listed[4].size, (3, 3));
        // Largest block 16 cells, mean 70/6.
        assert!((c.imbalance - 16.0 / (70.0 / 6.0)).abs() < 1e-15);
    }

    #[test]
    fn ghost_width_2_with_corners_by_hand() {
        // 12x12 over 2x2, ghost 2, box stencil: each 6x6 block sends two 2x6 faces and one 2x2
        // corner: 12 + 12 + 4 = 28 cells, 3 messages.
        let c = cost(&grid(12, 12, 2, 2), 2, Stencil::Box);
        for r in c.ranks.as_ref().unwrap() {
            assert_eq!((r.halo_cells, r.messages), (28, 3));
        }
        assert_eq!(c.total_bytes, 4 * 28 * 8);
    }

    #[test]
    fn compare_ranks_every_factorisation_cheapest_first() {
        let all = compare(1000, 600, 6, 1, Stencil::Star).unwrap();
        let grids: Vec<(usize, usize)> = all.iter().map(|c| (c.px, c.py)).collect();
        // Star, ghost 1: total cells = 2·((px−1)·ny + (py−1)·nx).
        // 3x2: 2·(1200+1000)=4400; 2x3: 2·(600+2000)=5200; 6x1: 6000; 1x6: 10000.
        assert_eq!(grids, vec![(3, 2), (2, 3), (6, 1), (1, 6)]);
        assert_eq!(all[0].total_bytes, 8 * 4400);
        let auto = ProcGrid::auto(6, 1000, 600).unwrap();
        assert_eq!((auto.px, auto.py), grids[0]);
        assert!(compare(2, 2, 7, 1, Stencil::Star).is_err());
        // Grids, not ranks: no per-rank lists, whatever the count.
        assert!(all.iter().all(|c| c.ranks.is_none()));
    }

    #[test]
    fn totals_by_alike_ranks_are_the_sums_over_every_rank() {
        for (nx, ny) in [(1, 1), (7, 300), (64, 64), (500, 20), (13, 17), (29, 31)] {
            for (px, py) in [
                (1, 1),
                (1, 2),
                (2, 1),
                (3, 2),
                (4, 5),
                (7, 7),
                (13, 1),
                (1, 17),
            ] {
                let Ok(d) = Decomposition::new(nx, ny, ProcGrid::new(px, py).unwrap()) else {
                    continue;
                };
                let most = (nx / px).min(ny / py);
                for (ghost, stencil) in
                    [(1, Stencil::Star), (1, Stencil::Box), (most, Stencil::Box)]
                {
                    let c = cost(&d, ghost, stencil);
                    let each = c.ranks.clone().unwrap();
                    let sum: usize = each.iter().map(|r| r.halo_bytes).sum();
                    let max = each.iter().map(|r| r.halo_bytes).max().unwrap();
                    let biggest = d.blocks().map(|b| b.cells()).max().unwrap();
                    let at = format!("{nx}x{ny} over {px}x{py}, ghost {ghost} {stencil:?}");
                    assert_eq!((c.total_bytes, c.max_bytes), (sum, max), "{at}");
                    let mean = (nx * ny) as f64 / (px * py) as f64;
                    assert_eq!(c.imbalance, biggest as f64 / mean, "{at}");
                    assert_eq!(
                        c.surface_to_volume,
                        (sum / 8) as f64 / (nx * ny) as f64,
                        "{at}"
                    );
                }
            }
        }
    }

    #[test]
    fn millions_of_ranks_cost_their_totals_and_no_list() {
        // 10^7 ranks on 100000x100000 built a list of ~370 bytes a rank per grid, and --compare
        // one for each of its 64 grids: an allocation failure.
        let d = Decomposition::auto(100_000, 100_000, 10_000_000).unwrap();
        let c = cost(&d, 1, Stencil::Star);
        assert!(c.ranks.is_none());
        // Star, ghost 1: 2·((px−1)·ny + (py−1)·nx) cells.
        let cut = d.grid.cut_cells(100_000, 100_000);
        assert_eq!(c.total_bytes, 8 * 2 * cut);
        let all = compare(100_000, 100_000, 10_000_000, 1, Stencil::Star).unwrap();
        // 10^7 = 2^7·5^7 has 64 divisors; those of 100 to 100000 ranks along x fit.
        let fits = (0..=7)
            .flat_map(|i| (0..=7).map(move |j| 2usize.pow(i) * 5usize.pow(j)))
            .filter(|px| (100..=100_000).contains(px))
            .count();
        assert_eq!(all.len(), fits);
        assert_eq!((all[0].px, all[0].py), (d.grid.px, d.grid.py));
        for c in &all {
            let g = ProcGrid::new(c.px, c.py).unwrap();
            assert_eq!(c.total_bytes, 16 * g.cut_cells(100_000, 100_000), "{g}");
        }
        let listed = cost(&grid(4096, 1, LISTED_RANKS, 1), 1, Stencil::Star);
        assert_eq!(listed.ranks.map(|r| r.len()), Some(LISTED_RANKS));
        assert!(cost(&grid(4097, 1, LISTED_RANKS + 1, 1), 1, Stencil::Star)
            .ranks
            .is_none());
    }
}
