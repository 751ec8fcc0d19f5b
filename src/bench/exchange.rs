//! The halo exchange's methods against each other: one ghost update of a `b × b` block per rank,
//! every rank with neighbours on every side (a periodic process grid), timed as
//! [`super::collective_latency`] times a collective, the methods alternating round by round in
//! one job so that they meet the same machine.

use super::{median, timed_loop, LatencyLoop};
use crate::comm::Comm;
use crate::decomp::{ExchangeKind, ProcGrid, Stencil};
use crate::error::{Error, Result};
use crate::grid::{Boundaries, Boundary, DistArray, HaloExchange, Layout};

/// What [`exchange_latency`] measured for one block size.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExchangeLatency {
    /// The block's side, cells.
    pub block: usize,
    /// Bytes each rank sends per exchange (the same for every method).
    pub bytes_per_rank: u64,
    /// Messages each rank sends per exchange, per method.
    pub messages: Vec<u64>,
    /// Timed exchanges per round.
    pub iters: usize,
    /// The median over rounds of each method's average latency, microseconds, in the order the
    /// methods were given.
    pub median_us: Vec<f64>,
    /// Every round's latency per method, microseconds.
    pub rounds_us: Vec<Vec<f64>>,
}

/// The timed iterations for blocks of side `b`: `iters` up to 64×64, then fewer in proportion
/// to the cells (never under 20), so that large blocks take about as long as small ones.
pub fn iters_for(b: usize, iters: usize) -> usize {
    let scaled = (iters as f64 * 4096.0 / (b * b) as f64) as usize;
    scaled.clamp(20.min(iters), iters)
}

/// The largest block side [`exchange_latency`] takes: a global grid of at most 2^36 cells on a
/// process grid a few ranks wide, far beyond any node's memory already.
pub const MAX_BLOCK: usize = 1 << 18;

/// The bytes a rank holds to time `methods` exchanges of a `block × block` block with `ghost`
/// layers: the field and, per method, at most two copies of its ghost frame.
fn block_bytes(block: usize, ghost: usize, methods: usize) -> u64 {
    let side = (block + 2 * ghost) as u64;
    let frame = side * side - (block * block) as u64;
    8 * (side * side + 2 * frame * methods as u64)
}

/// Refuses, the same on every rank and before anything is allocated, a block side beyond
/// [`MAX_BLOCK`], narrower than `ghost`, or whose arrays do not fit the node's memory
/// ([`Error::Invalid`]). Collective. Check the largest side of a sweep first.
pub fn check_blocks(
    comm: &Comm,
    grid: ProcGrid,
    block: usize,
    ghost: usize,
    methods: usize,
) -> Result<()> {
    let invalid = |why: String| Error::Invalid {
        quantity: "block",
        value: format!("{block}x{block}"),
        why,
    };
    if block > MAX_BLOCK || ghost > MAX_BLOCK || grid.px.max(grid.py) > MAX_BLOCK {
        return Err(invalid(format!(
            "at most {MAX_BLOCK} cells a side (and a ghost width below that)"
        )));
    }
    if block < ghost {
        return Err(invalid(format!(
            "narrower than the ghost width {ghost}: no neighbour's cells to fill it"
        )));
    }
    crate::node::ensure_fits(
        comm,
        &crate::node::Demand::uniform(
            "block",
            format!("{block}x{block}"),
            block_bytes(block, ghost, methods),
        ),
    )
}

/// Times one ghost update of a `block × block` block per rank, ghost width `ghost` (a box
/// stencil from 2), on `grid`, periodic both ways, by each of `kinds` in turn, `rounds` times;
/// checks every method's ghosts against the neighbours' cells. Collective.
pub fn exchange_latency(
    comm: &Comm,
    grid: ProcGrid,
    block: usize,
    ghost: usize,
    kinds: &[ExchangeKind],
    rounds: usize,
    how: &LatencyLoop,
) -> Result<ExchangeLatency> {
    if kinds.is_empty() || rounds == 0 {
        return Err(Error::Config(
            "the exchange benchmark needs a method and a round".into(),
        ));
    }
    check_blocks(comm, grid, block, ghost, kinds.len())?;
    let (nx, ny) = (block * grid.px, block * grid.py);
    let decomp = crate::decomp::Decomposition::new(nx, ny, grid)?;
    let stencil = if ghost > 1 {
        Stencil::Box
    } else {
        Stencil::Star
    };
    let layout = Layout::new(
        decomp,
        comm.rank(),
        ghost,
        stencil,
        Boundaries::all(Boundary::Periodic),
    )?;
    let value = |r: isize, c: isize| {
        let (r, c) = (r.rem_euclid(ny as isize), c.rem_euclid(nx as isize));
        (r * nx as isize + c) as f64
    };
    let field = DistArray::try_from_fn(layout.clone(), |r, c| value(r as isize, c as isize));
    let mut field = comm.agree(field)?;
    let mut plans: Vec<HaloExchange> = kinds
        .iter()
        .map(|&k| HaloExchange::new(comm, &layout.clone().with_exchange(k)))
        .collect();
    let mut rounds_us = vec![Vec::with_capacity(rounds); kinds.len()];
    let (rows, cols) = layout.local_shape();
    let whole = crate::decomp::Rect {
        rows: 0..rows,
        cols: 0..cols,
    };
    for round in 0..rounds {
        // Which method goes first turns round by round too.
        for i in 0..kinds.len() {
            let k = (i + round) % kinds.len();
            let ex = &mut plans[k];
            let us = timed_loop(comm, how, || {
                ex.exchange(&mut field);
                Ok(())
            })?;
            rounds_us[k].push(us);
            check(comm, &field, &value, kinds[k])?;
            // Spoil the ghost frame, and only it, so that the next method's update is checked
            // afresh.
            for r in crate::decomp::frame(&whole, &layout.interior()) {
                field
                    .local_mut()
                    .slice_mut(ndarray::s![r.rows, r.cols])
                    .fill(f64::NAN);
            }
        }
    }
    let calls = (how.warmup + how.iters) as u64 * rounds as u64;
    Ok(ExchangeLatency {
        block,
        bytes_per_rank: plans[0].bytes_sent() / calls,
        messages: plans.iter().map(|p| p.messages_sent() / calls).collect(),
        iters: how.iters,
        median_us: rounds_us.iter().map(|r| median(r).unwrap_or(0.0)).collect(),
        rounds_us,
    })
}

/// Every cell the update fills holds the cell it stands for; the same verdict on every rank.
fn check(
    comm: &Comm,
    field: &DistArray,
    value: &dyn Fn(isize, isize) -> f64,
    kind: ExchangeKind,
) -> Result<()> {
    let layout = field.layout();
    let inner = layout.interior();
    // A star stencil's update leaves the corners alone.
    let corner = |i: usize, j: usize| !inner.rows.contains(&i) && !inner.cols.contains(&j);
    let ok = field.local().indexed_iter().all(|((i, j), &v)| {
        let (gr, gc) = layout.global_of(i, j);
        v == value(gr, gc) || (layout.stencil == Stencil::Star && corner(i, j))
    });
    comm.agree(if ok {
        Ok(())
    } else {
        Err(Error::Diverged(format!(
            "halo exchange by {kind}: wrong result, rank {}'s ghosts do not hold its neighbours' cells",
            comm.rank()
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_blocks_run_fewer_iterations_never_under_twenty() {
        assert_eq!(iters_for(8, 1000), 1000);
        assert_eq!(iters_for(64, 1000), 1000);
        assert_eq!(iters_for(128, 1000), 250);
        assert_eq!(iters_for(4096, 1000), 20);
        assert_eq!(iters_for(4096, 5), 5);
    }
}
