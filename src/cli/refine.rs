//! `halo refine`: a grid-refinement study, run without mpirun; it starts one job per grid.

use super::solve::ProblemArgs;
use halo::io::plot::{self, Chart, Corner, Mark, Series};
use halo::node::signals;
use halo::scale::refine::{self, Estimate, QUANTITIES};
use halo::scale::RunOutcome;
use halo::solver::Problem;
use halo::Error;
use serde_json::{json, Value};
use std::path::PathBuf;

/// `halo refine`'s options.
#[derive(clap::Args)]
#[command(
    allow_negative_numbers = true,
    mut_arg("grid", |a| a.hide(true)),
    after_help = "Every grid runs `halo solve` with the options given here, as one job of \
        --ranks ranks. The table lists each quantity the runs report that converges with the \
        grid (`error` for poisson and heat), its observed order p and its Richardson \
        extrapolation q3 + (q3 - q2)/(r^p - 1) from the last three grids, which must be refined \
        by one ratio r = h1/h2 (within 1%); an error's order comes from the last two, \
        ln(e1/e2)/ln r (its extrapolation would be 0 by construction, so none is given). h = 1/(n + 1) along each side, refined alike along both.\n\n\
        Exit status: 0 when every grid ran; 1 when a grid's job failed or timed out (named on \
        stderr); 2 when the study cannot run (a bad option, too few or unrefined grids); 4 when \
        a file cannot be written; 128 + N when stopped by signal N, after ending the running job \
        whole."
)]
pub struct RefineArgs {
    /// What every grid solves (--grid is replaced by --grids).
    #[command(flatten)]
    pub problem: ProblemArgs,
    /// The grids, coarsest first, e.g. 127x127,255x255,511x511 (at least 2; 3 for the order of
    /// values other than an error).
    #[arg(long, value_delimiter = ',', value_name = "NXxNY,...", required = true,
          value_parser = super::args::grid)]
    pub grids: Vec<(usize, usize)>,
    /// Ranks of every job.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub ranks: usize,
    /// How each grid's job is launched.
    #[command(flatten)]
    pub launch: super::scale::LaunchArgs,
    /// Where refine.csv, refine.json and refine.png go (created if needed).
    #[arg(long, value_name = "DIR", default_value = "refine")]
    pub out: PathBuf,
    /// Print the study as one JSON line instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// One grid's run.
struct GridRun {
    grid: (usize, usize),
    report: Value,
}

/// Runs `halo refine`.
pub fn run(a: &RefineArgs, matches: &clap::ArgMatches) -> halo::Result<()> {
    use clap::parser::ValueSource;
    if std::env::var_os("OMPI_COMM_WORLD_SIZE").is_some() || std::env::var_os("PMI_SIZE").is_some()
    {
        return Err(Error::Config(
            "run halo refine without mpirun: it starts each job itself".into(),
        ));
    }
    let p = &a.problem;
    if matches.value_source("grid") == Some(ValueSource::CommandLine) {
        return Err(Error::Config(
            "halo refine takes --grids (coarsest first), not --grid".into(),
        ));
    }
    if a.ranks == 0 {
        return Err(Error::Config("--ranks must be at least 1".into()));
    }
    let ratios = refine::ratios(&a.grids)?;
    p.validate()?;
    let launcher = a.launch.launcher()?;
    halo::io::ensure_dir(&a.out)?;
    let exe = std::env::current_exe().map_err(|e| Error::Io {
        path: "halo".into(),
        message: e.to_string(),
    })?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Each rank gets its --threads cores where the launcher can give them, as in halo scale.
    let (launcher, mapping) =
        launcher.give_threads(p.threads, cores, halo::node::affinity::linked_library());
    if let Some(line) = mapping {
        eprintln!("refine: {line}");
    }
    let oversubscribed = a.ranks * p.threads > cores;
    let options = super::solve::given_options(matches);
    let what = format!(
        "halo solve {}, {} ranks per grid",
        options.join(" "),
        a.ranks
    );
    signals::install(&signals::STUDY).map_err(|e| {
        Error::Config(format!(
            "cannot catch signals to stop the study cleanly: {e}"
        ))
    })?;
    let timeout = a.launch.timeout();
    let mut runs = Vec::new();
    for (i, &(nx, ny)) in a.grids.iter().enumerate() {
        let mut args = options.clone();
        args.extend(["--grid".into(), format!("{nx}x{ny}")]);
        let outcome = match signals::caught() {
            Some(sig) => RunOutcome::Stopped(sig),
            None => launcher.run(&exe, a.ranks, oversubscribed, &args, timeout),
        };
        match outcome {
            RunOutcome::Ok(report) => {
                if !a.json {
                    eprintln!(
                        "refine: [{}/{}] {nx}x{ny}: {:.3} s",
                        i + 1,
                        a.grids.len(),
                        report["seconds"].as_f64().unwrap_or(f64::NAN)
                    );
                }
                runs.push(GridRun {
                    grid: (nx, ny),
                    report,
                });
            }
            RunOutcome::Failed(why) => {
                exit_with(1, &format!("the {nx}x{ny} grid's job failed: {why}"))
            }
            RunOutcome::Stopped(sig) => exit_with(
                128 + sig,
                &format!(
                    "stopped by {} while running the {nx}x{ny} grid",
                    signals::name(sig)
                ),
            ),
        }
    }
    if p.problem == Problem::Heat {
        let times: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.report["time"].as_f64())
            .collect();
        if times
            .windows(2)
            .any(|w| (w[0] - w[1]).abs() > 1e-9 * w[0].abs())
        {
            eprintln!(
                "refine: warning: the grids reached different simulated times ({times:?}): the \
                 default time step follows the grid; give --dt and --steps for one final time"
            );
        }
    }
    let mut names = Vec::new();
    let mut estimates = Vec::new();
    for q in QUANTITIES {
        let values: Option<Vec<f64>> = runs.iter().map(|r| r.report[q.name].as_f64()).collect();
        if let Some(values) = values {
            let reference = refine::reference(q.name, p.problem, p.re);
            names.push(q.name);
            estimates.push(refine::estimate(&values, &ratios, q.limit, reference));
        }
    }
    let study = to_json(&what, a.ranks, &runs, &names, &estimates);
    let (csv, json_path, png) = (
        a.out.join("refine.csv"),
        a.out.join("refine.json"),
        a.out.join("refine.png"),
    );
    halo::io::write_atomic(&csv, to_csv(&runs, &names, &estimates).as_bytes())?;
    halo::io::write_atomic(&json_path, format!("{study}\n").as_bytes())?;
    let plotted = write_plot(&png, &options.join(" "), &runs, &names, &estimates)?;
    if a.json {
        println!("{study}");
    } else {
        print_table(&what, &runs, &names, &estimates);
        println!("wrote {}", csv.display());
        println!("wrote {}", json_path.display());
        if plotted {
            println!("wrote {}", png.display());
        }
    }
    if names.is_empty() {
        eprintln!(
            "refine: {} reports no quantity that converges with the grid (error, psi_min, ...): \
             nothing to study",
            p.problem
        );
    }
    Ok(())
}

/// The r.m.s. of the cell sides of a grid.
fn h_of(grid: (usize, usize)) -> f64 {
    let (hx, hy) = refine::cell_size(grid);
    ((hx * hx + hy * hy) / 2.0).sqrt()
}

fn to_json(
    what: &str,
    ranks: usize,
    runs: &[GridRun],
    names: &[&str],
    estimates: &[Estimate],
) -> Value {
    let grids: Vec<Value> = runs
        .iter()
        .map(|r| {
            json!({
                "grid": format!("{}x{}", r.grid.0, r.grid.1),
                "nx": r.grid.0,
                "ny": r.grid.1,
                "h": h_of(r.grid),
                "seconds": r.report["seconds"],
                "iters": r.report["iters"],
            })
        })
        .collect();
    let quantities: serde_json::Map<String, Value> = names
        .iter()
        .zip(estimates)
        .map(|(n, e)| (n.to_string(), json!(e)))
        .collect();
    json!({"run": what, "ranks": ranks, "grids": grids, "quantities": quantities})
}

fn to_csv(runs: &[GridRun], names: &[&str], estimates: &[Estimate]) -> String {
    let mut s = String::from("nx,ny,h,seconds,iters");
    for n in names {
        s.push(',');
        s.push_str(n);
    }
    s.push('\n');
    for (i, r) in runs.iter().enumerate() {
        s.push_str(&format!(
            "{},{},{},{},{}",
            r.grid.0,
            r.grid.1,
            h_of(r.grid),
            r.report["seconds"]
                .as_f64()
                .map_or(String::new(), |v| v.to_string()),
            r.report["iters"]
                .as_u64()
                .map_or(String::new(), |v| v.to_string()),
        ));
        for e in estimates {
            s.push_str(&format!(",{}", e.values[i]));
        }
        s.push('\n');
    }
    s
}

/// Colours for the plot's series, one per quantity.
const PALETTE: [[u8; 3]; 6] = [
    plot::BLUE,
    plot::RED,
    [44, 160, 44],
    [148, 103, 189],
    [255, 127, 14],
    [140, 86, 75],
];

/// Draws `refine.png` (900 × 600) for the solve options `what`: log10 of each quantity's distance to its known limit (the error itself
/// for `error`) against log10 h. Returns false, removing an older plot, when no quantity has a
/// known limit.
fn write_plot(
    path: &std::path::Path,
    what: &str,
    runs: &[GridRun],
    names: &[&str],
    estimates: &[Estimate],
) -> halo::Result<bool> {
    let mut lines: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for (n, e) in names.iter().zip(estimates) {
        let Some(reference) = e.reference else {
            continue;
        };
        let points: Vec<(f64, f64)> = runs
            .iter()
            .zip(&e.values)
            .map(|(r, v)| (h_of(r.grid).log10(), (v - reference).abs()))
            .filter(|&(_, d)| d > 0.0)
            .map(|(h, d)| (h, d.log10()))
            .collect();
        let label = match e.observed_order {
            Some(p) if *n == "error" => format!("error (order {p:.2})"),
            _ if *n == "error" => "error".to_string(),
            _ => format!("|{n} - reference|"),
        };
        lines.push((label, points));
    }
    if lines.iter().all(|(_, p)| p.is_empty()) {
        return match std::fs::remove_file(path) {
            Ok(()) => Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::Io {
                path: path.display().to_string(),
                message: format!("cannot remove an earlier plot: {e}"),
            }),
        };
    }
    let mut series = Vec::new();
    for (k, (label, points)) in lines.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        series.push(Series {
            points,
            mark: Mark::Line,
            colour,
            name: Some(label),
        });
        series.push(Series {
            points,
            mark: Mark::Dots,
            colour,
            name: None,
        });
    }
    let chart = Chart {
        caption: "distance to the limit vs cell size (log-log)",
        x_label: "log10 h",
        y_label: "log10 |q - q_exact|",
        series,
        x_range: None,
        y_range: None,
        whole_x: false,
        legend: Some(Corner::LowerRight),
    };
    let title = format!("grid refinement: {what}");
    halo::io::write_atomic(path, &plot::charts_png(&title, (900, 600), &[chart])?)?;
    Ok(true)
}

fn fmt(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.6e}"))
}

fn print_table(what: &str, runs: &[GridRun], names: &[&str], estimates: &[Estimate]) {
    println!("grid refinement: {what}");
    let mut head = format!("{:>11} {:>12} {:>10}", "grid", "h", "seconds");
    for n in names {
        head.push_str(&format!(" {n:>14}"));
    }
    println!("{head}");
    for (i, r) in runs.iter().enumerate() {
        let mut row = format!(
            "{:>11} {:>12.6e} {:>10.4}",
            format!("{}x{}", r.grid.0, r.grid.1),
            h_of(r.grid),
            r.report["seconds"].as_f64().unwrap_or(f64::NAN)
        );
        for e in estimates {
            row.push_str(&format!(" {:>14.6e}", e.values[i]));
        }
        println!("{row}");
    }
    if names.is_empty() {
        return;
    }
    println!(
        "{:>14} {:>14} {:>14} {:>14} {:>14} {:>14}",
        "quantity", "order", "extrapolated", "reference", "finest - ref", "extrap - ref"
    );
    for (n, e) in names.iter().zip(estimates) {
        let last = e.values.last().copied();
        let off = |x: Option<f64>| x.zip(e.reference).map(|(x, r)| x - r);
        println!(
            "{:>14} {:>14} {:>14} {:>14} {:>14} {:>14}",
            n,
            e.observed_order.map_or("-".into(), |p| format!("{p:.3}")),
            fmt(e.extrapolated),
            fmt(e.reference),
            fmt(off(last)),
            fmt(off(e.extrapolated))
        );
    }
}

/// Prints `halo: error: LINE` and exits with `code`, output printed so far flushed first.
fn exit_with(code: i32, line: &str) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    eprintln!("halo: error: {line}");
    std::process::exit(code)
}
