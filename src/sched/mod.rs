//! What halo knows about batch schedulers (Slurm, PBS): the allocation a job runs in and what
//! started its ranks ([`allocation`]), and the job scripts it writes for them ([`script`]).
//!
//! Pure text and arithmetic, no MPI and no scheduler needed: [`allocation`] reads the
//! environment a scheduler and a launcher give a process, and [`script`] turns a plain
//! description of one run into a script to submit with `sbatch` or `qsub`.

pub mod allocation;
pub mod script;

use std::fmt;

/// A batch scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduler {
    /// Slurm: `SLURM_JOB_ID`; `sbatch`, `#SBATCH` directives, `srun`.
    Slurm,
    /// PBS Professional (the `select` syntax, version 7 onwards) and OpenPBS; `PBS_JOBID`,
    /// `qsub`, `#PBS` directives, `mpirun` over `$PBS_NODEFILE`. (Torque also sets `PBS_JOBID`;
    /// its resource syntax differs.)
    Pbs,
}

impl Scheduler {
    /// Its name, as people write it.
    pub fn name(self) -> &'static str {
        match self {
            Scheduler::Slurm => "Slurm",
            Scheduler::Pbs => "PBS",
        }
    }

    /// The command that submits a script.
    pub fn submit(self) -> &'static str {
        match self {
            Scheduler::Slurm => "sbatch",
            Scheduler::Pbs => "qsub",
        }
    }
}

impl fmt::Display for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
