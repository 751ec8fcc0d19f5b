//! Halo exchange, checked: ghost cells filled with the neighbours' ranks, then with the global
//! index of the cell they stand for on a periodic grid (two fields in the same messages, also on
//! a Cartesian communicator MPI may have renumbered), then mirrored at zero-gradient edges, for
//! any process grid and ghost width, by every exchange method.
//!
//! ```text
//! mpirun -n 4 target/debug/examples/halo_exchange              # 12x9 grid, automatic, ghost 1
//! mpirun -n 6 target/debug/examples/halo_exchange 20 9 3x2 2   # 20x9 over 3x2 ranks, ghost 2
//! ```

use halo::decomp::{Dir, ExchangeKind, ProcGrid, Stencil};
use halo::grid::{decompose, Boundaries, Boundary, DistArray, HaloExchange, Layout, Side};

fn main() -> halo::Result<()> {
    let mpi = halo::comm::init()?;
    let world = mpi.world();
    let rank = world.rank();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let nx: usize = args.first().map_or(12, |s| s.parse().expect("nx"));
    let ny: usize = args.get(1).map_or(9, |s| s.parse().expect("ny"));
    let procs: Option<ProcGrid> = args.get(2).map(|s| s.parse()).transpose()?;
    let w: usize = args.get(3).map_or(1, |s| s.parse().expect("ghost width"));
    let decomp = decompose(&world, nx, ny, procs)?;
    for kind in ExchangeKind::ALL {
        check(&world, decomp, w, kind)?;
    }
    if rank == 0 {
        println!(
            "halo_exchange: ok, ranks: {}, grid {nx}x{ny}, process grid {}, ghost {w}, methods: p2p, persistent, neighbor, two-phase",
            world.size(),
            decomp.grid
        );
    }
    Ok(())
}

/// Every check with ghost updates made by `kind`.
fn check(
    world: &halo::comm::Comm,
    decomp: halo::decomp::Decomposition,
    w: usize,
    kind: ExchangeKind,
) -> halo::Result<()> {
    let rank = world.rank();
    let (nx, ny) = (decomp.nx, decomp.ny);

    // 1. Every rank fills its block with its rank; edges of the domain hold -1.
    let layout = Layout::new(
        decomp,
        rank,
        w,
        Stencil::Box,
        Boundaries::all(Boundary::Dirichlet(-1.0)),
    )?
    .with_exchange(kind);
    let mut a = DistArray::from_fn(layout.clone(), |_, _| rank as f64);
    let mut ex = HaloExchange::new(world, &layout);
    let mut pending = ex.begin(&a);
    // ... cells that need no ghost could be updated here, while the messages travel, with a
    // call to progress() now and then to let MPI move them; here we only poll until all arrive.
    while !pending.progress() {}
    pending.end(&mut a);
    for d in Dir::ALL {
        let r = halo::decomp::recv_rect(layout.block.nx(), layout.block.ny(), w, d);
        let want = layout.neighbor(d).map_or(-1.0, |n| n as f64);
        for i in r.rows.clone() {
            for j in r.cols.clone() {
                assert_eq!(
                    a.local()[[i, j]],
                    want,
                    "rank {rank}: ghost ({i},{j}) towards {d:?} by {kind}"
                );
            }
        }
    }

    // 2. Periodic in both directions: every ghost cell holds the global index of the cell it
    //    stands for, wrapped around the domain; a second field (the index negated) travels in
    //    the same messages. Then again on a Cartesian communicator with reordering allowed: the
    //    blocks follow its numbering, and the exchange asks MPI for the neighbours.
    let index = |r: isize, c: isize| {
        let (r, c) = (r.rem_euclid(ny as isize), c.rem_euclid(nx as isize));
        (r * nx as isize + c) as f64
    };
    let g = decomp.grid;
    let cart = world.cartesian(&[g.py, g.px], &[true, true], true)?;
    for comm in [world, &cart] {
        let periodic = Layout::new(
            decomp,
            comm.rank(),
            w,
            Stencil::Box,
            Boundaries::all(Boundary::Periodic),
        )?
        .with_exchange(kind);
        let mut b = DistArray::from_fn(periodic.clone(), |r, c| index(r as isize, c as isize));
        let mut minus = DistArray::from_fn(periodic.clone(), |r, c| -index(r as isize, c as isize));
        HaloExchange::for_fields(comm, &periodic, 2).exchange_all(&mut [&mut b, &mut minus]);
        for ((i, j), &v) in b.local().indexed_iter() {
            let (gr, gc) = periodic.global_of(i, j);
            assert_eq!(
                (v, minus.local()[[i, j]]),
                (index(gr, gc), -index(gr, gc)),
                "rank {rank}: local ({i},{j}) = global ({gr},{gc}) by {kind}"
            );
        }
    }

    // 3. Zero-gradient (Neumann) edges: the ghost layers mirror the block across the domain's
    //    edge, layer k outside matching layer k inside; towards neighbours they hold the
    //    neighbours' cells as before.
    let mirrored = Layout::new(
        decomp,
        rank,
        w,
        Stencil::Box,
        Boundaries::all(Boundary::Neumann),
    )?
    .with_exchange(kind);
    let mut c = DistArray::from_fn(mirrored.clone(), |r, col| index(r as isize, col as isize));
    HaloExchange::new(world, &mirrored).exchange(&mut c);
    let inner = mirrored.interior();
    let (bny, bnx) = (mirrored.block.ny(), mirrored.block.nx());
    for k in 0..w {
        for i in inner.rows.clone() {
            if mirrored.is_physical(Side::West) {
                assert_eq!(c.local()[[i, w - 1 - k]], c.local()[[i, w + k]]);
            }
            if mirrored.is_physical(Side::East) {
                assert_eq!(c.local()[[i, w + bnx + k]], c.local()[[i, w + bnx - 1 - k]]);
            }
        }
        for j in inner.cols.clone() {
            if mirrored.is_physical(Side::North) {
                assert_eq!(c.local()[[w - 1 - k, j]], c.local()[[w + k, j]]);
            }
            if mirrored.is_physical(Side::South) {
                assert_eq!(c.local()[[w + bny + k, j]], c.local()[[w + bny - 1 - k, j]]);
            }
        }
    }
    for ((i, j), &v) in c.local().indexed_iter() {
        let (gr, gc) = mirrored.global_of(i, j);
        let inside = (0..ny as isize).contains(&gr) && (0..nx as isize).contains(&gc);
        if inside {
            assert_eq!(
                v,
                index(gr, gc),
                "rank {rank}: neighbour's cell at local ({i},{j})"
            );
        }
    }

    Ok(())
}
