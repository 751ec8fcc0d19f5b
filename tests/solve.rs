//! `halo solve` as users run it: real multi-rank jobs, checked for bitwise determinism, against
//! independent references and exact solutions, and for what they write.

mod common;
use common::{halo_bin, mpirun, python, read_pvti, solve_json};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn sha(v: &Value) -> String {
    v["field_sha256"].as_str().unwrap().to_string()
}

/// Runs the same problem on many rank counts, process grids, thread counts and ghost widths and
/// asserts one field hash for all of them.
fn same_field_everywhere(problem: &str, grid: &str, iters: &str, cases: &[(usize, &[&str])]) {
    let base = ["--problem", problem, "--grid", grid, "--iters", iters];
    let reference = solve_json(1, &base);
    assert_eq!(reference["iters"].as_u64(), Some(iters.parse().unwrap()));
    for (n, extra) in cases {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let got = solve_json(*n, &args);
        assert_eq!(got["ranks"].as_u64(), Some(*n as u64));
        assert_eq!(
            sha(&got),
            sha(&reference),
            "{problem} on {n} ranks with {extra:?}"
        );
        assert_eq!(got["checksum"], reference["checksum"]);
    }
}

/// Fields computed before the solver layer was restructured into one driver and small solvers
/// (commit d933c54), which changed no arithmetic: every later version must give the same bits.
#[test]
fn fields_are_the_bits_the_solvers_gave_before_the_restructure() {
    for (n, args, want) in [
        (
            1,
            &["--grid", "63x47", "--iters", "300"][..],
            common::LAPLACE_63X47_300,
        ),
        (
            3,
            &[
                "--grid",
                "63x47",
                "--iters",
                "300",
                "--ghost",
                "3",
                "--time-block",
                "2",
            ],
            common::LAPLACE_63X47_300,
        ),
        (
            4,
            &[
                "--problem",
                "heat",
                "--grid",
                "63x47",
                "--iters",
                "300",
                "--threads",
                "2",
            ],
            "6dd333f768e7a228266fed5378a172378f8e8972ec590db5ec30be96f08ada98",
        ),
        (
            2,
            &["--problem", "cavity", "--grid", "63x47", "--iters", "300"],
            common::CAVITY_63X47_300,
        ),
    ] {
        let r = solve_json(n, args);
        assert_eq!(r["field_sha256"], want, "{n} ranks: {args:?}");
    }
}

#[test]
fn laplace_is_bitwise_identical_across_ranks_grids_threads_and_ghost_widths() {
    same_field_everywhere(
        "laplace",
        "37x29",
        "60",
        &[
            (1, &["--threads", "2"]),
            (1, &["--ghost", "3"]),
            (2, &["--procs", "1x2"]),
            (2, &["--procs", "2x1", "--ghost", "2"]),
            (3, &["--procs", "1x3"]),
            (3, &["--procs", "3x1", "--threads", "2"]),
            (4, &["--procs", "2x2", "--ghost", "2"]),
            (4, &["--procs", "4x1", "--ghost", "2", "--threads", "2"]),
            (4, &["--procs", "1x4"]),
            (6, &["--procs", "3x2"]),
            (6, &["--procs", "2x3", "--ghost", "2"]),
            (6, &["--procs", "6x1"]),
            (4, &["--procs", "2x2", "--no-overlap"]),
            (3, &["--procs", "1x3", "--ghost", "2", "--no-overlap"]),
            (1, &["--time-block", "3"]),
            (2, &["--procs", "2x1", "--time-block", "2", "--ghost", "4"]),
            (
                4,
                &["--procs", "2x2", "--time-block", "3", "--threads", "2"],
            ),
            (6, &["--procs", "3x2", "--time-block", "2"]),
        ],
    );
}

#[test]
fn temporal_blocking_changes_no_bit_across_tiles_and_passes() {
    // 1100 columns make three column tiles per rank; 47 iterations with checks every 10 make
    // passes cut short by checks, ghost periods and the last iteration.
    let cases: &[(usize, &[&str])] = &[
        (1, &["--time-block", "4"]),
        (1, &["--time-block", "3", "--ghost", "5", "--threads", "2"]),
        (
            2,
            &[
                "--procs",
                "1x2",
                "--time-block",
                "4",
                "--stores",
                "streaming",
            ],
        ),
        (3, &["--procs", "3x1", "--time-block", "2", "--ghost", "3"]),
        (
            4,
            &["--procs", "2x2", "--time-block", "4", "--threads", "2"],
        ),
    ];
    let base = ["--grid", "1100x40", "--iters", "47", "--check-every", "10"];
    for problem in ["laplace", "poisson", "heat"] {
        let mut args = vec!["--problem", problem];
        args.extend_from_slice(&base);
        let reference = solve_json(1, &args);
        for (n, extra) in cases {
            let mut a = args.clone();
            a.extend_from_slice(extra);
            let got = solve_json(*n, &a);
            assert_eq!(
                sha(&got),
                sha(&reference),
                "{problem}, {n} ranks, {extra:?}"
            );
            // The residual is the last sweep's change, measured inside the tiles.
            assert_eq!(
                got["residual"], reference["residual"],
                "{problem} {extra:?}"
            );
            assert_eq!(got["iters"].as_u64(), Some(47));
        }
    }
}

#[test]
fn streaming_stores_change_no_bit() {
    // Rows wide enough (203 cells) that streamed rows have whole 32-cell chunks between their
    // cached lead and tail; the small-grid reference uses cached stores.
    let cases: &[(usize, &[&str])] = &[
        (1, &["--stores", "streaming"]),
        (
            2,
            &["--procs", "1x2", "--stores", "streaming", "--threads", "2"],
        ),
        (
            3,
            &["--procs", "3x1", "--stores", "streaming", "--ghost", "2"],
        ),
    ];
    same_field_everywhere("laplace", "203x41", "30", cases);
    same_field_everywhere("poisson", "203x41", "30", cases);
    same_field_everywhere("heat", "203x41", "30", cases);
}

#[test]
fn poisson_and_heat_are_bitwise_identical_across_decompositions() {
    let cases: &[(usize, &[&str])] = &[
        (2, &["--procs", "2x1", "--threads", "2"]),
        (3, &["--procs", "1x3", "--ghost", "2"]),
        (4, &["--procs", "2x2", "--ghost", "2", "--threads", "2"]),
        (6, &["--procs", "3x2"]),
    ];
    same_field_everywhere("poisson", "31x23", "80", cases);
    same_field_everywhere("heat", "31x23", "80", cases);
}

/// The Laplace benchmark exactly as its definition reads, in plain nested loops.
fn naive_laplace(nx: usize, ny: usize, iters: usize) -> Vec<Vec<f64>> {
    let mut u = vec![vec![0.0; nx + 2]; ny + 2];
    u[0].iter_mut().for_each(|x| *x = 1.0); // the edge before row 0 held at 1
    let mut v = u.clone();
    for _ in 0..iters {
        for i in 1..=ny {
            for j in 1..=nx {
                v[i][j] = 0.25 * (u[i - 1][j] + u[i + 1][j] + u[i][j - 1] + u[i][j + 1]);
            }
        }
        std::mem::swap(&mut u, &mut v);
    }
    u[1..=ny].iter().map(|r| r[1..=nx].to_vec()).collect()
}

#[test]
fn laplace_matches_the_textbook_definition_to_the_last_bit() {
    let (nx, ny, iters) = (23, 17, 75);
    let want = naive_laplace(nx, ny, iters);
    let mut h = Sha256::new();
    want.iter()
        .flatten()
        .for_each(|x| h.update(x.to_le_bytes()));
    let want_sha: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let want_sum: f64 = want.iter().flatten().sum();
    let got = solve_json(3, &["--grid", "23x17", "--iters", "75", "--procs", "3x1"]);
    assert_eq!(sha(&got), want_sha);
    assert_eq!(got["checksum"].as_f64(), Some(want_sum));
    // The residual is the largest change in the last iteration.
    let prev = naive_laplace(nx, ny, iters - 1);
    let change = want
        .iter()
        .flatten()
        .zip(prev.iter().flatten())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert_eq!(got["residual"].as_f64(), Some(change));
}

#[test]
fn poisson_error_falls_as_h_squared() {
    // -∇²u = 2π² sin(πx) sin(πy): the sine mode is an eigenvector of the 5-point Laplacian with
    // eigenvalue λ_h = (8/h²) sin²(πh/2), so the converged discrete solution is (2π²/λ_h) times
    // the exact one, and its largest error is |2π²/λ_h − 1| · max sin·sin, which is π²h²/12 +
    // O(h⁴). The maximum principle bounds it by π⁴h²/48 whatever the mode.
    let mut errors = Vec::new();
    for n in [15usize, 31, 63] {
        let grid = format!("{n}x{n}");
        let r = solve_json(
            2,
            &[
                "--problem",
                "poisson",
                "--grid",
                &grid,
                "--iters",
                "100000",
                "--tol",
                "1e-14",
            ],
        );
        assert_eq!(r["converged"], Value::Bool(true), "{r}");
        let e = r["error"].as_f64().unwrap();
        let h = 1.0 / (n + 1) as f64;
        let pi = std::f64::consts::PI;
        let lambda = 8.0 / (h * h) * (pi * h / 2.0).sin().powi(2);
        // n is odd, so a node sits at the centre, where sin·sin = 1.
        let predicted = (2.0 * pi * pi / lambda - 1.0).abs();
        // Stopping at an update of 1e-14 leaves an algebraic error below 1e-14/(1−ρ) < 1e-10.
        assert!(
            (e - predicted).abs() < 1e-10,
            "n={n}: error {e:e}, predicted {predicted:e}"
        );
        assert!(
            e <= pi.powi(4) * h * h / 48.0,
            "n={n}: error {e:e} above the bound"
        );
        errors.push(e);
    }
    for w in errors.windows(2) {
        let order = (w[0] / w[1]).log2();
        assert!((1.95..=2.05).contains(&order), "observed order {order}");
    }
}

#[test]
fn heat_follows_the_analytic_decay_of_a_sine_mode() {
    let (n, steps) = (39usize, 400usize);
    let r = solve_json(
        4,
        &[
            "--problem",
            "heat",
            "--grid",
            "39x39",
            "--iters",
            "400",
            "--ghost",
            "2",
        ],
    );
    let dt = r["dt"].as_f64().unwrap();
    let h = 1.0 / (n + 1) as f64;
    let pi = std::f64::consts::PI;
    // The default step is half the stability limit h²/4.
    assert!((dt - 0.125 * h * h).abs() < 1e-18, "dt {dt}");
    assert!((r["time"].as_f64().unwrap() - dt * steps as f64).abs() < 1e-15);
    // Each step multiplies the discrete mode by g = 1 − dt·λ_h, λ_h = 2·(4/h²)sin²(πh/2); the
    // exact solution decays as exp(−2π²t). The reported error is the gap between the two at the
    // peak node, plus rounding.
    let lambda = 2.0 * 4.0 / (h * h) * (pi * h / 2.0).sin().powi(2);
    let g = 1.0 - dt * lambda;
    let t = dt * steps as f64;
    let peak = (pi * 0.5).sin().powi(2); // n odd: a node at the centre
    let predicted = (g.powi(steps as i32) - (-2.0 * pi * pi * t).exp()).abs() * peak;
    let e = r["error"].as_f64().unwrap();
    assert!(
        (e - predicted).abs() < 1e-12,
        "error {e:e}, predicted {predicted:e}"
    );
    // And the decay itself is right to O(h²): a relative error of a few 1e-4 here.
    let amplitude = (-2.0 * pi * pi * t).exp();
    assert!(
        e / amplitude < pi * pi * h * h,
        "relative error {}",
        e / amplitude
    );
}

#[test]
fn tol_stops_at_a_check_and_reports_convergence() {
    let r = solve_json(
        2,
        &[
            "--grid",
            "40x40",
            "--iters",
            "100000",
            "--tol",
            "1e-4",
            "--check-every",
            "50",
        ],
    );
    assert_eq!(r["converged"], Value::Bool(true));
    let iters = r["iters"].as_u64().unwrap();
    assert!(iters < 100000 && iters.is_multiple_of(50), "iters {iters}");
    assert!(r["residual"].as_f64().unwrap() <= 1e-4);
    // One check earlier it had not converged: run exactly 50 fewer iterations.
    let before = solve_json(
        2,
        &["--grid", "40x40", "--iters", &(iters - 50).to_string()],
    );
    assert!(before["residual"].as_f64().unwrap() > 1e-4);
}

#[test]
fn json_has_every_field_and_consistent_rates() {
    let run = mpirun(
        2,
        &halo_bin(),
        &["solve", "--grid", "64x32", "--iters", "20", "--json"],
    );
    run.assert_ok("solve --json");
    let r: Value = run.json();
    for k in [
        "problem",
        "ranks",
        "px",
        "py",
        "nx",
        "ny",
        "ghost",
        "threads",
        "time_block",
        "stores",
        "iters",
        "seconds",
        "mcells_per_s",
        "residual",
        "checksum",
        "field_sha256",
        "compute_seconds",
        "comm_seconds",
        "bytes_sent",
        "wait_seconds",
    ] {
        assert!(r.get(k).is_some(), "missing {k} in {r}");
    }
    let (secs, rate) = (
        r["seconds"].as_f64().unwrap(),
        r["mcells_per_s"].as_f64().unwrap(),
    );
    assert!((rate - 64.0 * 32.0 * 20.0 / secs / 1e6).abs() <= 1e-9 * rate);
    // The loop ran inside the job, and its parts (each the slowest rank's) inside the loop; the
    // time waiting for messages is part of the time exchanging them.
    let part = |k: &str| r[k].as_f64().unwrap();
    assert!(
        secs <= run.elapsed.as_secs_f64(),
        "{secs} s in a job of {:?}",
        run.elapsed
    );
    assert!(part("compute_seconds") <= secs, "{r}");
    assert!(part("comm_seconds") <= secs, "{r}");
    assert!(part("wait_seconds") <= part("comm_seconds"), "{r}");
    // 2 ranks cut 64x32 between columns (32 cells) rather than rows (64): each sends one column
    // of 32 cells per exchange.
    assert_eq!((r["px"].as_u64(), r["py"].as_u64()), (Some(2), Some(1)));
    assert_eq!(r["bytes_sent"].as_u64(), Some(2 * 20 * 32 * 8));
    assert_eq!(r["messages_sent"].as_u64(), Some(2 * 20));
    // Two 34x34 arrays per rank fit any cache: auto keeps ordinary stores.
    assert_eq!(r["stores"], "cached");
}

#[test]
fn out_writes_pieces_paraview_reads_as_one_field_and_pngs_that_decode() {
    let base = std::env::temp_dir().join(format!("halo-out-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let mut pictures = Vec::new();
    for (n, procs) in [(1, "1x1"), (3, "1x3"), (4, "2x2")] {
        let dir = base.join(format!("{n}"));
        let d = dir.to_str().unwrap();
        let run = mpirun(
            n,
            &halo_bin(),
            &[
                "solve", "--grid", "50x30", "--iters", "200", "--procs", procs, "--out", d,
                "--json",
            ],
        );
        run.assert_ok("solve --out");
        let r: Value = run.json();
        // VTK's own reader, of the .pvti and of every piece alone: 50x30 points spaced 1/51
        // (the walls are not points), every one in a piece, pieces sharing their common edges
        // with the same values, owned by ranks 0 to n - 1, and the field to the last bit (rows
        // flipped back to row 0 at the top, then hashed as halo hashes it).
        let v = read_pvti(&dir);
        assert_eq!(v["dims"], serde_json::json!([50, 30, 1]), "{n} ranks: {v}");
        assert_eq!(v["points"], 1500, "{v}");
        assert!(
            (v["spacing"][0].as_f64().unwrap() * 51.0 - 1.0).abs() < 1e-12,
            "{v}"
        );
        assert_eq!(v["names"], serde_json::json!(["rank", "u"]), "{v}");
        assert_eq!(v["pieces"], n, "{v}");
        assert_eq!(v["pieces_match"], true, "{v}");
        assert_eq!(v["uncovered"], 0, "{v}");
        // Shared points: one row of 50 between 1x3's blocks, twice; a row and a column
        // (crossing once) between 2x2's.
        let shared = match procs {
            "1x1" => 0,
            "1x3" => 2 * 50,
            _ => 50 + 30 - 1,
        };
        assert_eq!(v["shared"], shared, "{procs}: {v}");
        assert_eq!(v["rank"], serde_json::json!([0.0, (n - 1) as f64]), "{v}");
        assert_eq!(v["sha256"]["u"].as_str().unwrap(), sha(&r), "{n} ranks");
        // No file holds the whole field: each piece holds a block and its shared edges.
        for k in 0..n {
            let piece = dir.join(format!("field/piece-{k:04}.vti"));
            let len = std::fs::metadata(&piece).unwrap().len();
            assert!(
                len < 1500 * 16 / n as u64 + 3000,
                "{}: {len} bytes",
                piece.display()
            );
        }
        // The pictures open in PIL, in RGB, at a readable size.
        let script = r#"
import sys
from PIL import Image
for p in sys.argv[1:]:
    im = Image.open(p); im.load(); print(im.format, im.mode, im.size[0] >= 360)
"#;
        let out = python(
            &["PIL"],
            script,
            &[&format!("{d}/field.png"), &format!("{d}/decomposition.png")],
        );
        assert_eq!(out, "PNG RGB True\nPNG RGB True\n");
        let summary: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(summary["field_sha256"], r["field_sha256"]);
        pictures.push(std::fs::read(dir.join("field.png")).unwrap());
        if n == 4 {
            // Again into the same directory on 2 ranks: the 4-rank run's last two pieces go.
            let again = [
                "solve", "--grid", "50x30", "--iters", "200", "--out", d, "--json",
            ];
            mpirun(2, &halo_bin(), &again).assert_ok("solve --out again on 2 ranks");
            let mut left: Vec<String> = std::fs::read_dir(dir.join("field"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            left.sort();
            assert_eq!(left, ["piece-0000.vti", "piece-0001.vti"]);
            assert_eq!(read_pvti(&dir)["pieces"], 2);
        }
    }
    // Drawn from the field sampled across the ranks: the same picture on any decomposition.
    assert!(pictures.windows(2).all(|w| w[0] == w[1]));
    let _ = std::fs::remove_dir_all(&base);
}

/// The rows of `DIR/history.csv` under its header `iter,time,residual`.
fn history_rows(dir: &std::path::Path) -> Vec<(usize, Option<f64>, f64)> {
    let text = std::fs::read_to_string(dir.join("history.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("iter,time,residual"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 3, "{l}");
            let time = (!f[1].is_empty()).then(|| f[1].parse().unwrap());
            (f[0].parse().unwrap(), time, f[2].parse().unwrap())
        })
        .collect()
}

/// Runs `halo solve ARGS --out DIR --json` on 2 ranks; returns its report and history rows.
fn with_history(dir: &std::path::Path, args: &[&str]) -> (Value, Vec<(usize, Option<f64>, f64)>) {
    let d = dir.to_str().unwrap();
    let mut all = vec!["solve"];
    all.extend(args);
    all.extend(["--out", d, "--json"]);
    let run = mpirun(2, &halo_bin(), &all);
    run.assert_ok(&all.join(" "));
    (run.json(), history_rows(dir))
}

#[test]
fn out_writes_the_history_of_every_residual_check() {
    let base = std::env::temp_dir().join(format!("halo-history-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let iters_of =
        |rows: &[(usize, Option<f64>, f64)]| rows.iter().map(|r| r.0).collect::<Vec<_>>();

    // Jacobi checks every --check-every iterations and at the last: 250 iterations, every 100.
    let dir = base.join("laplace");
    let (r, rows) = with_history(
        &dir,
        &["--grid", "40x30", "--iters", "250", "--check-every", "100"],
    );
    assert_eq!(iters_of(&rows), [100, 200, 250]);
    assert_eq!(rows.len(), 250usize.div_ceil(100));
    assert!(
        rows.iter().all(|r| r.1.is_none()),
        "no simulated time: {rows:?}"
    );
    // The last check is the report's residual, to the bit.
    assert_eq!(rows.last().unwrap().2, r["residual"].as_f64().unwrap());
    let script = r#"
import sys
from PIL import Image
im = Image.open(sys.argv[1]); im.load(); print(im.format, im.mode, im.size[0], im.size[1])
"#;
    let png = dir.join("history.png");
    let out = python(&["PIL"], script, &[png.to_str().unwrap()]);
    assert_eq!(out, "PNG RGB 900 560\n");

    // A linear solver checks every iteration, its relative residual.
    let dir = base.join("mgcg");
    let (r, rows) = with_history(
        &dir,
        &[
            "--problem",
            "poisson",
            "--solver",
            "mgcg",
            "--grid",
            "31x31",
        ],
    );
    let iters = r["iters"].as_u64().unwrap() as usize;
    assert_eq!(iters_of(&rows), (1..=iters).collect::<Vec<_>>());
    assert_eq!(
        rows.last().unwrap().2,
        r["relative_residual"].as_f64().unwrap()
    );
    assert_eq!(rows.last().unwrap().2, r["residual"].as_f64().unwrap());

    // The cavity: a simulated time at each check, increasing, the last the report's.
    let cavity = [
        "--problem",
        "cavity",
        "--grid",
        "15x15",
        "--check-every",
        "50",
    ];
    let dir = base.join("cavity");
    let (r, rows) = with_history(&dir, &[&cavity[..], &["--iters", "300"]].concat());
    assert_eq!(iters_of(&rows), [50, 100, 150, 200, 250, 300]);
    let times: Vec<f64> = rows
        .iter()
        .map(|r| r.1.expect("a simulated time"))
        .collect();
    assert!(
        times[0] > 0.0 && times.windows(2).all(|w| w[0] < w[1]),
        "{times:?}"
    );
    assert_eq!(*times.last().unwrap(), r["time"].as_f64().unwrap());
    assert_eq!(rows.last().unwrap().2, r["residual"].as_f64().unwrap());

    // After a restart, the checks of the restarted run only; they are the uninterrupted run's.
    let ckpt = base.join("ckpt");
    let c = ckpt.to_str().unwrap();
    let first = base.join("first");
    let checkpointed = ["--checkpoint-every", "100", "--checkpoint-dir", c];
    with_history(
        &first,
        &[&cavity[..], &["--iters", "150"], &checkpointed].concat(),
    );
    let dir = base.join("restarted");
    let (_, again) = with_history(
        &dir,
        &[&cavity[..], &["--iters", "300", "--restart", c]].concat(),
    );
    assert_eq!(iters_of(&again), [150, 200, 250, 300]);
    assert_eq!(again[..], rows[2..]);
    let _ = std::fs::remove_dir_all(&base);
}

/// Runs `halo solve ARGS` on `n` ranks and checks it fails as bad input must: one line from rank
/// 0 that says `says`, exit `code`, no panic (and no hang: the launcher's limit fails the test).
fn refused(n: usize, args: &[&str], code: i32, says: &str) {
    let mut all = vec!["solve"];
    all.extend_from_slice(args);
    let run = mpirun(n, &halo_bin(), &all);
    let lines = run.rank_error_lines();
    assert_eq!(lines.len(), 1, "{args:?} on {n} ranks:\n{}", run.stderr);
    assert!(lines[0].starts_with("halo: error: "), "{}", lines[0]);
    assert!(
        lines[0].contains(says),
        "{args:?} on {n} ranks: {}",
        lines[0]
    );
    assert_eq!(run.code, Some(code), "{args:?} on {n} ranks: {}", lines[0]);
    assert!(!run.stderr.contains("panicked") && !run.stderr.contains("RUST_BACKTRACE"));
}

#[test]
fn bad_input_gives_one_line_from_rank_0_and_a_nonzero_exit() {
    let cases: &[(&[&str], i32, &str)] = &[
        (&["--grid", "0x10"], 2, "--grid 0x10"),
        (&["--grid", "-5x10"], 2, "'-5' is not a whole number"),
        (&["--grid", "abc"], 2, "'abc' is not of the form NXxNY"),
        (
            &["--grid", "10x10", "--procs", "3x3"],
            2,
            "process grid 3x3 has 9 ranks but the job has",
        ),
        (
            &["--grid", "10x10", "--procs", "0x3"],
            2,
            "both sides must be at least 1",
        ),
        (&["--grid", "10x10", "--ghost", "0"], 2, "--ghost"),
        (
            &["--grid", "4x4", "--ghost", "9"],
            2,
            "--ghost 9: wider than the smallest block (",
        ),
        // The ghost width follows --time-block: the message names the option given.
        (
            &["--grid", "4x4", "--time-block", "9"],
            2,
            "--time-block 9: wider than the smallest block (",
        ),
        // A fault that could never strike.
        (
            &["--iters", "10", "--fault", "nan@5:7"],
            2,
            "--fault nan@5:7: rank 7 does not exist",
        ),
        (
            &["--iters", "10", "--fault", "panic@50"],
            2,
            "--fault panic@50:0: the run does iterations 1 to 10, so iteration 50 never comes",
        ),
        (&["--time-block", "3", "--ghost", "2"], 2, "--time-block 3"),
        (&["--time-block", "0"], 2, "--time-block 0"),
        (
            &["--problem", "cavity", "--time-block", "2"],
            2,
            "--time-block 2",
        ),
        (
            &["--problem", "heat", "--grid", "9x9", "--dt", "0.01"],
            2,
            "--dt 0.01: unstable on a 9x9 grid",
        ),
        (&["--problem", "wave"], 2, "unknown problem 'wave'"),
        (&["--iters", "0"], 2, "--iters"),
        (&["--iters", "12x"], 2, "--iters"),
        (&["--grid", "99999999x99999999"], 2, "more than 2^34 cells"),
        (
            &["--grid", "99999999999999999999x5"],
            2,
            "not a whole number",
        ),
        (
            &["--grid", "8x8", "--restart", "/nonexistent/ckpt"],
            4,
            "/nonexistent/ckpt",
        ),
        (
            &[
                "--grid",
                "8x8",
                "--checkpoint-every",
                "5",
                "--checkpoint-dir",
                "/proc/halo-no",
            ],
            4,
            "/proc/halo-no",
        ),
        (
            &["--grid", "8x8", "--check-every", "-3"],
            2,
            "--check-every",
        ),
        (&["--problem", "heat", "--alpha", "nan"], 2, "--alpha"),
        (&["--tol", "-1"], 2, "--tol -1"),
        (&["--threads", "0"], 2, "--threads"),
        (
            &["--grid", "8x8", "--out", "/proc/halo-cannot-write-here"],
            4,
            "/proc/halo-cannot-write-here",
        ),
    ];
    std::thread::scope(|s| {
        for n in [1usize, 2, 4] {
            s.spawn(move || {
                for (args, code, says) in cases {
                    refused(n, args, *code, says);
                }
            });
        }
    });
    // More ranks than cells along a direction.
    refused(
        4,
        &["--grid", "2x2", "--procs", "4x1"],
        2,
        "more ranks than cells along x",
    );
    refused(3, &["--grid", "2x2"], 2, "3 ranks cannot split a 2x2 grid");
}

#[test]
fn progress_under_mpirun_is_plain_lines_from_rank_0() {
    // Ranks write into pipes under mpirun, so the bar becomes a line a second and a last line.
    let run = mpirun(
        2,
        &halo_bin(),
        &["solve", "--grid", "64x64", "--iters", "500", "--progress"],
    );
    run.assert_ok("solve --progress");
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("progress: "))
        .collect();
    assert!(!lines.is_empty(), "{}", run.stderr);
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("progress: 500/500 it (100%)"),
        "{lines:?}"
    );
    assert!(lines.last().unwrap().contains("residual "), "{lines:?}");
}

#[test]
fn stats_gather_every_rank_and_match_the_decomposition_model() {
    // What the solver sends per exchange must be what `halo decomp` predicts.
    for (n, extra) in [
        (3usize, &["--procs", "3x1"][..]),
        (4, &["--procs", "2x2", "--ghost", "2"]),
    ] {
        let mut args = vec!["--grid", "30x20", "--iters", "12", "--stats"];
        args.extend_from_slice(extra);
        let r = solve_json(n, &args);
        let ranks = r["per_rank"].as_array().expect("per_rank with --stats");
        assert_eq!(ranks.len(), n);
        let ghost: f64 = r["ghost"].as_f64().unwrap();
        let seconds = r["seconds"].as_f64().unwrap();
        let mut dargs = vec![
            "decomp",
            "--grid",
            "30x20",
            "--ranks",
            if n == 3 { "3" } else { "4" },
            "--json",
        ];
        dargs.extend_from_slice(extra);
        let out = std::process::Command::new(halo_bin())
            .args(&dargs)
            .output()
            .unwrap();
        let model: Value = serde_json::from_slice(&out.stdout).unwrap();
        for (k, s) in ranks.iter().enumerate() {
            assert_eq!(s["rank"].as_u64(), Some(k as u64));
            let m = &model["ranks"][k];
            // One exchange every `ghost` iterations.
            assert_eq!(
                s["bytes_per_step"].as_f64().unwrap() * ghost,
                m["halo_bytes"].as_f64().unwrap()
            );
            assert_eq!(
                s["messages_per_step"].as_f64().unwrap() * ghost,
                m["messages"].as_f64().unwrap()
            );
            assert_eq!(
                s["cells"].as_u64().unwrap(),
                m["size"][0].as_u64().unwrap() * m["size"][1].as_u64().unwrap()
            );
            // A rank's parts of the loop are disjoint and inside it; waiting is part of the
            // exchange.
            let t = |k: &str| s[k].as_f64().unwrap();
            let parts = t("compute_seconds") + t("halo_seconds") + t("reduce_seconds");
            assert!(
                parts <= seconds * (1.0 + 1e-9),
                "rank {k}: {s}, loop {seconds} s"
            );
            assert!(t("wait_seconds") <= t("halo_seconds"), "rank {k}: {s}");
        }
        // The summary is the slowest rank's figures, and the imbalance the busiest rank's
        // compute time over the mean, recomputed here from every rank's.
        let each = |f: &dyn Fn(&Value) -> f64| ranks.iter().map(f).collect::<Vec<f64>>();
        let max = |v: Vec<f64>| v.into_iter().fold(f64::NEG_INFINITY, f64::max);
        let compute = each(&|s| s["compute_seconds"].as_f64().unwrap());
        let comm =
            each(&|s| s["halo_seconds"].as_f64().unwrap() + s["reduce_seconds"].as_f64().unwrap());
        let wait = each(&|s| s["wait_seconds"].as_f64().unwrap());
        let mean = compute.iter().sum::<f64>() / n as f64;
        // (Within 1e-12: serde_json's default float parsing may miss the last bit.)
        let close = |key: &str, want: f64| {
            let got = r[key].as_f64().unwrap();
            assert!(
                (got - want).abs() <= 1e-12 * want,
                "{key} {got}, want {want}"
            );
        };
        close("compute_seconds", max(compute.clone()));
        close("comm_seconds", max(comm));
        close("wait_seconds", max(wait));
        close("compute_imbalance", max(compute) / mean);
    }
    // Without --stats the JSON stays short.
    assert!(solve_json(2, &["--grid", "30x20", "--iters", "5"])
        .get("per_rank")
        .is_none());
}

#[test]
fn stats_give_each_rank_its_peak_memory_and_it_counts_the_arrays() {
    // Two ranks of 2000x1000 cells: each holds two ghosted 16 MB arrays (u and its next sweep),
    // both written by the first sweep, so resident at once. Compared with a tiny run of the same
    // job, the peak must grow by most of them: the figure sees real allocations, not a constant.
    let peaks = |grid: &str| -> Vec<(f64, f64)> {
        let r = solve_json(2, &["--grid", grid, "--iters", "2", "--stats"]);
        let ranks = r["per_rank"].as_array().expect("per_rank with --stats");
        assert_eq!(ranks.len(), 2, "{r}");
        let each = ranks
            .iter()
            .map(|s| {
                let cells = s["cells"].as_f64().unwrap();
                let peak = s["peak_rss_bytes"].as_u64().expect("peak_rss_bytes") as f64;
                // Its own two arrays, and less than a workstation's memory.
                assert!(peak > cells * 8.0 * 2.0, "{s}");
                assert!(peak < 4e9, "{s}");
                (cells, peak)
            })
            .collect::<Vec<_>>();
        // The summary's memory balance is the largest peak over the mean, recomputed here.
        let max = each.iter().map(|p| p.1).fold(0.0, f64::max);
        let mean = each.iter().map(|p| p.1).sum::<f64>() / 2.0;
        let got = r["memory_imbalance"].as_f64().expect("memory_imbalance");
        assert!(
            (got - max / mean).abs() <= 1e-12 * got,
            "{got} vs {}",
            max / mean
        );
        each
    };
    let small = peaks("20x20");
    let big = peaks("2000x2000");
    for (rank, ((cells, peak), (_, base))) in big.iter().zip(&small).enumerate() {
        let arrays = cells * 8.0 * 2.0;
        assert!(arrays >= 32e6, "{cells} cells");
        assert!(
            peak - base >= 0.75 * arrays,
            "rank {rank}: peak {peak} B against {base} B on a tiny grid, arrays {arrays} B"
        );
    }
    // The table has the column and the summary its line.
    let run = mpirun(
        2,
        &halo_bin(),
        &["solve", "--grid", "40x30", "--iters", "3", "--stats"],
    );
    run.assert_ok("solve --stats");
    let header = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("rank "))
        .unwrap_or_else(|| panic!("no table in\n{}", run.stdout));
    assert!(header.ends_with("peak MiB"), "{header}");
    let summary = run
        .stdout
        .lines()
        .find(|l| l.starts_with("peak memory: largest "))
        .unwrap_or_else(|| panic!("no peak memory line in\n{}", run.stdout));
    assert!(
        summary.contains(" MiB (rank ") && summary.contains("max/mean 1."),
        "{summary}"
    );
}

#[test]
fn a_failed_write_of_the_outputs_still_reports_the_result() {
    // Rank 1's piece cannot be written (a directory is in its way): the run says so once, with
    // exit 4, after printing the result it computed, and no rank waits for the others.
    let dir = std::env::temp_dir().join(format!("halo-out-blocked-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("field/piece-0001.vti")).unwrap();
    let d = dir.to_str().unwrap();
    let run = mpirun(
        2,
        &halo_bin(),
        &[
            "solve", "--grid", "40x30", "--iters", "50", "--out", d, "--json",
        ],
    );
    assert_eq!(run.code, Some(4), "{}", run.stderr);
    let lines = run.rank_error_lines();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(lines[0].contains("piece-0001.vti"), "{}", lines[0]);
    assert!(
        !dir.join("field.pvti").exists(),
        "no .pvti names a piece that is not there"
    );
    let r: Value = run.json();
    let straight = solve_json(2, &["--grid", "40x30", "--iters", "50"]);
    assert_eq!(r["field_sha256"], straight["field_sha256"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--digest-only` skips the SHA-256 streamed through rank 0 (and the row-major checksum that
/// comes with it); the band digest it keeps is the full run's, on any rank count.
#[test]
fn digest_only_keeps_the_band_digest_and_skips_the_streamed_hash() {
    let args = ["--grid", "70001x23", "--iters", "5"];
    let full = solve_json(1, &args);
    assert!(
        full["field_sha256"].is_string() && full["checksum"].is_f64(),
        "{full}"
    );
    let mut only = args.to_vec();
    only.push("--digest-only");
    for n in [1, 3] {
        let r = solve_json(n, &only);
        assert_eq!(r["field_digest"], full["field_digest"], "{n} ranks");
        assert!(
            r.get("field_sha256").is_none() && r.get("checksum").is_none(),
            "{r}"
        );
    }
    let mut text = vec!["solve"];
    text.extend_from_slice(&only);
    let run = mpirun(2, &halo_bin(), &text);
    run.assert_ok("--digest-only, text");
    let digest = full["field_digest"].as_str().unwrap();
    assert!(
        run.stdout.contains(&format!("field digest {digest} (")),
        "{}",
        run.stdout
    );
}
