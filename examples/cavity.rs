//! The lid-driven cavity from the library's building blocks: the cavity's solver on a layout of
//! one's own, run by the library's driver to a steady state, checked against Ghia, Ghia & Shin
//! (1982) along the vertical centreline, and drawn as the speed with streamlines into
//! `cavity.png`.
//!
//! ```text
//! mpirun -n 2 target/release/examples/cavity           # 63x63 at Re = 100
//! mpirun -n 4 target/release/examples/cavity 127 c.png # Ghia's 129x129 grid, walls included
//! ```

use halo::decomp::Stencil;
use halo::grid::{decompose, Boundaries, Boundary, Layout};
use halo::solver::cavity::{centerline_u, velocity_field, CavitySolver, GHIA_RE100_U};
use halo::solver::{drive, AndersonParams, CavityParams, Solver, Start, Stopping, Unwatched};

fn main() -> halo::Result<()> {
    let mpi = halo::comm::init()?;
    let world = mpi.world();
    let n: usize = std::env::args()
        .nth(1)
        .map_or(63, |s| s.parse().expect("N"));
    let picture = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "cavity.png".into());
    let re = 100.0;

    // ψ and ω on a grid split over the ranks; the walls are the ghost layer, ψ = 0 there.
    let decomp = decompose(&world, n, n, None)?;
    let layout = Layout::new(
        decomp,
        world.rank(),
        1,
        Stencil::Star,
        Boundaries::all(Boundary::Dirichlet(0.0)),
    )?;
    // Anderson acceleration of the time steps: the same steady state in fewer steps.
    let params = CavityParams {
        re,
        sweeps: 2,
        anderson: Some(AndersonParams::default()),
    };
    let mut cavity = CavitySolver::new(&world, &layout, &params)?;
    // To a steady state: max |ω' − ω|/dt below 1e-3, checked every 50 steps, counted from
    // simulated time 1 on, at most a million steps.
    let stop = Stopping {
        iters: 1_000_000,
        ..CavityParams::steady_state(1e-3, 50)
    };
    let run = drive(
        &world,
        &mut cavity,
        &stop,
        None,
        &Start::default(),
        &mut Unwatched,
    )?;
    assert!(
        run.converged,
        "no steady state (stalled at {:?})",
        run.stalled
    );

    if let Some(psi) = cavity.psi().gather(&world, 0)? {
        let u = centerline_u(&psi);
        let interpolate = |y: f64| {
            let k = u.iter().position(|p| p.0 >= y).expect("inside");
            if k == 0 || u[k].0 == y {
                return u[k].1;
            }
            let ((y0, u0), (y1, u1)) = (u[k - 1], u[k]);
            u0 + (u1 - u0) * (y - y0) / (y1 - y0)
        };
        let worst = GHIA_RE100_U
            .iter()
            .map(|&(y, g)| (interpolate(y) - g).abs())
            .fold(0.0, f64::max);
        assert!(worst <= 0.02, "centreline u differs from Ghia's by {worst}");

        let (uu, vv) = velocity_field(&psi);
        let speed = ndarray::Array2::from_shape_fn(uu.dim(), |(i, j)| uu[[i, j]].hypot(vv[[i, j]]));
        let title = format!("cavity Re {re}, {n}x{n}: speed and streamlines");
        let png = halo::io::heatmap_with_contours_png(&speed, Some((&psi, 16)), &title)?;
        halo::io::write_atomic(std::path::Path::new(&picture), &png)?;
        println!(
            "cavity: ok, ranks: {}, {n}x{n} at Re {re}: steady after {} steps (t = {:.2}), centreline u within {worst:.4} of Ghia; wrote {picture}",
            world.size(),
            run.done,
            cavity.time(run.done).unwrap_or(0.0)
        );
    }
    Ok(())
}
