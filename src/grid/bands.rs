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
//! - [`Assembly::Spread`]: each band on a rank that holds part of it (with one column of ranks,
//!   a run of consecutive bands per rank, each already there; with PX columns, every PX-th band
//!   of its process row's, a PX-th of each already there), up to P bands a round, so every rank works on
//!   its share of the bands at once (checkpoints, the digest of band hashes). Memory per rank: one
//!   band, and its pieces of one round's bands (at most its block).
//!
//! A band holds about [`BAND_BYTES`] bytes: large enough for fast I/O, small beside a rank's
//! arrays. Only the field's width sets a band's rows, so a checkpoint's bands are the same on any
//! rank count.

use super::DistArray;
use crate::comm::{counts_and_displs, Comm};
use crate::decomp::Decomposition;
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
    /// Each band on a rank that holds a share of it: of the process row holding most of its
    /// rows, the `k mod PX`-th rank. With a row-strip decomposition (PX = 1) a band is put
    /// together where it already is, and every rank gets a run of consecutive bands, in order;
    /// with PX > 1, the ranks of a process row take its bands in turn.
    Spread,
}

impl Assembly {
    /// The rank band `k` is assembled on.
    pub fn rank_of(self, decomp: &Decomposition, bands: &Bands, k: usize) -> usize {
        match self {
            Assembly::Root(r) => r,
            Assembly::Spread => {
                let rows = bands.rows_of(k);
                let g = decomp.grid;
                let first = decomp.owner(rows.start, 0);
                let last = decomp.owner(rows.end - 1, 0);
                let (_, cy0) = g.coords(first);
                let (_, cy1) = g.coords(last);
                let held = |cy: usize| overlap(&rows, &decomp.block(g.rank_at(0, cy)).rows).len();
                // The first process row holding the most rows of the band.
                let cy = (cy0..=cy1).rev().max_by_key(|&cy| held(cy)).unwrap_or(cy0);
                g.rank_at(k % g.px, cy)
            }
        }
    }

    /// The bands each rank assembles, in order: `[rank][t]` is its band of round `t`.
    pub fn assignment(self, decomp: &Decomposition, bands: &Bands) -> Vec<Vec<usize>> {
        let mut of = vec![Vec::new(); decomp.grid.size()];
        for k in 0..bands.count() {
            of[self.rank_of(decomp, bands, k)].push(k);
        }
        of
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
///
/// Rounds: in round `t` every rank assembles its `t`-th band ([`Assembly::assignment`]), one
/// `MPI_Alltoallv` bringing the pieces other ranks hold; its own piece is copied directly.
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
    let plan = at.assignment(decomp, bands);
    let rounds = plan.iter().map(Vec::len).max().unwrap_or(0);
    let mut failed: Result<()> = Ok(());
    let mut band = Vec::new();
    let mut send: Vec<f64> = Vec::new();
    let mut recv: Vec<f64> = Vec::new();
    for t in 0..rounds {
        // What this rank sends: its piece of each other rank's band of the round.
        let mut send_lens = vec![0; size];
        send.clear();
        for (q, len) in send_lens.iter_mut().enumerate() {
            let Some(&k) = plan[q].get(t).filter(|_| q != me) else {
                continue;
            };
            for i in overlap(&bands.rows_of(k), &mine.rows) {
                send.extend(local.row(i - mine.rows.start).iter());
                *len += mine.cols.len();
            }
        }
        // What it receives: the other ranks' pieces of its own band, if it has one.
        let my_band = plan[me].get(t).copied();
        let recv_lens: Vec<usize> = (0..size)
            .map(|s| match my_band {
                Some(k) if s != me => {
                    let b = decomp.block(s);
                    overlap(&bands.rows_of(k), &b.rows).len() * b.cols.len()
                }
                _ => 0,
            })
            .collect();
        recv.clear();
        recv.resize(recv_lens.iter().sum(), 0.0);
        let (sc, sd) = counts_and_displs("assemble_bands", &send_lens)?;
        let (rc, rd) = counts_and_displs("assemble_bands", &recv_lens)?;
        comm.raw().all_to_all_varcount_into(
            &Partition::new(&send[..], sc, &sd[..]),
            &mut PartitionMut::new(&mut recv[..], rc, &rd[..]),
        );
        let Some(k) = my_band else { continue };
        let rows = bands.rows_of(k);
        band.clear();
        band.resize(bands.cells(k), 0.0);
        let mut at = 0;
        for s in 0..size {
            let b = decomp.block(s);
            for i in overlap(&rows, &b.rows) {
                let start = (i - rows.start) * bands.nx + b.cols.start;
                let dest = &mut band[start..start + b.cols.len()];
                if s == me {
                    for (x, &v) in dest.iter_mut().zip(local.row(i - mine.rows.start)) {
                        *x = v;
                    }
                } else {
                    dest.copy_from_slice(&recv[at..at + b.cols.len()]);
                    at += b.cols.len();
                }
            }
        }
        if failed.is_ok() {
            failed = f(k, &band);
        }
    }
    comm.agree(failed)
}

/// Fills `field`'s interior from bands: `source(k, band)` fills band `k` (row-major) on the rank
/// `at` takes it from, and each rank receives the pieces of its block. Collective. After
/// `source` fails on a rank it is not called there again (its bands travel as zeros), and the
/// first failure is returned on every rank once all bands have travelled; the field is then
/// not to be used. Rounds as in [`assemble_bands`].
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
    let plan = at.assignment(&decomp, bands);
    let rounds = plan.iter().map(Vec::len).max().unwrap_or(0);
    let mut failed: Result<()> = Ok(());
    let mut band = Vec::new();
    let mut send: Vec<f64> = Vec::new();
    let mut recv: Vec<f64> = Vec::new();
    for t in 0..rounds {
        let my_band = plan[me].get(t).copied();
        // This rank's band, read, then cut into the pieces of the other ranks' blocks (its own
        // piece goes straight into its interior).
        let mut send_lens = vec![0; size];
        send.clear();
        if let Some(k) = my_band {
            band.clear();
            band.resize(bands.cells(k), 0.0);
            if failed.is_ok() {
                failed = source(k, &mut band);
            }
            let rows = bands.rows_of(k);
            let mut interior = field.interior_mut();
            for (s, len) in send_lens.iter_mut().enumerate() {
                let b = decomp.block(s);
                for i in overlap(&rows, &b.rows) {
                    let start = (i - rows.start) * bands.nx + b.cols.start;
                    let piece = &band[start..start + b.cols.len()];
                    if s == me {
                        let mut row = interior.row_mut(i - mine.rows.start);
                        for (x, &v) in row.iter_mut().zip(piece) {
                            *x = v;
                        }
                    } else {
                        send.extend_from_slice(piece);
                        *len += b.cols.len();
                    }
                }
            }
        }
        // This rank's pieces of the other ranks' bands of the round.
        let mut recv_lens = vec![0; size];
        for (q, len) in recv_lens.iter_mut().enumerate() {
            if let Some(&k) = plan[q].get(t).filter(|_| q != me) {
                *len = overlap(&bands.rows_of(k), &mine.rows).len() * mine.cols.len();
            }
        }
        recv.clear();
        recv.resize(recv_lens.iter().sum(), 0.0);
        let (sc, sd) = counts_and_displs("scatter_bands", &send_lens)?;
        let (rc, rd) = counts_and_displs("scatter_bands", &recv_lens)?;
        comm.raw().all_to_all_varcount_into(
            &Partition::new(&send[..], sc, &sd[..]),
            &mut PartitionMut::new(&mut recv[..], rc, &rd[..]),
        );
        let mut interior = field.interior_mut();
        let mut at = 0;
        for (q, band_of_q) in plan.iter().enumerate() {
            let Some(&k) = band_of_q.get(t).filter(|_| q != me) else {
                continue;
            };
            for i in overlap(&bands.rows_of(k), &mine.rows) {
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
    }

    #[test]
    fn spread_bands_go_to_a_rank_holding_them_in_runs_and_shared_fairly() {
        use crate::decomp::ProcGrid;
        for (nx, ny, px, py, rows) in [
            (100, 1000, 1, 4, 7),
            (100, 1000, 3, 2, 5),
            (64, 17, 2, 3, 1),
            (10, 5, 1, 4, 5),
        ] {
            let d = Decomposition::new(nx, ny, ProcGrid::new(px, py).unwrap()).unwrap();
            let b = Bands { nx, ny, rows };
            let plan = Assembly::Spread.assignment(&d, &b);
            assert_eq!(plan.iter().map(Vec::len).sum::<usize>(), b.count());
            for (q, ks) in plan.iter().enumerate() {
                let mine = d.block(q);
                for w in ks.windows(2) {
                    assert!(w[0] < w[1], "in order");
                }
                for &k in ks {
                    // The assembler holds rows of the band, and at least as many as any other
                    // process row.
                    let held = overlap(&b.rows_of(k), &mine.rows).len();
                    assert!(held > 0, "{nx}x{ny} on {px}x{py}: band {k} on rank {q}");
                    assert!(d
                        .blocks()
                        .all(|o| overlap(&b.rows_of(k), &o.rows).len() <= held));
                }
            }
            // A row strip assembles exactly the bands that start in it: nothing moves.
            if px == 1 {
                for k in 0..b.count() {
                    let q = Assembly::Spread.rank_of(&d, &b, k);
                    let r = b.rows_of(k);
                    if d.owner(r.start, 0) == d.owner(r.end - 1, 0) {
                        assert_eq!(q, d.owner(r.start, 0));
                    }
                }
            }
        }
        let d = Decomposition::new(10, 10, crate::decomp::ProcGrid::new(2, 2).unwrap()).unwrap();
        let b = Bands::new(10, 10);
        assert_eq!(Assembly::Root(3).assignment(&d, &b)[3], vec![0]);
        assert_eq!(overlap(&(0..4), &(6..9)), 6..6);
        assert_eq!(overlap(&(0..7), &(6..9)), 6..7);
    }
}
