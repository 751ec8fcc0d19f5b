//! What halo knows about batch schedulers (Slurm, PBS): the allocation a job runs in and what
//! started its ranks ([`allocation`]), and the job scripts it writes for them ([`script`]).
//!
//! Pure text and arithmetic, no MPI and no scheduler needed: [`allocation`] reads the
//! environment a scheduler and a launcher give a process, and [`script`] turns a plain
//! description of one run into a script to submit with `sbatch` or `qsub`.

pub mod allocation;
pub mod script;
