//! Ranks × threads: halo reads the cores each rank may run on, says so when `--threads` exceeds
//! them, and `halo info` lists them.

mod common;
use common::{halo_bin, mpirun_path, run_guarded, Run};
use std::process::Command;
use std::time::Duration;

/// `mpirun -n N BINDING… halo ARGS…`, with the environment the tests' jobs have, but the binding
/// given here instead of their `--bind-to none`.
fn mpirun_bound(n: usize, binding: &[&str], args: &[&str]) -> Run {
    let mut cmd = Command::new(mpirun_path());
    cmd.args(["-n", &n.to_string(), "--oversubscribe"])
        .args(binding)
        .arg(halo_bin())
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none");
    let what = format!(
        "mpirun -n {n} {} halo {}",
        binding.join(" "),
        args.join(" ")
    );
    let run = run_guarded(&mut cmd, Duration::from_secs(120), &what);
    run.assert_ok(&what);
    run
}

/// The lines of stderr about threads and cores.
fn core_warnings(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("halo: warning: --threads"))
        .collect()
}

/// The cores this test may run on, which the ranks of an unbound job inherit.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

const SOLVE: [&str; 6] = ["solve", "--grid", "64x64", "--iters", "5", "--threads"];

fn solve(threads: usize) -> Vec<String> {
    let mut args: Vec<String> = SOLVE.iter().map(|s| s.to_string()).collect();
    args.push(threads.to_string());
    args
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn a_rank_bound_to_one_core_is_warned_once_with_the_launch_line_that_fixes_it() {
    let args = solve(2);
    let run = mpirun_bound(1, &["--bind-to", "core"], &strs(&args));
    let lines = core_warnings(&run);
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    let line = lines[0];
    assert!(
        line.starts_with("halo: warning: --threads 2 but rank 0 may run on 1 core ("),
        "{line}"
    );
    assert!(
        line.contains("`mpirun --map-by slot:PE=2 …`") && line.contains("--bind-to none"),
        "{line}"
    );
    // A warning, not an error: the run went on and reported.
    assert!(
        run.stdout.contains("threads 2"),
        "no report:\n{}",
        run.stdout
    );

    // Two ranks of one core each: still one line, from rank 0, naming both.
    let run = mpirun_bound(2, &["--bind-to", "core:overload-allowed"], &strs(&args));
    let lines = core_warnings(&run);
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].contains("but all 2 ranks may run on 1 core each"),
        "{}",
        lines[0]
    );
}

#[test]
fn ranks_with_enough_cores_are_not_warned() {
    let n = cores();
    // Unbound, a rank may run on every core this test may.
    let args = solve(n);
    let run = mpirun_bound(1, &["--bind-to", "none"], &strs(&args));
    assert_eq!(core_warnings(&run), Vec::<&str>::new(), "{}", run.stderr);
    // The launch line halo advises silences it; so does one thread, bound or not.
    if n >= 2 {
        let run = mpirun_bound(1, &["--map-by", "slot:PE=2"], &strs(&solve(2)));
        assert_eq!(core_warnings(&run), Vec::<&str>::new(), "{}", run.stderr);
    }
    let run = mpirun_bound(1, &["--bind-to", "core"], &strs(&solve(1)));
    assert_eq!(core_warnings(&run), Vec::<&str>::new(), "{}", run.stderr);
}

/// `rank R: HOST, cores LIST (N)` (or `core LIST (1)`): the rank, the cores listed and N.
fn info_cores(line: &str) -> (usize, Vec<usize>, usize) {
    let (rank, rest) = line
        .strip_prefix("rank ")
        .and_then(|l| l.split_once(": "))
        .unwrap_or_else(|| panic!("not a rank line: {line}"));
    let (_host, cores) = rest
        .rsplit_once(", ")
        .unwrap_or_else(|| panic!("no cores: {line}"));
    let (list, count) = cores
        .strip_prefix("cores ")
        .or_else(|| cores.strip_prefix("core "))
        .and_then(|c| c.strip_suffix(')'))
        .and_then(|c| c.split_once(" ("))
        .unwrap_or_else(|| panic!("cores not as `cores LIST (N)`: {line}"));
    let list =
        halo::node::affinity::parse_list(list).unwrap_or_else(|| panic!("not a core list: {line}"));
    (
        rank.parse().expect("a rank"),
        list,
        count.parse().expect("a count"),
    )
}

#[test]
fn info_lists_every_ranks_cores() {
    for (n, binding, each) in [
        (3, ["--bind-to", "none"], cores()),
        (2, ["--bind-to", "core:overload-allowed"], 1),
    ] {
        let run = mpirun_bound(n, &binding, &["info"]);
        let ranks: Vec<(usize, Vec<usize>, usize)> = run
            .stdout
            .lines()
            .filter(|l| l.starts_with("rank "))
            .map(info_cores)
            .collect();
        assert_eq!(ranks.len(), n, "{}", run.stdout);
        for (i, (rank, list, count)) in ranks.iter().enumerate() {
            assert_eq!(*rank, i, "{}", run.stdout);
            assert_eq!(list.len(), *count, "{}", run.stdout);
            assert_eq!(*count, each, "{binding:?}:\n{}", run.stdout);
        }
    }
}
