//! `halo decomp` as users run it (no MPI), its numbers checked against hand-computed cases.

mod common;
use common::{halo_bin, python};
use serde_json::Value;
use std::process::Command;

fn decomp(args: &[&str]) -> std::process::Output {
    Command::new(halo_bin())
        .arg("decomp")
        .args(args)
        .output()
        .expect("run halo decomp")
}

fn decomp_json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = decomp(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn halo_cells(v: &Value) -> Vec<u64> {
    v["ranks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["halo_cells"].as_u64().unwrap())
        .collect()
}

#[test]
fn a_prime_rank_count_splits_the_long_side_into_strips() {
    // 7 ranks on 700x300: 7x1 cuts 6·300 = 1800 cells, 1x7 cuts 6·700 = 4200.
    let v = decomp_json(&["--grid", "700x300", "--ranks", "7"]);
    assert_eq!((v["px"].as_u64(), v["py"].as_u64()), (Some(7), Some(1)));
    // Blocks of 100 columns; the end ranks send one 300-cell column, the others two.
    assert_eq!(halo_cells(&v), vec![300, 600, 600, 600, 600, 600, 300]);
    assert_eq!(v["total_bytes"].as_u64(), Some(8 * 3600));
    assert_eq!(v["imbalance"].as_f64(), Some(1.0));
}

#[test]
fn uneven_splits_count_the_cells_each_rank_owns_and_sends() {
    // 11x5 over 3x2: columns 4,4,3; rows 3,2.
    let v = decomp_json(&["--grid", "11x5", "--ranks", "6", "--procs", "3x2"]);
    let sizes: Vec<(u64, u64)> = v["ranks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["size"][0].as_u64().unwrap(),
                r["size"][1].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(sizes, vec![(4, 3), (4, 3), (3, 3), (4, 2), (4, 2), (3, 2)]);
    // Rank 0 sends 3 cells east and 4 south; rank 1: 3 west, 3 east, 4 south; rank 5: 2 west, 3 north.
    assert_eq!(halo_cells(&v), vec![7, 10, 6, 6, 8, 5]);
    // Largest block 12 cells, mean 55/6.
    assert!((v["imbalance"].as_f64().unwrap() - 12.0 / (55.0 / 6.0)).abs() < 1e-12);
    assert_eq!(v["ranks"][4]["offset"], serde_json::json!([4, 3]));
}

#[test]
fn ghost_width_2_sends_two_layers_and_the_corners() {
    // 8x8 over 2x2 with ghost 2: each 4x4 block sends two 2x4 faces and one 2x2 corner.
    let v = decomp_json(&["--grid", "8x8", "--ranks", "4", "--ghost", "2"]);
    assert_eq!(halo_cells(&v), vec![20, 20, 20, 20]);
    let msgs: Vec<u64> = v["ranks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["messages"].as_u64().unwrap())
        .collect();
    assert_eq!(msgs, vec![3, 3, 3, 3]);
    // Surface-to-volume: 80 cells sent per exchange over 64 owned.
    assert_eq!(v["surface_to_volume"].as_f64(), Some(80.0 / 64.0));
}

#[test]
fn compare_ranks_strips_and_2d_grids_by_traffic() {
    let v = decomp_json(&["--grid", "1000x600", "--ranks", "6", "--compare"]);
    let grids: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{}x{}", c["px"], c["py"]))
        .collect();
    assert_eq!(grids, vec!["3x2", "2x3", "6x1", "1x6"]);
    let out = decomp(&["--grid", "1000x600", "--ranks", "6", "--compare"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("3x2") && l.contains("automatic")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("1x6") && l.contains("1D strips of rows")),
        "{text}"
    );
}

#[test]
fn png_draws_the_decomposition() {
    let path = std::env::temp_dir().join(format!("halo-decomp-{}.png", std::process::id()));
    let p = path.to_str().unwrap();
    let out = decomp(&[
        "--grid", "1000x600", "--ranks", "6", "--ghost", "2", "--png", p,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let script = "import sys\nfrom PIL import Image\nim = Image.open(sys.argv[1]); im.load()\nprint(im.format, im.size[0] > im.size[1], len(im.getcolors(100000)) > 6)";
    assert_eq!(python(&["PIL"], script, &[p]), "PNG True True\n");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    for args in [
        &["--grid", "10x10", "--ranks", "0"][..],
        &["--grid", "10x10", "--ranks", "6", "--procs", "2x2"],
        &["--grid", "2x2", "--ranks", "5"],
        &["--grid", "10x7", "--ranks", "6", "--ghost", "4"],
        &["--grid", "x", "--ranks", "2"],
        &["--ranks", "2"],
    ] {
        let out = decomp(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("halo: error: "), "{err}");
    }
    // A ghost width too wide names the narrowest side of a block: 1000x600 over 3x2 ranks is
    // 333 cells wide and 300 high.
    let out = decomp(&["--grid", "1000x600", "--ranks", "6", "--ghost", "400"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("halo: error: --ghost 400: wider than the smallest block (300 cells along y on the 3x2 process grid)"),
        "{err}"
    );
    // A missing option is named on that one line.
    let out = decomp(&["--ranks", "2"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--grid <NXxNY>"));
}

/// `halo decomp ARGS` under `ulimit -v` of 1 GiB, ended (and the test failed) if it takes more
/// than a minute: a hang guard only.
fn decomp_bounded(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" decomp \"$@\"")
        .arg(halo_bin())
        .args(args);
    let run = halo::scale::run_with_timeout(&mut cmd, std::time::Duration::from_secs(60))
        .expect("run halo decomp");
    assert!(!run.timed_out, "halo decomp {args:?} hung");
    std::process::Output {
        status: run.status,
        stdout: run.stdout.into_bytes(),
        stderr: run.stderr.into_bytes(),
    }
}

#[test]
fn rank_counts_that_cannot_split_are_refused_at_once() {
    // A trillion ranks hung (a loop over every count up to it); 999999937 took seconds.
    for (ranks, says) in [
        (
            "1000000000000",
            "1000000000000 ranks: more than MPI can number (at most 2147483647)",
        ),
        (
            "2147483648",
            "2147483648 ranks: more than MPI can number (at most 2147483647)",
        ),
        (
            "999999937",
            "999999937 ranks cannot split a 100x100 grid: more ranks than its 10000 cells",
        ),
    ] {
        for compare in [&[][..], &["--compare"]] {
            let mut args = vec!["--grid", "100x100", "--ranks", ranks];
            args.extend_from_slice(compare);
            let out = decomp_bounded(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert_eq!(err, format!("halo: error: {says}\n"), "{args:?}");
        }
    }
    let out = decomp_bounded(&[
        "--grid",
        "100x100",
        "--ranks",
        "4",
        "--procs",
        "65536x65536",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("more ranks than MPI can number"), "{err}");
}

#[test]
fn millions_of_ranks_give_their_totals_without_listing_each() {
    // 10^7 ranks on 100000x100000 asked for ~370 bytes a rank, and --compare as much again
    // for each process grid: an allocation failure. Under a 1 GiB limit they now answer.
    let (nx, ny) = (100_000u64, 100_000u64);
    let args = ["--grid", "100000x100000", "--ranks", "10000000"];
    let json = |extra: &[&str]| -> Value {
        let mut all = args.to_vec();
        all.extend_from_slice(extra);
        all.push("--json");
        let out = decomp_bounded(&all);
        assert!(
            out.status.success(),
            "{all:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    // Star stencil, ghost 1: every cut cell is sent both ways.
    let traffic = |c: &Value| {
        let (px, py) = (c["px"].as_u64().unwrap(), c["py"].as_u64().unwrap());
        assert_eq!(px * py, 10_000_000);
        8 * 2 * ((px - 1) * ny + (py - 1) * nx)
    };
    let one = json(&[]);
    assert!(one.get("ranks").is_none(), "a list of 10^7 ranks");
    assert_eq!(one["total_bytes"].as_u64(), Some(traffic(&one)));
    let all = json(&["--compare"]);
    let all = all.as_array().unwrap();
    assert!(all.len() > 1);
    assert_eq!((&all[0]["px"], &all[0]["py"]), (&one["px"], &one["py"]));
    for c in all {
        assert!(c.get("ranks").is_none());
        assert_eq!(c["total_bytes"].as_u64(), Some(traffic(c)));
    }
    // The table says why it lists no rank, and gives the totals.
    let out = decomp_bounded(&args);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("halo bytes"),
        "a table without rows:\n{text}"
    );
    assert!(
        text.contains("(10000000 ranks: too many to list one by one, at most 4096 are;"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "per exchange: {} bytes in all",
            one["total_bytes"]
        )),
        "{text}"
    );
    // A picture of them is refused rather than drawn for minutes.
    let png = std::env::temp_dir().join(format!("halo-decomp-many-{}.png", std::process::id()));
    let mut with_png = args.to_vec();
    with_png.extend_from_slice(&["--png", png.to_str().unwrap()]);
    let out = decomp_bounded(&with_png);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("halo: error: --png: 10000000 blocks are too many to draw"),
        "{err}"
    );
    assert!(!png.exists());
}
