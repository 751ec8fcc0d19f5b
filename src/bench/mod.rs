//! Benchmarks run as MPI jobs: a STREAM-style memory-bandwidth probe and OSU-style collective
//! latencies. Each prints figures; none asserts a time.
//!
//! - [`triad`]: `a[i] += b[i] + s·c[i]` over arrays far larger than cache, 32 bytes moved per
//!   element (read a, b, c; write a), timed per rank and summed over ranks: the memory bandwidth B
//!   that bounds a stencil sweep at `B / 16` cell updates per second.
//! - [`collective_latency`]: the OSU Micro-Benchmarks' method by default ([`Timing::Osu`]): a
//!   barrier, then every call, warm-up and timed alike, followed by a barrier outside its timing,
//!   so that each timed call starts with all ranks together and is timed alone; the sum of the
//!   timed calls' times over `iters`, averaged over ranks (the "Avg Latency" `osu_bcast`,
//!   `osu_gather` and the others print). [`Timing::BackToBack`] instead times the `iters` calls
//!   in a row after one barrier, which lets calls overlap across ranks (a 1 MiB gather on 2 ranks
//!   reads about 15 % slower that way). Through `halo`'s API or, for comparison, straight through
//!   rsmpi. [`Op::Halo`] times a ghost update the same way and checks the ghosts it received.
//! - [`exchange_latency`]: the halo exchange's methods ([`crate::decomp::ExchangeKind`]) against
//!   each other on `b × b` blocks per rank, alternating in one job, each timed as above and its
//!   ghosts checked.
//! - [`checkpoint`]: checkpoint write and read throughput through [`crate::io::Checkpointer`]
//!   and [`crate::io::restore`], every value read back checked, for comparison with `dd`.
//! - [`median`]: the statistic quoted for repeated measurements, here and in [`crate::scale`].
//!
//! All three check before they allocate that every node has the memory for their buffers
//! ([`crate::node::ensure_fits`]), and the latencies that every message fits MPI's counts: a
//! size too large is refused on every rank ([`Error::Invalid`], exit code 2), never an abort.

mod checkpoint;
mod exchange;
mod stats;

pub use checkpoint::{cell_value, checkpoint, mount_in, CheckpointBench, CheckpointOptions, Mount};
pub use exchange::{check_blocks, exchange_latency, iters_for, ExchangeLatency, MAX_BLOCK};
pub use stats::median;

use crate::comm::{Comm, ReduceOp};
use crate::decomp::{Decomposition, Dir, ExchangeKind, ProcGrid, Stencil};
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

/// The bytes each rank holds for a triad on `elements` doubles: three arrays.
pub fn triad_bytes(elements: usize) -> u64 {
    (elements as u64).saturating_mul(3 * 8)
}

/// The most repetitions [`triad`] runs. It keeps every repetition's rate for the median, 8 bytes
/// each (a billion asked for 8 GB), and STREAM's own figures come from ten.
pub const MAX_TRIAD_REPS: usize = 1_000_000;

/// Runs the triad `reps` times on `elements` doubles per rank, all ranks at once (a barrier
/// before each repetition). Collective; more than [`MAX_TRIAD_REPS`] repetitions are refused
/// (as [`Error::Invalid`] on the `repetitions`), then arrays too large for a node's memory (on
/// the `elements`), the same on every rank.
pub fn triad(comm: &Comm, elements: usize, reps: usize) -> Result<Triad> {
    if elements == 0 || reps == 0 {
        return Err(Error::Config(
            "the triad needs at least one element and one repetition".into(),
        ));
    }
    if reps > MAX_TRIAD_REPS {
        return Err(Error::Invalid {
            quantity: "repetitions",
            value: reps.to_string(),
            why: format!(
                "at most {MAX_TRIAD_REPS}: each repetition's rate is kept for the median, and \
                 STREAM reports from 10"
            ),
        });
    }
    let need = triad_bytes(elements);
    crate::node::ensure_fits(
        comm,
        &crate::node::Demand::uniform("elements", elements.to_string(), need),
    )?;
    let what = "a triad array";
    let arrays = crate::node::try_vec(elements, 1.0f64, what).and_then(|a| {
        let b = crate::node::try_vec(elements, 2.0f64, what)?;
        Ok((a, b, crate::node::try_vec(elements, 0.5f64, what)?))
    });
    let (mut a, b, c) = comm.agree(arrays)?;
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

/// The message sizes in bytes a sweep from `lo` to `hi` times: `lo`, doubling, up to `hi`.
pub fn message_sizes(lo: usize, hi: usize) -> Vec<usize> {
    std::iter::successors(Some(lo), |&s| s.checked_mul(2).filter(|&d| d > s))
        .take_while(|&s| s <= hi)
        .collect()
}

/// The elements one message of `size` bytes carries when `op` is timed: bytes, or doubles for
/// [`Op::Allreduce`] and [`Op::Halo`] (at least one).
pub fn message_elements(op: Op, size: usize) -> usize {
    match op {
        Op::Allreduce | Op::Halo => (size / 8).max(1),
        _ => size.max(1),
    }
}

/// The bytes each rank holds while `op` is timed on `size`-byte messages over `ranks` ranks:
/// a message to send, one from every rank to receive, and a send and receive buffer of doubles;
/// for [`Op::Halo`] a three-row ghosted array and four message buffers (the exchange's, or the
/// plain rsmpi loop's). Within 3% of the peak resident size measured at 64 MiB.
pub fn latency_bytes(op: Op, size: usize, ranks: usize) -> u64 {
    let bytes = size.max(1) as u64;
    let doubles = 8 * (size / 8).max(1) as u64;
    match op {
        Op::Halo => 3 * (doubles + 16) + 4 * doubles,
        _ => bytes.saturating_mul(ranks as u64 + 1) + 2 * doubles,
    }
}

/// Checks that `op` can be timed on messages of every one of `sizes` (bytes) before any is:
/// each message within MPI's count (`i32::MAX` elements), and the buffers for the largest within
/// every node's memory. Collective; the same [`Error::Invalid`] on every rank otherwise, on the
/// `message size`, whose value is given as `value` (how the sizes were asked for).
pub fn check_latency_sizes(comm: &Comm, op: Op, sizes: &[usize], value: &str) -> Result<()> {
    let Some(&largest) = sizes.iter().max() else {
        return Ok(());
    };
    check_count(op, largest, value)?;
    let need = latency_bytes(op, largest, comm.size());
    crate::node::ensure_fits(
        comm,
        &crate::node::Demand::uniform("message size", value.to_string(), need),
    )
}

/// Refuses a message of `size` bytes of `op` beyond MPI's `int` counts.
fn check_count(op: Op, size: usize, value: &str) -> Result<()> {
    let limit = i32::MAX as usize;
    if message_elements(op, size) <= limit {
        return Ok(());
    }
    let (unit, most) = match op {
        Op::Allreduce | Op::Halo => ("doubles", 8 * limit + 7),
        _ => ("bytes", limit),
    };
    Err(Error::Invalid {
        quantity: "message size",
        value: value.to_string(),
        why: format!(
            "a message of {size} bytes is beyond MPI's limit of {limit} elements per message \
             ({} sends {unit}); sizes up to {most} bytes can run",
            format!("{op:?}").to_lowercase()
        ),
    })
}

/// How [`collective_latency`] times its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Timing {
    /// The OSU Micro-Benchmarks' loop: a barrier, then for every call (the warm-up ones too) the
    /// time just before it and just after it, and a barrier after it that is not timed; the
    /// timed calls' times summed, over `iters`. Each call starts with the ranks together.
    #[default]
    Osu,
    /// One barrier after the warm-up, then the `iters` calls in a row, timed together, over
    /// `iters`: a rank may start its next call while others still finish the last, so calls
    /// overlap (pipelining), and the figure is a throughput more than a latency.
    BackToBack,
}

impl Timing {
    /// How the method reads in a table's header: `timed the OSU way (…)` or `timed back to
    /// back (…)`.
    pub fn label(self) -> &'static str {
        match self {
            Timing::Osu => "timed the OSU way (each call alone, a barrier after each)",
            Timing::BackToBack => "timed back to back (the calls in a row after one barrier)",
        }
    }
}

/// How [`collective_latency`] runs its loop: everything but the operation and the message size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyLoop {
    /// Timed calls per size.
    pub iters: usize,
    /// Untimed calls first.
    pub warmup: usize,
    /// Call rsmpi directly instead of `halo`'s API, in the identical loop.
    pub raw: bool,
    /// How the calls are timed.
    pub timing: Timing,
}

/// The average latency of one `op` call on messages of `size` bytes, in microseconds, averaged
/// over ranks (the OSU statistic), timed as `how.timing` says after `how.warmup` untimed calls.
/// With `how.raw`, the identical loop calls rsmpi directly instead of `halo`'s API. Collective;
/// a size beyond MPI's counts is an [`Error::Invalid`], and buffers that cannot be allocated are
/// an error on every rank. ([`check_latency_sizes`] checks a whole sweep first.)
pub fn collective_latency(comm: &Comm, op: Op, size: usize, how: &LatencyLoop) -> Result<f64> {
    check_count(op, size, &size.to_string())?;
    if op == Op::Halo {
        return halo_latency(comm, size, how);
    }
    let n = comm.size();
    let root = comm.raw().process_at_rank(0);
    let doubles = (size / 8).max(1);
    let what = "a message buffer";
    let buffers = crate::node::try_vec(size.max(1), 1u8, what).and_then(|send| {
        let recv = crate::node::try_vec(size.max(1).saturating_mul(n), 0u8, what)?;
        let fsend = crate::node::try_vec(doubles, 1.0f64, what)?;
        Ok((
            send,
            recv,
            fsend,
            crate::node::try_vec(doubles, 0.0f64, what)?,
        ))
    });
    let (mut send, mut recv, fsend, mut frecv) = comm.agree(buffers)?;
    let is_root = comm.rank() == 0;
    let mut call = |comm: &Comm| -> Result<()> {
        match (op, how.raw) {
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
    timed_loop(comm, how, || call(comm))
}

/// The timing loop of [`collective_latency`]: `how.warmup` untimed calls and `how.iters` timed
/// ones, timed as `how.timing` says; the per-call average in microseconds, averaged over ranks.
/// Collective.
fn timed_loop(comm: &Comm, how: &LatencyLoop, mut call: impl FnMut() -> Result<()>) -> Result<f64> {
    let iters = how.iters;
    let mut seconds = 0.0;
    match how.timing {
        Timing::Osu => {
            comm.barrier();
            for _ in 0..how.warmup {
                call()?;
                comm.barrier();
            }
            for _ in 0..iters {
                let t = Comm::wtime();
                call()?;
                seconds += Comm::wtime() - t;
                comm.barrier();
            }
        }
        Timing::BackToBack => {
            for _ in 0..how.warmup {
                call()?;
            }
            comm.barrier();
            let t = Comm::wtime();
            for _ in 0..iters {
                call()?;
            }
            seconds = Comm::wtime() - t;
        }
    }
    let mine = seconds * 1e6 / iters.max(1) as f64;
    Ok(comm.all_reduce_value(mine, ReduceOp::Sum)? / comm.size() as f64)
}

/// [`Op::Halo`]: the latency of one ghost update through [`HaloExchange`] by `p2p` (whatever the
/// default method), or with `raw` the same update written directly on rsmpi (the same packing,
/// nonblocking sends and receives in a request scope, the same unpacking): the wrapper's cost,
/// not a method's. Collective.
fn halo_latency(comm: &Comm, size: usize, how: &LatencyLoop) -> Result<f64> {
    let (n, m) = (comm.size(), (size / 8).max(1));
    let decomp = Decomposition::new(m, n, ProcGrid::new(1, n)?)?;
    let bc = Boundaries {
        north: Boundary::Periodic,
        south: Boundary::Periodic,
        ..Boundaries::all(Boundary::Dirichlet(0.0))
    };
    let layout =
        Layout::new(decomp, comm.rank(), 1, Stencil::Star, bc)?.with_exchange(ExchangeKind::P2p);
    let field = DistArray::try_from_fn(layout.clone(), |r, c| (r * m + c) as f64);
    let mut field = comm.agree(field)?;
    let us = if how.raw {
        raw_halo_loop(comm, &layout, &mut field, how)?
    } else {
        let mut ex = HaloExchange::new(comm, &layout);
        timed_loop(comm, how, || {
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

/// The ghost update of [`halo_latency`] written directly on rsmpi, timed as `how` says.
fn raw_halo_loop(
    comm: &Comm,
    layout: &Layout,
    field: &mut DistArray,
    how: &LatencyLoop,
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
    timed_loop(comm, how, || {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_double_from_min_to_max_without_overflowing() {
        assert_eq!(message_sizes(1, 8), [1, 2, 4, 8]);
        assert_eq!(message_sizes(3, 20), [3, 6, 12]);
        assert_eq!(message_sizes(5, 5), [5]);
        assert_eq!(message_sizes(0, 9), [0]);
        let all = message_sizes(1, usize::MAX);
        assert_eq!(all.len(), usize::BITS as usize);
        assert_eq!(all.last(), Some(&(1 << (usize::BITS - 1))));
    }

    #[test]
    fn messages_beyond_mpis_counts_are_refused_by_their_elements() {
        let max = i32::MAX as usize;
        assert!(check_count(Op::Bcast, max, "x").is_ok());
        let e = check_count(Op::Bcast, max + 1, "1:4294967296").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string()
                .starts_with("message size 1:4294967296: a message of 2147483648 bytes"),
            "{e}"
        );
        // Doubles: eight times the bytes fit.
        assert_eq!(message_elements(Op::Allreduce, max + 1), (max + 1) / 8);
        assert!(check_count(Op::Allreduce, 8 * max + 7, "x").is_ok());
        assert!(check_count(Op::Halo, 8 * max + 8, "x").is_err());
        assert_eq!(message_elements(Op::Halo, 3), 1);
    }

    #[test]
    fn buffers_grow_with_the_ranks_that_send_to_the_root() {
        let mib = 1 << 20;
        // A message to send, one from each of 4 ranks, and two of doubles.
        assert_eq!(latency_bytes(Op::Gather, mib, 4), 7 * mib as u64);
        assert_eq!(latency_bytes(Op::Halo, mib, 4), 7 * mib as u64 + 48);
        assert_eq!(triad_bytes(1000), 24_000);
        assert_eq!(triad_bytes(usize::MAX), u64::MAX);
    }
}
