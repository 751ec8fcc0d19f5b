//! What a decomposition costs: halo traffic per rank, surface-to-volume, load imbalance.

use super::halo::{send_rect, Dir, Stencil};
use super::{Decomposition, ProcGrid};
use crate::error::Result;

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
    /// Every rank, in rank order.
    pub ranks: Vec<RankCost>,
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

/// The halo traffic of `decomp` with `ghost` layers and `stencil`, non-periodic edges.
pub fn cost(decomp: &Decomposition, ghost: usize, stencil: Stencil) -> DecompCost {
    let ranks: Vec<RankCost> = decomp
        .blocks()
        .map(|b| {
            let mut neighbors = Vec::new();
            let mut cells = 0;
            for &d in Dir::of(stencil) {
                if let Some(n) = decomp.grid.neighbor(b.rank, d.dx, d.dy, false, false) {
                    neighbors.push((dir_name(d), n));
                    cells += send_rect(b.nx(), b.ny(), ghost, d).cells();
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
                halo_bytes: 8 * cells,
            }
        })
        .collect();
    let total_cells: usize = ranks.iter().map(|r| r.halo_cells).sum();
    let biggest = decomp.blocks().map(|b| b.cells()).max().unwrap_or(0);
    let mean = (decomp.nx * decomp.ny) as f64 / decomp.ranks() as f64;
    DecompCost {
        px: decomp.grid.px,
        py: decomp.grid.py,
        total_bytes: 8 * total_cells,
        max_bytes: ranks.iter().map(|r| r.halo_bytes).max().unwrap_or(0),
        surface_to_volume: total_cells as f64 / (decomp.nx * decomp.ny) as f64,
        imbalance: biggest as f64 / mean,
        ranks,
    }
}

/// Every feasible process grid for `ranks` ranks on an `nx × ny` grid, cheapest first (by total
/// bytes per exchange, then by the busiest rank's bytes).
pub fn compare(
    nx: usize,
    ny: usize,
    ranks: usize,
    ghost: usize,
    stencil: Stencil,
) -> Result<Vec<DecompCost>> {
    let mut all: Vec<DecompCost> = ProcGrid::factorizations(ranks)
        .into_iter()
        .filter_map(|g| Decomposition::new(nx, ny, g).ok())
        .map(|d| cost(&d, ghost, stencil))
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
        let cells: Vec<usize> = c.ranks.iter().map(|r| r.halo_cells).collect();
        assert_eq!(cells, vec![600, 1200, 1200, 1200, 600]);
        assert_eq!(c.total_bytes, 8 * 4800);
        assert_eq!(c.max_bytes, 8 * 1200);
        assert_eq!(c.imbalance, 1.0);
        assert!((c.surface_to_volume - 4800.0 / 600_000.0).abs() < 1e-15);
        assert_eq!(c.ranks[2].neighbors, vec![("w".into(), 1), ("e".into(), 3)]);
        assert_eq!(c.ranks[2].offset, (400, 0));
    }

    #[test]
    fn uneven_splits_by_hand() {
        // 10x7 over 3x2: columns 4,3,3; rows 4,3. Rank 0 (4x4) sends 4 east + 4 south = 8 cells;
        // rank 1 (3x4) sends 4 west, 4 east, 3 south = 11; rank 4 (3x3): 3+3+3 = 9.
        let c = cost(&grid(10, 7, 3, 2), 1, Stencil::Star);
        assert_eq!(c.ranks[0].halo_cells, 8);
        assert_eq!(c.ranks[1].halo_cells, 11);
        assert_eq!(c.ranks[4].halo_cells, 9);
        assert_eq!(c.ranks[4].size, (3, 3));
        // Largest block 16 cells, mean 70/6.
        assert!((c.imbalance - 16.0 / (70.0 / 6.0)).abs() < 1e-15);
    }

    #[test]
    fn ghost_width_2_with_corners_by_hand() {
        // 12x12 over 2x2, ghost 2, box stencil: each 6x6 block sends two 2x6 faces and one 2x2
        // corner: 12 + 12 + 4 = 28 cells, 3 messages.
        let c = cost(&grid(12, 12, 2, 2), 2, Stencil::Box);
        for r in &c.ranks {
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
    }
}
