//! `halo batch`: a Slurm or PBS job script for one `halo solve` run, printed on stdout. The run's
//! arguments are checked now, as `halo solve` would check them, not after hours in the queue.
//! No MPI needed.

use super::solve::SolveArgs;
use clap::{Args, FromArgMatches};
use halo::decomp::Decomposition;
use halo::sched::script::{self, Job, Scheduler};
use halo::Error;

/// `halo batch`'s options.
#[derive(clap::Args)]
#[command(after_long_help = HELP_AFTER)]
pub struct BatchArgs {
    /// The batch scheduler: slurm (sbatch, srun) or pbs (PBS Professional and OpenPBS: qsub,
    /// select, mpirun).
    #[arg(long, value_enum)]
    pub scheduler: SchedulerArg,
    /// Nodes to ask for.
    #[arg(long, value_name = "N")]
    pub nodes: usize,
    /// MPI ranks on each node: the run has N x M ranks, each with `solve --threads` threads.
    #[arg(long, value_name = "M")]
    pub ranks_per_node: usize,
    /// The time limit: HH:MM:SS, or for Slurm also D-HH:MM:SS.
    #[arg(long, default_value = "01:00:00", value_name = "HH:MM:SS")]
    pub time: String,
    /// The job's name (letters, digits, _ . -); the checkpoints go to ckpt-NAME unless the
    /// solve arguments say where.
    #[arg(long, default_value = "halo", value_name = "NAME")]
    pub job_name: String,
    /// The Slurm partition or PBS queue [default: the site's].
    #[arg(long, visible_alias = "queue", value_name = "P")]
    pub partition: Option<String>,
    /// The account the job is charged to [default: yours].
    #[arg(long, value_name = "A")]
    pub account: Option<String>,
    /// Slurm: send halo SIGUSR1 this many seconds before the time limit, so that it writes a
    /// checkpoint and stops in time [default: 120].
    #[arg(long, value_name = "SECONDS")]
    pub checkpoint_lead: Option<u64>,
    /// Slurm: when halo stopped on that warning, requeue the job so the run goes on in the next
    /// allocation (adds #SBATCH --requeue and --open-mode=append).
    #[arg(long)]
    pub requeue: bool,
    /// The run: `solve` and its arguments, after `--`.
    #[arg(last = true, value_name = "solve ARGS")]
    pub run: Vec<String>,
}

/// The choices of `--scheduler`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchedulerArg {
    /// Slurm.
    Slurm,
    /// PBS Pro / OpenPBS.
    Pbs,
}

/// What `halo batch --help` says after the options.
const HELP_AFTER: &str = "\
The script runs the binary that wrote it (override with HALO=/path/to/halo when submitting) and
checkpoints: unless the solve arguments give --checkpoint-dir, it adds --checkpoint-dir
ckpt-NAME --checkpoint-every K (K = iterations/20) --checkpoint-keep 2, and it passes --restart
only when that directory already holds a checkpoint, so the same script starts the run or
resumes it. Slurm warns halo with SIGUSR1 --checkpoint-lead seconds before the time limit; halo
then writes a checkpoint and exits with 138 (with --requeue the job requeues itself). Under PBS,
halo checkpoints on the SIGTERM that comes before the kill at the walltime. Submit the script
again to resume. (pipecg writes no checkpoints: its script starts over.)

Refused, with one line and exit 2: nodes or ranks per node of 0, a malformed --time, solve
arguments `halo solve` would refuse, --restart (the script decides that), a --procs grid of
other than N x M ranks, and anything but `solve` after `--`.

Examples:
  halo batch --scheduler slurm --nodes 2 --ranks-per-node 32 --time 02:00:00 \\
      -- solve --grid 8192x8192 --iters 20000 > halo.sbatch
  sbatch halo.sbatch
  halo batch --scheduler pbs --nodes 4 --ranks-per-node 8 --queue workq \\
      -- solve --grid 4096x4096 --threads 4 --out results > halo.pbs
  qsub halo.pbs";

/// Runs `halo batch`: checks everything, prints the script.
pub fn run(a: &BatchArgs) -> halo::Result<()> {
    let job = job(a, command_line(), this_binary()?)?;
    print!("{}", job.script());
    Ok(())
}

/// The command as it was typed, program name `halo`.
fn command_line() -> Vec<String> {
    let rest = std::env::args_os().skip(1);
    std::iter::once("halo".to_string())
        .chain(rest.map(|a| a.to_string_lossy().into_owned()))
        .collect()
}

/// The absolute path of the running halo.
fn this_binary() -> halo::Result<String> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::Config(format!("cannot tell where this halo binary is: {e}")))?;
    Ok(exe.to_string_lossy().into_owned())
}

/// The job `a` describes, every part checked; `command` is the command line to quote in the
/// script, `halo` the binary it runs.
pub fn job(a: &BatchArgs, command: Vec<String>, halo: String) -> halo::Result<Job> {
    let config = |m: String| Err(Error::Config(m));
    if let Some(bad) = command.iter().find(|w| w.chars().any(char::is_control)) {
        return config(format!(
            "{bad:?}: arguments with line breaks or other control characters cannot go into a job script"
        ));
    }
    let scheduler = match a.scheduler {
        SchedulerArg::Slurm => Scheduler::Slurm,
        SchedulerArg::Pbs => Scheduler::Pbs,
    };
    let slurm = scheduler == Scheduler::Slurm;
    if a.nodes == 0 {
        return config("--nodes must be at least 1".into());
    }
    if a.ranks_per_node == 0 {
        return config("--ranks-per-node must be at least 1".into());
    }
    let Some(ranks) = a.nodes.checked_mul(a.ranks_per_node) else {
        return config("--nodes x --ranks-per-node is too many ranks".into());
    };
    let seconds = script::walltime_seconds(&a.time, scheduler)
        .map_err(|why| Error::Config(format!("--time {}: {why}", a.time)))?;
    if !slurm && a.requeue {
        return config(
            "--requeue is for Slurm; under PBS submit the script again and it resumes".into(),
        );
    }
    if !slurm && a.checkpoint_lead.is_some() {
        return config(
            "--checkpoint-lead is for Slurm; PBS sends SIGTERM kill_delay seconds before the kill, and halo checkpoints on it".into(),
        );
    }
    let lead = a.checkpoint_lead.unwrap_or(script::DEFAULT_LEAD);
    if slurm && (lead == 0 || lead > script::MAX_LEAD) {
        return config(format!(
            "--checkpoint-lead {lead}: choose 1 to {} seconds",
            script::MAX_LEAD
        ));
    }
    if slurm && lead >= seconds {
        return config(format!(
            "--checkpoint-lead {lead} s{} leaves no time to run within --time {} ({seconds} s)",
            if a.checkpoint_lead.is_none() {
                " (the default)"
            } else {
                ""
            },
            a.time
        ));
    }
    name("--job-name", &a.job_name, 64, |c| "_.-".contains(c))?;
    for (flag, value) in [("--partition", &a.partition), ("--account", &a.account)] {
        if let Some(v) = value {
            name(flag, v, 128, |c| "_.-,@+".contains(c))?;
        }
    }

    let Some((first, rest)) = a.run.split_first() else {
        return config(
            "nothing to run: give the run after --, e.g. halo batch ... -- solve --grid 512x512"
                .into(),
        );
    };
    if first != "solve" {
        return config(format!(
            "after --, only `solve` is supported, not `{first}`: halo batch writes a job script for one halo solve run"
        ));
    }
    let solve = parse_solve(&a.run)?;
    let p = &solve.problem;
    if solve.restart.is_some() {
        return config(
            "--restart: the script passes --restart itself when its checkpoint directory holds a checkpoint; leave it out (to resume from a directory, give it as --checkpoint-dir)".into(),
        );
    }
    if let Some(g) = p.procs {
        if g.size() != ranks {
            return config(format!(
                "--procs {g} has {} ranks, but --nodes {} x --ranks-per-node {} start {ranks}",
                g.size(),
                a.nodes,
                a.ranks_per_node
            ));
        }
    }
    p.validate()
        .map_err(|e| Error::Config(format!("solve: {e}")))?;
    let (nx, ny) = p.grid;
    match p.procs {
        Some(g) => Decomposition::new(nx, ny, g),
        None => Decomposition::auto(nx, ny, ranks),
    }
    .map_err(|e| Error::Config(format!("solve on {ranks} ranks: {e}")))?;
    let iters = p.config().stop.iters;
    if let Some(f) = &solve.fault {
        f.check(ranks, iters)?;
    }

    let mut args = rest.to_vec();
    let checkpoint_dir = match &solve.checkpoint_dir {
        Some(dir) => {
            checked(&solve, None).map_err(|e| Error::Config(format!("solve: {e}")))?;
            Some(dir.to_string_lossy().into_owned())
        }
        None => {
            let dir = format!("ckpt-{}", a.job_name);
            let every = checkpoint_every(&solve);
            // A solver that cannot checkpoint runs without (pipecg); the script starts it over.
            match checked(&solve, Some((&dir, every))) {
                Ok(()) => {
                    args.extend([
                        "--checkpoint-dir".into(),
                        dir.clone(),
                        "--checkpoint-every".into(),
                        every.to_string(),
                        "--checkpoint-keep".into(),
                        "2".into(),
                    ]);
                    Some(dir)
                }
                Err(e) => {
                    checked(&solve, None).map_err(|e| Error::Config(format!("solve: {e}")))?;
                    if a.requeue {
                        return config(format!(
                            "--requeue: this run writes no checkpoints ({e}), so a requeued job would start over"
                        ));
                    }
                    None
                }
            }
        }
    };
    Ok(Job {
        scheduler,
        nodes: a.nodes,
        ranks_per_node: a.ranks_per_node,
        threads: p.threads,
        time: a.time.clone(),
        name: a.job_name.clone(),
        partition: a.partition.clone(),
        account: a.account.clone(),
        lead,
        requeue: a.requeue,
        halo,
        command,
        solve: args,
        checkpoint_dir,
    })
}

/// `solve ARGS` parsed as `halo solve` parses them; clap's message folded onto one line.
fn parse_solve(run: &[String]) -> halo::Result<SolveArgs> {
    let cmd = SolveArgs::augment_args(clap::Command::new("solve"));
    let parsed = cmd
        .try_get_matches_from(run)
        .and_then(|m| SolveArgs::from_arg_matches(&m));
    parsed.map_err(|e| {
        use clap::error::ErrorKind::*;
        if matches!(e.kind(), DisplayHelp | DisplayVersion) {
            return Error::Config(
                "solve --help is not a run: see halo solve --help for the arguments".into(),
            );
        }
        let text = e.render().to_string();
        let message = text.split("\n\n").next().unwrap_or("invalid arguments");
        let message = message.strip_prefix("error: ").unwrap_or(message);
        let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
        Error::Config(format!("solve: {one_line} (see halo solve --help)"))
    })
}

/// Checks the whole run as `halo solve` would before it starts, with these checkpoints (when
/// the script adds them) or the arguments' own.
fn checked(solve: &SolveArgs, added: Option<(&str, usize)>) -> halo::Result<()> {
    let given = solve
        .checkpoint_every
        .zip(solve.checkpoint_dir.clone())
        .map(|(every, dir)| halo::solver::Checkpointing {
            every,
            dir,
            keep: solve.checkpoint_keep,
        });
    let checkpoint = match added {
        Some((dir, every)) => Some(halo::solver::Checkpointing {
            every,
            dir: dir.into(),
            keep: Some(2),
        }),
        None => given,
    };
    let cfg = halo::solver::Config {
        checkpoint,
        ..solve.problem.config()
    };
    cfg.validate().map_err(|e| solve.problem.flag_names(e))
}

/// How often the script's checkpoints come: every twentieth of the run, at least every
/// iteration; for an Anderson-accelerated cavity no more often than a full history takes (its
/// history restarts at each checkpoint).
fn checkpoint_every(solve: &SolveArgs) -> usize {
    let cfg = solve.problem.config();
    let every = (cfg.stop.iters / 20).max(1);
    match cfg.cavity.anderson {
        Some(a) if cfg.problem == halo::solver::Problem::Cavity => {
            every.max((a.depth + 1) * a.window)
        }
        _ => every,
    }
}

/// Refuses a name the scheduler or the shell could take wrongly: it must be 1 to `most`
/// characters, letters, digits and `extra` ones, starting with a letter or digit.
fn name(flag: &str, value: &str, most: usize, extra: fn(char) -> bool) -> halo::Result<()> {
    let ok = !value.is_empty()
        && value.len() <= most
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || extra(c));
    if ok {
        return Ok(());
    }
    let allowed: String = ['_', '.', '-', ',', '@', '+']
        .into_iter()
        .filter(|&c| extra(c))
        .map(|c| format!(" {c}"))
        .collect();
    Err(Error::Config(format!(
        "{flag} {value:?}: use 1 to {most} letters, digits and{allowed}, starting with a letter or digit"
    )))
}
