//! The library's error type.
//!
//! Every fallible call in `halo` returns [`Result<T>`]. Errors are plain values that can be compared
//! and printed; their `Display` form is one line meant for a user, so a program can print it as is.

use thiserror::Error as ThisError;

/// Everything that can go wrong in `halo`.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
pub enum Error {
    /// A root rank that is not a rank of the communicator.
    #[error("root rank {root} is out of range for a communicator of {size} ranks")]
    RootOutOfRange {
        /// The root that was asked for.
        root: usize,
        /// The communicator's size.
        size: usize,
    },
    /// A buffer whose length does not fit the operation.
    #[error("{what}: expected {expected} elements, found {found}")]
    LengthMismatch {
        /// Which buffer of which operation.
        what: &'static str,
        /// The length the operation needs.
        expected: usize,
        /// The length it was given.
        found: usize,
    },
    /// Data that does not split into equal chunks, one per rank.
    #[error("{what}: {len} elements do not split into {ranks} equal chunks")]
    NotDivisible {
        /// Which operation.
        what: &'static str,
        /// The number of elements given.
        len: usize,
        /// The number of ranks.
        ranks: usize,
    },
    /// An equal-chunk collective whose ranks passed different lengths.
    #[error("{what}: ranks passed chunks of different lengths (from {min} to {max} elements); use the varcount form")]
    UnequalLengths {
        /// Which operation.
        what: &'static str,
        /// The shortest chunk any rank passed.
        min: usize,
        /// The longest chunk any rank passed.
        max: usize,
    },
    /// A 2D array whose shape does not fit the operation.
    #[error("{what}: expected shape {expected:?} (rows, columns), found {found:?}")]
    ShapeMismatch {
        /// Which array of which operation.
        what: &'static str,
        /// The shape the operation needs.
        expected: (usize, usize),
        /// The shape it was given.
        found: (usize, usize),
    },
    /// The root passed no buffer to an operation that needs one there.
    #[error("{what}: the root rank passed no buffer")]
    MissingRootData {
        /// Which operation.
        what: &'static str,
    },
    /// A count that does not fit MPI's 32-bit `int` counts.
    #[error(
        "{what}: {count} elements exceed MPI's limit of {} per message",
        i32::MAX
    )]
    CountOverflow {
        /// Which operation.
        what: &'static str,
        /// The count that was too large.
        count: usize,
    },
    /// A process grid or decomposition that cannot be built.
    #[error("{0}")]
    Decomposition(String),
    /// A run configuration that cannot be run: names the option and what it accepts.
    #[error("{0}")]
    Config(String),
    /// A parameter out of its range: the quantity by its library name (`ghost width`), the
    /// value given, and what is accepted. A front end may rename the quantity after its own
    /// option (the `halo` command says `--ghost`).
    #[error("{quantity} {value}: {why}")]
    Invalid {
        /// What the parameter is, e.g. `ghost width`.
        quantity: &'static str,
        /// The value given, as text.
        value: String,
        /// Why it cannot be used, and what would be accepted.
        why: String,
    },
    /// A field that stopped being finite, or a residual that grew without bound.
    #[error("{0}")]
    Diverged(String),
    /// A run to a steady state (or a tolerance) that ended without reaching it: stalled, or out
    /// of steps.
    #[error("{0}")]
    NotConverged(String),
    /// A file that could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file or directory.
        path: String,
        /// What went wrong, from the operating system.
        message: String,
    },
    /// A failure that one rank met and every rank agreed on (see [`crate::comm::Comm::agree`]).
    #[error("rank {rank}: {message}")]
    Agreed {
        /// The lowest rank that failed.
        rank: usize,
        /// That rank's error's [`Error::exit_code`].
        code: u8,
        /// That rank's error, as text.
        message: String,
    },
    /// A run that stopped before its end because it was asked to (a signal caught on some rank):
    /// where it stopped and what it saved.
    #[error("{message}")]
    Stopped {
        /// The signal that asked, by number.
        signal: i32,
        /// Where the run stopped and what it saved, as one line.
        message: String,
    },
    /// MPI was initialised already in this process, or could not be.
    #[error("MPI is already initialised in this process")]
    AlreadyInitialized,
}

impl Error {
    /// The process exit code for this error, one per kind, so scripts and schedulers can tell
    /// them apart: 2 for what the user asked wrongly (as for bad arguments), 3 for a run that
    /// diverged, 4 for files that could not be read or written, 6 for a run to a steady state
    /// that reached none, 128 + the signal's number for a run stopped by a signal (the code a shell
    /// gives a process that signal ended: 143 for SIGTERM, 138 for SIGUSR1), 1 for the rest. (The `halo`
    /// command's watchdog exits with 5 when `--timeout` runs out; no error value carries that.)
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Invalid { .. } | Error::Decomposition(_) => 2,
            Error::Diverged(_) => 3,
            Error::NotConverged(_) => 6,
            Error::Io { .. } => 4,
            Error::Agreed { code, .. } => *code,
            Error::Stopped { signal, .. } => u8::try_from(128 + signal).unwrap_or(1),
            _ => 1,
        }
    }
}

/// `Result` with [`Error`] as its error type.
pub type Result<T> = std::result::Result<T, Error>;
