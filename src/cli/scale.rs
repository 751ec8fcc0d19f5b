//! `halo scale`: a strong or weak scaling study, run without mpirun; it starts the jobs itself.

use super::solve::ProblemArgs;
use halo::node::{affinity, signals};
use halo::scale::{self, Launcher, Mode, Point, Study};
use halo::solver::Problem;
use halo::Error;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

/// How the studies (`halo scale`, `halo refine`) launch their jobs.
#[derive(clap::Args)]
pub struct LaunchArgs {
    /// Stop a run after this many seconds and report it as timed out (at most a year).
    #[arg(long, default_value = "600", value_name = "SECONDS",
          value_parser = super::solve::timeout_seconds)]
    pub timeout: f64,
    /// Extra launcher arguments, e.g. "--hostfile hostfiles/cluster.openmpi".
    #[arg(
        long,
        value_name = "ARGS",
        allow_hyphen_values = true,
        default_value = ""
    )]
    pub mpirun_args: String,
    /// mpirun, or srun inside a Slurm allocation.
    #[arg(long, default_value = "mpirun", value_parser = ["mpirun", "srun"])]
    pub launcher: String,
}

impl LaunchArgs {
    /// The launcher with its extra arguments; a hostfile among them that cannot be read would
    /// fail every run the same way, so it is refused once, before any starts.
    pub fn launcher(&self) -> halo::Result<Launcher> {
        let extra: Vec<String> = self
            .mpirun_args
            .split_whitespace()
            .map(String::from)
            .collect();
        for pair in extra.windows(2) {
            if matches!(
                pair[0].as_str(),
                "--hostfile" | "-hostfile" | "--machinefile" | "-machinefile" | "-f"
            ) {
                let path = std::path::Path::new(&pair[1]);
                std::fs::File::open(path).map_err(|e| Error::Io {
                    path: format!("--mpirun-args {} {}", pair[0], pair[1]),
                    message: e.to_string(),
                })?;
            }
        }
        Ok(if self.launcher == "srun" {
            Launcher::Srun(srun_extra(extra)?)
        } else {
            Launcher::Mpirun(extra)
        })
    }

    /// How long a run may take.
    pub fn timeout(&self) -> Duration {
        // Positive and at most a year: the parser saw to it.
        Duration::from_secs_f64(self.timeout)
    }
}

/// `srun`'s arguments for a study: the user's, with `--mpi=pmix` added when they and
/// `SLURM_MPI_TYPE` choose no PMI plugin and this srun offers PMIx ([`scale::srun_mpi`]).
/// Outside an allocation, or without srun, one line says so before any run.
fn srun_extra(mut extra: Vec<String>) -> halo::Result<Vec<String>> {
    if std::env::var_os("SLURM_JOB_ID").is_none() {
        return Err(Error::Config(
            "--launcher srun runs inside a Slurm allocation (salloc, or a batch script), and SLURM_JOB_ID is not set; outside one, use --launcher mpirun".into(),
        ));
    }
    let listed = scale::run_with_timeout(
        std::process::Command::new("srun").arg("--mpi=list"),
        Duration::from_secs(30),
    )
    .map_err(|e| Error::Config(format!("--launcher srun: cannot run srun: {e}")))?;
    let offered = format!("{}{}", listed.stdout, listed.stderr);
    let mpi_type = std::env::var("SLURM_MPI_TYPE").ok();
    if let Some(mpi) = scale::srun_mpi(&extra, mpi_type.as_deref(), &offered) {
        extra.push(mpi);
    }
    Ok(extra)
}

/// `halo scale`'s options.
#[derive(clap::Args)]
#[command(
    allow_negative_numbers = true,
    after_help = "Exit status: 0 when every rank count was measured; 1 when any failed or timed \
        out (each named on stderr, the others still written and plotted); 2 when the study cannot \
        run (a bad option, rank counts beyond --max-ranks); 4 when a file cannot be read or \
        written; 128 + N when stopped by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP), after \
        ending the running job whole and writing what was measured."
)]
pub struct ScaleArgs {
    /// What every run solves; in weak mode --grid is each rank's block.
    #[command(flatten)]
    pub problem: ProblemArgs,
    /// Rank counts to run, e.g. 1,2,4.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    pub ranks: Vec<usize>,
    /// strong: the same global grid for every rank count; weak: the same block per rank.
    #[arg(long, default_value = "strong", value_parser = ["strong", "weak"])]
    pub mode: String,
    /// Runs per rank count; the median time is reported.
    #[arg(long, default_value_t = 1, value_name = "R")]
    pub repeat: usize,
    /// How each run is launched.
    #[command(flatten)]
    pub launch: LaunchArgs,
    /// Where scaling.csv, scaling.json and scaling.png go (created if needed).
    #[arg(long, value_name = "DIR", default_value = "scaling")]
    pub out: PathBuf,
    /// Run rank counts up to N, however many slots the launcher has. Without it, counts above
    /// 4 ranks per slot the launcher can see are refused: this machine's cores for mpirun, the
    /// slots of a --hostfile or --host in --mpirun-args, SLURM_NTASKS under srun. A few ranks per
    /// core still run (slowly); thousands on a workstation only swamp it.
    #[arg(long, value_name = "N")]
    pub max_ranks: Option<usize>,
}

/// Ranks per visible slot that `halo scale` runs without `--max-ranks`.
const RANKS_PER_SLOT: usize = 4;

/// Runs `halo scale`.
pub fn run(a: &ScaleArgs, matches: &clap::ArgMatches) -> halo::Result<()> {
    if std::env::var_os("OMPI_COMM_WORLD_SIZE").is_some() || std::env::var_os("PMI_SIZE").is_some()
    {
        return Err(Error::Config(
            "run halo scale without mpirun: it starts each job itself".into(),
        ));
    }
    let p = &a.problem;
    if p.procs.is_some() {
        return Err(Error::Config(
            "--procs does not apply to halo scale: each rank count gets its own process grid"
                .into(),
        ));
    }
    if a.ranks.is_empty() || a.ranks.contains(&0) {
        return Err(Error::Config(
            "--ranks needs rank counts of at least 1, e.g. 1,2,4".into(),
        ));
    }
    if a.repeat == 0 {
        return Err(Error::Config("--repeat must be at least 1".into()));
    }
    // Catch what every run would refuse before starting any.
    p.validate()?;
    let mode = if a.mode == "weak" {
        Mode::Weak
    } else {
        Mode::Strong
    };
    let launcher = a.launch.launcher()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    check_rank_limit(a, &launcher, cores)?;
    let (launcher, mapping) = launcher.give_threads(p.threads, cores, affinity::linked_library());
    halo::io::ensure_dir(&a.out)?;
    let exe = std::env::current_exe().map_err(|e| Error::Io {
        path: "halo".into(),
        message: e.to_string(),
    })?;
    // Speed-ups are measured against the fewest ranks, and a count run twice would be two points
    // at one abscissa: run each count once, in increasing order, and say so if that changed.
    let ranks = scale::rank_order(&a.ranks);
    if ranks != a.ranks {
        eprintln!(
            "scale: --ranks {} run as {}: each count once, in increasing order, the smallest the baseline",
            list(&a.ranks),
            list(&ranks)
        );
    }
    let study = Study {
        mode,
        ranks: ranks.clone(),
        repeat: a.repeat,
        grid: p.grid,
        solve_args: super::solve::given_options(matches),
        launcher,
        timeout: a.launch.timeout(),
        cores,
        threads: p.threads,
    };
    let stop = p.config().stop;
    let length = match (p.problem, p.iters, p.tol) {
        (Problem::Cavity, None, None) => "to a steady state".to_string(),
        _ if p.solver.method() != halo::solver::Method::Jacobi => format!(
            "{} to a relative residual of {:e}",
            p.solver.method(),
            stop.tol.unwrap_or(0.0)
        ),
        _ => format!("{} iterations", stop.iters),
    };
    let what = format!(
        "{} {}x{}{}, {length}, {} thread(s) per rank",
        p.problem,
        p.grid.0,
        p.grid.1,
        if mode == Mode::Weak { " per rank" } else { "" },
        p.threads
    );
    if let Some(line) = mapping {
        eprintln!("scale: {line}");
    }
    let t = p.threads;
    let over: Vec<usize> = ranks.iter().copied().filter(|&k| k * t > cores).collect();
    if !over.is_empty() {
        let each = if t > 1 {
            format!(" of {t} threads each")
        } else {
            String::new()
        };
        eprintln!("scale: this machine has {cores} cores: runs on {over:?} ranks{each} are oversubscribed (ranks share cores), so their times say little about speed");
    }
    let total = ranks.len() * a.repeat;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} runs  {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar
    });
    // From here a SIGINT, SIGTERM or SIGHUP ends the running job whole and stops the study;
    // without this, a signal would end halo scale and leave its job computing.
    signals::install(&signals::STUDY).map_err(|e| {
        Error::Config(format!(
            "cannot catch signals to stop the study cleanly: {e}"
        ))
    })?;
    let outcome = scale::run_study(&study, &exe, |done, total, note| match &bar {
        Some(b) => {
            b.set_position(done as u64);
            b.set_message(note.to_string());
        }
        None => eprintln!("scale: [{done}/{total}] {note}"),
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let (points, stopped) = (&outcome.points, outcome.stopped);
    print_table(mode, &what, cores, p.threads, points, stopped);
    let (csv, json, png) = (
        a.out.join("scaling.csv"),
        a.out.join("scaling.json"),
        a.out.join("scaling.png"),
    );
    scale::write_csv(&csv, points)?;
    scale::write_json(&json, mode, &what, cores, points, stopped)?;
    println!("wrote {}", csv.display());
    println!("wrote {}", json.display());
    // A plot needs a point to draw; an empty one (or one left by an earlier study) would pass
    // for a result.
    if points.iter().any(|p| p.speedup.is_some()) {
        scale::write_plot(&png, mode, &what, points, stopped)?;
        println!("wrote {}", png.display());
    } else {
        match std::fs::remove_file(&png) {
            Ok(()) => println!("removed {}: no point to plot", png.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::Io {
                    path: png.display().to_string(),
                    message: format!("cannot remove an earlier plot: {e}"),
                })
            }
        }
    }
    // A signal that came after the last run still asked halo scale to stop: say so in the
    // exit code, with the results complete.
    if let Some(sig) = stopped.map(|s| s.signal).or_else(signals::caught) {
        let measured: Vec<String> = points
            .iter()
            .filter(|p| p.seconds.is_some())
            .map(|p| p.ranks.to_string())
            .collect();
        let measured = match measured.len() {
            0 => "nothing was measured".to_string(),
            _ => format!("measured: {} ranks", measured.join(", ")),
        };
        let name = signals::name(sig);
        let line = match stopped {
            None => format!("stopped by {name} after the last run; the results are complete"),
            Some(s) => {
                let what = match s.ranks {
                    Some(k) => format!("ended the {k}-rank job"),
                    None => "before the next rank count".to_string(),
                };
                format!(
                    "stopped by {name}: {what}; {measured} (partial results in {})",
                    a.out.display()
                )
            }
        };
        exit_with(128 + sig, &line);
    }
    // A point whose run failed or timed out makes the study a failure, whatever succeeded.
    let failed: Vec<&Point> = points.iter().filter(|p| p.status != "ok").collect();
    if !failed.is_empty() {
        for p in &failed {
            eprintln!("scale: {} ranks failed: {}", p.ranks, p.status);
        }
        let which = list(&failed.iter().map(|p| p.ranks).collect::<Vec<_>>());
        let measured = points.iter().filter(|p| p.seconds.is_some()).count();
        let line = match measured {
            0 => format!(
                "every rank count failed ({which}): nothing measured, no plot (see {})",
                csv.display()
            ),
            n => format!(
                "{} of {} rank counts failed ({which}); the {n} measured are in {}",
                failed.len(),
                points.len(),
                a.out.display()
            ),
        };
        exit_with(1, &line);
    }
    Ok(())
}

/// Refuses rank counts beyond `--max-ranks`, or without it beyond [`RANKS_PER_SLOT`] ranks per
/// slot the launcher can see.
fn check_rank_limit(a: &ScaleArgs, launcher: &Launcher, cores: usize) -> halo::Result<()> {
    let Some(&most) = a.ranks.iter().max() else {
        return Ok(());
    };
    match a.max_ranks {
        Some(0) => Err(Error::Config("--max-ranks must be at least 1".into())),
        Some(n) if most > n => Err(Error::Config(format!(
            "--ranks {most}: more than --max-ranks {n}"
        ))),
        Some(_) => Ok(()),
        None => {
            let slots = launcher.slots(cores, |v| std::env::var(v).ok())?;
            let limit = slots.count.max(1).saturating_mul(RANKS_PER_SLOT);
            if most <= limit {
                return Ok(());
            }
            let who = if matches!(launcher, Launcher::Srun(_)) {
                "srun"
            } else {
                "mpirun"
            };
            Err(Error::Config(format!(
                "--ranks {most}: far beyond the {} slots {who} can see ({}); at most {limit} \
                 ranks ({RANKS_PER_SLOT} per slot) are run unless you pass --max-ranks {most}",
                slots.count, slots.source
            )))
        }
    }
}

/// Prints `halo: error: LINE` and exits with `code`: for the ends of a study that the library's
/// error kinds do not describe. Output printed so far is flushed first.
fn exit_with(code: i32, line: &str) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    eprintln!("halo: error: {line}");
    std::process::exit(code)
}

/// `1,2,4`.
fn list(ranks: &[usize]) -> String {
    ranks
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn fmt(x: Option<f64>, prec: usize) -> String {
    x.map_or("-".into(), |v| format!("{v:.prec$}"))
}

fn print_table(
    mode: Mode,
    what: &str,
    cores: usize,
    threads: usize,
    points: &[Point],
    stopped: Option<scale::Stop>,
) {
    let partial = match stopped {
        Some(s) => format!(" (partial: stopped by {})", signals::name(s.signal)),
        None => String::new(),
    };
    println!("{mode} scaling: {what}, on a machine with {cores} cores{partial}");
    println!(
        "{:>5} {:>7} {:>11} {:>10} {:>10} {:>9} {:>10} {:>10} {:>9}  note",
        "ranks",
        "px x py",
        "grid",
        "seconds",
        "Mcells/s",
        "speed-up",
        "efficiency",
        "comm share",
        "peak MiB"
    );
    for p in points {
        let mut notes = Vec::new();
        if p.oversubscribed {
            let each = if threads > 1 {
                format!(" x {threads} threads")
            } else {
                String::new()
            };
            notes.push(format!(
                "oversubscribed ({} ranks{each} on {cores} cores)",
                p.ranks
            ));
        }
        if p.status != "ok" {
            notes.push(p.status.clone());
        }
        println!(
            "{:>5} {:>7} {:>11} {:>10} {:>10} {:>9} {:>10} {:>10} {:>9}  {}",
            p.ranks,
            p.px.zip(p.py)
                .map_or("-".into(), |(x, y)| format!("{x}x{y}")),
            format!("{}x{}", p.nx, p.ny),
            fmt(p.seconds, 4),
            fmt(p.mcells_per_s, 1),
            fmt(p.speedup, 2),
            fmt(p.efficiency, 3),
            p.comm_share
                .map_or("-".into(), |c| format!("{:.1}%", 100.0 * c)),
            // The largest rank's, in MiB.
            fmt(p.peak_rss_bytes.map(|b| b as f64 / (1u64 << 20) as f64), 1),
            notes.join("; ")
        );
    }
}
