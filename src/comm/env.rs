//! Starting and finishing MPI.

use super::Comm;
use crate::error::{Error, Result};
use mpi::environment::Universe;
use mpi::traits::*;
use mpi::Threading;

/// MPI, running: created by [`init`], finalises MPI when dropped.
///
/// Keep it alive in `main` for as long as any [`Comm`] is used.
pub struct Mpi {
    universe: Universe,
    threading: Threading,
}

/// Starts MPI for a single-threaded program (`MPI_Init`).
///
/// A program started without `mpirun` runs as a one-rank job. Fails if MPI was already started.
pub fn init() -> Result<Mpi> {
    init_with_threading(Threading::Single)
}

/// Starts MPI asking for `threading` support (`MPI_Init_thread`), and refuses less.
///
/// `halo` itself needs at most [`Threading::Funneled`]: rayon threads compute, the main thread
/// communicates. An MPI library may grant a lower level than asked (one built without thread
/// support grants only `Single`); then threads beside MPI are not safe, so this finalises MPI
/// again and returns an [`Error::Config`] naming both levels. A higher level is fine, and
/// [`Mpi::threading`] tells which the library granted.
pub fn init_with_threading(threading: Threading) -> Result<Mpi> {
    let (universe, granted) =
        mpi::initialize_with_threading(threading).ok_or(Error::AlreadyInitialized)?;
    // Dropping `universe` on refusal finalises MPI, so the process can still exit cleanly.
    enough_threading(threading, granted)?;
    Ok(Mpi {
        universe,
        threading: granted,
    })
}

/// `Ok` when MPI granted at least the thread support asked for, else the error to report.
fn enough_threading(asked: Threading, granted: Threading) -> Result<()> {
    if granted >= asked {
        return Ok(());
    }
    Err(Error::Config(format!(
        "asked MPI for thread support {}, but this MPI library grants only {}: run one thread \
         per rank, or use an MPI library built with thread support",
        mpi_name(asked),
        mpi_name(granted)
    )))
}

/// MPI's own name for a thread-support level, as MPI's documentation spells it.
fn mpi_name(t: Threading) -> &'static str {
    match t {
        Threading::Single => "MPI_THREAD_SINGLE",
        Threading::Funneled => "MPI_THREAD_FUNNELED",
        Threading::Serialized => "MPI_THREAD_SERIALIZED",
        Threading::Multiple => "MPI_THREAD_MULTIPLE",
    }
}

impl Mpi {
    /// Every rank of the job.
    pub fn world(&self) -> Comm {
        Comm::new(self.universe.world())
    }

    /// The thread support MPI granted.
    pub fn threading(&self) -> Threading {
        self.threading
    }

    /// The MPI library's own version string (`MPI_Get_library_version`), first line only.
    pub fn library_version(&self) -> String {
        mpi::environment::library_version()
            .map(|v| {
                v.lines()
                    .next()
                    .unwrap_or("")
                    .trim_end_matches('\0')
                    .trim()
                    .to_string()
            })
            .unwrap_or_else(|_| "unknown".into())
    }

    /// The name of the host this rank runs on (`MPI_Get_processor_name`).
    pub fn processor_name(&self) -> String {
        mpi::environment::processor_name().unwrap_or_else(|_| "unknown".into())
    }
}

/// This process's rank as the launcher announced it, read from the environment before MPI starts
/// (`OMPI_COMM_WORLD_RANK`, `PMIX_RANK`, `PMI_RANK`, `SLURM_PROCID`); 0 when started alone.
///
/// Lets a program decide that only rank 0 prints, for errors met before [`init`] (such as bad
/// command-line arguments).
pub fn launcher_rank() -> usize {
    [
        "OMPI_COMM_WORLD_RANK",
        "PMIX_RANK",
        "PMI_RANK",
        "SLURM_PROCID",
    ]
    .iter()
    .find_map(|k| std::env::var(k).ok()?.parse().ok())
    .unwrap_or(0)
}

/// Makes a panic on any rank end the whole job at once, with one line naming the rank.
///
/// Without it, a rank that panics leaves its peers waiting in their next collective. The hook
/// prints `halo: rank R panicked at FILE:LINE: MESSAGE` (no backtrace) and calls `MPI_Abort` on
/// the world communicator, which ends every rank with `code`.
pub fn abort_on_panic(code: i32) {
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let live = mpi::environment::is_initialized() && !mpi::environment::is_finalized();
        let rank = if live {
            mpi::topology::SimpleCommunicator::world().rank() as usize
        } else {
            launcher_rank()
        };
        // One write of the whole line: `eprintln!` writes its pieces one by one to the
        // unbuffered stderr, and under MPICH another rank's output (or the launcher's abort
        // notice) could land between them, splitting the line (seen once in CI).
        let line = format!("halo: rank {rank} panicked{at}: {msg}\n");
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
        if live {
            // The launcher forwards a rank's stderr through a pipe, and MPI_Abort tears the job
            // down at once: MPICH's hydra was seen (in CI, under load) to drop a line already
            // written, leaving the job's end unexplained. A moment's pause lets it through; the
            // job ends all the same, within a second.
            std::thread::sleep(std::time::Duration::from_millis(250));
            mpi::topology::SimpleCommunicator::world().abort(code);
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn less_thread_support_than_asked_is_refused_in_one_line() {
        let e = enough_threading(Threading::Funneled, Threading::Single).unwrap_err();
        assert_eq!(
            e.to_string(),
            "asked MPI for thread support MPI_THREAD_FUNNELED, but this MPI library grants only \
             MPI_THREAD_SINGLE: run one thread per rank, or use an MPI library built with thread \
             support"
        );
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn as_much_or_more_than_asked_is_accepted() {
        let levels = [
            Threading::Single,
            Threading::Funneled,
            Threading::Serialized,
            Threading::Multiple,
        ];
        for (i, &asked) in levels.iter().enumerate() {
            for (j, &granted) in levels.iter().enumerate() {
                assert_eq!(
                    enough_threading(asked, granted).is_ok(),
                    j >= i,
                    "{asked:?} asked, {granted:?} granted"
                );
            }
        }
    }
}
