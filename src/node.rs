//! What the node under a rank can give a job: memory, and the cores a rank may run on
//! ([`affinity`]).
//!
//! Before a run allocates, each rank's need is set against what its node has, and a job that
//! cannot fit is refused on every rank with one line ([`ensure_fits`]), instead of dying in the
//! allocator, or at the hands of the kernel's OOM killer, which may take other work on the node
//! with it. The node's memory is the smallest of
//! - `MemAvailable` in `/proc/meminfo`, what the kernel can give without swapping, and
//! - the room under each memory cgroup limit from this process's cgroup up to the root: v2
//!   `memory.max` minus `memory.current`, v1 `memory.limit_in_bytes` minus `memory.usage_in_bytes`,
//!   counting the cgroup's file cache (`active_file`, `inactive_file` in `memory.stat`) as room,
//!   since the kernel reclaims it before it kills;
//!
//! That memory is shared by the job's ranks on the node. Each process is bounded as well by
//! `ulimit -v` (`RLIMIT_AS`), less what it has mapped already ([`address_space_left`]). When the
//! environment variable [`LIMIT_VAR`] (`HALO_MEMORY_LIMIT`) is set, its value (bytes, or with a
//! binary unit: `512M`, `4G`) stands for all of these: the node's memory, no other limit.
//!
//! After a run, [`peak_rss`] says how much memory this process held at most (`VmHWM`), for the
//! per-rank figures of `halo solve --stats`.
//!
//! The parsing is pure and tested on text; only [`node_memory`], [`address_space_left`] and
//! [`peak_rss`] read the system. Where none of these files exist (another OS), nothing is known
//! and nothing refused.

pub mod affinity;
pub mod signals;

use crate::comm::{Comm, ReduceOp};
use crate::error::{Error, Result};
use mpi::traits::Communicator;
use std::path::{Path, PathBuf};

/// The environment variable that sets the memory a node has for a job, instead of every figure
/// read from the system (`ulimit -v` included): bytes, or a number with `K`, `M`, `G` or `T`
/// (powers of 1024), e.g. `4G`.
pub const LIMIT_VAR: &str = "HALO_MEMORY_LIMIT";

/// Where a figure for a node's memory came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// [`LIMIT_VAR`], set by the user.
    Override,
    /// `MemAvailable` in `/proc/meminfo`.
    Available,
    /// A memory cgroup's limit.
    Cgroup,
}

impl Source {
    const ALL: [Source; 3] = [Source::Override, Source::Available, Source::Cgroup];

    /// How a refusal names it.
    pub fn describe(self) -> &'static str {
        match self {
            Source::Override => LIMIT_VAR,
            Source::Available => "MemAvailable",
            Source::Cgroup => "its cgroup's memory limit",
        }
    }

    fn code(self) -> u64 {
        Source::ALL.iter().position(|&s| s == self).unwrap_or(0) as u64
    }

    fn from_code(code: u64) -> Source {
        Source::ALL
            .get(code as usize)
            .copied()
            .unwrap_or(Source::Available)
    }
}

/// The memory a node has for a job, and which figure said so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeMemory {
    /// Bytes.
    pub bytes: u64,
    /// Where the figure came from.
    pub source: Source,
}

/// The memory this node has for a job: [`LIMIT_VAR`] when set, else the smaller of
/// `MemAvailable` and the room under the cgroup limits; `None` when nothing can be read.
/// An override that is not a size is an [`Error::Config`].
pub fn node_memory() -> Result<Option<NodeMemory>> {
    if let Some(v) = std::env::var_os(LIMIT_VAR).filter(|v| !v.is_empty()) {
        let s = v.to_string_lossy();
        return match parse_size(&s) {
            Some(bytes) => Ok(Some(NodeMemory {
                bytes,
                source: Source::Override,
            })),
            None => Err(Error::Config(format!(
                "{LIMIT_VAR}={s}: not a size (bytes, or a number with K, M, G or T: 512M, 4G)"
            ))),
        };
    }
    let available = read("/proc/meminfo")
        .and_then(|t| meminfo_available(&t))
        .map(|bytes| NodeMemory {
            bytes,
            source: Source::Available,
        });
    let cgroup = cgroup_room().map(|bytes| NodeMemory {
        bytes,
        source: Source::Cgroup,
    });
    Ok([available, cgroup]
        .into_iter()
        .flatten()
        .min_by_key(|m| m.bytes))
}

/// The address space this process may still map under `ulimit -v` (`RLIMIT_AS`, less its
/// `VmSize`); `None` when unlimited or unknown. It bounds each rank alone, not the node.
pub fn address_space_left() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one `rlimit` through the pointer, which points at `lim`, alive
        // and writable for the whole call.
        if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } != 0
            || lim.rlim_cur == libc::RLIM_INFINITY
        {
            return None;
        }
        let mapped = read("/proc/self/status")
            .and_then(|s| vm_size(&s))
            .unwrap_or(0);
        // `rlim_t` is u64 on Linux, not on every Unix.
        #[allow(clippy::unnecessary_cast)]
        let limit = lim.rlim_cur as u64;
        Some(limit.saturating_sub(mapped))
    }
    #[cfg(not(unix))]
    None
}

fn read(path: impl AsRef<Path>) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// Parses a size: bytes, or a number (decimals allowed) with a unit `K`, `M`, `G` or `T` in
/// powers of 1024, optionally followed by `B` or `iB`, any case: `4096`, `512M`, `1.5GiB`.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = (&s[..split], s[split..].trim());
    let unit = unit.to_ascii_uppercase();
    let unit = unit
        .strip_suffix("IB")
        .or_else(|| unit.strip_suffix('B'))
        .unwrap_or(&unit);
    let scale: u64 = match unit {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return None,
    };
    if number.contains('.') {
        let x: f64 = number.parse().ok()?;
        let bytes = x * scale as f64;
        (bytes.is_finite() && bytes < u64::MAX as f64).then_some(bytes as u64)
    } else {
        number.parse::<u64>().ok()?.checked_mul(scale)
    }
}

/// The value in bytes of a `Key:   N kB` line of a `/proc` file.
fn kb_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        let kb: u64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
        kb.checked_mul(1024)
    })
}

/// The memory available to start new work, from the text of `/proc/meminfo`: `MemAvailable`,
/// or on kernels older than 3.14 `MemFree + Buffers + Cached`.
pub fn meminfo_available(text: &str) -> Option<u64> {
    kb_field(text, "MemAvailable").or_else(|| {
        let f = |k| kb_field(text, k);
        Some(f("MemFree")? + f("Buffers").unwrap_or(0) + f("Cached").unwrap_or(0))
    })
}

/// The address space mapped, from the text of `/proc/self/status` (`VmSize`).
pub fn vm_size(status: &str) -> Option<u64> {
    kb_field(status, "VmSize")
}

/// The peak resident set size, from the text of `/proc/self/status` (`VmHWM`, the "high water
/// mark" of `VmRSS`): the most physical memory the process has held at once so far.
pub fn vm_hwm(status: &str) -> Option<u64> {
    kb_field(status, "VmHWM")
}

/// This process's peak resident set size so far in bytes ([`vm_hwm`] of `/proc/self/status`);
/// `None` where the system does not say (no `/proc`, as on macOS).
pub fn peak_rss() -> Option<u64> {
    read("/proc/self/status").and_then(|s| vm_hwm(&s))
}

/// The value of `key` in a cgroup `memory.stat` text (`key value` lines).
fn stat_field(stat: &str, key: &str) -> Option<u64> {
    stat.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

/// Room under a limit: the limit less the usage that is not file cache.
fn room(limit: u64, usage: u64, cache: u64) -> u64 {
    limit.saturating_sub(usage.saturating_sub(cache))
}

/// The room under one cgroup v2 limit, from the texts of its `memory.max`, `memory.current` and
/// `memory.stat`; `None` when it has no limit (`max`).
pub fn cgroup_v2_room(max: &str, current: &str, stat: &str) -> Option<u64> {
    let limit: u64 = max.trim().parse().ok()?;
    let usage: u64 = current.trim().parse().ok()?;
    let cache = ["active_file", "inactive_file"]
        .iter()
        .filter_map(|k| stat_field(stat, k))
        .sum();
    Some(room(limit, usage, cache))
}

/// The room under one cgroup v1 limit, from the texts of its `memory.limit_in_bytes`,
/// `memory.usage_in_bytes` and `memory.stat`; `None` when it has no limit (v1 writes a number
/// near 2^63 for that).
pub fn cgroup_v1_room(limit: &str, usage: &str, stat: &str) -> Option<u64> {
    let limit: u64 = limit.trim().parse().ok()?;
    if limit >= 1 << 62 {
        return None;
    }
    let usage: u64 = usage.trim().parse().ok()?;
    // The hierarchical totals when the kernel gives them (they include child cgroups, as the
    // usage does), else this cgroup's own.
    let cache = |k: &str| stat_field(stat, &format!("total_{k}")).or_else(|| stat_field(stat, k));
    let cache = cache("active_file").unwrap_or(0) + cache("inactive_file").unwrap_or(0);
    Some(room(limit, usage, cache))
}

/// A cgroup hierarchy version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    /// The unified hierarchy (`cgroup2`).
    V2,
    /// The v1 `memory` controller's hierarchy.
    V1,
}

/// A memory cgroup of this process, found from `/proc/self/cgroup` and `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupDir {
    /// Its hierarchy.
    pub version: CgroupVersion,
    /// Its directory.
    pub dir: PathBuf,
    /// Where its hierarchy is mounted: the last directory up the tree that can be read.
    pub mount: PathBuf,
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
pub(crate) fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push(d.iter().fold(0u8, |a, c| a.wrapping_mul(8) + (c - b'0')));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// This process's memory cgroups, from the texts of `/proc/self/cgroup` (`ID:CONTROLLERS:PATH`
/// lines) and `/proc/self/mountinfo` (where each hierarchy is mounted, and from which root).
pub fn cgroup_dirs(cgroup: &str, mountinfo: &str) -> Vec<CgroupDir> {
    // (version, mount root, mount point) of the cgroup2 mount and the v1 memory mount.
    let mut mounts = Vec::new();
    for line in mountinfo.lines() {
        let Some((head, tail)) = line.split_once(" - ") else {
            continue;
        };
        let head: Vec<&str> = head.split(' ').collect();
        let tail: Vec<&str> = tail.split(' ').collect();
        let (Some(root), Some(point), Some(fstype)) = (head.get(3), head.get(4), tail.first())
        else {
            continue;
        };
        let version = match *fstype {
            "cgroup2" => CgroupVersion::V2,
            "cgroup"
                if tail
                    .get(2)
                    .is_some_and(|o| o.split(',').any(|o| o == "memory")) =>
            {
                CgroupVersion::V1
            }
            _ => continue,
        };
        if !mounts.iter().any(|(v, _, _)| *v == version) {
            mounts.push((version, unescape(root), PathBuf::from(unescape(point))));
        }
    }
    let mut dirs = Vec::new();
    for line in cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let version = if id == "0" && controllers.is_empty() {
            CgroupVersion::V2
        } else if controllers.split(',').any(|c| c == "memory") {
            CgroupVersion::V1
        } else {
            continue;
        };
        let Some((_, root, point)) = mounts.iter().find(|(v, _, _)| *v == version) else {
            continue;
        };
        // A path outside the mount's root (another cgroup namespace) is read at the mount.
        let dir = match Path::new(path).strip_prefix(root) {
            Ok(rel) => point.join(rel),
            Err(_) => point.clone(),
        };
        dirs.push(CgroupDir {
            version,
            dir,
            mount: point.clone(),
        });
    }
    dirs
}

/// The least room under this process's memory cgroup limits, at every level from its own cgroup
/// up to its hierarchy's mount; `None` when none is limited (or none can be read).
fn cgroup_room() -> Option<u64> {
    let dirs = cgroup_dirs(&read("/proc/self/cgroup")?, &read("/proc/self/mountinfo")?);
    let mut least: Option<u64> = None;
    for c in dirs {
        let mut dir = c.dir.as_path();
        loop {
            let here = level_room(c.version, dir);
            if let Some(r) = here {
                least = Some(least.map_or(r, |l| l.min(r)));
            }
            match dir.parent() {
                Some(p) if dir != c.mount && p.starts_with(&c.mount) => dir = p,
                _ => break,
            }
        }
    }
    least
}

/// The room under the limit of the one cgroup in `dir`, if it has one.
fn level_room(version: CgroupVersion, dir: &Path) -> Option<u64> {
    let f = |name: &str| read(dir.join(name));
    match version {
        CgroupVersion::V2 => {
            cgroup_v2_room(&f("memory.max")?, &f("memory.current")?, &f("memory.stat")?)
        }
        CgroupVersion::V1 => cgroup_v1_room(
            &f("memory.limit_in_bytes")?,
            &f("memory.usage_in_bytes")?,
            &f("memory.stat").unwrap_or_default(),
        ),
    }
}

/// `bytes` for people: `512 B`, `3.0 KiB`, `37.3 GiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let (mut v, mut u) = (bytes as f64, 0);
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The error for an allocation of `bytes` for `what` that the system refused.
pub fn out_of_memory(bytes: u64, what: &str) -> Error {
    Error::Config(format!(
        "out of memory: could not allocate {} for {what}",
        human(bytes)
    ))
}

/// `n` copies of `value` in a new vector, or [`out_of_memory`] (for `what`) if the memory
/// cannot be had, instead of aborting the process as `vec![value; n]` does.
pub fn try_vec<T: Clone>(n: usize, value: T, what: &str) -> Result<Vec<T>> {
    let bytes = (n as u64).saturating_mul(std::mem::size_of::<T>() as u64);
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| out_of_memory(bytes, what))?;
    v.resize(n, value);
    Ok(v)
}

/// What a job will ask of its ranks' memory, checked by [`ensure_fits`] before it allocates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demand {
    /// The quantity that sets the size, as the refusal names it: `grid`, `--elements`.
    pub quantity: &'static str,
    /// Its value, as given: `100000x100000`.
    pub value: String,
    /// Bytes this rank will hold at its peak.
    pub mine: u64,
    /// The most any rank other than 0 will hold (rank 0's when it is alone).
    pub per_rank: u64,
    /// The most rank 0 will hold.
    pub root: u64,
}

impl Demand {
    /// The same `bytes` on every rank, rank 0 included (a benchmark's buffers).
    pub fn uniform(quantity: &'static str, value: String, bytes: u64) -> Self {
        Demand {
            quantity,
            value,
            mine: bytes,
            per_rank: bytes,
            root: bytes,
        }
    }
}

/// A node or a process that a [`Demand`] does not fit, as the failing rank sends it: what ran
/// short, the bytes needed and had, and the ranks on the node (or the rank).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shortfall {
    /// The ranks on one node need more than it has.
    Node {
        need: u64,
        have: u64,
        ranks: u64,
        source: Source,
    },
    /// One rank needs more address space than `ulimit -v` leaves it.
    Process { need: u64, have: u64, rank: u64 },
}

impl Shortfall {
    fn encode(self) -> Vec<u64> {
        match self {
            Shortfall::Node {
                need,
                have,
                ranks,
                source,
            } => vec![0, need, have, ranks, source.code()],
            Shortfall::Process { need, have, rank } => vec![1, need, have, rank, 0],
        }
    }

    fn decode(v: &[u64]) -> Option<Shortfall> {
        match *v {
            [0, need, have, ranks, source] => Some(Shortfall::Node {
                need,
                have,
                ranks,
                source: Source::from_code(source),
            }),
            [1, need, have, rank, _] => Some(Shortfall::Process { need, have, rank }),
            _ => None,
        }
    }
}

/// The refusal of `demand` on a job of `ranks` ranks because of `short`: one line.
fn refusal(demand: &Demand, ranks: usize, short: Shortfall) -> Error {
    let d = demand;
    let needs = if ranks == 1 {
        format!("needs ~{}", human(d.root))
    } else if d.per_rank == d.root {
        format!("needs ~{} per rank", human(d.root))
    } else {
        format!(
            "needs ~{} per rank (rank 0: ~{})",
            human(d.per_rank),
            human(d.root)
        )
    };
    let why = match short {
        Shortfall::Node {
            need,
            have,
            ranks: n,
            source,
        } => {
            let on_node = if n == 1 {
                String::new()
            } else {
                format!(", ~{} for the {n} ranks on one node", human(need))
            };
            let ranks = if n == 1 { "rank" } else { "ranks" };
            format!(
                "{needs}{on_node}; the node has {} for {n} {ranks} ({})",
                human(have),
                source.describe()
            )
        }
        Shortfall::Process { have, rank, .. } => {
            format!("{needs}; ulimit -v leaves rank {rank} {}", human(have))
        }
    };
    Error::Invalid {
        quantity: d.quantity,
        value: d.value.clone(),
        why,
    }
}

/// Checks `demand` against every node's memory and every rank's `ulimit -v` (or against
/// [`LIMIT_VAR`] alone when set), before anything is allocated; collective, and the verdict is the same on every rank: `Ok`, or the same
/// [`Error::Invalid`] (exit code 2), one line naming the need and what the node (or a rank's
/// address-space limit) has. The ranks on a node share its memory: their `mine` are summed.
pub fn ensure_fits(comm: &Comm, demand: &Demand) -> Result<()> {
    let memory = comm.agree(node_memory())?;
    let node = Comm::new(comm.raw().split_shared(comm.rank() as i32));
    // Summed as integers, exact; and as floats, which cannot wrap: a sum past u64's range (a
    // request of exabytes per rank) would otherwise wrap round to a small number and pass.
    let need = node.all_reduce_value(demand.mine, ReduceOp::Sum)?;
    let rough = node.all_reduce_value(demand.mine as f64, ReduceOp::Sum)?;
    let need = if rough >= u64::MAX as f64 {
        u64::MAX
    } else {
        need
    };
    // "Unknown" is 2^63 − 1, not u64::MAX: MPICH 4.0's MPI_MIN compares u64 as signed, and a
    // rank that knows nothing would otherwise win over every figure.
    const UNKNOWN: u64 = i64::MAX as u64;
    let known = memory.map_or(UNKNOWN, |m| m.bytes.min(UNKNOWN - 1));
    let have = node.all_reduce_value(known, ReduceOp::Min)?;
    let have = if have == UNKNOWN { u64::MAX } else { have };
    // Which figure was the least, as the rank that read it says.
    let source = memory
        .filter(|m| m.bytes.min(UNKNOWN - 1) == have)
        .map_or(UNKNOWN, |m| m.source.code());
    let source = Source::from_code(node.all_reduce_value(source, ReduceOp::Min)?);
    // The override stands for every figure read from the system, `ulimit -v` included.
    let overridden = memory.is_some_and(|m| m.source == Source::Override);
    let short = if need > have {
        Some(Shortfall::Node {
            need,
            have,
            ranks: node.size() as u64,
            source,
        })
    } else {
        address_space_left()
            .filter(|&left| !overridden && demand.mine > left)
            .map(|left| Shortfall::Process {
                need: demand.mine,
                have: left,
                rank: comm.rank() as u64,
            })
    };
    let size = comm.size();
    let mine = if short.is_some() { comm.rank() } else { size };
    let first = comm.all_reduce_value(mine as u64, ReduceOp::Min)? as usize;
    if first == size {
        return Ok(());
    }
    let figures = comm.broadcast_vec(first, short.map(Shortfall::encode))?;
    let short = Shortfall::decode(&figures).ok_or_else(|| {
        Error::Config("the memory check's figures were garbled in transit".into())
    })?;
    Err(refusal(demand, size, short))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("4G"), Some(4 << 30));
        assert_eq!(parse_size(" 4 GiB "), Some(4 << 30));
        assert_eq!(parse_size("2t"), Some(2 << 40));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        assert_eq!(parse_size("64kb"), Some(64 << 10));
        for bad in [
            "",
            "G",
            "-1G",
            "4X",
            "1.2.3M",
            "99999999999999999999",
            "20000000T",
        ] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn meminfo_gives_mem_available_or_free_plus_cache() {
        let text = "MemTotal:       24683656 kB\nMemFree:         3707168 kB\n\
                    MemAvailable:   24015104 kB\nBuffers:          123 kB\n";
        assert_eq!(meminfo_available(text), Some(24015104 * 1024));
        let old = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 300 kB\n";
        assert_eq!(meminfo_available(old), Some(420 * 1024));
        assert_eq!(meminfo_available("nothing here"), None);
        let status = "Name:\thalo\nVmPeak:\t  900 kB\nVmSize:\t  812 kB\nVmRSS:\t 10 kB\n";
        assert_eq!(vm_size(status), Some(812 * 1024));
    }

    #[test]
    fn status_gives_the_peak_resident_set_not_the_current_one() {
        let status = "Name:\thalo\nVmPeak:\t  900 kB\nVmSize:\t  812 kB\nVmLck:\t  0 kB\n\
                      VmHWM:\t   34816 kB\nVmRSS:\t   20480 kB\nRssAnon:\t 1 kB\n";
        assert_eq!(vm_hwm(status), Some(34816 * 1024));
        // Neither a key that only begins the same way nor a line without its unit counts.
        assert_eq!(vm_hwm("VmHWMx:\t 5 kB\nVmRSS:\t 7 kB\n"), None);
        assert_eq!(vm_hwm("VmHWM:\t 5\n"), None);
        assert_eq!(vm_hwm(""), None);
    }

    #[test]
    fn this_process_reports_a_peak_that_covers_what_it_touched_if_linux_does() {
        if !Path::new("/proc/self/status").exists() {
            assert_eq!(peak_rss(), None);
            return;
        }
        // 64 MiB written page by page is resident at once, so the high-water mark is above it.
        let v = vec![1u8; 64 << 20];
        let peak = peak_rss().expect("VmHWM in /proc/self/status");
        assert!(v.iter().step_by(4096).all(|&b| b == 1));
        assert!(peak >= 64 << 20, "{peak}");
    }

    #[test]
    fn cgroup_v2_room_counts_file_cache_as_room_and_max_as_no_limit() {
        let stat = "anon 100\nfile 700\nactive_file 300\ninactive_file 400\nshmem 0\n";
        assert_eq!(cgroup_v2_room("2000\n", "1500\n", stat), Some(1200));
        assert_eq!(cgroup_v2_room("1000", "1500", ""), Some(0));
        assert_eq!(cgroup_v2_room("max\n", "1500", stat), None);
    }

    #[test]
    fn cgroup_v1_room_prefers_hierarchical_totals_and_knows_unlimited() {
        let stat = "cache 10\nactive_file 1\ninactive_file 2\n\
                    total_active_file 30\ntotal_inactive_file 40\n";
        assert_eq!(cgroup_v1_room("1000\n", "900\n", stat), Some(170));
        assert_eq!(
            cgroup_v1_room("1000", "900", "active_file 5\ninactive_file 5\n"),
            Some(110)
        );
        assert_eq!(cgroup_v1_room("9223372036854771712\n", "900", stat), None);
    }

    #[test]
    fn cgroup_dirs_map_each_hierarchy_through_its_mount() {
        let mountinfo = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw
";
        let cgroup = "1:cpu:/\n4:memory:/jobs/abc\n0::/user.slice\n";
        assert_eq!(
            cgroup_dirs(cgroup, mountinfo),
            [
                CgroupDir {
                    version: CgroupVersion::V1,
                    dir: "/sys/fs/cgroup/memory/jobs/abc".into(),
                    mount: "/sys/fs/cgroup/memory".into(),
                },
                CgroupDir {
                    version: CgroupVersion::V2,
                    dir: "/sys/fs/cgroup/unified/user.slice".into(),
                    mount: "/sys/fs/cgroup/unified".into(),
                },
            ]
        );
        // A container: the mount's root is the container's own cgroup, escapes in the path.
        let mountinfo = "25 20 0:22 /kube/pod\\0401 /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n";
        let dirs = cgroup_dirs("0::/kube/pod 1/app\n", mountinfo);
        assert_eq!(dirs[0].dir, PathBuf::from("/sys/fs/cgroup/app"));
        // A path outside the mount's root is read at the mount.
        let dirs = cgroup_dirs("0::/elsewhere\n", mountinfo);
        assert_eq!(dirs[0].dir, PathBuf::from("/sys/fs/cgroup"));
        assert!(cgroup_dirs("0::/\n", "").is_empty());
    }

    #[test]
    fn sizes_print_in_binary_units() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 << 10), "3.0 KiB");
        assert_eq!(human(40_002_400_032), "37.3 GiB");
        assert_eq!(human(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn refusals_name_the_need_and_what_ran_short() {
        let d = Demand {
            quantity: "grid",
            value: "100000x100000".into(),
            mine: 0,
            per_rank: 40_002_400_032,
            root: 80_004_800_064,
        };
        let node = Shortfall::Node {
            need: 120_007_200_096,
            have: 22_763_000_000,
            ranks: 2,
            source: Source::Available,
        };
        let e = refusal(&d, 2, Shortfall::decode(&node.encode()).unwrap());
        assert_eq!(
            e.to_string(),
            "grid 100000x100000: needs ~37.3 GiB per rank (rank 0: ~74.5 GiB), ~111.8 GiB for \
             the 2 ranks on one node; the node has 21.2 GiB for 2 ranks (MemAvailable)"
        );
        assert_eq!(e.exit_code(), 2);
        let proc = Shortfall::Process {
            need: 3 << 30,
            have: 1 << 30,
            rank: 0,
        };
        let e = refusal(&d, 1, Shortfall::decode(&proc.encode()).unwrap());
        assert_eq!(
            e.to_string(),
            "grid 100000x100000: needs ~74.5 GiB; ulimit -v leaves rank 0 1.0 GiB"
        );
        assert_eq!(Shortfall::decode(&[7, 1, 2]), None);
    }

    #[test]
    fn try_vec_refuses_what_cannot_be_had() {
        assert_eq!(try_vec(3, 1.5f64, "x").unwrap(), vec![1.5; 3]);
        let e = try_vec(usize::MAX / 8, 0.0f64, "the test's array").unwrap_err();
        assert!(e.to_string().contains("the test's array"), "{e}");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn this_machine_reports_some_memory_if_linux_does() {
        if Path::new("/proc/meminfo").exists() && std::env::var_os(LIMIT_VAR).is_none() {
            let m = node_memory().unwrap().expect("a figure from /proc/meminfo");
            assert!(m.bytes > 0, "{m:?}");
        }
    }
}
