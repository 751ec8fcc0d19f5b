//! The cores a rank may run on (its CPU affinity), and what to tell a user whose ranks have
//! fewer cores than `--threads`.
//!
//! A launcher may bind each rank to cores: OpenMPI's `mpirun` binds every rank to one core by
//! default when it starts two ranks or fewer, and Slurm's `srun` gives a task `--cpus-per-task`
//! cores. A rank bound to one core runs its rayon threads one at a time, however many it starts,
//! so `--threads 2` then gains nothing. [`warn_threads`] reads every rank's affinity once, at
//! start-up, and has rank 0 say so in one line with the launch line that gives each rank its
//! cores ([`advice`]); the run goes on.
//!
//! Only [`allowed_cores`] reads the system (`sched_getaffinity(2)`); the rest is pure: bit masks
//! to core lists ([`cores_in_mask`]), compact lists such as `0-3,6` ([`compact`], [`parse_list`]),
//! and the warning's wording ([`shortage`]).

use crate::comm::Comm;
use crate::error::Result;
use std::fmt::Write as _;

/// The cores this process may run on, in increasing order (`sched_getaffinity(2)` of the calling
/// thread, which the threads it starts inherit); `None` where they cannot be read (another OS,
/// or a refusal).
#[cfg(target_os = "linux")]
pub fn allowed_cores() -> Option<Vec<usize>> {
    use libc::c_ulong;
    // glibc's CPU_SETSIZE, 1024 cores, to start with; the kernel refuses (EINVAL) a mask shorter
    // than its own, and then a longer one is tried.
    let mut words = 1024 / c_ulong::BITS as usize;
    loop {
        let mut mask: Vec<c_ulong> = vec![0; words];
        // SAFETY: `mask` is a live, writable buffer of `words * size_of::<c_ulong>()` bytes, the
        // size passed, and the kernel writes no more than that; `cpu_set_t` is an array of
        // `c_ulong` bits, so the buffer has its alignment and layout (bit i in word i / BITS).
        // pid 0 means the calling thread. Nothing keeps the pointer after the call.
        let rc = unsafe {
            libc::sched_getaffinity(
                0,
                words * std::mem::size_of::<c_ulong>(),
                mask.as_mut_ptr().cast::<libc::cpu_set_t>(),
            )
        };
        if rc == 0 {
            return Some(cores_in_mask(&mask));
        }
        let too_short = std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL);
        if !too_short || words >= 1 << 16 {
            return None;
        }
        words *= 2;
    }
}

/// The cores this process may run on: unknown on this OS.
#[cfg(not(target_os = "linux"))]
pub fn allowed_cores() -> Option<Vec<usize>> {
    None
}

/// The cores set in an affinity mask of `c_ulong` words, bit `i` of the set being bit
/// `i % BITS` of word `i / BITS` (`cpu_set_t`'s layout), in increasing order.
pub fn cores_in_mask(words: &[libc::c_ulong]) -> Vec<usize> {
    let bits = libc::c_ulong::BITS as usize;
    words
        .iter()
        .enumerate()
        .flat_map(|(w, &word)| {
            (0..bits)
                .filter(move |b| word >> b & 1 == 1)
                .map(move |b| w * bits + b)
        })
        .collect()
}

/// A list of numbers (cores, ranks) written as Linux writes them (`Cpus_allowed_list`): runs of
/// consecutive numbers as `first-last`, joined by commas, e.g. `0-3,6`. The list is taken in
/// increasing order without repeats, as [`allowed_cores`] gives it; empty for none.
pub fn compact(list: &[usize]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < list.len() {
        let mut j = i;
        while j + 1 < list.len() && list[j + 1] == list[j] + 1 {
            j += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        let _ = match j - i {
            0 => write!(out, "{}", list[i]),
            _ => write!(out, "{}-{}", list[i], list[j]),
        };
        i = j + 1;
    }
    out
}

/// The numbers of a list written as [`compact`] writes it (`0-3,6`, spaces around parts
/// allowed), in increasing order without repeats; `None` when it is not such a list. An empty
/// text is the empty list.
pub fn parse_list(text: &str) -> Option<Vec<usize>> {
    let text = text.trim();
    let mut all = Vec::new();
    if text.is_empty() {
        return Some(all);
    }
    for part in text.split(',') {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
            None => {
                let n: usize = part.trim().parse().ok()?;
                (n, n)
            }
        };
        if first > last || last - first >= 1 << 20 {
            return None;
        }
        all.extend(first..=last);
    }
    all.sort_unstable();
    all.dedup();
    Some(all)
}

/// How a job was launched, for the launch line that fixes a shortage of cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch {
    /// Inside a Slurm job (`SLURM_JOB_ID` is set).
    Slurm,
    /// OpenMPI's `mpirun` (the MPI library is Open MPI).
    OpenMpi,
    /// MPICH's Hydra `mpiexec` (the library is MPICH, or one built on it).
    Mpich,
    /// Neither could be told.
    Unknown,
}

/// The MPI library a version string names (`MPI_Get_library_version`): Open MPI, MPICH (and the
/// libraries built on it that use its Hydra launcher: Intel MPI, MVAPICH), or unknown.
pub fn library(version: &str) -> Launch {
    if version.contains("Open MPI") {
        Launch::OpenMpi
    } else if ["MPICH", "Intel(R) MPI", "MVAPICH"]
        .iter()
        .any(|m| version.contains(m))
    {
        Launch::Mpich
    } else {
        Launch::Unknown
    }
}

/// The MPI library halo is linked with ([`library`] of its version string, which may be asked
/// before MPI starts, and needs no launcher).
pub fn linked_library() -> Launch {
    library(&mpi::environment::library_version().unwrap_or_default())
}

/// How this job was launched: Slurm when `SLURM_JOB_ID` is set, else by the MPI library halo is
/// linked with ([`linked_library`]).
pub fn detect() -> Launch {
    if std::env::var_os("SLURM_JOB_ID").is_some() {
        return Launch::Slurm;
    }
    linked_library()
}

/// The launcher arguments that give each rank `threads` cores: `srun --cpus-per-task=T`,
/// OpenMPI's `mpirun --map-by slot:PE=T`, MPICH's `mpiexec -bind-to core:T`; none where the
/// launcher is unknown.
pub fn binding(launch: Launch, threads: usize) -> Vec<String> {
    let t = threads;
    match launch {
        Launch::Slurm => vec![format!("--cpus-per-task={t}")],
        Launch::OpenMpi => vec!["--map-by".into(), format!("slot:PE={t}")],
        Launch::Mpich => vec!["-bind-to".into(), format!("core:{t}")],
        Launch::Unknown => Vec::new(),
    }
}

/// The launch line that gives each rank `threads` cores, e.g. `` `mpirun --map-by slot:PE=2 …`
/// (or `--bind-to none`) ``; under Slurm, OpenMPI's line comes second when the library `lib` is
/// [`Launch::OpenMpi`] (`mpirun` inside an allocation).
pub fn advice(launch: Launch, lib: Launch, threads: usize) -> String {
    let t = threads;
    let srun = format!("`srun {} …`", binding(Launch::Slurm, t).join(" "));
    let mpirun = format!("`mpirun {} …`", binding(Launch::OpenMpi, t).join(" "));
    match launch {
        Launch::Slurm if lib == Launch::OpenMpi => format!("{srun} (or {mpirun})"),
        Launch::Slurm => srun,
        Launch::OpenMpi => format!("{mpirun} (or `--bind-to none`)"),
        Launch::Mpich => format!(
            "`mpiexec {} …` (or no -bind-to)",
            binding(Launch::Mpich, t).join(" ")
        ),
        Launch::Unknown => {
            format!("one that gives each rank {t} cores (OpenMPI: {mpirun}, Slurm: {srun})")
        }
    }
}

/// The one line (without `halo: warning: `) saying which ranks may run on fewer cores than
/// `threads`, given every rank's cores in rank order (empty: unknown, left out), and the launch
/// line `fix` that mends it; `None` when every known rank has enough.
pub fn shortage(cores: &[Vec<usize>], threads: usize, fix: &str) -> Option<String> {
    let short: Vec<usize> = (0..cores.len())
        .filter(|&r| !cores[r].is_empty() && cores[r].len() < threads)
        .collect();
    let &first = short.first()?;
    let counts: Vec<usize> = short.iter().map(|&r| cores[r].len()).collect();
    let (fewest, most) = (counts.iter().min()?, counts.iter().max()?);
    let have = match (fewest == most, *most) {
        (true, 1) => "1 core".to_string(),
        (true, n) => format!("{n} cores"),
        (false, _) => format!("{fewest} to {most} cores"),
    };
    let who = match short.len() {
        1 => format!(
            "rank {first} may run on {have} ({})",
            compact(&cores[first])
        ),
        n if n == cores.len() && n > 1 => format!("all {n} ranks may run on {have} each"),
        _ => format!("ranks {} may run on {have} each", compact(&short)),
    };
    Some(format!(
        "--threads {threads} but {who}, so threads share a core and run no faster; \
         launch with {fix} to give each rank {threads} cores"
    ))
}

/// Every rank's cores ([`allowed_cores`]; empty where unknown), gathered on rank 0 with one
/// variable-count gather: `Some` in rank order there, `None` elsewhere. Collective.
pub fn gather(comm: &Comm) -> Result<Option<Vec<Vec<usize>>>> {
    let mine: Vec<u64> = allowed_cores()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c as u64)
        .collect();
    Ok(comm.gather_varcount(0, &mine)?.map(|all| {
        all.iter()
            .map(|cores| cores.iter().map(|&c| c as usize).collect())
            .collect()
    }))
}

/// When `threads` exceeds the cores some rank may run on, rank 0 prints one line on stderr,
/// `halo: warning: …`, naming those ranks and the launch line that gives each rank `threads`
/// cores ([`shortage`], [`advice`]). A warning only: the run goes on. Collective: every rank
/// calls it with the same `threads`; nothing is gathered for one thread.
pub fn warn_threads(comm: &Comm, threads: usize) -> Result<()> {
    if threads <= 1 {
        return Ok(());
    }
    if let Some(cores) = gather(comm)? {
        let fix = advice(detect(), linked_library(), threads);
        if let Some(line) = shortage(&cores, threads, &fix) {
            eprintln!("halo: warning: {line}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_give_their_set_bits_in_order_across_words() {
        let bits = libc::c_ulong::BITS as usize;
        assert_eq!(cores_in_mask(&[0b1011]), [0, 1, 3]);
        assert_eq!(cores_in_mask(&[0, 1]), [bits]);
        assert_eq!(
            cores_in_mask(&[1 << (bits - 1), 0b10, 0]),
            [bits - 1, bits + 1]
        );
        assert!(cores_in_mask(&[0, 0]).is_empty());
        assert_eq!(cores_in_mask(&[libc::c_ulong::MAX]).len(), bits);
    }

    #[test]
    fn lists_compact_to_ranges_and_parse_back() {
        assert_eq!(compact(&[0, 1, 2, 3, 6]), "0-3,6");
        assert_eq!(compact(&[5]), "5");
        assert_eq!(compact(&[0, 2, 4]), "0,2,4");
        assert_eq!(compact(&[1, 2, 7, 8, 9]), "1-2,7-9");
        assert_eq!(compact(&[]), "");
        for list in [
            vec![0, 1, 2, 3, 6],
            vec![],
            vec![3],
            vec![0, 2, 3, 10, 11, 12, 64],
        ] {
            assert_eq!(parse_list(&compact(&list)), Some(list.clone()), "{list:?}");
        }
        assert_eq!(parse_list(" 6, 0-3 ,2"), Some(vec![0, 1, 2, 3, 6]));
        for bad in ["a", "3-1", "1-", "-2", "1,,2", "0-99999999"] {
            assert_eq!(parse_list(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn this_process_may_run_on_a_core_the_system_has() {
        let cores = allowed_cores().expect("Linux tells a process its affinity");
        assert!(!cores.is_empty());
        assert!(cores.windows(2).all(|w| w[0] < w[1]), "{cores:?}");
        // Linux writes the same set in /proc, where the test can read it without the syscall.
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .expect("Cpus_allowed_list");
        assert_eq!(parse_list(line), Some(cores));
    }

    #[test]
    fn libraries_are_told_apart_by_their_version_strings() {
        assert_eq!(
            library("Open MPI v4.1.4, package: Debian OpenMPI"),
            Launch::OpenMpi
        );
        assert_eq!(library("MPICH Version:\t4.0"), Launch::Mpich);
        assert_eq!(
            library("Intel(R) MPI Library 2021.6 for Linux* OS"),
            Launch::Mpich
        );
        assert_eq!(library(""), Launch::Unknown);
    }

    #[test]
    fn each_launcher_gets_its_own_line() {
        let ompi = advice(Launch::OpenMpi, Launch::OpenMpi, 4);
        assert!(ompi.contains("mpirun --map-by slot:PE=4 …") && ompi.contains("--bind-to none"));
        let slurm = advice(Launch::Slurm, Launch::Mpich, 2);
        assert_eq!(slurm, "`srun --cpus-per-task=2 …`");
        let both = advice(Launch::Slurm, Launch::OpenMpi, 2);
        assert!(both.starts_with("`srun --cpus-per-task=2 …`") && both.contains("PE=2"));
        assert!(advice(Launch::Mpich, Launch::Mpich, 3).contains("-bind-to core:3"));
        assert!(advice(Launch::Unknown, Launch::Unknown, 2).contains("--cpus-per-task=2"));
    }

    #[test]
    fn only_ranks_with_fewer_cores_than_threads_are_named() {
        let fix = "FIX";
        let one = |c| vec![c];
        assert_eq!(shortage(&[vec![0, 1], vec![0, 1]], 2, fix), None);
        assert_eq!(shortage(&[one(0)], 1, fix), None);
        // Unknown affinities (empty) are not counted as short.
        assert_eq!(shortage(&[vec![], vec![]], 4, fix), None);
        let line = shortage(&[one(0)], 2, fix).unwrap();
        assert!(
            line.starts_with("--threads 2 but rank 0 may run on 1 core (0),"),
            "{line}"
        );
        assert!(
            line.ends_with("launch with FIX to give each rank 2 cores"),
            "{line}"
        );
        let all = shortage(&[one(0), one(1)], 2, fix).unwrap();
        assert!(all.contains("all 2 ranks may run on 1 core each"), "{all}");
        let some = shortage(&[one(0), vec![0, 1, 2, 3], vec![1, 2], vec![]], 4, fix).unwrap();
        assert!(
            some.contains("--threads 4 but ranks 0,2 may run on 1 to 2 cores each"),
            "{some}"
        );
        let one_of = shortage(&[vec![0, 1], vec![2, 3], vec![5]], 2, fix).unwrap();
        assert!(one_of.contains("rank 2 may run on 1 core (5)"), "{one_of}");
    }
}
