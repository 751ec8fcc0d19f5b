//! The batch allocation a process runs in, and what started it, from the environment Slurm, PBS
//! and the MPI launchers give every process they start. Pure: each reader takes the environment
//! as a function, so tests give it any.

pub use super::Scheduler;
use std::fmt;

/// A batch job's allocation, as its environment describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// Whose allocation.
    pub scheduler: Scheduler,
    /// The job's id.
    pub job: String,
    /// The job's name, if given.
    pub name: Option<String>,
    /// The partition (Slurm) or queue (PBS), if known.
    pub queue: Option<String>,
    /// The allocation's nodes, in the scheduler's order (Slurm's node list expanded; each host
    /// of PBS's node file once).
    pub nodes: Vec<String>,
    /// The tasks (MPI ranks) the job asked for: `SLURM_NTASKS`, or the lines of
    /// `PBS_NODEFILE` (one per rank); `None` when not said.
    pub tasks: Option<usize>,
    /// CPUs per task, if asked for (`SLURM_CPUS_PER_TASK`).
    pub cpus_per_task: Option<usize>,
}

impl Allocation {
    /// The allocation this process runs in, if any: Slurm's when `SLURM_JOB_ID` is set, else
    /// PBS's when `PBS_JOBID` is. `env` reads an environment variable; `read` a file (PBS's
    /// node file).
    pub fn from_env(
        env: impl Fn(&str) -> Option<String>,
        read: impl Fn(&str) -> Option<String>,
    ) -> Option<Allocation> {
        let count = |v: &str| env(v)?.trim().parse::<usize>().ok().filter(|&n| n > 0);
        if let Some(job) = env("SLURM_JOB_ID") {
            let list = env("SLURM_JOB_NODELIST").or_else(|| env("SLURM_NODELIST"));
            return Some(Allocation {
                scheduler: Scheduler::Slurm,
                job,
                name: env("SLURM_JOB_NAME"),
                queue: env("SLURM_JOB_PARTITION"),
                nodes: list.map(|l| expand_nodelist(&l)).unwrap_or_default(),
                tasks: count("SLURM_NTASKS").or_else(|| count("SLURM_NPROCS")),
                cpus_per_task: count("SLURM_CPUS_PER_TASK"),
            });
        }
        let job = env("PBS_JOBID")?;
        let lines: Vec<String> = env("PBS_NODEFILE")
            .and_then(|path| read(&path))
            .map(|text| {
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let mut nodes: Vec<String> = Vec::new();
        for l in &lines {
            if !nodes.contains(l) {
                nodes.push(l.clone());
            }
        }
        Some(Allocation {
            scheduler: Scheduler::Pbs,
            job,
            name: env("PBS_JOBNAME"),
            queue: env("PBS_QUEUE"),
            nodes,
            tasks: (!lines.is_empty()).then_some(lines.len()),
            cpus_per_task: None,
        })
    }

    /// One line: `Slurm job 42 (halo) in partition batch: 2 nodes (n1, n2), 64 tasks`.
    pub fn describe(&self) -> String {
        let mut s = format!("{} job {}", self.scheduler, self.job);
        if let Some(n) = &self.name {
            s.push_str(&format!(" ({n})"));
        }
        if let Some(q) = &self.queue {
            let what = match self.scheduler {
                Scheduler::Slurm => "partition",
                Scheduler::Pbs => "queue",
            };
            s.push_str(&format!(" in {what} {q}"));
        }
        let n = self.nodes.len();
        s.push_str(&format!(": {n} node{}", if n == 1 { "" } else { "s" }));
        if n > 0 {
            const SHOWN: usize = 8;
            let mut names = self.nodes[..n.min(SHOWN)].join(", ");
            if n > SHOWN {
                names.push_str(&format!(", … {} more", n - SHOWN));
            }
            s.push_str(&format!(" ({names})"));
        }
        if let Some(t) = self.tasks {
            s.push_str(&format!(", {t} task{}", if t == 1 { "" } else { "s" }));
        }
        if let Some(c) = self.cpus_per_task {
            s.push_str(&format!(
                ", {c} CPU{} per task",
                if c == 1 { "" } else { "s" }
            ));
        }
        s
    }
}

/// What started this process's MPI job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launcher {
    /// Slurm's `srun`, with the PMI plugin it used (`SLURM_MPI_TYPE`), if said.
    Srun {
        /// `pmix`, `pmi2`, …
        mpi: Option<String>,
    },
    /// OpenMPI's `mpirun` (or `mpiexec`, the same program).
    OpenMpi,
    /// MPICH's (or Intel MPI's) Hydra `mpiexec`.
    Hydra,
    /// Nothing: a one-rank job started alone (MPI's singleton).
    Alone,
}

impl Launcher {
    /// What started this process: OpenMPI's `mpirun` leaves `OMPI_COMMAND` and its runtime's
    /// `OMPI_MCA_orte_hnp_uri` (checked first: inside an allocation mpirun starts its daemons
    /// with srun, so its ranks have Slurm's step variables too); srun leaves `SLURM_STEP_ID`
    /// and `SLURM_PROCID`; Hydra `PMI_RANK`.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Launcher {
        if env("OMPI_COMMAND").is_some() || env("OMPI_MCA_orte_hnp_uri").is_some() {
            Launcher::OpenMpi
        } else if env("SLURM_STEP_ID").is_some() && env("SLURM_PROCID").is_some() {
            Launcher::Srun {
                mpi: env("SLURM_MPI_TYPE").filter(|t| !t.is_empty()),
            }
        } else if env("PMI_RANK").is_some() {
            Launcher::Hydra
        } else {
            Launcher::Alone
        }
    }
}

impl fmt::Display for Launcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Launcher::Srun { mpi: Some(m) } => write!(f, "srun --mpi={m}"),
            Launcher::Srun { mpi: None } => f.write_str("srun (Slurm's default MPI plugin)"),
            Launcher::OpenMpi => f.write_str("mpirun (OpenMPI)"),
            Launcher::Hydra => f.write_str("mpiexec (Hydra: MPICH or Intel MPI)"),
            Launcher::Alone => f.write_str("none: a one-rank job started alone"),
        }
    }
}

/// Expands a Slurm host list: `node[01-03,07],login,rack[1-2]-n[1-2]` is `node01`, `node02`,
/// `node03`, `node07`, `login`, `rack1-n1`, `rack1-n2`, `rack2-n1`, `rack2-n2`. Numbers keep
/// the width of the range's first bound (`[01-03]`). Text that is not a host list stays as it is.
pub fn expand_nodelist(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    for item in split_top(list) {
        out.extend(expand_one(&item));
    }
    out
}

/// Splits at the commas outside brackets.
fn split_top(list: &str) -> Vec<String> {
    let (mut items, mut cur, mut depth) = (Vec::new(), String::new(), 0usize);
    for c in list.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                if !cur.trim().is_empty() {
                    items.push(cur.trim().to_string());
                }
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        items.push(cur.trim().to_string());
    }
    items
}

/// Expands one host pattern's first bracket, then the rest of it.
fn expand_one(item: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (item.find('['), item.find(']')) else {
        return vec![item.to_string()];
    };
    if close < open {
        return vec![item.to_string()];
    }
    let (head, ranges, tail) = (&item[..open], &item[open + 1..close], &item[close + 1..]);
    let mut out = Vec::new();
    for range in ranges.split(',') {
        let (lo, hi) = range.split_once('-').unwrap_or((range, range));
        let (Ok(a), Ok(b)) = (lo.trim().parse::<u64>(), hi.trim().parse::<u64>()) else {
            return vec![item.to_string()];
        };
        let width = lo.trim().len();
        for k in a..=b {
            for rest in expand_one(tail) {
                out.push(format!("{head}{k:0width$}{rest}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn slurm_host_lists_expand_with_their_widths() {
        assert_eq!(expand_nodelist("halo-s[1-2]"), ["halo-s1", "halo-s2"]);
        assert_eq!(
            expand_nodelist("node[01-03,07],login"),
            ["node01", "node02", "node03", "node07", "login"]
        );
        assert_eq!(
            expand_nodelist("rack[1-2]-n[8-9]"),
            ["rack1-n8", "rack1-n9", "rack2-n8", "rack2-n9"]
        );
        assert_eq!(
            expand_nodelist("c[098-101]"),
            ["c098", "c099", "c100", "c101"]
        );
        assert_eq!(expand_nodelist("solo"), ["solo"]);
        assert_eq!(expand_nodelist("odd[x-y]"), ["odd[x-y]"]);
        assert!(expand_nodelist("").is_empty());
    }

    #[test]
    fn a_slurm_allocation_is_read_from_its_variables() {
        let e = env(&[
            ("SLURM_JOB_ID", "42"),
            ("SLURM_JOB_NAME", "halo"),
            ("SLURM_JOB_PARTITION", "batch"),
            ("SLURM_JOB_NODELIST", "n[1-2]"),
            ("SLURM_NTASKS", "4"),
            ("SLURM_CPUS_PER_TASK", "2"),
        ]);
        let a = Allocation::from_env(e, none).unwrap();
        assert_eq!(a.nodes, ["n1", "n2"]);
        assert_eq!(
            a.describe(),
            "Slurm job 42 (halo) in partition batch: 2 nodes (n1, n2), 4 tasks, 2 CPUs per task"
        );
        assert_eq!(Allocation::from_env(none, none), None);
    }

    #[test]
    fn a_pbs_allocation_counts_its_node_file() {
        let e = env(&[
            ("PBS_JOBID", "7.server"),
            ("PBS_NODEFILE", "/var/spool/pbs/aux/7.server"),
            ("PBS_QUEUE", "workq"),
        ]);
        let file =
            |p: &str| (p == "/var/spool/pbs/aux/7.server").then(|| "a\na\nb\n\nb\n".to_string());
        let a = Allocation::from_env(e, file).unwrap();
        assert_eq!(
            (a.nodes.clone(), a.tasks),
            (vec!["a".into(), "b".into()], Some(4))
        );
        assert_eq!(
            a.describe(),
            "PBS job 7.server in queue workq: 2 nodes (a, b), 4 tasks"
        );
    }

    #[test]
    fn the_launcher_is_told_by_what_it_leaves() {
        let srun = env(&[
            ("SLURM_STEP_ID", "0"),
            ("SLURM_PROCID", "3"),
            ("SLURM_MPI_TYPE", "pmix"),
        ]);
        assert_eq!(
            Launcher::from_env(srun),
            Launcher::Srun {
                mpi: Some("pmix".into())
            }
        );
        // mpirun inside an allocation: its daemons were started by srun.
        let mpirun = env(&[
            ("SLURM_STEP_ID", "0"),
            ("SLURM_PROCID", "0"),
            ("OMPI_COMMAND", "halo"),
        ]);
        assert_eq!(Launcher::from_env(mpirun), Launcher::OpenMpi);
        assert_eq!(
            Launcher::from_env(env(&[("PMI_RANK", "1")])),
            Launcher::Hydra
        );
        assert_eq!(Launcher::from_env(none), Launcher::Alone);
        assert_eq!(
            Launcher::Srun {
                mpi: Some("pmix".into())
            }
            .to_string(),
            "srun --mpi=pmix"
        );
    }
}
