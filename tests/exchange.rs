//! The halo exchange's methods and the Cartesian topology, as users run them: every method
//! (`--exchange p2p|persistent|neighbor|two-phase`) and topology (`--topology index|cart`) gives
//! the fields pinned before they existed, on 1–6 ranks and ghost widths 1–3; the two-round
//! methods send half the messages of a box stencil; MPI's Cartesian communicator agrees with
//! halo's arithmetic.

mod common;
use common::{example, mpirun, solve_json, CAVITY_63X47_300, LAPLACE_63X47_300};

const METHODS: [&str; 4] = ["p2p", "persistent", "neighbor", "two-phase"];
const TOPOLOGIES: [&str; 2] = ["index", "cart"];

/// Every method with every topology, numbered.
fn every_pair() -> impl Iterator<Item = (usize, (&'static str, &'static str))> {
    METHODS
        .into_iter()
        .flat_map(|m| TOPOLOGIES.into_iter().map(move |t| (m, t)))
        .enumerate()
}

#[test]
fn every_method_and_topology_gives_the_pinned_laplace_field() {
    // Each method and topology on every rank count, the ghost width turning through 1–3 so
    // that every pair meets each width (and so star and box stencils) on several rank counts.
    for (i, (method, topology)) in every_pair() {
        for n in 1..=6 {
            let ghost = (1 + (n + i) % 3).to_string();
            let args = [
                "--grid",
                "63x47",
                "--iters",
                "300",
                "--ghost",
                &ghost,
                "--exchange",
                method,
                "--topology",
                topology,
            ];
            let r = solve_json(n, &args);
            assert_eq!(r["field_sha256"], LAPLACE_63X47_300, "{n} ranks: {args:?}");
            assert_eq!(
                (r["exchange"].as_str(), r["topology"].as_str()),
                (Some(method), Some(topology))
            );
        }
    }
}

#[test]
fn the_cavity_exchanges_psi_and_omega_together_to_the_same_bits() {
    // Every method and topology, on rank counts and ghost widths turning as for Laplace.
    for (i, (method, topology)) in every_pair() {
        let n = 2 + i % 5;
        let ghost = (1 + i % 3).to_string();
        let args = [
            "--problem",
            "cavity",
            "--grid",
            "63x47",
            "--iters",
            "300",
            "--ghost",
            &ghost,
            "--exchange",
            method,
            "--topology",
            topology,
        ];
        let r = solve_json(n, &args);
        assert_eq!(r["field_sha256"], CAVITY_63X47_300, "{n} ranks: {args:?}");
    }
}

#[test]
fn multigrid_gives_the_same_bits_by_every_method() {
    let base = [
        "--problem",
        "poisson",
        "--solver",
        "fmg",
        "--grid",
        "127x95",
    ];
    let reference = solve_json(1, &base);
    for (i, (method, topology)) in every_pair() {
        let n = 2 + i % 5;
        let mut args = base.to_vec();
        args.extend(["--exchange", method, "--topology", topology]);
        let r = solve_json(n, &args);
        assert_eq!(
            r["field_sha256"], reference["field_sha256"],
            "{n} ranks: {args:?}"
        );
    }
}

#[test]
fn two_rounds_send_half_the_messages_of_a_box_stencil() {
    // Ghost width 2 makes Jacobi's stencil a box: 8 neighbours on the middle rank of 3x3.
    let run = |procs: &str, method: &str| {
        let n = procs
            .split('x')
            .map(|k| k.parse::<usize>().unwrap())
            .product();
        let args = [
            "--grid",
            "60x60",
            "--iters",
            "20",
            "--ghost",
            "2",
            "--procs",
            procs,
            "--exchange",
            method,
        ];
        solve_json(n, &args)
    };
    let messages = |r: &serde_json::Value| r["messages_sent"].as_u64().unwrap();
    let p2p = run("3x3", "p2p");
    let two = run("3x3", "two-phase");
    assert_eq!(two["field_sha256"], p2p["field_sha256"]);
    let (half, all) = (messages(&two), messages(&p2p));
    // Four per exchange instead of eight on the middle rank; fewer saved at the edges.
    assert!(
        2 * half <= all + all / 4 && half < all,
        "two-phase: {half} messages against p2p's {all}"
    );
    // The same ghost cells: the corners travel inside the rows.
    assert_eq!(two["bytes_sent"], p2p["bytes_sent"]);
    // Persistent requests send what p2p sends; neighbourhood collectives one message per
    // neighbouring rank, which on a 3x3 grid are all different ranks.
    for method in ["persistent", "neighbor"] {
        let r = run("3x3", method);
        assert_eq!(
            (&r["field_sha256"], messages(&r)),
            (&p2p["field_sha256"], all),
            "{method}"
        );
    }
    // On 2x1 ranks (not periodic) every rank has one neighbour: p2p sends it a face, two-phase
    // too, neighbor one message; all the same bytes.
    let strips = run("2x1", "p2p");
    for method in ["two-phase", "neighbor"] {
        let r = run("2x1", method);
        assert_eq!(messages(&r), messages(&strips), "{method} on 2x1");
        assert_eq!(r["bytes_sent"], strips["bytes_sent"], "{method} on 2x1");
    }
}

#[test]
fn mpi_s_cartesian_grid_agrees_with_halo_s_arithmetic() {
    for (n, grid) in [
        (1, None),
        (2, None),
        (3, Some("3x1")),
        (4, Some("1x4")),
        (6, Some("2x3")),
        (6, None),
    ] {
        let args: Vec<&str> = grid.into_iter().collect();
        let run = mpirun(n, &example("cartesian"), &args);
        run.assert_ok(&format!("cartesian on {n} ranks {args:?}"));
        // The example also solves on a Cartesian communicator numbered opposite to the job's
        // and checks the field, and checks that the mistakes are refused.
        let ok = format!(
            "cartesian: ok, ranks: {n}, {} process grid, periodic and not; a renumbered run gives the same field",
            grid.map_or_else(|| "".to_string(), str::to_string)
        );
        let line = run.stdout.lines().find(|l| l.starts_with("cartesian: ok"));
        assert!(
            line.is_some_and(|l| grid.is_none() || l == ok),
            "{}",
            run.stdout
        );
        // One line per grid place, each world rank placed once.
        let mut placed: Vec<&str> = run
            .stdout
            .lines()
            .filter_map(|l| l.trim().strip_prefix("grid rank "))
            .filter_map(|l| l.rsplit("world rank ").next())
            .collect();
        placed.sort_unstable();
        let want: Vec<String> = (0..n).map(|r| r.to_string()).collect();
        assert_eq!(placed, want.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

#[test]
fn a_topology_or_method_halo_does_not_know_is_refused_in_one_line() {
    for (flag, value, known) in [
        (
            "--exchange",
            "alltoall",
            "p2p, persistent, neighbor, two-phase",
        ),
        ("--topology", "graph", "index, cart"),
    ] {
        let run = mpirun(2, &common::halo_bin(), &["solve", flag, value]);
        assert_ne!(run.code, Some(0));
        assert!(run.stderr.contains(known), "{}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
}
