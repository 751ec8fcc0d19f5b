//! `halo bench` runs and reports in the formats people compare with (STREAM, OSU). Figures are
//! printed, never asserted: these tests check that the benchmarks run, validate their own
//! results and print what they promise.

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
        let json: Value =
            serde_json::from_str(run.stdout.lines().find(|l| l.starts_with('{')).unwrap()).unwrap();
        assert_eq!(json["ranks"].as_u64(), Some(n as u64));
        assert_eq!(json["elements"].as_u64(), Some(1_000_000));
        assert!(
            json["bytes_per_s"].as_f64().unwrap() >= json["median_bytes_per_s"].as_f64().unwrap()
        );
        assert!(run
            .stdout
            .contains("roofline for a 5-point sweep moving 16 bytes per cell"));
    }
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
                "20",
                "-x",
                "5",
            ];
            if raw {
                args.push("--raw");
            }
            let run = mpirun(3, &halo_bin(), &args);
            run.assert_ok(&format!("bench collectives {op} raw={raw}"));
            let lines: Vec<&str> = run.stdout.lines().collect();
            assert!(lines[1].starts_with("# Size"), "{}", run.stdout);
            let sizes: Vec<u64> = lines[2..]
                .iter()
                .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
                .collect();
            assert_eq!(sizes, (0..=10).map(|k| 1u64 << k).collect::<Vec<_>>());
            for l in &lines[2..] {
                let us: f64 = l.split_whitespace().nth(1).unwrap().parse().unwrap();
                assert!(us.is_finite() && us >= 0.0, "{l}");
            }
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
    let rows: Vec<Vec<f64>> = run
        .stdout
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 5, "{}", run.stdout);
    for r in &rows {
        // The times are printed to 0.01 us and the ratio to 0.001, so they agree within that.
        let (h, raw, ratio) = (r[1], r[2], r[3]);
        let slack = ratio * (0.005 / h.max(0.005) + 0.005 / raw.max(0.005)) + 0.0005;
        assert!(
            ratio > 0.0 && (ratio - h / raw).abs() <= slack,
            "ratio column: {r:?}"
        );
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
