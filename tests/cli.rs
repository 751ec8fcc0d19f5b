//! The `halo` command as users run it: under mpirun, with good and bad arguments.

mod common;
use common::{halo_bin, mpirun};

#[test]
fn check_verifies_every_collective_on_1_to_4_ranks() {
    for n in 1..=4 {
        let run = mpirun(n, &halo_bin(), &["check", "--size", "1000"]);
        run.assert_ok(&format!("halo check on {n} ranks"));
        assert!(
            run.stdout.contains(&format!("ranks: {n},")),
            "{}",
            run.stdout
        );
        let summary = run
            .stdout
            .lines()
            .find(|l| l.starts_with("check: "))
            .unwrap_or_else(|| panic!("no summary line:\n{}", run.stdout));
        assert!(summary.ends_with(" passed, 0 failed"), "{summary}");
        let passed: usize = summary["check: ".len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(passed >= 21, "{summary}");
        for name in [
            "immediate_all_reduce(max,sum)",
            "immediate_broadcast",
            "immediate_scatter",
            "immediate_gather",
            "immediate_all_gather",
            "immediate: dropping waits",
            "file write_at_all/read_at_all",
        ] {
            assert!(run.stdout.contains(name), "{}", run.stdout);
        }
        assert!(!run.stdout.contains("WRONG"));
    }
}

#[test]
fn info_lists_every_rank() {
    let run = mpirun(3, &halo_bin(), &["info"]);
    run.assert_ok("halo info");
    assert!(run.stdout.contains("Open MPI"), "{}", run.stdout);
    for r in 0..3 {
        assert!(
            run.stdout.contains(&format!("rank {r}: ")),
            "{}",
            run.stdout
        );
    }
    // Where MPI_Cart_create put each rank: every grid place once, every world rank once.
    assert!(
        run.stdout
            .contains("Cartesian topology (--topology cart): a "),
        "{}",
        run.stdout
    );
    let mut placed: Vec<(usize, usize)> = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("grid rank "))
        .map(|l| {
            let (c, rest) = l
                .split_once(" at ")
                .expect("grid rank C at (X,Y): world rank W");
            let w = rest.rsplit_once("world rank ").expect("a world rank").1;
            (c.parse().unwrap(), w.parse().unwrap())
        })
        .collect();
    placed.sort_unstable();
    assert_eq!(placed.iter().map(|p| p.0).collect::<Vec<_>>(), [0, 1, 2]);
    let mut world: Vec<usize> = placed.iter().map(|p| p.1).collect();
    world.sort_unstable();
    assert_eq!(world, [0, 1, 2], "{}", run.stdout);
}

#[test]
fn bad_arguments_give_one_line_from_rank_0_and_exit_2_on_every_rank() {
    for n in [1, 2, 4] {
        for args in [
            &["check", "--size", "abc"][..],
            &["check", "--size", "0"],
            &["check", "--size", "-5"],
            &["check", "--nonsense"],
            &["solvee"],
        ] {
            let run = mpirun(n, &halo_bin(), args);
            assert_eq!(run.code, Some(2), "{args:?} on {n} ranks: {}", run.stderr);
            let lines = run.rank_error_lines();
            assert_eq!(
                lines.len(),
                1,
                "{args:?} on {n} ranks printed:\n{}",
                run.stderr
            );
            assert!(lines[0].starts_with("halo: error: "), "{}", lines[0]);
            assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        }
    }
}

#[test]
fn halo_alone_prints_its_usage_and_exits_2() {
    for args in [&[][..], &["bench"]] {
        let run = mpirun(2, &halo_bin(), args);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert_eq!(
            run.stderr.matches("Usage: halo").count(),
            1,
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("Commands:"), "{}", run.stderr);
        assert!(
            !run.stderr.contains("error: Tightly coupled"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn help_and_version_print_once_and_succeed() {
    let run = mpirun(2, &halo_bin(), &["--version"]);
    run.assert_ok("halo --version");
    assert_eq!(run.stdout.matches("halo ").count(), 1, "{}", run.stdout);
    let run = mpirun(2, &halo_bin(), &["check", "--help"]);
    run.assert_ok("halo check --help");
    assert_eq!(run.stdout.matches("Usage:").count(), 1, "{}", run.stdout);
}
