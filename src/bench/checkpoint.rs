//! Checkpoint throughput: how fast a job's ranks write a distributed field into one checkpoint
//! ([`crate::io::Checkpointer::save`]) and read it back ([`crate::io::restore`]), for comparison
//! with what `dd` reaches on the same disk.
//!
//! Each round writes a checkpoint, drops the page cache where it can, and restores it (after
//! untimed warm-up rounds, one by default); both are
//! timed from a barrier before the call to its return, the slowest rank's time, and so include
//! everything a run pays: band assembly and checksums, `MPI_File_sync`, the rename and the
//! directory sync on writing, the header check and every band's checksum on reading. The field
//! holds a distinct value in every cell (its sign flipped every round), and every value read back
//! is checked: a wrong one is an error, as in the Parallel Research Kernels.
//!
//! The checkpoints go into a directory of the benchmark's own, made inside the one given and
//! removed at the end, whatever happens.

use crate::comm::{Comm, ReduceOp};
use crate::decomp::Stencil;
use crate::error::{Error, Result};
use crate::grid::{decompose, Boundaries, Boundary, DistArray, Layout, BAND_BYTES};
use crate::io::{checkpoint_name, io_err, restore, Checkpointer, RunIdentity};
use mpi::traits::Communicator;
use std::path::{Path, PathBuf};

use super::median;

/// What to measure.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointOptions {
    /// Global cells along x.
    pub nx: usize,
    /// Global cells along y.
    pub ny: usize,
    /// Write-and-read rounds (at least one).
    pub rounds: usize,
    /// Rounds run first and not timed: the first touch of memory a process has not used yet
    /// (the page cache a checkpoint fills, fresh pages under a virtual machine) costs as much as
    /// the disk, and a benchmark of the disk should not count it.
    pub warmup: usize,
    /// The directory the benchmark makes its own inside (it must exist and be writable).
    pub dir: PathBuf,
}

/// Where the checkpoints went: the file system holding the directory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mount {
    /// Its type (`ext4`, `xfs`, `tmpfs`, …).
    pub fstype: String,
    /// What is mounted (`/dev/vda`, `tmpfs`, a server's export).
    pub source: String,
    /// Where it is mounted.
    pub target: String,
}

/// What [`checkpoint`] measured. Rates are file bytes over seconds, in MB/s (10^6 bytes).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CheckpointBench {
    /// Ranks.
    pub ranks: usize,
    /// Global cells along x.
    pub nx: usize,
    /// Global cells along y.
    pub ny: usize,
    /// Bytes of one checkpoint file (header, padding and data).
    pub file_bytes: u64,
    /// Rounds timed.
    pub rounds: usize,
    /// Rounds run first, untimed.
    pub warmup: usize,
    /// The benchmark's own directory, where the checkpoints went (removed by now).
    pub dir: String,
    /// The file system holding it, when `/proc/self/mountinfo` tells.
    pub mount: Option<Mount>,
    /// Whether the page cache was dropped before every read (else the reads may come from
    /// memory).
    pub cache_dropped: bool,
    /// Why it could not be dropped, when it could not.
    pub cache_note: Option<String>,
    /// Every round's write rate, MB/s.
    pub write_mb_per_s: Vec<f64>,
    /// Every round's read rate, MB/s.
    pub read_mb_per_s: Vec<f64>,
    /// The median write rate, MB/s.
    pub write_median_mb_per_s: f64,
    /// The median read rate, MB/s.
    pub read_median_mb_per_s: f64,
}

/// The value the benchmark's field holds at global `(row, col)` of an `nx`-wide grid in round
/// `round` (from 1): distinct in every cell (exact up to 2^53 cells), its sign flipped every round.
pub fn cell_value(nx: usize, row: usize, col: usize, round: usize) -> f64 {
    let v = (row * nx + col) as f64 + 0.5;
    if round % 2 == 1 {
        v
    } else {
        -v
    }
}

/// The bytes one rank holds at its peak, with the largest block of `layout`'s decomposition: the
/// field, the field read back, its share of a round of bands and a band in bytes.
fn peak_bytes(layout: &Layout) -> u64 {
    let d = &layout.decomp;
    let g = 2 * layout.ghost as u64;
    let block = (0..d.grid.size())
        .map(|r| {
            let b = d.block(r);
            (b.nx() as u64 + g) * (b.ny() as u64 + g)
        })
        .max()
        .unwrap_or(0);
    let band = (BAND_BYTES as u64).max(8 * d.nx as u64);
    8 * 3 * block + 3 * band
}

/// Runs the checkpoint benchmark (see the module docs). Collective; bad input (no rounds, a
/// grid the ranks cannot share, a directory that cannot be written, more memory than a node has)
/// is the same one-line error on every rank before anything is written.
pub fn checkpoint(comm: &Comm, opts: &CheckpointOptions) -> Result<CheckpointBench> {
    if opts.rounds == 0 {
        return Err(Error::Config(
            "--rounds 0: the checkpoint benchmark needs at least one round".into(),
        ));
    }
    let (nx, ny) = (opts.nx, opts.ny);
    let decomp = decompose(comm, nx, ny, None)?;
    let layout = Layout::new(
        decomp,
        comm.rank(),
        1,
        Stencil::Star,
        Boundaries::all(Boundary::Dirichlet(0.0)),
    )?;
    crate::node::ensure_fits(
        comm,
        &crate::node::Demand::uniform("grid", format!("{nx}x{ny}"), peak_bytes(&layout)),
    )?;
    let own = own_dir(comm, &opts.dir)?;
    let measured = measure(comm, opts, &layout, &own);
    if comm.rank() == 0 {
        let _ = std::fs::remove_dir_all(&own);
    }
    measured
}

/// Makes the benchmark's directory inside `dir` on rank 0 and shares its path; a `dir` that is
/// missing, not a directory or not writable is the same [`Error::Config`] on every rank.
fn own_dir(comm: &Comm, dir: &Path) -> Result<PathBuf> {
    let made = (comm.rank() == 0).then(|| {
        let own = std::fs::canonicalize(dir)
            .map(|d| d.join(format!("halo-bench-checkpoint-{}", std::process::id())));
        match own.and_then(|own| std::fs::create_dir(&own).map(|()| own)) {
            Ok(own) => format!("ok {}", own.display()),
            Err(e) => format!(
                "--dir {}: cannot make the benchmark's directory there: {}",
                dir.display(),
                e
            ),
        }
    });
    let made = comm.broadcast_string(0, made.as_deref())?;
    match made.strip_prefix("ok ") {
        Some(path) => Ok(PathBuf::from(path)),
        None => Err(Error::Config(made)),
    }
}

/// The rounds themselves, in `own`; see [`checkpoint`].
fn measure(
    comm: &Comm,
    opts: &CheckpointOptions,
    layout: &Layout,
    own: &Path,
) -> Result<CheckpointBench> {
    let root = comm.rank() == 0;
    let (nx, ny) = (opts.nx, opts.ny);
    let mut field = comm.agree(DistArray::try_from_fn(layout.clone(), |r, c| {
        cell_value(nx, r, c, 1)
    }))?;
    let run = RunIdentity {
        problem: "bench-checkpoint".into(),
        nx,
        ny,
        params: Vec::new(),
    };
    let saver = Checkpointer {
        every: 1,
        dir: own.to_path_buf(),
        run: run.clone(),
        keep: None,
    };
    let mount = root
        .then(|| mount_of(own))
        .flatten()
        .map(|m| format!("{}\t{}\t{}", m.fstype, m.source, m.target));
    let mount = comm.broadcast_string(0, Some(mount.as_deref().unwrap_or("")))?;
    let mount = mount.split('\t').collect::<Vec<_>>();
    let mount = (mount.len() == 3).then(|| Mount {
        fstype: mount[0].into(),
        source: mount[1].into(),
        target: mount[2].into(),
    });
    // What a restarting solver reads into: arrays of its own, allocated (and touched) before.
    let mut target = comm.agree(DistArray::try_zeros(layout.clone()))?;
    let (mut writes, mut reads) = (Vec::new(), Vec::new());
    let mut file_bytes = 0;
    let mut dropped = true;
    let mut note = None;
    for round in 1..=opts.warmup + opts.rounds {
        if round > 1 {
            field.interior_mut().mapv_inplace(|v| -v);
        }
        // The disk's queue empty first (what earlier rounds or other work left to write), as
        // dd's writes start in scripts/benchmarks.
        let _ = flush_disks(comm);
        comm.barrier();
        let t = Comm::wtime();
        saver.save(comm, round, 0.0, &[("u", &field)], &[])?;
        let write = slowest(comm, Comm::wtime() - t)?;
        let path = own.join(checkpoint_name(round));
        let size = root.then(|| std::fs::metadata(&path).map(|m| m.len()));
        let size = comm.agree(size.unwrap_or(Ok(0)).map_err(|e| io_err(&path, e)))?;
        let size = comm.all_reduce_value(size, ReduceOp::Max)?;
        file_bytes = size;

        let why = drop_page_cache(comm)?;
        if let Some(why) = why {
            dropped = false;
            note.get_or_insert(why);
        }
        comm.barrier();
        let t = Comm::wtime();
        restore(comm, own, &run, round + 1, &["u"], &mut [&mut target])?;
        let read = slowest(comm, Comm::wtime() - t)?;
        check(comm, &target, nx, round)?;
        let removed = if root {
            std::fs::remove_file(&path).map_err(|e| io_err(&path, e))
        } else {
            Ok(())
        };
        comm.agree(removed)?;
        if round > opts.warmup {
            writes.push(size as f64 / write / 1e6);
            reads.push(size as f64 / read / 1e6);
        }
    }
    Ok(CheckpointBench {
        ranks: comm.size(),
        nx,
        ny,
        file_bytes,
        rounds: opts.rounds,
        warmup: opts.warmup,
        dir: own.display().to_string(),
        mount,
        cache_dropped: dropped,
        cache_note: note,
        write_median_mb_per_s: median(&writes).unwrap_or(0.0),
        read_median_mb_per_s: median(&reads).unwrap_or(0.0),
        write_mb_per_s: writes,
        read_mb_per_s: reads,
    })
}

/// The slowest rank's `seconds` (at least a nanosecond, so that a rate stays finite).
fn slowest(comm: &Comm, seconds: f64) -> Result<f64> {
    Ok(comm.all_reduce_value(seconds, ReduceOp::Max)?.max(1e-9))
}

/// Checks every value of `field` read back in `round`; the first wrong one, and how many, is an
/// [`Error::Diverged`] on every rank.
fn check(comm: &Comm, field: &DistArray, nx: usize, round: usize) -> Result<()> {
    let b = &field.layout().block;
    let (r0, c0) = (b.rows.start, b.cols.start);
    let mut wrong = 0u64;
    let mut first = None;
    for ((i, j), &v) in field.interior().indexed_iter() {
        let want = cell_value(nx, r0 + i, c0 + j, round);
        if v.to_bits() != want.to_bits() {
            wrong += 1;
            first.get_or_insert((r0 + i, c0 + j, v, want));
        }
    }
    let total = comm.all_reduce_value(wrong, ReduceOp::Sum)?;
    let local = match first {
        Some((row, col, got, want)) => Err(Error::Diverged(format!(
            "checkpoint benchmark: round {round} read back {total} wrong values, the first at row \
             {row}, column {col}: {got:?} where {want:?} was written"
        ))),
        None => Ok(()),
    };
    comm.agree(local)
}

/// Writes out every node's dirty pages (`sync`, by the node's first rank), so that a timed write
/// does not also pay for what was written before it.
/// Returns whether this rank is its node's first, the one that synced.
fn flush_disks(comm: &Comm) -> bool {
    let first_on_node = comm.raw().split_shared(comm.rank() as i32).rank() == 0;
    if first_on_node {
        // SAFETY: sync(2) takes no arguments and cannot fail.
        unsafe { libc::sync() };
    }
    first_on_node
}

/// Drops the page cache on every node (`sync`, then `3` into `/proc/sys/vm/drop_caches`, by the
/// node's first rank), so that a read comes from the disk. `Some(why)` when some node could not
/// (not root, or a container that does not allow it): the read then may come from memory.
fn drop_page_cache(comm: &Comm) -> Result<Option<String>> {
    let why = if flush_disks(comm) {
        std::fs::write("/proc/sys/vm/drop_caches", "3")
            .err()
            .map(|e| format!("could not drop the page cache: /proc/sys/vm/drop_caches: {e}"))
    } else {
        None
    };
    // The lowest rank that could not says why, on every rank ("none" is the rank count, not
    // u64::MAX: MPICH 4.0's MPI_MIN compares u64 as signed).
    let none = comm.size() as u64;
    let failed = comm.all_reduce_value(
        if why.is_some() {
            comm.rank() as u64
        } else {
            none
        },
        ReduceOp::Min,
    )?;
    if failed == none {
        return Ok(None);
    }
    let text = comm.broadcast_string(failed as usize, why.as_deref())?;
    Ok(Some(text))
}

/// The file system holding `path`, from `/proc/self/mountinfo`.
fn mount_of(path: &Path) -> Option<Mount> {
    let path = std::fs::canonicalize(path).ok()?;
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mount_in(&info, &path.display().to_string())
}

/// The mount of `mountinfo` (`/proc/self/mountinfo`'s text) holding the absolute, canonical
/// `path`: the last of the longest mount points that contain it (a later mount hides an
/// earlier one on the same point).
pub fn mount_in(mountinfo: &str, path: &str) -> Option<Mount> {
    let mut best: Option<Mount> = None;
    for line in mountinfo.lines() {
        // ID PARENT MAJ:MIN ROOT TARGET OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPER-OPTIONS
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split(' ');
        let (Some(target), Some(fstype), Some(source)) =
            (left.split(' ').nth(4), r.next(), r.next())
        else {
            continue;
        };
        let (target, source) = (crate::node::unescape(target), crate::node::unescape(source));
        let inside = path == target
            || target == "/"
            || path
                .strip_prefix(target.as_str())
                .is_some_and(|rest| rest.starts_with('/'));
        if inside && best.as_ref().is_none_or(|b| target.len() >= b.target.len()) {
            best = Some(Mount {
                fstype: fstype.into(),
                source,
                target,
            });
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
23 22 0:21 / /tmp rw,nosuid shared:2 - tmpfs tmpfs rw,size=1024k
24 22 0:22 / /work/my\\040disk rw master:3 - xfs /dev/sdb1 rw
25 23 0:23 / /tmp rw - tmpfs other rw
";

    #[test]
    fn the_longest_mount_point_holding_the_path_wins() {
        let m = |p| mount_in(INFO, p).map(|m| (m.fstype, m.source, m.target));
        let own = |a: &str, b: &str, c: &str| Some((a.into(), b.into(), c.into()));
        assert_eq!(m("/work/x"), own("ext4", "/dev/vda", "/"));
        assert_eq!(m("/"), own("ext4", "/dev/vda", "/"));
        // The later of two mounts on /tmp hides the earlier; /tmpx is not under /tmp.
        assert_eq!(m("/tmp/a/b"), own("tmpfs", "other", "/tmp"));
        assert_eq!(m("/tmpx"), own("ext4", "/dev/vda", "/"));
        assert_eq!(
            m("/work/my disk/ck"),
            own("xfs", "/dev/sdb1", "/work/my disk")
        );
        assert_eq!(mount_in("", "/x"), None);
    }

    #[test]
    fn cell_values_are_distinct_and_flip_sign_each_round() {
        let nx = 7;
        let mut seen = std::collections::HashSet::new();
        for r in 0..5 {
            for c in 0..nx {
                let v = cell_value(nx, r, c, 1);
                assert!(seen.insert(v.to_bits()), "({r}, {c}) repeats {v}");
                assert_eq!(cell_value(nx, r, c, 2), -v);
                assert_eq!(cell_value(nx, r, c, 3), v);
            }
        }
        assert!(
            !seen.contains(&0f64.to_bits()),
            "a zero cell hides a lost write"
        );
    }
}
