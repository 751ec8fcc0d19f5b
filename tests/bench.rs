//! `halo bench` runs and reports in the formats people compare with (STREAM, OSU). No figure is
//! held to a speed: these tests check that the benchmarks run, validate their own results, print
//! what they promise for the sizes asked, and report figures that the job's own wall time and
//! the printing resolution allow (a timing loop that timed nothing, or the wrong unit, fails).

mod common;
use common::{halo_bin, mpirun};
use serde_json::Value;

#[test]
fn triad_validates_itself_and_reports_bandwidth_summed_over_ranks() {
    for n in [1usize, 2] {
        let run = mpirun(
            n,
            &halo_bin(),
            &["bench", "triad", "--elements", "1000000", "--reps", "3"],
        );
        run.assert_ok("bench triad");
        let json: Value = run.json();
        assert_eq!(json["ranks"].as_u64(), Some(n as u64));
        assert_eq!(json["elements"].as_u64(), Some(1_000_000));
        let best = json["bytes_per_s"].as_f64().unwrap();
        let median = json["median_bytes_per_s"].as_f64().unwrap();
        // Every repetition moves 32 bytes per element on every rank and lasts no longer than the
        // whole job, so each repetition's rate, summed over ranks, is at least n·32·elements over
        // the job's wall time (a rate off by a unit or by the element count falls below it).
        let floor = n as f64 * 32.0 * 1e6 / run.elapsed.as_secs_f64();
        assert!(median >= floor, "median {median:e} B/s below {floor:e}");
        // And no core streams a terabyte a second.
        assert!(best <= n as f64 * 1e12, "best {best:e} B/s");
        // The text says what the JSON says, and the roofline is B/16 cell updates a second.
        let text = format!(
            "triad: {n} ranks x 1000000 elements: best {:.2} GB/s, median {:.2} GB/s",
            best / 1e9,
            median / 1e9
        );
        assert!(run.stdout.contains(&text), "{text}\n{}", run.stdout);
        let roofline = format!(
            "roofline for a 5-point sweep moving 16 bytes per cell: {:.1} Mcells/s",
            best / 16.0 / 1e6
        );
        assert!(run.stdout.contains(&roofline), "{roofline}\n{}", run.stdout);
    }
}

/// Checks the latencies of one OSU table: each at least the printing resolution (a loop that
/// timed nothing prints 0.00), and `calls` timed calls of each size together no longer than the
/// job that ran them (as a sum over sizes, since a rank times one size after the other).
fn check_latencies(us: &[f64], calls: f64, wall: std::time::Duration, what: &str) {
    for &t in us {
        assert!(t >= 0.01, "{what}: latency {t} us");
    }
    let timed = us.iter().sum::<f64>() * calls / 1e6;
    assert!(
        timed <= wall.as_secs_f64(),
        "{what}: {timed} s of timed calls in a job of {wall:?}"
    );
}

#[test]
fn collectives_print_the_osu_table_through_halo_and_raw_rsmpi() {
    for op in [
        "bcast",
        "scatter",
        "gather",
        "allgather",
        "allreduce",
        "halo",
    ] {
        for raw in [false, true] {
            let mut args = vec![
                "bench",
                "collectives",
                "--op",
                op,
                "-m",
                "1:1024",
                "-i",
                "100",
                "-x",
                "5",
            ];
            if raw {
                args.push("--raw");
            }
            let run = mpirun(3, &halo_bin(), &args);
            run.assert_ok(&format!("bench collectives {op} raw={raw}"));
            let lines: Vec<&str> = run.stdout.lines().collect();
            assert!(lines[0].ends_with("ranks: 3"), "{}", run.stdout);
            assert!(lines[1].starts_with("# Size"), "{}", run.stdout);
            let rows: Vec<(u64, f64)> = lines[2..]
                .iter()
                .map(|l| {
                    let mut f = l.split_whitespace();
                    let size = f.next().unwrap().parse().unwrap();
                    (size, f.next().unwrap().parse().unwrap())
                })
                .collect();
            let sizes: Vec<u64> = rows.iter().map(|r| r.0).collect();
            assert_eq!(sizes, (0..=10).map(|k| 1u64 << k).collect::<Vec<_>>());
            let us: Vec<f64> = rows.iter().map(|r| r.1).collect();
            check_latencies(&us, 100.0, run.elapsed, &format!("{op} raw={raw}"));
        }
    }
    let run = mpirun(
        2,
        &halo_bin(),
        &[
            "bench",
            "collectives",
            "--op",
            "gather",
            "-m",
            "4:64",
            "-i",
            "10",
            "--compare",
        ],
    );
    run.assert_ok("bench collectives --compare");
    assert!(
        run.stdout.starts_with(&format!(
            "# halo Gather latency, halo API against plain rsmpi, alternating, {OSU_TIMING}, ranks: 2\n"
        )),
        "{}",
        run.stdout
    );
    let rows: Vec<Vec<f64>> = run
        .stdout
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
        .collect();
    let sizes: Vec<f64> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(sizes, [4.0, 8.0, 16.0, 32.0, 64.0], "{}", run.stdout);
    // Three rounds of 10 timed calls through each path for every size, each figure the median
    // of the three: at most half the two largest, so twice it is at most the rounds' sum.
    let both: Vec<f64> = rows.iter().flat_map(|r| [r[1], r[2]]).collect();
    check_latencies(&both, 20.0, run.elapsed, "--compare");
    for r in &rows {
        // The last column is halo over raw, not the other way round. The times are printed to
        // 0.01 us and the ratio to 0.001, so they agree within that.
        let (h, raw, ratio) = (r[1], r[2], r[3]);
        let slack = ratio * (0.005 / h + 0.005 / raw) + 0.0005;
        assert!((ratio - h / raw).abs() <= slack, "ratio column: {r:?}");
    }
    let run = mpirun(
        2,
        &halo_bin(),
        &["bench", "collectives", "--op", "alltoall"],
    );
    assert_eq!(run.code, Some(2));
    let run = mpirun(
        2,
        &halo_bin(),
        &["bench", "collectives", "--op", "bcast", "-m", "8:4"],
    );
    assert_eq!(run.code, Some(2));
}

/// The OSU header's method, as `halo bench collectives` prints it for each `--timing`.
const OSU_TIMING: &str = "timed the OSU way (each call alone, a barrier after each)";
const BACK_TO_BACK: &str = "timed back to back (the calls in a row after one barrier)";

/// The latencies of an OSU table's rows, checked to be the sizes `lo`, doubling, up to `hi`.
fn table_latencies(stdout: &str, lo: u64, hi: u64) -> Vec<f64> {
    let rows: Vec<(u64, f64)> = stdout
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let mut f = l.split_whitespace();
            let size = f.next().unwrap().parse().unwrap();
            (size, f.next().unwrap().parse().unwrap())
        })
        .collect();
    let sizes: Vec<u64> = rows.iter().map(|r| r.0).collect();
    let want: Vec<u64> = std::iter::successors(Some(lo), |s| Some(2 * s))
        .take_while(|&s| s <= hi)
        .collect();
    assert_eq!(sizes, want, "{stdout}");
    rows.iter().map(|r| r.1).collect()
}

#[test]
fn collectives_time_the_osu_way_by_default_and_say_so() {
    for extra in [&[][..], &["--timing", "osu"][..]] {
        let mut args = vec![
            "bench",
            "collectives",
            "--op",
            "gather",
            "-m",
            "8:256",
            "-i",
            "50",
            "-x",
            "5",
        ];
        args.extend_from_slice(extra);
        let run = mpirun(2, &halo_bin(), &args);
        run.assert_ok("bench collectives, OSU timing");
        let header = run.stdout.lines().next().unwrap_or("");
        assert_eq!(
            header,
            format!("# halo Gather latency (halo API), {OSU_TIMING}, ranks: 2"),
            "{extra:?}"
        );
        assert!(!run.stdout.contains("back to back"), "{}", run.stdout);
        let us = table_latencies(&run.stdout, 8, 256);
        check_latencies(&us, 50.0, run.elapsed, "OSU timing");
    }
}

#[test]
fn collectives_time_back_to_back_when_asked_and_label_it() {
    for (op, name, raw) in [("bcast", "Bcast", false), ("halo", "Halo", true)] {
        let mut args = vec![
            "bench",
            "collectives",
            "--op",
            op,
            "-m",
            "8:256",
            "-i",
            "50",
            "-x",
            "5",
            "--timing",
            "back-to-back",
        ];
        if raw {
            args.push("--raw");
        }
        let run = mpirun(2, &halo_bin(), &args);
        run.assert_ok("bench collectives --timing back-to-back");
        let path = if raw { "plain rsmpi" } else { "halo API" };
        let header = run.stdout.lines().next().unwrap_or("");
        assert_eq!(
            header,
            format!("# halo {name} latency ({path}), {BACK_TO_BACK}, ranks: 2")
        );
        assert!(!run.stdout.contains("OSU way"), "{}", run.stdout);
        let us = table_latencies(&run.stdout, 8, 256);
        check_latencies(&us, 50.0, run.elapsed, "back to back");
    }
    // --compare alternates with the same method, and says which.
    let run = mpirun(
        2,
        &halo_bin(),
        &[
            "bench",
            "collectives",
            "--op",
            "allreduce",
            "-m",
            "8:8",
            "-i",
            "10",
            "--compare",
            "--timing",
            "back-to-back",
        ],
    );
    run.assert_ok("bench collectives --compare --timing back-to-back");
    assert!(
        run.stdout.starts_with(&format!(
            "# halo Allreduce latency, halo API against plain rsmpi, alternating, {BACK_TO_BACK}, ranks: 2\n"
        )),
        "{}",
        run.stdout
    );
    // A method that does not exist is refused in one line.
    let run = mpirun(
        2,
        &halo_bin(),
        &[
            "bench",
            "collectives",
            "--op",
            "bcast",
            "--timing",
            "sideways",
        ],
    );
    assert_eq!(run.code, Some(2), "{}", run.stderr);
}

/// `halo ARGS` as a 2-rank job under `ulimit -v` of 4 GiB (mpirun and every rank), so that a
/// count that asks for more memory than that fails rather than taking the machine's; ended (and
/// the test failed) after two minutes: a hang guard.
fn bench_bounded(args: &[&str]) -> common::Run {
    let mpirun = common::mpirun_command(2, &halo_bin(), args);
    let mut cmd = common::under_ulimit(&mpirun, 4_194_304);
    let what = format!("halo {}", args.join(" "));
    common::run_guarded(&mut cmd, std::time::Duration::from_secs(120), &what)
}

#[test]
fn triad_counts_beyond_reason_are_refused_up_front_in_one_line() {
    // --reps 10^9 asked for 8 GB of timings before the first repetition; 2^64 - 1 repetitions
    // or elements overflowed a capacity: a panic, exit 70.
    let most = "at most 1000000: each repetition's rate is kept for the median, and STREAM \
                reports from 10";
    for (args, says) in [
        (
            ["--elements", "1000", "--reps", "1000000000"],
            format!("--reps 1000000000: {most}"),
        ),
        (
            ["--elements", "1000", "--reps", "18446744073709551615"],
            format!("--reps 18446744073709551615: {most}"),
        ),
        (
            ["--elements", "1000", "--reps", "1000001"],
            format!("--reps 1000001: {most}"),
        ),
        (
            ["--elements", "18446744073709551615", "--reps", "3"],
            "--elements 18446744073709551615: needs ".to_string(),
        ),
    ] {
        let mut all = vec!["bench", "triad"];
        all.extend_from_slice(&args);
        let run = bench_bounded(&all);
        let both = format!(
            "{args:?}\n--- stdout\n{}\n--- stderr\n{}",
            run.stdout, run.stderr
        );
        assert_eq!(run.code, Some(2), "{both}");
        let lines = run.rank_error_lines();
        assert_eq!(lines.len(), 1, "{both}");
        assert!(
            lines[0].starts_with(&format!("halo: error: {says}")),
            "{both}"
        );
        assert!(!run.stderr.contains("panicked"), "{both}");
        assert!(run.stdout.is_empty(), "{both}");
    }
}

#[test]
fn checkpoint_throughput_checks_what_it_reads_and_cleans_up() {
    // 70000 columns: 7 rows a band, so 40 rows make 6 bands, spread over the ranks.
    let (nx, ny) = (70_000u64, 40u64);
    for n in [1usize, 3] {
        let dir =
            std::env::temp_dir().join(format!("halo-test-bench-ckpt-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.display().to_string();
        let args = [
            "bench",
            "checkpoint",
            "--grid",
            "70000x40",
            "--rounds",
            "2",
            "--dir",
            &d,
            "--json",
        ];
        let run = mpirun(n, &halo_bin(), &args);
        run.assert_ok("bench checkpoint");
        let json = run.json();
        assert_eq!(json["ranks"].as_u64(), Some(n as u64));
        assert_eq!(
            (json["nx"].as_u64(), json["ny"].as_u64()),
            (Some(nx), Some(ny))
        );
        assert_eq!(json["rounds"].as_u64(), Some(2));
        assert_eq!(json["warmup"].as_u64(), Some(1));
        // The data, after a header padded to a multiple of 4096 bytes.
        let bytes = json["file_bytes"].as_u64().unwrap();
        let data = 8 * nx * ny;
        assert!(
            bytes > data && (bytes - data).is_multiple_of(4096),
            "{bytes} bytes"
        );
        // Every round writes and reads the whole file within the job's wall time, so no rate is
        // below that (a rate in the wrong unit, or of the wrong bytes, falls below it).
        let floor = bytes as f64 / run.elapsed.as_secs_f64() / 1e6;
        for key in ["write_mb_per_s", "read_mb_per_s"] {
            let rates: Vec<f64> = json[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert_eq!(rates.len(), 2, "{key}");
            for r in rates {
                assert!(
                    r >= floor && r.is_finite(),
                    "{key}: {r} MB/s, floor {floor}"
                );
            }
        }
        let (w, r) = (
            json["write_median_mb_per_s"].as_f64().unwrap(),
            json["read_median_mb_per_s"].as_f64().unwrap(),
        );
        let line = format!(
            "checkpoint: {n} ranks, 70000x40, {:.1} MB a file, 2 rounds after 1 untimed: write median {w:.1} MB/s",
            bytes as f64 / 1e6
        );
        assert!(run.stdout.contains(&line), "{line}\n{}", run.stdout);
        assert!(
            run.stdout.contains(&format!("read median {r:.1} MB/s")),
            "{}",
            run.stdout
        );
        assert!(!json["mount"]["fstype"].as_str().unwrap().is_empty());
        let cache = run.stdout.contains("page cache dropped before every read")
            || run
                .stdout
                .contains("read figures may come from the page cache: ");
        assert!(cache, "{}", run.stdout);
        // Its own directory inside --dir is gone, checkpoints and all.
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn checkpoint_bench_refuses_bad_input_in_one_line() {
    let missing =
        std::env::temp_dir().join(format!("halo-test-no-such-dir-{}", std::process::id()));
    let missing = missing.display().to_string();
    let file = env!("CARGO_MANIFEST_DIR").to_string() + "/Cargo.toml";
    for (args, says) in [
        (
            vec!["--rounds", "0"],
            "--rounds 0: the checkpoint benchmark needs at least one round".to_string(),
        ),
        (
            vec!["--grid", "64x64", "--dir", &missing],
            format!("--dir {missing}: cannot make the benchmark's directory there: "),
        ),
        (
            vec!["--grid", "64x64", "--dir", &file],
            format!("--dir {file}: cannot make the benchmark's directory there: "),
        ),
    ] {
        let mut all = vec!["bench", "checkpoint"];
        all.extend_from_slice(&args);
        let run = mpirun(2, &halo_bin(), &all);
        let both = format!(
            "{args:?}\n--- stdout\n{}\n--- stderr\n{}",
            run.stdout, run.stderr
        );
        assert_eq!(run.code, Some(2), "{both}");
        let lines = run.rank_error_lines();
        assert_eq!(lines.len(), 1, "{both}");
        assert!(
            lines[0].starts_with(&format!("halo: error: {says}")),
            "{both}"
        );
        assert!(run.stdout.is_empty(), "{both}");
    }
}

#[test]
fn exchange_methods_are_compared_block_by_block_each_checked() {
    // On a periodic 2x2 grid a rank's west and east neighbours are one rank, and so are its
    // north and south ones and its four diagonals: neighbour collectives send one message to
    // each. Alone, a rank is its own neighbour on every side.
    for (n, ghost, msgs) in [
        (4, "1", "4/4/2/4"),
        (4, "2", "8/8/3/4"),
        (1, "1", "4/4/1/4"),
        // Two ranks, one beside the other, periodic: the other rank is the neighbour across one
        // axis and on every diagonal, the rank itself across the other axis.
        (2, "2", "8/8/2/4"),
    ] {
        let args = [
            "bench",
            "collectives",
            "--op",
            "halo",
            "--exchange",
            "all",
            "--blocks",
            "8:32",
            "--ghost",
            ghost,
            "--rounds",
            "2",
            "-i",
            "20",
            "-x",
            "2",
        ];
        let run = mpirun(n, &halo_bin(), &args);
        run.assert_ok(&format!("{args:?} on {n} ranks"));
        let head = format!("# halo exchange latency by method, {n} ranks on a ");
        assert!(run.stdout.contains(&head), "{}", run.stdout);
        assert!(run.stdout.contains("timed the OSU way"), "{}", run.stdout);
        let rows: Vec<Vec<&str>> = run
            .stdout
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split_whitespace().collect())
            .collect();
        let blocks: Vec<&str> = rows.iter().map(|r| r[0]).collect();
        assert_eq!(blocks, ["8x8", "16x16", "32x32"], "{}", run.stdout);
        for r in &rows {
            // Block, bytes, iterations, four methods' latencies, best/first, messages.
            assert_eq!(r.len(), 9, "{r:?}");
            let us: Vec<f64> = r[3..7].iter().map(|x| x.parse().unwrap()).collect();
            assert!(us.iter().all(|&u| u > 0.0 && u.is_finite()), "{r:?}");
            let best = us.iter().copied().fold(f64::INFINITY, f64::min) / us[0];
            // The latencies are printed to 0.01 us, the ratio from the unrounded ones.
            let slack = 0.01 / us[0] + 2e-3;
            assert!((r[7].parse::<f64>().unwrap() - best).abs() < slack, "{r:?}");
            // Two rounds halve a box stencil's messages; a star has no corners to carry.
            // Neighbourhood collectives send one message per neighbouring rank.
            assert_eq!(r[8], msgs, "{r:?}");
        }
        // Every rank sends each neighbour its face: 4 faces of b cells (and corners with a box).
        let b8: u64 = rows[0][1].parse().unwrap();
        let w: u64 = ghost.parse().unwrap();
        assert_eq!(b8, 8 * (4 * 8 * w + if w > 1 { 4 * w * w } else { 0 }));
    }
}

#[test]
fn exchange_comparison_refuses_what_it_cannot_compare_in_one_line() {
    for (args, says) in [
        (
            &["--op", "bcast", "--exchange", "p2p"][..],
            "goes with --op halo",
        ),
        (
            &["--op", "halo", "--exchange", "p2p", "--raw"][..],
            "leave out --raw",
        ),
        (
            &["--op", "halo", "--exchange", "fast"][..],
            "unknown exchange 'fast'",
        ),
        (
            &[
                "--op",
                "halo",
                "--exchange",
                "p2p",
                "--blocks",
                "2:8",
                "--ghost",
                "3",
            ][..],
            "narrower than the ghost width",
        ),
        (
            &["--op", "halo", "--exchange", "p2p", "--procs", "3x1"][..],
            "--procs 3x1 has 3 ranks",
        ),
    ] {
        let mut all = vec!["bench", "collectives"];
        all.extend_from_slice(args);
        let run = mpirun(2, &halo_bin(), &all);
        assert_ne!(run.code, Some(0), "{all:?}");
        assert!(run.stderr.contains(says), "{all:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        let lines = run.rank_error_lines();
        assert!(lines.len() <= 1, "{all:?}: {lines:?}");
    }
}
