//! A self-check of every collective, in the manner of the Parallel Research Kernels: each check
//! builds data every rank can predict, runs the collective, verifies the answer on every rank that
//! receives one, and agrees on the verdict, so all ranks report the same result.

use super::{Comm, Equivalence, FileMode, ReduceOp};
use crate::error::{Error, Result};
use mpi::datatype::UserDatatype;

/// The outcome of one checked collective.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// The collective, by its `Comm` method name.
    pub name: &'static str,
    /// Bytes each rank sent or received in it (the larger of the two), on this rank.
    pub bytes: usize,
    /// The slowest rank's time for the collective, in seconds.
    pub seconds: f64,
    /// Whether every rank saw the right answer.
    pub ok: bool,
}

/// Runs every collective of [`Comm`] with `n` elements per rank and checks its answer.
///
/// Returns one [`CheckResult`] per collective, identical on every rank. (Block scatter and gather
/// of a 2D array, a layer up, check themselves in [`crate::grid::check_blocks`].) A wrong answer is a
/// result with `ok == false`, not an error; an `Err` means MPI itself could not be used.
pub fn run_checks(comm: &Comm, n: usize) -> Result<Vec<CheckResult>> {
    let (rank, size) = (comm.rank(), comm.size());
    let last = size - 1;
    let mut out = Vec::new();
    let mut record = |name, bytes, seconds, ok| -> Result<()> {
        out.push(CheckResult::agreed(comm, name, bytes, seconds, ok)?);
        Ok(())
    };

    // broadcast_vec from the last rank.
    let t = Comm::wtime();
    let data = (rank == last).then(|| (0..n).map(|i| i as f64 + 0.5).collect::<Vec<_>>());
    let got = comm.broadcast_vec(last, data)?;
    let ok = got.len() == n && got.iter().enumerate().all(|(i, &x)| x == i as f64 + 0.5);
    record("broadcast_vec", 8 * n, Comm::wtime() - t, ok)?;

    // broadcast_into of a slice every rank sized.
    let t = Comm::wtime();
    let mut buf = vec![0u32; n];
    if rank == 0 {
        buf.iter_mut()
            .enumerate()
            .for_each(|(i, x)| *x = 7 * i as u32);
    }
    comm.broadcast_into(0, &mut buf)?;
    let ok = buf.iter().enumerate().all(|(i, &x)| x == 7 * i as u32);
    record("broadcast_into", 4 * n, Comm::wtime() - t, ok)?;

    // scatter: rank r gets r*n .. r*n+n.
    let t = Comm::wtime();
    let all: Vec<u64> = (0..(n * size) as u64).collect();
    let got = comm.scatter(0, (rank == 0).then_some(&all[..]))?;
    let ok = got
        .iter()
        .copied()
        .eq((rank * n) as u64..((rank + 1) * n) as u64);
    record("scatter", 8 * n, Comm::wtime() - t, ok)?;

    // scatter_varcount: rank r gets n + r elements, each equal to r.
    let t = Comm::wtime();
    let lens: Vec<usize> = (0..size).map(|r| n + r).collect();
    let data: Vec<i32> = (0..size)
        .flat_map(|r| std::iter::repeat_n(r as i32, n + r))
        .collect();
    let got = comm.scatter_varcount(0, (rank == 0).then_some((&data[..], &lens[..])))?;
    let ok = got.len() == n + rank && got.iter().all(|&x| x == rank as i32);
    record("scatter_varcount", 4 * (n + rank), Comm::wtime() - t, ok)?;

    // gather: rank r sends r*n .. r*n+n, so the root holds 0 .. size*n.
    let t = Comm::wtime();
    let mine: Vec<f64> = (rank * n..(rank + 1) * n).map(|x| x as f64).collect();
    let got = comm.gather(0, &mine)?;
    let ok = match got {
        Some(all) => all.iter().enumerate().all(|(i, &x)| x == i as f64) && all.len() == n * size,
        None => rank != 0,
    };
    record("gather", 8 * n, Comm::wtime() - t, ok)?;

    // gather_varcount: rank r sends n + r % 3 copies of r.
    let t = Comm::wtime();
    let len_of = |r: usize| n + r % 3;
    let mine = vec![rank as u8; len_of(rank)];
    let got = comm.gather_varcount(last, &mine)?;
    let ok = match got {
        Some(all) => (0..size).all(|r| all.chunk(r) == vec![r as u8; len_of(r)]),
        None => rank != last,
    };
    record("gather_varcount", len_of(rank), Comm::wtime() - t, ok)?;

    // all_gather: rank r sends n copies of r.
    let t = Comm::wtime();
    let got = comm.all_gather(&vec![rank as i64; n])?;
    let ok = got.len() == n * size && got.iter().enumerate().all(|(i, &x)| x == (i / n) as i64);
    record("all_gather", 8 * n * size, Comm::wtime() - t, ok)?;

    // all_gather_varcount: rank r sends r + 1 elements.
    let t = Comm::wtime();
    let got = comm.all_gather_varcount(&vec![rank as u16; rank + 1])?;
    let ok = (0..size).all(|r| got.chunk(r) == vec![r as u16; r + 1]);
    record(
        "all_gather_varcount",
        2 * (size * (size + 1) / 2),
        Comm::wtime() - t,
        ok,
    )?;

    // reduce and all_reduce: element k on rank r is r + k; integers stay exact in f64.
    let mine: Vec<f64> = (0..n).map(|k| (rank + k) as f64).collect();
    let sum_of = |k: usize| (size * (size - 1) / 2 + size * k) as f64;
    let t = Comm::wtime();
    let got = comm.reduce(0, &mine, ReduceOp::Sum)?;
    let ok = match got {
        Some(v) => v.iter().enumerate().all(|(k, &x)| x == sum_of(k)),
        None => rank != 0,
    };
    record("reduce(sum)", 8 * n, Comm::wtime() - t, ok)?;

    let t = Comm::wtime();
    let sum = comm.all_reduce(&mine, ReduceOp::Sum)?;
    let max = comm.all_reduce(&mine, ReduceOp::Max)?;
    let min = comm.all_reduce(&mine, ReduceOp::Min)?;
    let ok =
        (0..n).all(|k| sum[k] == sum_of(k) && max[k] == (last + k) as f64 && min[k] == k as f64);
    record("all_reduce(sum,max,min)", 3 * 8 * n, Comm::wtime() - t, ok)?;

    // Nonblocking allreduce, overlapped with local work that predicts its answer. First a max
    // into a borrowed buffer, with no other MPI call until its wait (so only the wait can have
    // completed it; element k on rank r is r * k, so the max is last * k); then a sum that owns
    // its buffers, polled with test while the work goes on.
    let t = Comm::wtime();
    let scaled: Vec<i64> = (0..n).map(|k| (rank * k) as i64).collect();
    let mut max = vec![0i64; n];
    let max_ok = comm.immediate_scope(|s| -> Result<bool> {
        let pending = s.all_reduce_into(&scaled, &mut max, ReduceOp::Max)?;
        let want: Vec<i64> = (0..n).map(|k| (last * k) as i64).collect();
        Ok(*pending.wait() == want[..])
    })?;
    // The borrowed buffer is the caller's again, with the answer in it.
    let max_ok = max_ok && max.iter().enumerate().all(|(k, &x)| x == (last * k) as i64);
    let mut pending = comm.immediate_all_reduce(mine.clone(), ReduceOp::Sum)?;
    let mut want = Vec::with_capacity(n);
    for k in 0..n {
        want.push(sum_of(k));
        if k % 256 == 0 {
            pending.test();
        }
    }
    let ok = max_ok && pending.wait() == want;
    record(
        "immediate_all_reduce(max,sum)",
        2 * 8 * n,
        Comm::wtime() - t,
        ok,
    )?;

    // The other nonblocking collectives, each in both forms (see `check_immediate_*`).
    let t = Comm::wtime();
    let ok = check_immediate_broadcast(comm, n)?;
    record("immediate_broadcast", 16 * n, Comm::wtime() - t, ok)?;

    let t = Comm::wtime();
    let ok = check_immediate_scatter(comm, n)?;
    record("immediate_scatter", 12 * n, Comm::wtime() - t, ok)?;

    let t = Comm::wtime();
    let ok = check_immediate_gather(comm, n)?;
    let bytes = if rank == 0 || rank == last {
        8 * n * size
    } else {
        16 * n
    };
    record("immediate_gather", bytes, Comm::wtime() - t, ok)?;

    let t = Comm::wtime();
    let ok = check_immediate_all_gather(comm, n)?;
    record("immediate_all_gather", 9 * n * size, Comm::wtime() - t, ok)?;

    let t = Comm::wtime();
    let ok = check_immediate_drop(comm, n)?;
    record("immediate: dropping waits", 16 * n, Comm::wtime() - t, ok)?;

    // Error agreement: the last rank fails, every rank gets the same error naming it.
    let t = Comm::wtime();
    let local: Result<()> = if rank == last {
        Err(Error::Decomposition("deliberate failure".into()))
    } else {
        Ok(())
    };
    let ok = comm.agree(local)
        == Err(Error::Agreed {
            rank: last,
            code: 2,
            message: "deliberate failure".into(),
        });
    record("agree", 0, Comm::wtime() - t, ok)?;

    // MPI-IO: every rank writes its block to one temporary file and reads part of the next
    // rank's back, in small pieces (see `check_file`).
    let t = Comm::wtime();
    let (ok, bytes) = check_file(comm, n)?;
    record(
        "file write_at_all/read_at_all",
        bytes,
        Comm::wtime() - t,
        ok,
    )?;

    // Misuse: a root out of range fails alike everywhere without a message sent.
    let ok = comm.broadcast(size, 1u8) == Err(Error::RootOutOfRange { root: size, size });
    record("misuse: root out of range", 0, 0.0, ok)?;

    // Misuse of the nonblocking forms: seen alike on every rank, an error before anything starts.
    let (mut small, mut other) = ([0u8; 1], [0u8; 1]);
    let ok = comm.immediate_broadcast(size, vec![0u8]).err()
        == Some(Error::RootOutOfRange { root: size, size })
        && comm.immediate_scope(|s| {
            s.all_gather_into(&[1, 2], &mut small).err()
                == Some(Error::LengthMismatch {
                    what: "immediate all_gather: the receive buffer",
                    expected: 2 * size,
                    found: 1,
                })
                && s.scatter_into(size, None, &mut other).err()
                    == Some(Error::RootOutOfRange { root: size, size })
        });
    record("misuse: immediate root, lengths", 0, 0.0, ok)?;

    Ok(out)
}

/// Two `u32`s whose MPI datatype is built anew for every call (rsmpi's `UserDatatype`, freed
/// when dropped), so that the nonblocking checks run on a datatype a request must keep alive.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[repr(C)]
struct Pair([u32; 2]);

// SAFETY: `Pair` is two contiguous `u32`s with no padding (`repr(C)` over `[u32; 2]`), exactly
// the datatype below.
unsafe impl Equivalence for Pair {
    type Out = UserDatatype;
    fn equivalent_datatype() -> UserDatatype {
        UserDatatype::contiguous(2, &u32::equivalent_datatype())
    }
}

impl Pair {
    /// The `k`-th pair: every rank can predict it.
    fn nth(k: usize) -> Pair {
        Pair([k as u32, u32::MAX - 3 * k as u32])
    }
}

/// Whether `got` is the pairs `from..from + got.len()`.
fn pairs_from(got: &[Pair], from: usize) -> bool {
    got.iter()
        .enumerate()
        .all(|(i, &p)| p == Pair::nth(from + i))
}

/// `immediate_broadcast` of `n` `u64`s from the last rank, polled with `test` while every rank
/// computes the answer it expects; then `broadcast_into` of `n` [`Pair`]s from rank 0, into a
/// borrowed buffer that `wait` hands back and that is the caller's again after the scope.
fn check_immediate_broadcast(comm: &Comm, n: usize) -> Result<bool> {
    let (rank, last) = (comm.rank(), comm.size() - 1);
    let value = |i: usize| 3 * i as u64 + 1;
    let buf = if rank == last {
        (0..n).map(value).collect()
    } else {
        vec![0u64; n]
    };
    let mut pending = comm.immediate_broadcast(last, buf)?;
    let mut want = Vec::with_capacity(n);
    for i in 0..n {
        want.push(value(i));
        if i % 256 == 0 {
            pending.test();
        }
    }
    let owned_ok = pending.wait() == want;
    let mut pairs = vec![Pair::default(); n];
    if rank == 0 {
        pairs
            .iter_mut()
            .enumerate()
            .for_each(|(i, p)| *p = Pair::nth(i));
    }
    let handed_ok = comm.immediate_scope(|s| -> Result<bool> {
        let pending = s.broadcast_into(0, &mut pairs)?;
        Ok(pairs_from(pending.wait(), 0))
    })?;
    Ok(owned_ok && handed_ok && pairs_from(&pairs, 0))
}

/// `immediate_scatter` of `i32`s from rank 0, rank `r` getting `r n .. r n + n`; then
/// `scatter_into` of [`Pair`]s from the last rank into a borrowed buffer.
fn check_immediate_scatter(comm: &Comm, n: usize) -> Result<bool> {
    let (rank, size) = (comm.rank(), comm.size());
    let last = size - 1;
    let all: Vec<i32> = (0..(n * size) as i32).collect();
    let mut pending = comm.immediate_scatter(0, (rank == 0).then_some(all), n)?;
    pending.test();
    let owned_ok = pending
        .wait()
        .into_iter()
        .eq((rank * n) as i32..((rank + 1) * n) as i32);
    let pairs: Vec<Pair> = (0..n * size).map(Pair::nth).collect();
    let mut mine = vec![Pair::default(); n];
    let handed_ok = comm.immediate_scope(|s| -> Result<bool> {
        let pending = s.scatter_into(last, (rank == last).then_some(&pairs[..]), &mut mine)?;
        Ok(pairs_from(pending.wait(), rank * n))
    })?;
    Ok(owned_ok && handed_ok && pairs_from(&mine, rank * n))
}

/// `immediate_gather` of `f64`s to rank 0, rank `r` sending `r n .. r n + n`, so that the root
/// holds `0 .. size n`; then `gather_into` of [`Pair`]s to the last rank, whose `wait` hands
/// back the root's buffer and an empty one elsewhere.
fn check_immediate_gather(comm: &Comm, n: usize) -> Result<bool> {
    let (rank, size) = (comm.rank(), comm.size());
    let last = size - 1;
    let mine: Vec<f64> = (rank * n..(rank + 1) * n).map(|x| x as f64).collect();
    let mut pending = comm.immediate_gather(0, mine)?;
    pending.test();
    let owned_ok = match pending.wait() {
        Some(all) => rank == 0 && all.iter().copied().eq((0..n * size).map(|x| x as f64)),
        None => rank != 0,
    };
    let sent: Vec<Pair> = (rank * n..(rank + 1) * n).map(Pair::nth).collect();
    let mut all = vec![Pair::default(); if rank == last { n * size } else { 0 }];
    let handed_ok = comm.immediate_scope(|s| -> Result<bool> {
        let recv = (rank == last).then_some(&mut all[..]);
        let got = s.gather_into(last, &sent, recv)?.wait();
        Ok(if rank == last {
            got.len() == n * size && pairs_from(got, 0)
        } else {
            got.is_empty()
        })
    })?;
    Ok(owned_ok && handed_ok && (rank != last || pairs_from(&all, 0)))
}

/// `immediate_all_gather` of `n` bytes per rank, rank `r`'s all equal to `r`; then, in one
/// scope, `all_gather_into` of [`Pair`]s and `broadcast_into` in flight together, waited for in
/// the opposite order.
fn check_immediate_all_gather(comm: &Comm, n: usize) -> Result<bool> {
    let (rank, size) = (comm.rank(), comm.size());
    let mut pending = comm.immediate_all_gather(vec![rank as u8; n])?;
    pending.test();
    let got = pending.wait();
    let owned_ok =
        got.len() == n * size && got.iter().enumerate().all(|(i, &x)| x == (i / n) as u8);
    let sent: Vec<Pair> = (rank * n..(rank + 1) * n).map(Pair::nth).collect();
    let mut all = vec![Pair::default(); n * size];
    let mut flag = [if rank == 0 { 42u16 } else { 0 }];
    let handed_ok = comm.immediate_scope(|s| -> Result<bool> {
        let gather = s.all_gather_into(&sent, &mut all)?;
        let bcast = s.broadcast_into(0, &mut flag)?;
        let flag_ok = bcast.wait() == [42];
        Ok(flag_ok && pairs_from(gather.wait(), 0))
    })?;
    Ok(owned_ok && handed_ok && pairs_from(&all, 0) && flag == [42])
}

/// Dropping a request that has not completed waits for it. The last rank starts its part of two
/// broadcasts only after a delay, while the others drop their requests at once:
/// - one owning its buffer, whose memory the allocator is likely to hand to the next vector of
///   its size; that vector must keep the values written into it, past a barrier by which the
///   root's data has arrived (were the drop not to wait, MPI would write it into freed memory);
/// - one borrowing its buffer: once it is dropped, inside the scope, no request may be left in
///   flight (the scope's own wait at its end would otherwise hide a drop that did not wait), and
///   the buffer, read after the scope, must hold the root's data.
fn check_immediate_drop(comm: &Comm, n: usize) -> Result<bool> {
    let (rank, size) = (comm.rank(), comm.size());
    let root = size - 1;
    let delay = std::time::Duration::from_millis(20);
    let value = |i: usize| (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let data = || -> Vec<u64> {
        if rank == root {
            if size > 1 {
                std::thread::sleep(delay);
            }
            (0..n).map(value).collect()
        } else {
            vec![0; n]
        }
    };
    drop(comm.immediate_broadcast(root, data())?);
    // Different on every rank, so that not even the root's reused memory, sent, would match.
    let mark = u64::MAX - rank as u64;
    let reused = vec![mark; n];
    comm.barrier();
    let owned_ok = reused.iter().all(|&x| x == mark);
    let mut buf = data();
    let settled = comm.immediate_scope(|s| -> Result<bool> {
        drop(s.broadcast_into(root, &mut buf)?);
        Ok(s.in_flight() == 0)
    })?;
    let handed_ok = settled && buf.iter().enumerate().all(|(i, &x)| x == value(i));
    Ok(owned_ok && handed_ok)
}

/// The largest piece the file check reads in one MPI call: small, and not a multiple of 8, so
/// that reads take several calls, ranks different numbers of them, and values straddle calls.
const FILE_PIECE: usize = 1000;

/// Rank `r` writes `n` values, `value(r * n + k)`, at byte `8 r n` of a temporary file
/// (`write_f64_at_all`), closes it, reopens it and reads back the first `n (last - r) / last`
/// values of the next rank's block (all `n` on one rank, none on the last rank: unequal and
/// zero lengths) with `read_at_all` in pieces of at most [`FILE_PIECE`] bytes, and checks the
/// values and the file's size. The file is in the first of [`std::env::temp_dir`] (`TMPDIR`) and
/// the working directory that every rank sees (see [`shared_dir`]), named after rank 0's process
/// id, and removed after.
///
/// Returns whether every value on this rank was right, and the bytes this rank wrote and read.
/// An `Err` (no directory is shared, the file could not be created, written or read) is agreed.
fn check_file(comm: &Comm, n: usize) -> Result<(bool, usize)> {
    let (rank, size) = (comm.rank(), comm.size());
    let last = size - 1;
    let value = |i: usize| i as f64 * 0.25 - 3.0;
    let pid = comm.broadcast(0, std::process::id())?;
    let name = format!("halo-check-{pid}.bin");
    let path = shared_dir(comm, &name)?.join(name);
    let next = (rank + 1) % size;
    let len = if size == 1 {
        n
    } else {
        n * (last - rank) / last
    };
    let run = || -> Result<bool> {
        let mine: Vec<f64> = (rank * n..(rank + 1) * n).map(value).collect();
        let mut file = comm.open_file(&path, FileMode::Create)?;
        file.write_f64_at_all((8 * rank * n) as u64, &mine)?;
        file.close()?;
        let mut file = comm.open_file(&path, FileMode::Read)?;
        let mut bytes = vec![0u8; 8 * len];
        file.read_at_all_chunked((8 * next * n) as u64, &mut bytes, FILE_PIECE)?;
        let size_ok = comm.agree(file.size())? == (8 * n * size) as u64;
        file.close()?;
        let values_ok = bytes
            .chunks_exact(8)
            .enumerate()
            .all(|(k, b)| b == value(next * n + k).to_le_bytes());
        Ok(size_ok && values_ok)
    };
    let outcome = run();
    // Every rank has closed the file (each `File` was closed or dropped, on every rank alike,
    // as the errors are agreed) before rank 0 removes it.
    comm.barrier();
    if rank == 0 {
        let _ = std::fs::remove_file(&path);
    }
    Ok((outcome?, 8 * (n + len)))
}

/// The first of `TMPDIR` and the working directory in which every rank of `comm` sees the file
/// `name` that rank 0 makes there (and removes again): a collective MPI-IO open needs one file
/// for all ranks. On a cluster `TMPDIR` is often local to each node (and OpenMPI's MPI-IO then
/// waits forever in `MPI_File_open` across nodes), while the directory a job was submitted from
/// is shared. Collective; the error, when neither is shared, is agreed.
fn shared_dir(comm: &Comm, name: &str) -> Result<std::path::PathBuf> {
    let here = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let candidates = [std::env::temp_dir(), here];
    for dir in &candidates {
        let probe = dir.join(name);
        let made = comm.rank() != 0 || std::fs::write(&probe, b"").is_ok();
        comm.barrier();
        let seen = made && probe.exists();
        let everywhere = comm.all_reduce_value(u8::from(seen), ReduceOp::Min)? == 1;
        if comm.rank() == 0 {
            let _ = std::fs::remove_file(&probe);
        }
        if everywhere {
            return Ok(dir.clone());
        }
    }
    Err(Error::Config(format!(
        "the MPI-IO check needs a directory every rank sees, and neither TMPDIR ({}) nor the working directory ({}) is one: run from a shared directory, or set TMPDIR to one",
        candidates[0].display(),
        candidates[1].display()
    )))
}

impl CheckResult {
    /// The result of one check, agreed across `comm`'s ranks: `ok` only if it is on every rank,
    /// and the slowest rank's `seconds`. Collective.
    pub(crate) fn agreed(
        comm: &Comm,
        name: &'static str,
        bytes: usize,
        seconds: f64,
        ok: bool,
    ) -> Result<CheckResult> {
        let all_ok = comm.all_reduce_value(u8::from(ok), ReduceOp::Min)? == 1;
        let seconds = comm.all_reduce_value(seconds, ReduceOp::Max)?;
        Ok(CheckResult {
            name,
            bytes,
            seconds,
            ok: all_ok,
        })
    }
}
