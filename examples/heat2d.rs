//! A heat solver written only against `halo`'s public API, as a user would write their own:
//! explicit steps of `u_t = ∇²u` on the unit square, zero on the edges, from `sin(πx)·sin(πy)`.
//! Each step overlaps the halo exchange with the update of the cells that need no ghost, then
//! updates the block's outer ring. The answer is checked against the exact decay of the discrete
//! sine mode, which the scheme follows to rounding error.
//!
//! ```text
//! mpirun -n 4 target/debug/examples/heat2d            # 64x48 grid, 200 steps
//! mpirun -n 2 target/debug/examples/heat2d 200 100 500
//! ```

use halo::comm::ReduceOp;
use halo::decomp::Stencil;
use halo::grid::{decompose, Boundaries, Boundary, DistArray, HaloExchange, Layout};
use std::f64::consts::PI;

fn main() -> halo::Result<()> {
    let mpi = halo::comm::init()?;
    let world = mpi.world();
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.parse().expect("a number"))
        .collect();
    let (nx, ny, steps) = (
        args.first().copied().unwrap_or(64),
        args.get(1).copied().unwrap_or(48),
        args.get(2).copied().unwrap_or(200),
    );

    // The grid: nx × ny interior points, spacing h, walls in the ghost layer.
    let (hx, hy) = (1.0 / (nx + 1) as f64, 1.0 / (ny + 1) as f64);
    let dt = 0.2 / (1.0 / (hx * hx) + 1.0 / (hy * hy)); // 40% of the stability limit
    let (rx, ry) = (dt / (hx * hx), dt / (hy * hy));
    let mode =
        |r: usize, c: usize| (PI * (c + 1) as f64 * hx).sin() * (PI * (r + 1) as f64 * hy).sin();

    let decomp = decompose(&world, nx, ny, None)?;
    let layout = Layout::new(
        decomp,
        world.rank(),
        1,
        Stencil::Star,
        Boundaries::all(Boundary::Dirichlet(0.0)),
    )?;
    let mut u = DistArray::from_fn(layout.clone(), mode);
    let mut v = u.clone();
    let mut halo = HaloExchange::new(&world, &layout);
    let inner = layout.interior();
    let (r0, r1, c0, c1) = (
        inner.rows.start,
        inner.rows.end,
        inner.cols.start,
        inner.cols.end,
    );

    let step = |u: &ndarray::Array2<f64>, v: &mut ndarray::Array2<f64>, i: usize, j: usize| {
        let c = u[[i, j]];
        v[[i, j]] = c
            + rx * ((u[[i, j - 1]] + u[[i, j + 1]]) - 2.0 * c)
            + ry * ((u[[i - 1, j]] + u[[i + 1, j]]) - 2.0 * c);
    };
    let start = halo::comm::Comm::wtime();
    for _ in 0..steps {
        let pending = halo.begin(&u);
        // Cells whose neighbours are all inside the block: no ghost needed.
        for i in r0 + 1..r1.saturating_sub(1) {
            for j in c0 + 1..c1.saturating_sub(1) {
                step(u.local(), v.local_mut(), i, j);
            }
        }
        pending.end(&mut u);
        // The block's outer ring, which reads ghosts.
        for i in r0..r1 {
            for j in c0..c1 {
                if i == r0 || i + 1 == r1 || j == c0 || j + 1 == c1 {
                    step(u.local(), v.local_mut(), i, j);
                }
            }
        }
        std::mem::swap(&mut u, &mut v);
    }
    let seconds = world.all_reduce_value(halo::comm::Comm::wtime() - start, ReduceOp::Max)?;

    // The discrete sine mode decays by exactly g = 1 − 4rx·sin²(πhx/2) − 4ry·sin²(πhy/2) a step.
    let g =
        1.0 - 4.0 * rx * (PI * hx / 2.0).sin().powi(2) - 4.0 * ry * (PI * hy / 2.0).sin().powi(2);
    let decay = g.powi(steps as i32);
    let b = &layout.block;
    let local = u
        .interior()
        .indexed_iter()
        .map(|((i, j), &x)| (x - decay * mode(b.rows.start + i, b.cols.start + j)).abs())
        .fold(0.0, f64::max);
    let err = world.all_reduce_value(local, ReduceOp::Max)?;
    assert!(
        err < 1e-12 * (steps as f64 + 1.0),
        "error {err:e} after {steps} steps"
    );
    if world.rank() == 0 {
        println!(
            "heat2d: ok, ranks: {}, grid {nx}x{ny}, {steps} steps, amplitude {decay:.6e}, max error {err:.1e}, {:.1} Mcells/s",
            world.size(),
            (nx * ny * steps) as f64 / seconds / 1e6
        );
    }
    Ok(())
}
