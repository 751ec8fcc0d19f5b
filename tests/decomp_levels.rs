//! `halo decomp --levels`: the multigrid hierarchy as the solver builds it, its numbers checked
//! against the coarsening and agglomeration rules worked out here, and against a real solve.

mod common;
use common::{halo_bin, mpirun, python};
use serde_json::Value;
use std::process::{Command, Output};

/// `AGGLOMERATE_BELOW`: a level whose blocks would be narrower than this many nodes runs on
/// rank 0 alone.
const BELOW: usize = 16;

fn decomp(args: &[&str]) -> Output {
    Command::new(halo_bin())
        .arg("decomp")
        .args(args)
        .output()
        .expect("run halo decomp")
}

fn levels_json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--levels", "--json"]);
    let out = decomp(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn levels_text(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push("--levels");
    let out = decomp(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn sizes(v: &Value) -> Vec<(usize, usize)> {
    v["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["nx"].as_u64().unwrap() as usize,
                l["ny"].as_u64().unwrap() as usize,
            )
        })
        .collect()
}

/// Where each of `parts` parts of `n` starts, then `n`: as even as possible, larger parts first.
fn balanced_cuts(n: usize, parts: usize) -> Vec<usize> {
    let (base, extra) = (n / parts, n % parts);
    let mut cuts = vec![0];
    for k in 0..parts {
        cuts.push(cuts[k] + base + usize::from(k < extra));
    }
    cuts
}

/// The rule: an axis of `n` nodes coarsens to its odd-index nodes, `n / 2` of them; an axis with
/// at least two nodes is coarsened when its spacing is at most 1.5 times the finest spacing of
/// the axes that can be; the hierarchy stops once neither axis has more than three nodes. The
/// domain is the unit square, so the finest spacing is `1 / (n + 1)`.
fn expected_sizes(nx: usize, ny: usize) -> Vec<(usize, usize)> {
    let (mut n, mut h) = ([nx, ny], [1.0 / (nx + 1) as f64, 1.0 / (ny + 1) as f64]);
    let mut out = vec![(nx, ny)];
    while n[0] > 3 || n[1] > 3 {
        let finest = (0..2)
            .filter(|&a| n[a] >= 2)
            .map(|a| h[a])
            .fold(f64::INFINITY, f64::min);
        for a in 0..2 {
            if n[a] >= 2 && h[a] <= 1.5 * finest {
                n[a] /= 2;
                h[a] *= 2.0;
            }
        }
        out.push((n[0], n[1]));
    }
    out
}

/// The first level whose blocks would be narrower than [`BELOW`] along either axis: the finest
/// level is split as `halo solve` splits it, and a coarse level keeps, on each rank, the coarse
/// nodes on its fine nodes (a part starting at fine node `a` starts at coarse node `a / 2`).
fn expected_agglomeration(sizes: &[(usize, usize)], px: usize, py: usize) -> Option<usize> {
    let (mut xs, mut ys) = (balanced_cuts(sizes[0].0, px), balanced_cuts(sizes[0].1, py));
    let narrowest = |c: &[usize]| c.windows(2).map(|w| w[1] - w[0]).min().unwrap();
    for l in 1..sizes.len() {
        if sizes[l].0 < sizes[l - 1].0 {
            xs = xs.iter().map(|c| c / 2).collect();
        }
        if sizes[l].1 < sizes[l - 1].1 {
            ys = ys.iter().map(|c| c / 2).collect();
        }
        if narrowest(&xs).min(narrowest(&ys)) < BELOW {
            return Some(l);
        }
    }
    None
}

#[test]
fn a_square_grid_halves_to_three_nodes_and_moves_to_rank_0_when_blocks_get_narrow() {
    let v = levels_json(&["--grid", "1023x1023", "--ranks", "4"]);
    assert_eq!((v["px"].as_u64(), v["py"].as_u64()), (Some(2), Some(2)));
    let want: Vec<(usize, usize)> = [1023, 511, 255, 127, 63, 31, 15, 7, 3]
        .iter()
        .map(|&n| (n, n))
        .collect();
    assert_eq!(sizes(&v), want);
    assert_eq!(expected_sizes(1023, 1023), want);
    let at = expected_agglomeration(&want, 2, 2).expect("4 ranks agglomerate");
    assert_eq!(v["agglomerated_at"].as_u64(), Some(at as u64));
    assert_eq!(
        v["levels_on_rank0"].as_u64(),
        Some((want.len() - at) as u64)
    );
    for (l, level) in v["levels"].as_array().unwrap().iter().enumerate() {
        assert_eq!(level["split"].as_bool(), Some(l < at), "level {l}");
        assert_eq!(level["ranks"].as_u64(), Some(if l < at { 4 } else { 1 }));
    }
    // The finest level by hand: rank 0's 512x512 block sends two layers east and south and the
    // 2x2 corner south-east, 3 messages of 2·512 + 2·512 + 4 = 2052 cells.
    let l0 = &v["levels"][0];
    assert_eq!(l0["busiest_cells"].as_u64(), Some(512 * 512));
    assert_eq!(l0["halo_messages"].as_u64(), Some(3));
    assert_eq!(l0["halo_bytes"].as_u64(), Some(2052 * 8));
    let ratio = l0["cells_per_halo_cell"].as_f64().unwrap();
    assert!((ratio - 262144.0 / 2052.0).abs() < 1e-9, "{ratio}");
    // Work per exchange falls with depth; levels on rank 0 exchange nothing.
    let ratios: Vec<Option<f64>> = v["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["cells_per_halo_cell"].as_f64())
        .collect();
    assert!(ratios[..at].windows(2).all(|w| w[1] < w[0]), "{ratios:?}");
    assert!(ratios[at..].iter().all(Option::is_none), "{ratios:?}");
    // The agglomerated levels are whole on rank 0.
    assert_eq!(v["levels"][at]["busiest_cells"].as_u64(), Some(31 * 31));
    let on_rank0: usize = want[at..].iter().map(|&(x, y)| x * y).sum();
    assert_eq!(v["rank0_nodes"].as_u64(), Some(on_rank0 as u64));

    // The table says the same, one row a level, and names the level and the threshold.
    let text = levels_text(&["--grid", "1023x1023", "--ranks", "4"]);
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.parse::<usize>().is_ok())
        })
        .collect();
    assert_eq!(rows.len(), want.len(), "{text}");
    for (l, row) in rows.iter().enumerate() {
        let words: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(words[0], l.to_string(), "{row}");
        assert_eq!(words[1], format!("{0}x{0}", want[l].0), "{row}");
        assert_eq!(row.contains("rank 0"), l >= at, "{row}");
    }
    let line = text
        .lines()
        .find(|l| l.starts_with("agglomeration:"))
        .expect("an agglomeration line");
    assert!(
        line.contains(&format!("from level {at} "))
            && line.contains(&format!("narrower than {BELOW}"))
            && line.contains(&format!("({} of {})", want.len() - at, want.len())),
        "{line}"
    );
}

#[test]
fn stretched_cells_halve_the_long_axis_alone_until_square() {
    let v = levels_json(&["--grid", "4095x255", "--ranks", "4"]);
    let got = sizes(&v);
    assert_eq!(got, expected_sizes(4095, 255));
    // Semi-coarsening: x halves while y stays, until the cells are square; then both halve.
    assert_eq!(
        &got[..6],
        &[
            (4095, 255),
            (2047, 255),
            (1023, 255),
            (511, 255),
            (255, 255),
            (127, 127)
        ]
    );
    let (px, py) = (v["px"].as_u64().unwrap(), v["py"].as_u64().unwrap());
    assert_eq!((px, py), (4, 1), "strips across the long side");
    let at = expected_agglomeration(&got, 4, 1);
    assert_eq!(v["agglomerated_at"].as_u64(), at.map(|a| a as u64));
    // Strips of 255 rows send two columns of 255 to each side while x alone coarsens.
    for l in 0..5 {
        assert_eq!(v["levels"][l]["halo_bytes"].as_u64(), Some(2 * 2 * 255 * 8));
    }
}

#[test]
fn one_rank_runs_every_level_with_no_exchange() {
    let v = levels_json(&["--grid", "100x37", "--ranks", "1"]);
    assert_eq!(sizes(&v), expected_sizes(100, 37));
    assert!(v["agglomerated_at"].is_null());
    for l in v["levels"].as_array().unwrap() {
        assert_eq!(l["ranks"].as_u64(), Some(1));
        assert_eq!(l["halo_bytes"].as_u64(), Some(0));
        assert!(l["cells_per_halo_cell"].is_null());
    }
}

/// The hierarchy is the solver's: the same levels, split over the same ranks, and its exchanges
/// move exactly the bytes and messages `--levels` counts per exchange.
#[test]
fn the_solver_builds_the_printed_hierarchy_and_sends_what_it_counts() {
    let run = |grid: &str, iters: &str| -> Value {
        let args = [
            "solve",
            "--json",
            "--problem",
            "poisson",
            "--grid",
            grid,
            "--solver",
            "mg",
            "--iters",
            iters,
            "--tol",
            "1e-30",
        ];
        let r = mpirun(4, &halo_bin(), &args);
        // Not converging to 1e-30 in a few cycles exits with 6 and prints the summary anyway.
        assert!(matches!(r.code, Some(0 | 6)), "{}", r.stderr);
        let line = r.stdout.lines().find(|l| l.starts_with('{')).expect("JSON");
        serde_json::from_str(line).expect("JSON")
    };
    for grid in ["255x255", "300x200"] {
        let plan = levels_json(&["--grid", grid, "--ranks", "4"]);
        let solved = run(grid, "1");
        let levels = |v: &Value, ranks: &str| -> Vec<(u64, u64, u64)> {
            v["levels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    (
                        l["nx"].as_u64().unwrap(),
                        l["ny"].as_u64().unwrap(),
                        l[ranks].as_u64().unwrap(),
                    )
                })
                .collect()
        };
        assert_eq!(levels(&solved, "ranks"), levels(&plan, "ranks"), "{grid}");
    }
    // 63x63 on 2x2: only the finest level is split, so a cycle's traffic is a whole number of
    // its exchanges, in bytes and in messages alike.
    let plan = levels_json(&["--grid", "63x63", "--ranks", "4"]);
    assert_eq!(plan["agglomerated_at"].as_u64(), Some(1));
    let (one, two) = (run("63x63", "1"), run("63x63", "2"));
    let bytes = two["bytes_sent"].as_u64().unwrap() - one["bytes_sent"].as_u64().unwrap();
    let msgs = two["messages_sent"].as_u64().unwrap() - one["messages_sent"].as_u64().unwrap();
    let per_bytes = plan["levels"][0]["total_halo_bytes"].as_u64().unwrap();
    let per_msgs = plan["levels"][0]["total_halo_messages"].as_u64().unwrap();
    assert_eq!(per_msgs, 12, "four ranks, three neighbours each");
    assert!(
        bytes > 0 && bytes % per_bytes == 0,
        "{bytes} over {per_bytes}"
    );
    assert_eq!(msgs, bytes / per_bytes * per_msgs, "{msgs} messages");
}

/// Counts the panels of a picture: solid rectangles at least 100 pixels wide (text never has
/// runs that long), row by row of panels.
const COUNT_PANELS: &str = r#"
import sys
from PIL import Image
for path in sys.argv[1:]:
    im = Image.open(path); im.load()
    assert im.format == "PNG", im.format
    rgb = im.convert("RGB")
    w, h = rgb.size
    data = rgb.tobytes()
    def runs(y):
        n = run = 0
        row = data[3 * w * y: 3 * w * (y + 1)]
        for x in range(w):
            if row[3 * x: 3 * x + 3] != b"\xff\xff\xff":
                run += 1
            else:
                n += run >= 100
                run = 0
        return n + (run >= 100)
    panels, band = 0, 0
    for y in range(h):
        n = runs(y)
        if n == 0 and band:
            panels += band
        band = max(band, n) if n else 0
    panels += band
    print(panels, len(rgb.getcolors(1 << 20)) > 8)
"#;

#[test]
fn the_picture_has_one_panel_a_level_up_to_nine() {
    let dir = std::env::temp_dir();
    let mut paths = Vec::new();
    // 9 levels, 5 levels, and 11 levels (drawn: 9 of them).
    for (grid, expect) in [("1023x1023", 9), ("63x63", 5), ("4095x255", 9)] {
        let path = dir.join(format!("halo-levels-{}-{grid}.png", std::process::id()));
        let p = path.to_str().unwrap().to_string();
        let out = decomp(&["--grid", grid, "--ranks", "4", "--levels", "--png", &p]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("wrote {p}")));
        let levels = sizes(&levels_json(&["--grid", grid, "--ranks", "4"])).len();
        assert_eq!(levels.min(9), expect, "{grid}");
        paths.push((p, expect));
    }
    let args: Vec<&str> = paths.iter().map(|(p, _)| p.as_str()).collect();
    let got = python(&["PIL"], COUNT_PANELS, &args);
    let want: String = paths.iter().map(|(_, n)| format!("{n} True\n")).collect();
    assert_eq!(got, want);
    for (p, _) in &paths {
        let _ = std::fs::remove_file(p);
    }
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    for args in [
        &["--grid", "1023x1023", "--ranks", "0", "--levels"][..],
        &[
            "--grid",
            "1023x1023",
            "--ranks",
            "4",
            "--levels",
            "--compare",
        ],
        &[
            "--grid",
            "1023x1023",
            "--ranks",
            "4",
            "--levels",
            "--ghost",
            "2",
        ],
        &["--grid", "3x3", "--ranks", "4", "--levels"],
        &[
            "--grid", "64x64", "--ranks", "4", "--procs", "2x1", "--levels",
        ],
        // An axis too long to list its nodes: refused, not an allocation failure.
        &["--grid", "100000000000x4", "--ranks", "4", "--levels"],
    ] {
        let out = decomp(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("halo: error: "), "{err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let out = decomp(&["--grid", "3x3", "--ranks", "4", "--levels"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("too small for multigrid"));
}
