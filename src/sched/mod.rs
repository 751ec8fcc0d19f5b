//! What halo knows about batch schedulers (Slurm, PBS): the allocation a job runs in and what
//! started its ranks ([`allocation`]).

pub mod allocation;
