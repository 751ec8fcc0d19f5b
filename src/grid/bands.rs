//! A distributed field as fixed row bands of the global array: whole rows, the same whatever the
//! decomposition, assembled one at a time on the ranks that hash, write or read them.
//!
//! Band `k` holds the global rows `k·rows .. (k+1)·rows` (the last may be shorter), all `nx`
//! columns, row-major: exactly the bytes the band occupies in the row-major global array. A band
//! spans the blocks of every rank whose rows meet it; [`assemble_bands`] brings those pieces
//! together on one rank (`MPI_Alltoallv`, a round at a time), and [`scatter_bands`] takes bands
//! apart again into the blocks, the two phases of collective I/O done in the open:
//!
//! - [`Assembly::Root`]: every band on one rank, in order, one band per round. Memory on that
//!   rank: one band; on the others, their piece of one band. For what must see the field in order
//!   (its SHA-256, its row-major sum).
//! - [`Assembly::Spread`]: band `k` on rank `k mod P`, P bands a round, so every rank works on
//!   its share of the bands at once (checkpoints, the digest of band hashes). Memory per rank: one
//!   band, and its pieces of one round's bands (at most its block).
//!
//! A band holds about [`BAND_BYTES`] bytes: large enough for fast I/O, small beside a rank's
//! arrays. Only the field's width sets a band's rows, so a checkpoint's bands are the same on any
//! rank count.

use super::DistArray;
use crate::comm::{counts_and_displs, Comm};
use crate::error::Result;
use mpi::datatype::{Partition, PartitionMut};
use mpi::traits::*;
use std::ops::Range;

/// About how many bytes a band holds (rows of `nx` f64 values, at least one row).
pub const BAND_BYTES: usize = 4 << 20;

/// The row bands of an `nx × ny` global array, `rows` rows each (the last may have fewer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bands {
    /// Global columns.
    pub nx: usize,
    /// Global rows.
    pub ny: usize,
    /// Rows per band.
    pub rows: usize,
}

impl Bands {
    /// The bands halo uses for an `nx × ny` array: as many rows as fit in [`BAND_BYTES`], at least
    /// one, at most `ny`.
    pub fn new(nx: usize, ny: usize) -> Self {
        let rows = (BAND_BYTES / 8 / nx.max(1)).clamp(1, ny.max(1));
        Bands { nx, ny, rows }
    }

    /// The number of bands.
    pub fn count(&self) -> usize {
        self.ny.div_ceil(self.rows.max(1))
    }

    /// The global rows of band `k`.
    pub fn rows_of(&self, k: usize) -> Range<usize> {
        let start = (k * self.rows).min(self.ny);
        start..(start + self.rows).min(self.ny)
    }

    /// The cells of band `k`.
    pub fn cells(&self, k: usize) -> usize {
        self.rows_of(k).len() * self.nx
    }

    /// The band holding global row `i`.
    pub fn of_row(&self, i: usize) -> usize {
        i / self.rows.max(1)
    }
}

/// Where [`assemble_bands`] puts the bands together, and [`scatter_bands`] takes them from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assembly {
    /// Every band on this rank, in order.
    Root(usize),
    /// Band `k` on rank `k mod P`.
    Spread,
}

impl Assembly {
    /// Bands per round on `size` ranks, and the rank of the `q`-th band of a round.
    fn round(self, size: usize) -> (usize, impl Fn(usize) -> usize) {
        match self {
            Assembly::Root(r) => (1, Box::new(move |_| r) as Box<dyn Fn(usize) -> usize>),
            Assembly::Spread => (size, Box::new(|q| q) as Box<dyn Fn(usize) -> usize>),
        }
    }
}

/// The rows two ranges share (empty if none).
fn overlap(a: &Range<usize>, b: &Range<usize>) -> Range<usize> {
    let start = a.start.max(b.start);
    start..a.end.min(b.end).max(start)
}

/// Calls `f(k, band)` for every band `k` of `field` on the rank `at` assembles it on, with the
/// band's cells row-major. Collective. After `f` fails on a rank, it is not called there again;
/// the first failure is returned on every rank once all bands have travelled (so that no rank is
/// left waiting in a round).
pub fn assemble_bands(
    comm: &Comm,
    field: &DistArray,
    bands: &Bands,
    at: Assembly,
    mut f: impl FnMut(usize, &[f64]) -> Result<()>,
) -> Result<()> {
    let decomp = &field.layout().decomp;
    let (size, me) = (comm.size(), comm.rank());
    if let Assembly::Root(r) = at {
        comm.root(r)?;
    }
    let mine = decomp.block(me);
    let local = field.interior();
    let (per_round, rank_of) = at.round(size);
    let mut failed: Result<()> = Ok(());
    let mut band = Vec::new();
    for first in (0..bands.count()).step_by(per_round) {
        let round: Vec<usize> = (first..(first + per_round).min(bands.count())).collect();
        // What this rank sends: its piece of each band of the round, to the band's rank.
        let mut send_lens = vec![0; size];
        let mut send: Vec<f64> = Vec::new();
        for (q, &k) in round.iter().enumerate() {
            let rows = overlap(&bands.rows_of(k), &mine.rows);
            send_lens[rank_of(q)] += rows.len() * mine.cols.len();
        }
        // Pieces in destination order: sort the round's bands by their rank (Root: one band).
        let mut order: Vec<usize> = (0..round.len()).collect();
        order.sort_by_key(|&q| rank_of(q));
        for &q in &order {
            let rows = overlap(&bands.rows_of(round[q]), &mine.rows);
            for i in rows {
                let row = local.row(i - mine.rows.start);
                send.extend(row.iter());
            }
        }
        // What this rank receives: the pieces of its band, if it assembles one this round.
        let my_band = round.iter().enumerate().find(|&(q, _)| rank_of(q) == me);
        let recv_lens: Vec<usize> = (0..size)
            .map(|s| match my_band {
                Some((_, &k)) => {
                    let b = decomp.block(s);
                    overlap(&bands.rows_of(k), &b.rows).len() * b.cols.len()
                }
                None => 0,
            })
            .collect();
        let mut recv = vec![0.0; recv_lens.iter().sum()];
        let (sc, sd) = counts_and_displs("assemble_bands", &send_lens)?;
        let (rc, rd) = counts_and_displs("assemble_bands", &recv_lens)?;
        comm.raw().all_to_all_varcount_into(
            &Partition::new(&send[..], sc, &sd[..]),
            &mut PartitionMut::new(&mut recv[..], rc, &rd[..]),
        );
        if let Some((_, &k)) = my_band {
            let rows = bands.rows_of(k);
            band.clear();
            band.resize(bands.cells(k), 0.0);
            let mut at = 0;
            for s in 0..size {
                let b = decomp.block(s);
                for i in overlap(&rows, &b.rows) {
                    let start = (i - rows.start) * bands.nx + b.cols.start;
                    band[start..start + b.cols.len()].copy_from_slice(&recv[at..at + b.cols.len()]);
                    at += b.cols.len();
                }
            }
            if failed.is_ok() {
                failed = f(k, &band);
            }
        }
    }
    comm.agree(failed)
}

/// Fills `field`'s interior from bands: `source(k, band)` fills band `k` (row-major) on the rank
/// `at` takes it from, and each rank receives the pieces of its block. Collective. After
/// `source` fails on a rank it is not called there again (its bands travel as zeros), and the
/// first failure is returned on every rank once all bands have travelled; the field is then
/// not to be used.
pub fn scatter_bands(
    comm: &Comm,
    field: &mut DistArray,
    bands: &Bands,
    at: Assembly,
    mut source: impl FnMut(usize, &mut [f64]) -> Result<()>,
) -> Result<()> {
    let decomp = field.layout().decomp;
    let (size, me) = (comm.size(), comm.rank());
    if let Assembly::Root(r) = at {
        comm.root(r)?;
    }
    let mine = decomp.block(me);
    let (per_round, rank_of) = at.round(size);
    let mut failed: Result<()> = Ok(());
    let mut band = Vec::new();
    for first in (0..bands.count()).step_by(per_round) {
        let round: Vec<usize> = (first..(first + per_round).min(bands.count())).collect();
        let my_band = round.iter().enumerate().find(|&(q, _)| rank_of(q) == me);
        // This rank's band, read, then cut into the pieces of every rank's block, in rank order.
        let mut send_lens = vec![0; size];
        let mut send = Vec::new();
        if let Some((_, &k)) = my_band {
            band.clear();
            band.resize(bands.cells(k), 0.0);
            if failed.is_ok() {
                failed = source(k, &mut band);
            }
            let rows = bands.rows_of(k);
            for (s, len) in send_lens.iter_mut().enumerate() {
                let b = decomp.block(s);
                for i in overlap(&rows, &b.rows) {
                    let start = (i - rows.start) * bands.nx + b.cols.start;
                    send.extend_from_slice(&band[start..start + b.cols.len()]);
                    *len += b.cols.len();
                }
            }
        }
        // This rank's pieces of the round's bands, from each band's rank.
        let mut recv_lens = vec![0; size];
        for (q, &k) in round.iter().enumerate() {
            recv_lens[rank_of(q)] += overlap(&bands.rows_of(k), &mine.rows).len() * mine.cols.len();
        }
        let mut recv = vec![0.0; recv_lens.iter().sum()];
        let (sc, sd) = counts_and_displs("scatter_bands", &send_lens)?;
        let (rc, rd) = counts_and_displs("scatter_bands", &recv_lens)?;
        comm.raw().all_to_all_varcount_into(
            &Partition::new(&send[..], sc, &sd[..]),
            &mut PartitionMut::new(&mut recv[..], rc, &rd[..]),
        );
        // Pieces arrive in source-rank order; within a rank's part, in band order.
        let mut order: Vec<usize> = (0..round.len()).collect();
        order.sort_by_key(|&q| rank_of(q));
        let mut interior = field.interior_mut();
        let mut at = 0;
        for &q in &order {
            for i in overlap(&bands.rows_of(round[q]), &mine.rows) {
                let n = mine.cols.len();
                let mut row = interior.row_mut(i - mine.rows.start);
                for (x, &v) in row.iter_mut().zip(&recv[at..at + n]) {
                    *x = v;
                }
                at += n;
            }
        }
    }
    comm.agree(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_cover_every_row_once_whatever_the_width() {
        for (nx, ny) in [(1, 1), (3, 7), (1000, 1000), (1 << 20, 5), (8192, 8192)] {
            let b = Bands::new(nx, ny);
            assert!(b.rows >= 1 && b.rows <= ny);
            assert!(b.rows * nx * 8 <= BAND_BYTES || b.rows == 1, "{nx}x{ny}");
            let mut next = 0;
            for k in 0..b.count() {
                let r = b.rows_of(k);
                assert_eq!(r.start, next);
                assert!(!r.is_empty());
                assert!(r.clone().all(|i| b.of_row(i) == k));
                next = r.end;
            }
            assert_eq!(next, ny);
        }
        assert_eq!(Bands::new(8192, 8192).rows, 64);
        assert_eq!(overlap(&(0..4), &(6..9)), 6..6);
        assert_eq!(overlap(&(0..7), &(6..9)), 6..7);
    }
}
