//! Implicit heat (`--scheme implicit|cn`): each step one multigrid solve. Checked against the
//! exact decay of the sine mode, for the order of the error in dt, for steps far beyond the
//! explicit limit, for bitwise identity across decompositions and restarts, and for bad input.

mod common;
use common::{checkpoints, halo_bin, mpirun, solve_json};
use serde_json::Value;
use std::f64::consts::PI;

/// `halo solve --problem heat` with `args` on `n` ranks.
fn heat(n: usize, args: &[&str]) -> Value {
    let mut all = vec!["--problem", "heat"];
    all.extend_from_slice(args);
    solve_json(n, &all)
}

/// The discrete sine mode's amplification per step on an `n`×`n` grid (α = 1): backward
/// Euler's `1/(1 + λ_h·dt)` or Crank–Nicolson's `(1 − λ_h·dt/2)/(1 + λ_h·dt/2)`, with `λ_h`
/// the mode's eigenvalue of the 5-point Laplacian.
fn amplification(scheme: &str, n: usize, dt: f64) -> f64 {
    let h = 1.0 / (n + 1) as f64;
    let lambda = 2.0 * 4.0 / (h * h) * (PI * h / 2.0).sin().powi(2);
    match scheme {
        "implicit" => 1.0 / (1.0 + lambda * dt),
        "cn" => (1.0 - 0.5 * lambda * dt) / (1.0 + 0.5 * lambda * dt),
        _ => unreachable!(),
    }
}

/// The error a run of `steps` steps of `dt` must report on an odd `n`×`n` grid: the field stays
/// the sine mode times `g^steps`, the exact solution is it times `exp(−2π²t)`, and the largest
/// gap is at the centre node, where the mode is 1.
fn predicted_error(scheme: &str, n: usize, dt: f64, steps: usize) -> f64 {
    let g = amplification(scheme, n, dt);
    let t = dt * steps as f64;
    (g.powi(steps as i32) - (-2.0 * PI * PI * t).exp()).abs()
}

fn sha(v: &Value) -> &str {
    v["field_sha256"].as_str().unwrap()
}

#[test]
fn the_error_falls_as_dt_for_backward_euler_and_as_dt_squared_for_crank_nicolson() {
    // To t = 0.05 (one decay time, 1/(2π²)) on 255², in 10, 20 and 40 steps: 1300 to 330 times
    // the explicit limit. Each error is the grid's (the same for all three) plus the steps',
    // so the differences of consecutive errors are the steps' alone: their ratio is 2^order.
    let (n, t_end) = (255usize, 0.05);
    for (scheme, lowest, highest) in [("implicit", 0.8, 1.2), ("cn", 1.8, 2.2)] {
        let mut errors = Vec::new();
        for steps in [10usize, 20, 40] {
            let dt = t_end / steps as f64;
            let r = heat(
                2,
                &[
                    "--grid",
                    "255x255",
                    "--scheme",
                    scheme,
                    "--dt",
                    &dt.to_string(),
                    "--iters",
                    &steps.to_string(),
                ],
            );
            assert_eq!(r["dt"].as_f64(), Some(dt), "{scheme}");
            assert!(
                (r["time"].as_f64().unwrap() - t_end).abs() < 1e-15,
                "{scheme}"
            );
            let e = r["error"].as_f64().unwrap();
            // The step is the scheme's to the inner solve's tolerance: the error is the one
            // the amplification factor gives.
            let p = predicted_error(scheme, n, dt, steps);
            assert!(
                (e - p).abs() < 1e-9,
                "{scheme} in {steps} steps: error {e:e}, predicted {p:e}"
            );
            errors.push(e);
        }
        let order = ((errors[0] - errors[1]) / (errors[1] - errors[2])).log2();
        println!(
            "{scheme}: errors {:.3e} {:.3e} {:.3e}, observed order in dt {order:.3}",
            errors[0], errors[1], errors[2]
        );
        assert!(
            (lowest..=highest).contains(&order),
            "{scheme}: observed order {order} from errors {errors:?}"
        );
    }
}

#[test]
fn a_step_a_hundred_times_the_explicit_limit_runs_and_stays_accurate() {
    // 127²: h = 1/128, the explicit limit h²/4 = 1.53e-5; 33 steps of 100 times that reach
    // t = 0.05.
    let n = 127usize;
    let h = 1.0 / (n + 1) as f64;
    let dt = 100.0 * h * h / 4.0;
    let steps = 33usize;
    let amplitude = (-2.0 * PI * PI * dt * steps as f64).exp();
    for (scheme, relative) in [("implicit", 3e-2), ("cn", 2e-4)] {
        let r = heat(
            2,
            &[
                "--grid",
                "127x127",
                "--scheme",
                scheme,
                "--dt",
                &dt.to_string(),
                "--iters",
                "33",
            ],
        );
        let e = r["error"].as_f64().unwrap();
        assert!(
            (e - predicted_error(scheme, n, dt, steps)).abs() < 1e-9,
            "{scheme}: error {e:e}"
        );
        assert!(
            e / amplitude < relative,
            "{scheme}: relative error {}",
            e / amplitude
        );
        // Each step was a multigrid solve, on 127², 63², …, 3².
        let levels = r["levels"].as_array().unwrap();
        let sides: Vec<u64> = levels.iter().map(|l| l["nx"].as_u64().unwrap()).collect();
        assert_eq!(sides, [127, 63, 31, 15, 7, 3], "{scheme}");
        assert!(r["work_units"].as_f64().unwrap() > steps as f64, "{scheme}");
    }
    // Explicit steps that long are refused, and the message says what takes them.
    let run = mpirun(
        1,
        &halo_bin(),
        &[
            "solve",
            "--problem",
            "heat",
            "--grid",
            "127x127",
            "--dt",
            &dt.to_string(),
        ],
    );
    assert_eq!(run.code, Some(2));
    let lines = run.rank_error_lines();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].contains("unstable on a 127x127 grid")
            && lines[0].contains("the implicit schemes (implicit, cn) take any step"),
        "{}",
        lines[0]
    );
}

#[test]
fn the_default_step_grows_as_h_and_is_where_crank_nicolson_matches_the_grid() {
    // dt = h/(2π) on a square grid: the step's error in the decay rate, λ(λ·dt)²/12, equals the
    // grid's, λπ²h²/12, and the two have opposite signs.
    let n = 255usize;
    let h = 1.0 / (n + 1) as f64;
    let r = heat(1, &["--grid", "255x255", "--scheme", "cn", "--iters", "40"]);
    let dt = r["dt"].as_f64().unwrap();
    assert!((dt - h / (2.0 * PI)).abs() < 1e-18, "dt {dt}");
    let amplitude = (-2.0 * PI * PI * dt * 40.0).exp();
    let e = r["error"].as_f64().unwrap();
    let grid_alone = 2.0 * PI * PI * dt * 40.0 * PI * PI * h * h / 12.0 * amplitude;
    assert!(
        e < 0.1 * grid_alone,
        "error {e:e}, the grid's {grid_alone:e}"
    );
}

#[test]
fn the_field_is_bitwise_the_same_on_1_to_4_ranks_and_any_process_grid() {
    for scheme in ["implicit", "cn"] {
        let base = ["--grid", "130x97", "--scheme", scheme, "--iters", "6"];
        let reference = heat(1, &base);
        assert_eq!(reference["iters"].as_u64(), Some(6));
        let cases: &[(usize, &[&str])] = &[
            (2, &[]),
            (2, &["--procs", "1x2"]),
            (3, &[]),
            (3, &["--procs", "1x3"]),
            (4, &["--procs", "2x2"]),
            (4, &["--procs", "4x1"]),
        ];
        for (n, extra) in cases {
            let mut args = base.to_vec();
            args.extend_from_slice(extra);
            let got = heat(*n, &args);
            assert_eq!(
                sha(&got),
                sha(&reference),
                "{scheme} on {n} ranks {extra:?}"
            );
            assert_eq!(got["checksum"], reference["checksum"], "{scheme}");
            assert_eq!(got["error"], reference["error"], "{scheme}");
            assert_eq!(got["residual"], reference["residual"], "{scheme}");
            assert_eq!(got["work_units"], reference["work_units"], "{scheme}");
        }
    }
}

#[test]
fn a_restart_ends_bit_for_bit_where_the_uninterrupted_run_does() {
    let dir = std::env::temp_dir().join(format!("halo-implicit-ckpt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().unwrap();
    let base = ["--grid", "63x47", "--scheme", "cn", "--dt", "0.002"];
    let mut first = base.to_vec();
    first.extend_from_slice(&[
        "--iters",
        "12",
        "--checkpoint-every",
        "5",
        "--checkpoint-dir",
        d,
        "--procs",
        "2x1",
    ]);
    heat(2, &first);
    assert_eq!(checkpoints(&dir).len(), 2, "checkpoints at 5 and 10");
    let mut again = base.to_vec();
    again.extend_from_slice(&["--iters", "15", "--restart", d]);
    let resumed = heat(3, &again);
    assert_eq!(resumed["restarted_from"].as_u64(), Some(10));
    let mut all = base.to_vec();
    all.extend_from_slice(&["--iters", "15"]);
    let straight = heat(1, &all);
    assert_eq!(sha(&resumed), sha(&straight));
    assert_eq!(resumed["time"], straight["time"]);
    assert_eq!(resumed["error"], straight["error"]);
    // A checkpoint of one scheme does not resume another.
    let run = mpirun(
        2,
        &halo_bin(),
        &[
            "solve",
            "--problem",
            "heat",
            "--grid",
            "63x47",
            "--scheme",
            "implicit",
            "--dt",
            "0.002",
            "--iters",
            "15",
            "--restart",
            d,
        ],
    );
    assert_eq!(run.code, Some(2));
    let lines = run.rank_error_lines();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].contains("the checkpoint was made with") && lines[0].contains("scheme cn"),
        "{}",
        lines[0]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_is_refused_in_one_line() {
    let cases: &[(usize, &[&str], &str)] = &[
        (
            2,
            &["--problem", "poisson", "--scheme", "implicit"],
            "--scheme implicit: belongs to heat, not poisson",
        ),
        (
            2,
            &["--problem", "heat", "--scheme", "cn", "--dt", "-1"],
            "--dt -1: must be a positive number",
        ),
        (
            1,
            &["--problem", "heat", "--scheme", "cn", "--dt", "nan"],
            "--dt NaN: must be a positive number",
        ),
        (
            2,
            &["--problem", "heat", "--scheme", "implicit", "--dt", "1e-30"],
            "--dt 1e-30: too short for an implicit step",
        ),
        (
            2,
            &[
                "--problem",
                "heat",
                "--scheme",
                "implicit",
                "--pre",
                "0",
                "--post",
                "0",
            ],
            "--pre/--post 0",
        ),
        (
            4,
            &["--problem", "heat", "--scheme", "cn", "--grid", "3x3"],
            "--grid 3x3: too small for the 2x2 process grid",
        ),
        (
            4,
            &["--problem", "heat", "--scheme", "implicit", "--grid", "3x3"],
            "use fewer ranks, or Jacobi's sweeps, which need one (--solver jacobi; for heat, --scheme explicit)",
        ),
        (
            1,
            &["--problem", "heat", "--scheme", "cn", "--threads", "2"],
            "--threads 2: heat's cn scheme runs one thread per rank",
        ),
    ];
    for (n, args, says) in cases {
        let mut all = vec!["solve"];
        all.extend_from_slice(args);
        let run = mpirun(*n, &halo_bin(), &all);
        let lines = run.rank_error_lines();
        assert_eq!(lines.len(), 1, "{args:?} on {n} ranks:\n{}", run.stderr);
        assert!(lines[0].starts_with("halo: error: "), "{}", lines[0]);
        assert!(lines[0].contains(says), "{args:?}: {}", lines[0]);
        assert_eq!(run.code, Some(2), "{args:?}: {}", lines[0]);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
}

#[test]
fn a_field_gone_bad_is_reported_as_divergence() {
    let run = mpirun(
        2,
        &halo_bin(),
        &[
            "solve",
            "--problem",
            "heat",
            "--grid",
            "63x63",
            "--scheme",
            "cn",
            "--iters",
            "20",
            "--check-every",
            "10",
            "--fault",
            "nan@5:1",
        ],
    );
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    let lines = run.rank_error_lines();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].contains("rank 1: heat: the field became NaN by iteration 10"),
        "{}",
        lines[0]
    );
}
