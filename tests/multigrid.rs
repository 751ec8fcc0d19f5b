//! Multigrid and the conjugate-gradient family (`halo solve --solver cg|mg|mgcg|fmg|pipecg`) as
//! users run them: second-order accurate, converged to their tolerance on any grid shape and rank
//! count, bitwise the same on any decomposition, cycle counts that do not grow with the grid,
//! coarse levels gathered onto rank 0, bad requests refused in one line, a missed tolerance
//! reported as such, and checkpoints that restart to the same bits.

mod common;
use common::{checkpoints, halo_bin, mpirun, mpirun_timeout, solve_json, Run};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// Every solver but jacobi: they all stop at `--tol` on the relative residual.
const SOLVERS: [&str; 5] = ["cg", "mg", "mgcg", "fmg", "pipecg"];

/// The default `--tol` of these solvers.
const TOL: f64 = 1e-8;

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("no number `{key}` in {v}"))
}

fn int(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no count `{key}` in {v}"))
}

fn sha(v: &Value) -> &str {
    v["field_sha256"].as_str().expect("field_sha256")
}

/// `halo solve --json` of Poisson with the polyexp solution (every mode present, so no solver
/// gets lucky on an eigenvector) by `solver` on `grid`, on `n` ranks, with `extra` options.
fn polyexp(n: usize, solver: &str, grid: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "--problem",
        "poisson",
        "--manufactured",
        "polyexp",
        "--solver",
        solver,
        "--grid",
        grid,
    ];
    args.extend_from_slice(extra);
    solve_json(n, &args)
}

/// Panics unless `r` says it converged to `tol` with a consistent residual.
fn assert_converged(r: &Value, tol: f64, what: &str) {
    assert_eq!(r["converged"], Value::Bool(true), "{what}: {r}");
    let res = num(r, "residual");
    assert!(res <= tol, "{what}: residual {res:e} above {tol:e}");
    assert_eq!(
        r["residual"], r["relative_residual"],
        "{what}: the residual these solvers report is the relative one"
    );
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("halo-mg-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn the_error_falls_as_h_squared() {
    // Grids of 2^k − 1 cells: h = 1/(n+1) halves exactly from one to the next. Solved far below
    // the discretisation error, so what is left is the discretisation's.
    let grids = [31u32, 63, 127, 255];
    let errors: Vec<f64> = grids
        .iter()
        .map(|n| {
            let g = format!("{n}x{n}");
            let r = polyexp(1, "mgcg", &g, &["--tol", "1e-12"]);
            assert_converged(&r, 1e-12, &g);
            num(&r, "error")
        })
        .collect();
    for i in 1..grids.len() {
        let ratio = errors[i - 1] / errors[i];
        println!(
            "{0}² → {1}²: error {2:.4e} → {3:.4e}, ratio {ratio:.4} (order {4:.3})",
            grids[i - 1],
            grids[i],
            errors[i - 1],
            errors[i],
            ratio.log2()
        );
        assert!(
            (3.6..=4.4).contains(&ratio),
            "halving h from {}² to {}² divided the error by {ratio}, not ~4: {errors:?}",
            grids[i - 1],
            grids[i]
        );
    }
}

#[test]
fn every_solver_reaches_its_tolerance_on_square_non_square_and_odd_grids_on_1_to_4_ranks() {
    for grid in ["63x63", "100x37", "45x71"] {
        // The discretisation error of this grid: the same problem solved to 1e-12.
        let exact = polyexp(1, "mgcg", grid, &["--tol", "1e-12"]);
        assert_converged(&exact, 1e-12, grid);
        let floor = num(&exact, "error");
        assert!(floor > 0.0 && floor < 1e-3, "{grid}: error {floor}");
        let mut first: Vec<Value> = Vec::new();
        for n in 1..=4 {
            for (k, solver) in SOLVERS.iter().enumerate() {
                let what = format!("{solver} on {grid}, {n} ranks");
                let r = polyexp(n, solver, grid, &[]);
                assert_eq!(int(&r, "ranks"), n as u64, "{what}");
                assert_eq!(r["solver"], *solver, "{what}");
                assert_converged(&r, TOL, &what);
                let err = num(&r, "error");
                assert!(
                    err <= 1.1 * floor,
                    "{what}: error {err:e}, more than 1.1x the discretisation error {floor:e}"
                );
                // And the same answer on every rank count.
                if n == 1 {
                    first.push(r);
                } else {
                    assert_eq!(sha(&r), sha(&first[k]), "{what}: another field than 1 rank");
                    assert_eq!(r["iters"], first[k]["iters"], "{what}");
                }
            }
        }
    }
}

/// Runs `run(n, extra)` for each case and asserts the field, the iteration count and the residual
/// of the 1-rank run, and the process grid asked for. (These solvers run one thread per rank:
/// `--threads` is refused, see `bad_solver_options_are_refused_in_one_line_on_any_rank_count`.)
fn same_bits_everywhere(what: &str, run: impl Fn(usize, &[&str]) -> Value) -> Value {
    let cases: [(usize, &[&str]); 7] = [
        (2, &[]),
        (3, &[]),
        (6, &[]),
        (4, &["--procs", "2x2"]),
        (4, &["--procs", "1x4"]),
        (4, &["--procs", "4x1"]),
        (3, &["--procs", "1x3"]),
    ];
    let reference = run(1, &[]);
    assert_converged(&reference, TOL, what);
    for (n, extra) in cases {
        let got = run(n, extra);
        let case = format!("{what} on {n} ranks {extra:?}");
        assert_converged(&got, TOL, &case);
        assert_eq!(int(&got, "ranks"), n as u64, "{case}");
        if let Some(i) = extra.iter().position(|a| *a == "--procs") {
            let p = format!("{}x{}", int(&got, "px"), int(&got, "py"));
            assert_eq!(p, extra[i + 1], "{case}");
        }
        assert_eq!(sha(&got), sha(&reference), "{case}");
        assert_eq!(got["iters"], reference["iters"], "{case}");
        assert_eq!(got["residual"], reference["residual"], "{case}");
    }
    reference
}

#[test]
fn every_solver_gives_the_same_bits_on_any_rank_count_and_process_grid() {
    // 130x97 keeps two levels split on 2x2, 3x2 and 4x1 and one on 1x4, so both the split
    // levels' transfers and the gathering onto rank 0 happen at different depths.
    let grid = "130x97";
    let mut exact = Vec::new();
    for solver in SOLVERS {
        let r = same_bits_everywhere(&format!("poisson by {solver}"), |n, extra| {
            polyexp(n, solver, grid, extra)
        });
        exact.push((solver, r));
    }
    // Laplace: a wall that carries a boundary value (poisson's walls are 0).
    for solver in ["mgcg", "fmg"] {
        same_bits_everywhere(&format!("laplace by {solver}"), |n, extra| {
            let mut args = vec!["--problem", "laplace", "--solver", solver, "--grid", grid];
            args.extend_from_slice(extra);
            solve_json(n, &args)
        });
    }
    // --plain-dots gives up the identity, not the convergence.
    for (solver, reference) in exact.iter().filter(|(s, _)| s.contains("cg")) {
        for n in [1, 4] {
            let what = format!("{solver} --plain-dots on {n} ranks");
            let r = polyexp(n, solver, grid, &["--plain-dots"]);
            assert_converged(&r, TOL, &what);
            let (err, exact_err) = (num(&r, "error"), num(reference, "error"));
            assert!(
                err <= 1.1 * exact_err,
                "{what}: error {err:e} ({exact_err:e} with exact dots)"
            );
        }
    }
}

#[test]
fn v_cycle_counts_do_not_grow_with_the_grid() {
    // 4095x255 is coarsened along x alone until square (semi-coarsening).
    let grids = ["127x127", "255x255", "511x511", "1023x1023", "4095x255"];
    for smoother in ["rbgs", "jacobi"] {
        let counts: Vec<u64> = grids
            .iter()
            .map(|g| {
                let r = polyexp(1, "mg", g, &["--smoother", smoother]);
                assert_converged(&r, TOL, &format!("V(2,2) {smoother} on {g}"));
                assert_eq!(r["solver"], "mg");
                int(&r, "iters")
            })
            .collect();
        println!("V(2,2) cycles with {smoother} on {grids:?}: {counts:?}");
        let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(
            hi - lo <= 1,
            "V(2,2) with {smoother}: {counts:?} cycles on {grids:?}, more than ±1 apart"
        );
    }
}

#[test]
fn coarse_levels_are_gathered_onto_rank_0_and_change_no_bit() {
    for solver in ["mg", "fmg"] {
        let one = polyexp(1, solver, "255x255", &[]);
        let four = polyexp(4, solver, "255x255", &[]);
        assert_eq!((int(&four, "px"), int(&four, "py")), (2, 2));
        let levels = |r: &Value| -> Vec<(u64, u64, u64)> {
            r["levels"]
                .as_array()
                .unwrap_or_else(|| panic!("no levels in {r}"))
                .iter()
                .map(|l| (int(l, "nx"), int(l, "ny"), int(l, "ranks")))
                .collect()
        };
        let (l1, l4) = (levels(&one), levels(&four));
        println!("{solver} levels on 4 ranks (nx, ny, ranks): {l4:?}");
        // The same hierarchy, each level coarser than the one above.
        let sizes = |l: &[(u64, u64, u64)]| l.iter().map(|&(x, y, _)| (x, y)).collect::<Vec<_>>();
        assert_eq!(sizes(&l1), sizes(&l4), "{solver}");
        assert!(l4.len() >= 4, "{solver}: {l4:?}");
        for w in l4.windows(2) {
            assert!(w[1].0 < w[0].0 && w[1].1 < w[0].1, "{solver}: {l4:?}");
        }
        assert!(l1.iter().all(|l| l.2 == 1), "{solver}: {l1:?}");
        // Split over the 4 ranks while every block is at least 16 cells wide, on rank 0 below.
        for &(nx, ny, ranks) in &l4 {
            let split = (nx / 2).min(ny / 2) >= 16;
            let want = if split { 4 } else { 1 };
            assert_eq!(ranks, want, "{solver}: level {nx}x{ny} in {l4:?}");
        }
        assert_eq!(l4[0].2, 4, "{solver}: the finest level is split");
        assert_eq!(l4[1].2, 4, "{solver}: so is the next");
        assert_eq!(l4.last().unwrap().2, 1, "{solver}: the coarsest is not");
        assert_converged(&four, TOL, solver);
        assert_eq!(sha(&four), sha(&one), "{solver}");
        assert_eq!(four["iters"], one["iters"], "{solver}");
    }
}

/// Asserts that `run` was refused: exit 2, one `halo: error:` line (so from one rank) that
/// contains `says`, no panic.
fn assert_refused(run: &Run, what: &str, says: &str) {
    assert_eq!(run.code, Some(2), "{what}\n{}\n{}", run.stdout, run.stderr);
    let lines = run.rank_error_lines();
    assert_eq!(lines.len(), 1, "{what} printed:\n{}", run.stderr);
    assert!(
        lines[0].starts_with("halo: error: "),
        "{what}: {}",
        lines[0]
    );
    assert!(lines[0].contains(says), "{what}: {}", lines[0]);
    assert!(!run.stderr.contains("panicked"), "{what}: {}", run.stderr);
    assert!(
        !run.stdout.contains('{'),
        "{what} printed a result: {}",
        run.stdout
    );
}

#[test]
fn bad_solver_options_are_refused_in_one_line_on_any_rank_count() {
    let dir = temp("refused");
    let d = dir.to_str().unwrap();
    let cases: [(&[&str], &str); 17] = [
        (&["--solver", "mgcg", "--cycle", "f"], "symmetric"),
        (&["--solver", "pipecg", "--cycle", "f"], "symmetric"),
        (&["--cycle", "w"], "--cycle"),
        (
            &["--problem", "poisson", "--smoother", "jacobi"],
            "--smoother",
        ),
        (&["--solver", "mg", "--plain-dots"], "--plain-dots"),
        (&["--solver", "fmg", "--ghost", "2"], "--ghost"),
        (&["--problem", "heat", "--solver", "mg"], "heat"),
        (
            &["--solver", "mgcg", "--pre", "1", "--post", "0"],
            "symmetric",
        ),
        (
            &["--solver", "pipecg", "--pre", "2", "--post", "1"],
            "symmetric",
        ),
        (&["--solver", "mg", "--threads", "2"], "--threads"),
        (&["--problem", "cavity", "--solver", "cg"], "cavity"),
        (&["--solver", "mg", "--pre", "0", "--post", "0"], "--pre"),
        (&["--solver", "mg", "--pre", "101"], "101"),
        (
            &["--manufactured", "polyexp", "--problem", "laplace"],
            "polyexp",
        ),
        (
            &[
                "--solver",
                "pipecg",
                "--checkpoint-every",
                "5",
                "--checkpoint-dir",
                d,
            ],
            "pipecg",
        ),
        (&["--solver", "foo"], "foo"),
        (&["--solver", "mg", "--cycle", "x"], "'x'"),
    ];
    for n in [1, 4] {
        for (args, says) in cases {
            let mut all = vec!["solve", "--json"];
            all.extend_from_slice(args);
            let run = mpirun_timeout(n, &halo_bin(), &all, Duration::from_secs(30));
            assert_refused(&run, &format!("{all:?} on {n} ranks"), says);
        }
    }
    // A grid the 4 ranks cannot split into blocks multigrid can coarsen (1 rank solves it).
    let small = ["solve", "--json", "--solver", "mg", "--grid", "3x3"];
    for procs in [None, Some("4x1")] {
        let mut all = small.to_vec();
        all.extend(procs.iter().flat_map(|p| ["--procs", *p]));
        let run = mpirun_timeout(4, &halo_bin(), &all, Duration::from_secs(30));
        assert_refused(&run, &format!("{all:?} on 4 ranks"), "3x3");
    }
    assert_converged(
        &solve_json(1, &["--solver", "mg", "--grid", "3x3"]),
        TOL,
        "mg on 3x3, 1 rank",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missed_tolerance_exits_6_after_printing_the_result() {
    let args = [
        "solve",
        "--problem",
        "poisson",
        "--manufactured",
        "polyexp",
        "--solver",
        "cg",
        "--grid",
        "63x63",
        "--iters",
        "3",
    ];
    let check = |run: &Run, what: &str| {
        assert_eq!(run.code, Some(6), "{what}\n{}\n{}", run.stdout, run.stderr);
        let lines = run.rank_error_lines();
        assert_eq!(lines.len(), 1, "{what} printed:\n{}", run.stderr);
        assert!(
            lines[0].starts_with("halo: error: ")
                && lines[0].contains("did not reach the tolerance"),
            "{what}: {}",
            lines[0]
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    };
    // The JSON, on 2 ranks: the 3 iterations done, not converged.
    let mut json = args.to_vec();
    json.push("--json");
    let run = mpirun(2, &halo_bin(), &json);
    check(&run, "--json on 2 ranks");
    let r = run.json();
    assert_eq!(int(&r, "iters"), 3, "{r}");
    assert_eq!(r["converged"], Value::Bool(false), "{r}");
    assert!(num(&r, "residual") > TOL, "{r}");
    assert_eq!(run.stdout.lines().filter(|l| l.starts_with('{')).count(), 1);
    // The summary, on 1 rank.
    let run = mpirun(1, &halo_bin(), &args);
    check(&run, "the summary on 1 rank");
    assert!(run.stdout.contains("iterations 3"), "{}", run.stdout);
    assert!(run.stdout.contains("field sha256"), "{}", run.stdout);
    assert!(!run.stdout.contains("converged"), "{}", run.stdout);
}

#[test]
fn a_run_restarted_from_a_checkpoint_ends_bit_for_bit_as_an_uninterrupted_one() {
    for solver in ["mg", "mgcg", "fmg", "cg"] {
        let dir = temp(&format!("restart-{solver}"));
        let d = dir.to_str().unwrap();
        let base = [
            "solve",
            "--json",
            "--problem",
            "poisson",
            "--manufactured",
            "polyexp",
            "--solver",
            solver,
            "--grid",
            "100x37",
        ];
        // Cut short after 4 iterations, with a checkpoint after the third: exit 6, not converged.
        let mut cut = base.to_vec();
        cut.extend_from_slice(&["--checkpoint-every", "3", "--checkpoint-dir", d]);
        cut.extend_from_slice(&["--iters", "4"]);
        let run = mpirun(2, &halo_bin(), &cut);
        assert_eq!(
            run.code,
            Some(6),
            "{solver}: {}\n{}",
            run.stdout,
            run.stderr
        );
        assert_eq!(int(&run.json(), "iters"), 4, "{solver}");
        let saved = checkpoints(&dir);
        assert_eq!(saved.len(), 1, "{solver}: {saved:?}");
        assert!(saved[0].ends_with("ckpt-0000000003.halo"), "{saved:?}");
        // Resumed on another rank count to convergence.
        let resumed = solve_json(3, &[&base[2..], &["--restart", d][..]].concat());
        assert_eq!(int(&resumed, "restarted_from"), 3, "{solver}");
        let straight = solve_json(1, &base[2..]);
        assert_converged(&resumed, TOL, solver);
        assert_eq!(sha(&resumed), sha(&straight), "{solver}");
        assert_eq!(resumed["iters"], straight["iters"], "{solver}");
        assert_eq!(resumed["residual"], straight["residual"], "{solver}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Poisson's polyexp solution on a 1x1 grid: the one interior node at (1/2, 1/2) with h = 1/2
/// satisfies 4u/h² = f(1/2, 1/2), where f = −Δ(x(1−x)y(1−y)eˣ) = (15/16)·e^(1/2); its error
/// against u(1/2, 1/2) = e^(1/2)/16 is e^(1/2)/256.
fn one_cell(solver: &str) {
    let r = polyexp(1, solver, "1x1", &[]);
    assert_converged(&r, TOL, solver);
    let want = 0.5f64.exp() / 256.0;
    let err = num(&r, "error");
    assert!(
        (err - want).abs() <= 1e-12 * want,
        "{solver} on 1x1: error {err:e}, the discrete solution's is {want:e}"
    );
    for (n, grid) in [(1, "2x1"), (1, "1x3"), (1, "3x3"), (4, "4x4")] {
        let r = polyexp(n, solver, grid, &[]);
        assert_converged(&r, TOL, &format!("{solver} on {grid}, {n} ranks"));
    }
}

#[test]
fn grids_of_a_few_cells_are_solved() {
    for solver in ["cg", "mg", "mgcg", "pipecg"] {
        one_cell(solver);
    }
}

#[test]
fn fmg_solves_a_hierarchy_of_one_level() {
    one_cell("fmg");
}
