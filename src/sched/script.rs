//! A job script for one `halo solve` run under Slurm or PBS, written from a plain [`Job`]:
//! the resources, the launch line, and checkpoints and restarts, so that one script starts the
//! run and, submitted again after a time limit or a preemption, resumes it.
//!
//! Pure text: nothing here runs a scheduler, MPI or a shell. [`Job::script`] trusts its input
//! (the `halo batch` command checks it): names without shell metacharacters, arguments without
//! line breaks.

pub use super::Scheduler;
use std::borrow::Cow;
use std::fmt::Write as _;

/// What `halo solve` exits with when SIGUSR1 stopped it (128 + 10): Slurm's warning ahead of the
/// time limit, after which it has written a checkpoint.
pub const EXIT_USR1: u8 = 138;

/// The seconds ahead of the time limit at which Slurm warns halo with SIGUSR1, unless told.
pub const DEFAULT_LEAD: u64 = 120;

/// The longest warning Slurm's `--signal=SIG@TIME` takes, in seconds.
pub const MAX_LEAD: u64 = 65535;

/// One `halo solve` run as a batch job: everything its script says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Whose script.
    pub scheduler: Scheduler,
    /// Nodes, at least 1.
    pub nodes: usize,
    /// MPI ranks on each node, at least 1.
    pub ranks_per_node: usize,
    /// Threads per rank (`halo solve --threads`), at least 1.
    pub threads: usize,
    /// The time limit as the scheduler takes it (checked by [`walltime_seconds`]).
    pub time: String,
    /// The job's name: letters, digits, `_`, `.`, `-`.
    pub name: String,
    /// Slurm's partition or PBS's queue, if not the site's default.
    pub partition: Option<String>,
    /// The account charged, if not the user's default.
    pub account: Option<String>,
    /// Slurm: seconds ahead of the time limit at which halo gets SIGUSR1 to checkpoint.
    pub lead: u64,
    /// Slurm: requeue the job when halo stopped on that warning, to go on in the next allocation.
    pub requeue: bool,
    /// The halo binary to run (an absolute path; `$HALO` overrides it at run time).
    pub halo: String,
    /// The command that wrote the script, program name first, to print in its header.
    pub command: Vec<String>,
    /// `halo solve`'s arguments (without `solve`), checkpoint options included, `--restart` not.
    pub solve: Vec<String>,
    /// Where the run's checkpoints go (`--checkpoint-dir`), or `None` for a solver that writes
    /// none: its script starts over every time.
    pub checkpoint_dir: Option<String>,
}

impl Job {
    /// MPI ranks in all.
    pub fn ranks(&self) -> usize {
        self.nodes * self.ranks_per_node
    }

    /// The whole script, ready for `sbatch` or `qsub`.
    pub fn script(&self) -> String {
        let mut s = String::new();
        self.header(&mut s);
        match self.scheduler {
            Scheduler::Slurm => self.slurm_resources(&mut s),
            Scheduler::Pbs => self.pbs_resources(&mut s),
        }
        s.push_str("\nset -euo pipefail\n");
        if self.scheduler == Scheduler::Pbs {
            s.push_str("cd \"$PBS_O_WORKDIR\"\n");
        }
        s.push_str(
            "\n# If your site provides MPI as modules, load the one halo was built against, e.g.:\n\
             # module load openmpi\n\
             # module load gcc openmpi\n",
        );
        self.binary(&mut s);
        self.restart(&mut s);
        match self.scheduler {
            Scheduler::Slurm => self.slurm_launch(&mut s),
            Scheduler::Pbs => self.pbs_launch(&mut s),
        }
        self.ending(&mut s);
        s
    }

    /// The opening comment: what the job is, what wrote it, how to submit it, what to change.
    fn header(&self, s: &mut String) {
        let (sched, submit) = (self.scheduler.name(), self.scheduler.submit());
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let command: Vec<_> = self.command.iter().map(|a| quote(a)).collect();
        let _ = writeln!(
            s,
            "#!/bin/bash\n\
             # One `halo solve` run as a {sched} job: {} x {} per node ({} in all), {} per rank.\n\
             # Written by the command below; run it again to regenerate this script rather than editing it:\n\
             #   {}\n\
             #\n\
             # Submit:  {submit} THIS_FILE",
            plural(self.nodes, "node"),
            plural(self.ranks_per_node, "rank"),
            plural(self.ranks(), "rank"),
            plural(self.threads, "thread"),
            command.join(" "),
        );
        let other = match self.scheduler {
            Scheduler::Slurm => "HALO=/path/to/halo sbatch THIS_FILE",
            Scheduler::Pbs => "qsub -v HALO=/path/to/halo THIS_FILE",
        };
        let _ = writeln!(
            s,
            "#   (another halo binary than the one named below: {other})"
        );
        match &self.checkpoint_dir {
            Some(dir) => {
                let _ = writeln!(
                    s,
                    "# Resume:  the same script resumes from the newest checkpoint in {dir}/ when there is one;\n\
                     #   submit it again after a time limit, a preemption or a failure{}.\n\
                     #   A finished run resubmitted resumes from its newest checkpoint, and halo refuses when\n\
                     #   that is at its last iteration: delete {dir}/ to start over, or regenerate with more --iters.",
                    if self.requeue {
                        " (ahead of the time limit it requeues itself)"
                    } else {
                        ""
                    },
                );
            }
            None => s.push_str(
                "# Resume:  this solver writes no checkpoints: a stopped run starts over when submitted again.\n",
            ),
        }
        let _ = writeln!(
            s,
            "#\n\
             # What a site may have to change:\n\
             # - modules: the `module load` lines below are comments; load the MPI halo was built against."
        );
        match self.scheduler {
            Scheduler::Slurm => s.push_str(
                "# - the PMI flavour srun starts the ranks with: pmix when srun offers it (OpenMPI), else\n\
                 #   SLURM_MPI_TYPE=pmi2 sbatch ... (MPICH, Intel MPI) or cray_shasta (Cray); see the launch below.\n\
                 # - partition and account: halo batch --partition/--account, or sbatch -p P -A A THIS_FILE.\n",
            ),
            Scheduler::Pbs => s.push_str(
                "# - the launcher: OpenMPI's mpirun with $PBS_NODEFILE; for MPICH use mpiexec -f \"$PBS_NODEFILE\".\n\
                 # - queue and account: halo batch --queue/--account, or qsub -q Q -A A THIS_FILE.\n",
            ),
        }
    }

    /// `#SBATCH` lines.
    fn slurm_resources(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "#SBATCH --job-name={}\n\
             #SBATCH --nodes={}\n\
             #SBATCH --ntasks-per-node={}\n\
             #SBATCH --cpus-per-task={}\n\
             #SBATCH --time={}\n\
             #SBATCH --output=halo-%j.out",
            self.name, self.nodes, self.ranks_per_node, self.threads, self.time
        );
        if self.checkpoint_dir.is_some() {
            let _ = writeln!(s, "#SBATCH --signal=USR1@{}", self.lead);
        }
        if let Some(p) = &self.partition {
            let _ = writeln!(s, "#SBATCH --partition={p}");
        }
        if let Some(a) = &self.account {
            let _ = writeln!(s, "#SBATCH --account={a}");
        }
        if self.requeue {
            s.push_str("#SBATCH --requeue\n#SBATCH --open-mode=append\n");
        }
    }

    /// `#PBS` lines (select syntax).
    fn pbs_resources(&self, s: &mut String) {
        let (m, t) = (self.ranks_per_node, self.threads);
        let _ = writeln!(
            s,
            "#PBS -N {}\n\
             #PBS -l select={}:ncpus={}:mpiprocs={m}:ompthreads={t}\n\
             #PBS -l place=scatter\n\
             #PBS -l walltime={}\n\
             #PBS -j oe",
            self.name,
            self.nodes,
            m * t,
            self.time
        );
        if let Some(q) = &self.partition {
            let _ = writeln!(s, "#PBS -q {q}");
        }
        if let Some(a) = &self.account {
            let _ = writeln!(s, "#PBS -A {a}");
        }
    }

    /// `HALO`, overridable, and the check that it runs.
    fn binary(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "\nHALO=${{HALO:-{}}}\n\
             if [ ! -f \"$HALO\" ] || [ ! -x \"$HALO\" ]; then\n\
             \x20 echo \"halo batch: $HALO is not an executable file: build halo (cargo build --release) or submit with HALO=/path/to/halo\" >&2\n\
             \x20 exit 2\n\
             fi",
            quote(&self.halo)
        );
    }

    /// `--restart` when the checkpoint directory already holds a checkpoint.
    fn restart(&self, s: &mut String) {
        let Some(dir) = &self.checkpoint_dir else {
            s.push_str("\nRESTART=()\n");
            return;
        };
        let _ = writeln!(
            s,
            "\n# Checkpoints go to CKPT (--checkpoint-dir): halo writes one every --checkpoint-every\n\
             # iterations and another when it is told to stop. One there already: resume from the newest.\n\
             CKPT={}\n\
             RESTART=()\n\
             if ls \"$CKPT\"/ckpt-*.halo > /dev/null 2>&1; then\n\
             \x20 RESTART=(--restart \"$CKPT\")\n\
             \x20 echo \"halo batch: resuming from the newest checkpoint in $CKPT\"\n\
             fi",
            quote(dir)
        );
    }

    /// `"$HALO" solve ARGS [--restart DIR]`, the arguments quoted for the shell. (An empty
    /// array's `"${A[@]}"` is an unbound variable to `set -u` before bash 4.4, hence the `+`.)
    fn solve_command(&self) -> String {
        let mut words = vec!["\"$HALO\"".to_string(), "solve".to_string()];
        words.extend(self.solve.iter().map(|a| quote(a).into_owned()));
        words.push("${RESTART[@]+\"${RESTART[@]}\"}".into());
        words.join(" ")
    }

    /// The signals comment, PMI choice and `srun`.
    fn slurm_launch(&self, s: &mut String) {
        if self.checkpoint_dir.is_some() {
            let _ = writeln!(
                s,
                "\n# {} s before the time limit Slurm sends halo SIGUSR1 (--signal above): every rank finishes its\n\
                 # pass, a checkpoint is written and halo exits with 138. At the limit itself, or when the job is\n\
                 # preempted, Slurm sends SIGTERM, then SIGKILL KillWait seconds later (30 unless the site says\n\
                 # otherwise): halo checkpoints on SIGTERM too and exits with 143.",
                self.lead
            );
        }
        s.push_str(
            "# This shell waits for halo to finish rather than dying of SIGTERM first.\n\
             trap 'echo \"halo batch: SIGTERM: waiting for halo to stop\" >&2' TERM\n",
        );
        if self.threads > 1 {
            s.push_str(
                "\n# Threads: srun stopped taking --cpus-per-task from the job in Slurm 22.05; this says it\n\
                 # to every version.\n\
                 export SRUN_CPUS_PER_TASK=$SLURM_CPUS_PER_TASK\n",
            );
        }
        let _ = writeln!(
            s,
            "\n# srun starts one halo per task; the ranks find each other through PMIx, which OpenMPI needs\n\
             # and Slurm gives only when asked (many sites keep MpiDefault=none; plain srun then fails with\n\
             # \"OMPI was not built with SLURM's PMI support\"). Ask for it when this Slurm has it, unless\n\
             # SLURM_MPI_TYPE says otherwise: set it before sbatch to a type `srun --mpi=list` shows, e.g.\n\
             # pmi2 for halo built against MPICH or Intel MPI, cray_shasta on a Cray.\n\
             # (Where srun offers no PMI your MPI speaks, launch with mpirun inside the allocation instead:\n\
             #  mpirun \"$HALO\" solve ..., the same arguments.)\n\
             if [ -z \"${{SLURM_MPI_TYPE:-}}\" ] && srun --mpi=list 2>&1 | grep -w pmix >/dev/null; then\n\
             \x20 export SLURM_MPI_TYPE=pmix\n\
             fi\n\
             status=0\n\
             srun {} || status=$?",
            self.solve_command()
        );
    }

    /// The signals comment and `mpirun` over `$PBS_NODEFILE`.
    fn pbs_launch(&self, s: &mut String) {
        if self.checkpoint_dir.is_some() {
            s.push_str(
                "\n# At the walltime, on qdel or when preempted PBS sends SIGTERM, then SIGKILL kill_delay seconds\n\
                 # later (the queue's setting, 10 unless the site says otherwise: qstat -Qf QUEUE). halo finishes\n\
                 # its pass and writes a checkpoint on SIGTERM; submitting this script again resumes from it.\n\
                 # OpenMPI's mpirun, signalled too, kills the ranks 1 s later (odls_base_sigkill_timeout):\n\
                 # a checkpoint that takes longer is not finished, and the restart takes the one before,\n\
                 # which --checkpoint-every keeps recent.\n",
            );
        }
        s.push_str(
            "# This shell waits for halo to finish rather than dying of SIGTERM first.\n\
             trap 'echo \"halo batch: SIGTERM: waiting for halo to stop\" >&2' TERM\n",
        );
        let map = if self.threads > 1 {
            format!(" --map-by slot:PE={}", self.threads)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "\n# PBS lists each node once per rank in $PBS_NODEFILE (mpiprocs above); OpenMPI built with PBS\n\
             # (tm) support finds it by itself, otherwise pass it as the hostfile.{}\n\
             status=0\n\
             mpirun --hostfile \"$PBS_NODEFILE\" -n {}{map} {} || status=$?",
            if self.threads > 1 {
                format!(
                    "\n# --map-by slot:PE={0} gives each rank {0} cores of its own for its threads.",
                    self.threads
                )
            } else {
                String::new()
            },
            self.ranks(),
            self.solve_command()
        );
    }

    /// The exit status, requeueing, the hint to resubmit.
    fn ending(&self, s: &mut String) {
        s.push_str("echo \"halo exited with $status\"\n");
        if self.requeue {
            let _ = writeln!(
                s,
                "# Stopped by SIGUSR1 ahead of the time limit, checkpoint written: go on in a new allocation.\n\
                 if [ \"$status\" -eq {EXIT_USR1} ]; then\n\
                 \x20 echo \"halo batch: requeueing job $SLURM_JOB_ID to resume from $CKPT\"\n\
                 \x20 scontrol requeue \"$SLURM_JOB_ID\" || echo \"halo batch: scontrol requeue failed; submit this script again to resume\" >&2\n\
                 \x20 exit \"$status\"\n\
                 fi"
            );
        }
        if self.checkpoint_dir.is_some() {
            s.push_str(
                "# Resubmitting does not help after a request halo refuses (2), a run that diverged (3) or\n\
                 # one that reached no steady state (6); after a stop, a time-out or a failed node it does.\n\
                 case \"$status\" in 0 | 2 | 3 | 6) ;; *)\n\
                 \x20 if ls \"$CKPT\"/ckpt-*.halo > /dev/null 2>&1; then\n\
                 \x20   echo \"halo batch: submit this script again to resume from the newest checkpoint in $CKPT\"\n\
                 \x20 fi ;;\n\
                 esac\n",
            );
        }
        s.push_str("exit \"$status\"\n");
    }
}

/// `word` as one shell word: as it is when it holds only characters no shell treats specially,
/// else in single quotes (a `'` inside written `'\''`). Line breaks stay as they are inside the
/// quotes, which is right for a command but not for a comment: callers refuse them.
pub fn quote(word: &str) -> Cow<'_, str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-+=@%:,./".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
    }
}

/// The seconds in a time limit: `HH:MM:SS` (hours any number), or for Slurm `D-HH:MM:SS`;
/// minutes and seconds below 60, hours below 24 after days, more than zero in all. The error says
/// what is wrong and the form to use.
pub fn walltime_seconds(time: &str, scheduler: Scheduler) -> Result<u64, String> {
    let form = match scheduler {
        Scheduler::Slurm => "HH:MM:SS or D-HH:MM:SS, e.g. 02:00:00 or 1-12:00:00",
        Scheduler::Pbs => "HH:MM:SS, e.g. 02:00:00 or 48:00:00",
    };
    let number = |part: &str, most: usize| -> Option<u64> {
        let ok = !part.is_empty() && part.len() <= most && part.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| part.parse().ok()).flatten()
    };
    let (days, clock) = match time.split_once('-') {
        Some((d, rest)) => (Some(number(d, 5).ok_or(format!("use {form}"))?), rest),
        None => (None, time),
    };
    let fields: Vec<&str> = clock.split(':').collect();
    let [h, m, sec] = fields[..] else {
        return Err(format!("use {form}"));
    };
    let (Some(h), Some(m), Some(sec)) = (number(h, 6), number(m, 2), number(sec, 2)) else {
        return Err(format!("use {form}"));
    };
    if m >= 60 || sec >= 60 {
        return Err(format!("minutes and seconds go up to 59; use {form}"));
    }
    if let Some(d) = days {
        if scheduler == Scheduler::Pbs {
            return Err(format!(
                "D-HH:MM:SS is Slurm's form; PBS takes hours, here {:02}:{m:02}:{sec:02}",
                d * 24 + h
            ));
        }
        if h >= 24 {
            return Err(format!("after days, hours go up to 23; use {form}"));
        }
    }
    let total = days.unwrap_or(0) * 86400 + h * 3600 + m * 60 + sec;
    if total == 0 {
        return Err("a job needs more than no time".into());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(scheduler: Scheduler) -> Job {
        Job {
            scheduler,
            nodes: 2,
            ranks_per_node: 4,
            threads: 1,
            time: "01:30:00".into(),
            name: "lap".into(),
            partition: None,
            account: None,
            lead: DEFAULT_LEAD,
            requeue: false,
            halo: "/opt/halo/bin/halo".into(),
            command: ["halo", "batch", "--", "solve", "--grid", "64x64"]
                .map(String::from)
                .to_vec(),
            solve: [
                "--grid",
                "64x64",
                "--checkpoint-dir",
                "ckpt-lap",
                "--checkpoint-every",
                "50",
            ]
            .map(String::from)
            .to_vec(),
            checkpoint_dir: Some("ckpt-lap".into()),
        }
    }

    fn has(script: &str, line: &str) -> bool {
        script.lines().any(|l| l == line)
    }

    #[test]
    fn quoting_leaves_plain_words_and_protects_the_rest() {
        assert_eq!(quote("512x512"), "512x512");
        assert_eq!(quote("--grid"), "--grid");
        assert_eq!(quote("/a/b-c_d.e"), "/a/b-c_d.e");
        assert!(matches!(quote("1e-8"), Cow::Borrowed(_)));
        assert_eq!(quote(""), "''");
        assert_eq!(quote("my runs/out"), "'my runs/out'");
        assert_eq!(quote("$HOME"), "'$HOME'");
        assert_eq!(quote("a*b"), "'a*b'");
        assert_eq!(quote("~x"), "'~x'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("'"), r"''\'''");
    }

    #[test]
    fn time_limits_parse_in_each_schedulers_forms() {
        use Scheduler::*;
        assert_eq!(walltime_seconds("01:30:00", Slurm), Ok(5400));
        assert_eq!(walltime_seconds("48:00:05", Pbs), Ok(172_805));
        assert_eq!(walltime_seconds("1-02:00:00", Slurm), Ok(93_600));
        let pbs_days = walltime_seconds("1-02:00:00", Pbs).unwrap_err();
        assert!(pbs_days.contains("here 26:00:00"), "{pbs_days}");
        for bad in [
            "",
            "90",
            "1:30",
            "01:60:00",
            "01:00:60",
            "a:00:00",
            "1-24:00:00",
            "-1:00:00",
            "00:00:00",
            "1:2:3:4",
            "01:00:00 ",
        ] {
            assert!(walltime_seconds(bad, Slurm).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn slurm_asks_for_the_nodes_tasks_threads_and_warning() {
        let mut j = job(Scheduler::Slurm);
        j.threads = 4;
        j.partition = Some("short".into());
        j.account = Some("proj42".into());
        let s = j.script();
        assert!(s.starts_with("#!/bin/bash\n"));
        for line in [
            "#SBATCH --job-name=lap",
            "#SBATCH --nodes=2",
            "#SBATCH --ntasks-per-node=4",
            "#SBATCH --cpus-per-task=4",
            "#SBATCH --time=01:30:00",
            "#SBATCH --output=halo-%j.out",
            "#SBATCH --signal=USR1@120",
            "#SBATCH --partition=short",
            "#SBATCH --account=proj42",
            "export SRUN_CPUS_PER_TASK=$SLURM_CPUS_PER_TASK",
            "set -euo pipefail",
            "HALO=${HALO:-/opt/halo/bin/halo}",
            "srun \"$HALO\" solve --grid 64x64 --checkpoint-dir ckpt-lap --checkpoint-every 50 ${RESTART[@]+\"${RESTART[@]}\"} || status=$?",
            "# module load openmpi",
            "exit \"$status\"",
        ] {
            assert!(has(&s, line), "missing {line:?} in\n{s}");
        }
        assert!(s.contains("#   halo batch -- solve --grid 64x64\n"));
        assert!(s.contains("# Submit:  sbatch THIS_FILE"));
        assert!(!s.contains("--requeue"));
        assert!(!s.contains("PBS"));
        // Every directive before the first command, or sbatch ignores it.
        let first_command = s.find("\nset -euo").unwrap();
        assert!(s.rfind("#SBATCH").unwrap() < first_command);
    }

    #[test]
    fn slurm_chooses_pmix_when_srun_offers_it() {
        let s = job(Scheduler::Slurm).script();
        assert!(s.contains(
            "if [ -z \"${SLURM_MPI_TYPE:-}\" ] && srun --mpi=list 2>&1 | grep -w pmix >/dev/null; then\n  export SLURM_MPI_TYPE=pmix\nfi\n"
        ));
        assert!(s.contains("pmi2"));
        assert!(s.contains("cray_shasta"));
        // One thread per rank needs no word to srun.
        assert!(!s.contains("SRUN_CPUS_PER_TASK"));
    }

    #[test]
    fn requeue_on_the_warning_alone() {
        let mut j = job(Scheduler::Slurm);
        j.requeue = true;
        j.lead = 300;
        let s = j.script();
        for line in [
            "#SBATCH --requeue",
            "#SBATCH --open-mode=append",
            "#SBATCH --signal=USR1@300",
            "if [ \"$status\" -eq 138 ]; then",
        ] {
            assert!(has(&s, line), "missing {line:?} in\n{s}");
        }
        assert!(s.contains("scontrol requeue \"$SLURM_JOB_ID\""));
        assert!(s.find("scontrol requeue").unwrap() > s.find("srun \"$HALO\"").unwrap());
    }

    #[test]
    fn pbs_selects_chunks_of_ranks_and_threads() {
        let mut j = job(Scheduler::Pbs);
        j.threads = 3;
        j.partition = Some("workq".into());
        j.account = Some("proj42".into());
        let s = j.script();
        for line in [
            "#PBS -N lap",
            "#PBS -l select=2:ncpus=12:mpiprocs=4:ompthreads=3",
            "#PBS -l walltime=01:30:00",
            "#PBS -j oe",
            "#PBS -q workq",
            "#PBS -A proj42",
            "cd \"$PBS_O_WORKDIR\"",
            "mpirun --hostfile \"$PBS_NODEFILE\" -n 8 --map-by slot:PE=3 \"$HALO\" solve --grid 64x64 --checkpoint-dir ckpt-lap --checkpoint-every 50 ${RESTART[@]+\"${RESTART[@]}\"} || status=$?",
        ] {
            assert!(has(&s, line), "missing {line:?} in\n{s}");
        }
        assert!(s.contains("# Submit:  qsub THIS_FILE"));
        assert!(s.contains("kill_delay"));
        assert!(!s.contains("SBATCH") && !s.contains("srun") && !s.contains("scontrol"));
        let one = job(Scheduler::Pbs).script();
        assert!(has(
            &one,
            "#PBS -l select=2:ncpus=4:mpiprocs=4:ompthreads=1"
        ));
        assert!(!one.contains("--map-by"));
    }

    #[test]
    fn both_restart_only_from_a_checkpoint_that_is_there() {
        for sched in [Scheduler::Slurm, Scheduler::Pbs] {
            let mut j = job(sched);
            j.checkpoint_dir = Some("my ckpt".into());
            let s = j.script();
            for line in [
                "CKPT='my ckpt'",
                "if ls \"$CKPT\"/ckpt-*.halo > /dev/null 2>&1; then",
                "  RESTART=(--restart \"$CKPT\")",
                "echo \"halo exited with $status\"",
            ] {
                assert!(has(&s, line), "{sched:?}: missing {line:?} in\n{s}");
            }
            // The restart test comes before the launch that uses it.
            assert!(s.find("RESTART=(--restart").unwrap() < s.find("\"$HALO\" solve").unwrap());
        }
    }

    #[test]
    fn a_solver_without_checkpoints_starts_over() {
        let mut j = job(Scheduler::Slurm);
        j.checkpoint_dir = None;
        j.solve = ["--grid", "64x64"].map(String::from).to_vec();
        let s = j.script();
        assert!(!s.contains("--signal") && !s.contains("CKPT"));
        assert!(s.contains("writes no checkpoints"));
        assert!(has(&s, "RESTART=()"));
    }

    #[test]
    fn arguments_and_paths_are_quoted_in_the_script() {
        let mut j = job(Scheduler::Pbs);
        j.halo = "/home/a b/halo".into();
        j.solve = ["--out", "run 1", "--tol", "1e-8"]
            .map(String::from)
            .to_vec();
        j.command = [
            "halo",
            "batch",
            "--job-name",
            "x",
            "--",
            "solve",
            "--out",
            "run 1",
        ]
        .map(String::from)
        .to_vec();
        let s = j.script();
        assert!(has(&s, "HALO=${HALO:-'/home/a b/halo'}"));
        assert!(s.contains(" solve --out 'run 1' --tol 1e-8 "));
        assert!(s.contains("#   halo batch --job-name x -- solve --out 'run 1'\n"));
    }
}
