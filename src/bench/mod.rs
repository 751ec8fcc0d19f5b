//! Benchmarks run as MPI jobs: a STREAM-style memory-bandwidth probe and OSU-style collective
//! latencies. Each prints figures; none asserts a time.
//!
//! - [`triad`]: `a[i] += b[i] + s·c[i]` over arrays far larger than cache, 32 bytes moved per
//!   element (read a, b, c; write a), timed per rank and summed over ranks: the memory bandwidth B
//!   that bounds a stencil sweep at `B / 16` cell updates per second.
//! - [`collective_latency`]: the OSU Micro-Benchmarks' method: warm-up iterations, a barrier,
//!   `iters` timed calls, the per-call average, averaged over ranks; through `halo`'s API or, for
//!   comparison, straight through rsmpi. [`Op::Halo`] times a ghost update the same way and
//!   checks the ghosts it received.
//! - [`median`]: the statistic quoted for repeated measurements, here and in [`crate::scale`].

mod stats;

pub use stats::median;

use crate::comm::{Comm, ReduceOp};
use crate::decomp::{Decomposition, Dir, ProcGrid, Stencil};
use crate::error::{Error, Result};
use crate::grid::{Boundaries, Boundary, DistArray, HaloExchange, Layout};
use mpi::collective::SystemOperation;
use mpi::traits::*;

/// What [`triad`] measured.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Triad {
    /// Elements per rank.
    pub elements: usize,
    /// Ranks.
    pub ranks: usize,
    /// The best repetition's bandwidth, summed over ranks, bytes per second.
    pub bytes_per_s: f64,
    /// The median repetition's bandwidth, summed over ranks, bytes per second.
    pub median_bytes_per_s: f64,
}

/// Runs the triad `reps` times on `elements` doubles per rank, all ranks at once (a barrier
/// before each repetition). Collective.
pub fn triad(comm: &Comm, elements: usize, reps: usize) -> Result<Triad> {
    if elements == 0 || reps == 0 {
        return Err(Error::Config(
            "the triad needs at least one element and one repetition".into(),
        ));
    }
    let mut a = vec![1.0f64; elements];
    let b = vec![2.0f64; elements];
    let c = vec![0.5f64; elements];
    let s = 3.0;
    let mut rates = Vec::with_capacity(reps);
    for _ in 0..reps {
        comm.barrier();
        let t = Comm::wtime();
        for ((x, y), z) in a.iter_mut().zip(&b).zip(&c) {
            *x += y + s * z;
        }
        let dt = Comm::wtime() - t;
        std::hint::black_box(&a);
        // Every rank's rate for this repetition, summed: the node's (or job's) bandwidth.
        rates.push(comm.all_reduce_value(32.0 * elements as f64 / dt, ReduceOp::Sum)?);
    }
    // The check STREAM makes: every element saw reps updates of 2 + 3·0.5 = 3.5.
    let want = 1.0 + 3.5 * reps as f64;
    if a.iter().any(|&x| x != want) {
        return Err(Error::Diverged(format!(
            "triad: wrong result, expected {want} everywhere"
        )));
    }
    let median = median(&rates).unwrap_or(0.0);
    Ok(Triad {
        elements,
        ranks: comm.size(),
        bytes_per_s: rates.iter().copied().fold(0.0, f64::max),
        median_bytes_per_s: median,
    })
}

/// A collective to time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Broadcast from rank 0.
    Bcast,
    /// Scatter from rank 0, `size` bytes to each rank.
    Scatter,
    /// Gather to rank 0, `size` bytes from each rank.
    Gather,
    /// Allgather, `size` bytes from each rank.
    Allgather,
    /// Allreduce (sum) of `size` bytes as doubles (at least one).
    Allreduce,
    /// A ghost update of a distributed array ([`crate::grid::HaloExchange::exchange`]): the
    /// ranks form a periodic column of blocks one row tall and `size` bytes wide (at least one
    /// double), so every rank sends its row to the neighbours above and below and receives their
    /// rows into its ghost rows: two messages of `size` bytes out and two in, packed and unpacked.
    Halo,
}

impl std::str::FromStr for Op {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "bcast" => Op::Bcast,
            "scatter" => Op::Scatter,
            "gather" => Op::Gather,
            "allgather" => Op::Allgather,
            "allreduce" => Op::Allreduce,
            "halo" => Op::Halo,
            _ => {
                return Err(Error::Config(format!(
                    "--op {s}: choose bcast, scatter, gather, allgather, allreduce or halo"
                )))
            }
        })
    }
}

/// The average latency of one `op` call on messages of `size` bytes, in microseconds, averaged
/// over ranks (the OSU method): `warmup` untimed calls, a barrier, then `iters` timed calls.
/// With `raw`, the identical loop calls rsmpi directly instead of `halo`'s API. Collective.
pub fn collective_latency(
    comm: &Comm,
    op: Op,
    size: usize,
    iters: usize,
    warmup: usize,
    raw: bool,
) -> Result<f64> {
    if op == Op::Halo {
        return halo_latency(comm, size, iters, warmup, raw);
    }
    let n = comm.size();
    let root = comm.raw().process_at_rank(0);
    let doubles = (size / 8).max(1);
    let mut send = vec![1u8; size.max(1)];
    let mut recv = vec![0u8; size.max(1) * n];
    let fsend = vec![1.0f64; doubles];
    let mut frecv = vec![0.0f64; doubles];
    let is_root = comm.rank() == 0;
    let mut call = |comm: &Comm| -> Result<()> {
        match (op, raw) {
            (Op::Bcast, false) => comm.broadcast_into(0, &mut send[..size.max(1)]),
            (Op::Bcast, true) => {
                root.broadcast_into(&mut send[..size.max(1)]);
                Ok(())
            }
            (Op::Scatter, false) => {
                comm.scatter_into(0, is_root.then_some(&recv[..]), &mut send[..])
            }
            (Op::Scatter, true) => {
                if is_root {
                    root.scatter_into_root(&recv[..], &mut send[..]);
                } else {
                    root.scatter_into(&mut send[..]);
                }
                Ok(())
            }
            (Op::Gather, false) => comm.gather_into(0, &send[..], is_root.then_some(&mut recv[..])),
            (Op::Gather, true) => {
                if is_root {
                    root.gather_into_root(&send[..], &mut recv[..]);
                } else {
                    root.gather_into(&send[..]);
                }
                Ok(())
            }
            (Op::Allgather, false) => comm.all_gather_into(&send[..], &mut recv[..]),
            (Op::Allgather, true) => {
                comm.raw().all_gather_into(&send[..], &mut recv[..]);
                Ok(())
            }
            (Op::Allreduce, false) => {
                comm.all_reduce_into(&fsend[..], &mut frecv[..], ReduceOp::Sum)
            }
            (Op::Allreduce, true) => {
                comm.raw()
                    .all_reduce_into(&fsend[..], &mut frecv[..], SystemOperation::sum());
                Ok(())
            }
            (Op::Halo, _) => unreachable!("timed by halo_latency"),
        }
    };
    osu_loop(comm, iters, warmup, || call(comm))
}

/// The OSU timing loop: `warmup` untimed calls, a barrier, `iters` timed calls; the per-call
/// average in microseconds, averaged over ranks. Collective.
fn osu_loop(
    comm: &Comm,
    iters: usize,
    warmup: usize,
    mut call: impl FnMut() -> Result<()>,
) -> Result<f64> {
    for _ in 0..warmup {
        call()?;
    }
    comm.barrier();
    let t = Comm::wtime();
    for _ in 0..iters {
        call()?;
    }
    let mine = (Comm::wtime() - t) * 1e6 / iters.max(1) as f64;
    Ok(comm.all_reduce_value(mine, ReduceOp::Sum)? / comm.size() as f64)
}

/// [`Op::Halo`]: the latency of one ghost update through [`HaloExchange`], or with `raw` the
/// same update written directly on rsmpi (the same packing, nonblocking sends and receives in a
/// request scope, the same unpacking). Collective.
fn halo_latency(comm: &Comm, size: usize, iters: usize, warmup: usize, raw: bool) -> Result<f64> {
    let (n, m) = (comm.size(), (size / 8).max(1));
    let decomp = Decomposition::new(m, n, ProcGrid::new(1, n)?)?;
    let bc = Boundaries {
        north: Boundary::Periodic,
        south: Boundary::Periodic,
        ..Boundaries::all(Boundary::Dirichlet(0.0))
    };
    let layout = Layout::new(decomp, comm.rank(), 1, Stencil::Star, bc)?;
    let mut field = DistArray::from_fn(layout.clone(), |r, c| (r * m + c) as f64);
    let us = if raw {
        raw_halo_loop(comm, &layout, &mut field, iters, warmup)?
    } else {
        let mut ex = HaloExchange::new(comm, &layout);
        osu_loop(comm, iters, warmup, || {
            ex.exchange(&mut field);
            Ok(())
        })?
    };
    // Validate, as every run should: the ghost rows hold the neighbours' rows.
    let a = field.local();
    let (r, n) = (comm.rank(), comm.size());
    let holds =
        |ghost: usize, from: usize| (0..m).all(|c| a[[ghost, c + 1]] == (from * m + c) as f64);
    let ok = holds(0, (r + n - 1) % n) && holds(2, (r + 1) % n);
    comm.agree(if ok {
        Ok(())
    } else {
        Err(Error::Diverged(format!(
            "halo exchange: wrong result, rank {r}'s ghost rows do not hold its neighbours' rows"
        )))
    })?;
    Ok(us)
}

/// The ghost update of [`halo_latency`] written directly on rsmpi, timed the OSU way.
fn raw_halo_loop(
    comm: &Comm,
    layout: &Layout,
    field: &mut DistArray,
    iters: usize,
    warmup: usize,
) -> Result<f64> {
    let m = layout.block.nx();
    // Local rows: 0 ghost from the north, 1 this rank's row, 2 ghost from the south; cells 1..=m.
    let up = layout.neighbor(Dir { dx: 0, dy: -1 }).expect("periodic") as i32;
    let down = layout.neighbor(Dir { dx: 0, dy: 1 }).expect("periodic") as i32;
    let (north, south) = (
        comm.raw().process_at_rank(up),
        comm.raw().process_at_rank(down),
    );
    // Tags name the direction of travel, as HaloExchange's do: 0 northwards, 1 southwards.
    let (mut to_n, mut to_s) = (vec![0.0f64; m], vec![0.0f64; m]);
    let (mut from_n, mut from_s) = (vec![0.0f64; m], vec![0.0f64; m]);
    osu_loop(comm, iters, warmup, || {
        let a = field
            .local_mut()
            .as_slice_mut()
            .expect("ghosted arrays are contiguous");
        let row = |r: usize| r * (m + 2) + 1..r * (m + 2) + 1 + m;
        to_n.copy_from_slice(&a[row(1)]);
        to_s.copy_from_slice(&a[row(1)]);
        mpi::request::scope(|scope| {
            let r1 = north.immediate_receive_into_with_tag(scope, &mut from_n[..], 1);
            let r2 = south.immediate_receive_into_with_tag(scope, &mut from_s[..], 0);
            let s1 = north.immediate_send_with_tag(scope, &to_n[..], 0);
            let s2 = south.immediate_send_with_tag(scope, &to_s[..], 1);
            for r in [r1, r2, s1, s2] {
                r.wait();
            }
        });
        a[row(0)].copy_from_slice(&from_n);
        a[row(2)].copy_from_slice(&from_s);
        Ok(())
    })
}
