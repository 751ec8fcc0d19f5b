//! A whole run: set up the layout, build the problem's solver, restore it from a checkpoint, drive
//! it, and sum up what happened across the ranks.

use super::driver::{drive, Driven, Monitor, Solver, Start};
use super::options::{Config, Topology};
use super::registry::{build, Built};
use super::report::{RankStats, Report};
use crate::comm::{Comm, ReduceOp};
use crate::decomp::{Decomposition, Stencil};
use crate::error::{Error, Result};
use crate::grid::{Boundaries, DistArray, Layout};
use crate::io::{Checkpointer, RunIdentity};

/// A finished run: its report, and the final state, distributed as the run left it.
pub struct Solution {
    /// The summary; `checksum` and `field_sha256` are filled on the root only.
    pub report: Report,
    /// The run's result on every rank, by name, each rank its block: `u` (the solution), or the
    /// cavity's `psi` then `omega`. Ghost cells are not up to date: exchange them before reading
    /// them. No rank holds the whole field (see [`crate::io::distributed_sha256`],
    /// [`crate::grid::DistArray::gather`] to bring it somewhere).
    pub fields: Vec<(String, DistArray)>,
    /// This rank's layout.
    pub layout: Layout,
    /// Every rank's figures, on rank 0 (`None` elsewhere).
    pub per_rank: Option<Vec<RankStats>>,
}

impl Solution {
    /// The field called `name`, distributed.
    pub fn field(&self, name: &str) -> Option<&DistArray> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, f)| f)
    }

    /// The first field of the result (the solution `u`, or the cavity's stream function).
    pub fn primary(&self) -> &DistArray {
        &self.fields[0].1
    }
}

/// Solves `cfg` on `comm`'s ranks, with `monitor` watching; collective. Every error is agreed,
/// so all ranks return the same `Err` together. Setting up (allocating, restoring) is not
/// counted in the report's `seconds`.
///
/// Before anything large is allocated, each rank's memory at its peak is estimated (the solver's
/// arrays, the bands that checkpoints and fingerprints move) and checked against its
/// node's memory and `ulimit -v` ([`crate::node::ensure_fits`]): a run that cannot fit is refused
/// as [`Error::Invalid`] on the `grid`, before it starts.
pub fn solve(comm: &Comm, cfg: &Config, monitor: &mut dyn Monitor) -> Result<Solution> {
    solve_reserving(comm, cfg, monitor, &|_, _| 0)
}

/// The Cartesian communicator a run of `cfg` on `comm`'s ranks uses with
/// [`Topology::Cart`]: `MPI_Cart_create` over its process grid (dims `[py, px]`, periodic where
/// the problem is), with reorder allowed, so a rank's number in it may differ from its number in
/// `comm`. Collective. Run [`solve`] on it and write outputs through it: the run's blocks follow
/// its numbering.
pub fn cartesian(comm: &Comm, cfg: &Config) -> Result<Comm> {
    let d = &cfg.domain;
    let decomp = crate::grid::decompose(comm, d.nx, d.ny, d.procs)?;
    let bc = super::problems::boundaries(cfg.problem);
    let g = decomp.grid;
    comm.cartesian(&[g.py, g.px], &[bc.periodic_y(), bc.periodic_x()], true)
}

/// Checks that `comm` is the Cartesian communicator [`cartesian`] makes for `decomp`; the same
/// on every rank.
fn check_cartesian(comm: &Comm, decomp: &Decomposition, bc: &Boundaries) -> Result<()> {
    let want = (
        vec![decomp.grid.py, decomp.grid.px],
        vec![bc.periodic_y(), bc.periodic_x()],
    );
    match comm.cart_dims() {
        Some(have) if have == want => Ok(()),
        have => Err(Error::Config(format!(
            "the Cartesian topology needs a communicator over the {} process grid (from halo::solver::cartesian); this one has {}",
            decomp.grid,
            have.map_or("no topology".to_string(), |(dims, _)| format!("dims {dims:?}"))
        ))),
    }
}

/// [`solve`], for a caller that will hold `after(decomp, rank)` bytes more on each rank once it
/// returns, beside the result's fields (to write outputs from them): the memory check counts them
/// too.
pub fn solve_reserving(
    comm: &Comm,
    cfg: &Config,
    monitor: &mut dyn Monitor,
    after: After<'_>,
) -> Result<Solution> {
    // These checks depend only on the arguments and the rank count, the same on every rank, so
    // every rank fails alike without a message sent.
    cfg.validate()?;
    let d = &cfg.domain;
    let decomp = crate::grid::decompose(comm, d.nx, d.ny, d.procs)?;
    let stencil = if d.ghost > 1 {
        Stencil::Box
    } else {
        Stencil::Star
    };
    let bc = super::problems::boundaries(cfg.problem);
    if d.topology == Topology::Cart {
        check_cartesian(comm, &decomp, &bc)?;
    }
    let layout = Layout::new(decomp, comm.rank(), d.ghost, stencil, bc)?.with_exchange(d.exchange);
    let pool = match d.threads {
        1 => None,
        t => Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .map_err(|e| Error::Config(format!("{t} threads: {e}"))),
        ),
    }
    .transpose();
    // A pool can fail on one rank alone (thread limits): agree.
    let pool = comm.agree(pool)?;
    let need = |rank| bytes_needed(cfg, &layout.decomp, rank, after);
    let demand = crate::node::Demand {
        quantity: "grid",
        value: format!("{}x{}", d.nx, d.ny),
        mine: need(comm.rank()),
        per_rank: (1..comm.size()).map(need).max().unwrap_or(need(0)),
        root: need(0),
    };
    crate::node::ensure_fits(comm, &demand)?;
    comm.barrier();
    let setup_start = Comm::wtime();
    let Built { mut solver, stores } = build(comm, cfg, &layout, pool)?;
    let setup = Comm::wtime() - setup_start;

    let identity = RunIdentity {
        problem: cfg.problem.to_string(),
        nx: d.nx,
        ny: d.ny,
        params: cfg.state_params(),
    };
    let mut read = (0, 0.0);
    let from = match &cfg.restart {
        Some(dir) => {
            let names: Vec<&str> = solver.state().iter().map(|(n, _)| *n).collect();
            let t = Comm::wtime();
            let mut fields = solver.state_mut();
            let r = crate::io::restore(comm, dir, &identity, cfg.stop.iters, &names, &mut fields)?;
            read = (r.bytes, Comm::wtime() - t);
            solver.restored(r.time)?;
            Start {
                done: r.iters,
                state: r.driver,
            }
        }
        None => Start::default(),
    };
    let checkpointer = cfg.checkpoint.as_ref().map(|c| Checkpointer {
        every: c.every,
        dir: c.dir.clone(),
        run: identity,
        keep: c.keep,
    });
    if let Some(c) = &checkpointer {
        c.check_dir(comm)?;
    }

    comm.barrier();
    let start = Comm::wtime();
    let run = drive(
        comm,
        solver.as_mut(),
        &cfg.stop,
        checkpointer.as_ref(),
        &from,
        monitor,
    )?;
    let elapsed = Comm::wtime() - start - run.untimed;
    sum_up(
        comm,
        cfg,
        layout,
        solver,
        stores,
        &run,
        Clocks {
            setup,
            elapsed,
            read,
        },
    )
}

/// The bytes `rank` holds at its peak solving `cfg` over `decomp`, with `after(decomp, rank)`
/// more once the run is over (see [`solve_reserving`]).
///
/// With L the bytes of a ghosted array, B of a block without ghosts, W of a band of the global
/// array ([`crate::grid::Bands`]), every rank holds its
/// solver's arrays ([`super::registry::footprint`]) and the halo exchange's buffers (four faces
/// and corners of `ghost` layers, sent and received) throughout and, beside them, for anything
/// that moves bands (a checkpoint written or read, the final field's fingerprints) the band it
/// assembles, its bytes, the pieces it receives and sends: 4·W + min(B, P·W) on every rank alike,
/// with P ranks (a restart reads into the solver's own arrays). After the run the solver's arrays
/// go but its result (the solution; ψ and ω for the cavity: r fields), r·L, and
/// `after`. No rank holds a global field.
pub(crate) fn bytes_needed(
    cfg: &Config,
    decomp: &Decomposition,
    rank: usize,
    after: After<'_>,
) -> u64 {
    let fp = super::registry::footprint(cfg);
    let arrays = fp.arrays as u64;
    let (rows, cols) = decomp.block(rank).shape();
    let b = rows as u64 * cols as u64 * 8;
    let w = 2 * cfg.domain.ghost as u64;
    let l = (rows as u64 + w) * (cols as u64 + w) * 8;
    let bands = crate::grid::Bands::new(decomp.nx, decomp.ny);
    let band = 8 * (bands.rows * decomp.nx) as u64;
    let moving = 4 * band + b.min(decomp.grid.size() as u64 * band);
    // The halo exchange's send and receive buffers: at most four faces and four corners of
    // `ghost` layers each way (wide when the ghost width is).
    let gw = cfg.domain.ghost as u64;
    let exchange = 2 * (2 * gw * (rows as u64 + cols as u64) + 4 * gw * gw) * 8;
    let during = arrays * l + exchange + moving;
    let results = if cfg.problem == super::Problem::Cavity {
        2
    } else {
        1
    };
    during.max(results * l + moving.max(after(decomp, rank)))
}

/// What a caller holds on each rank after [`solve_reserving`] returns, beside the result's
/// fields: `after(decomp, rank)` bytes.
pub type After<'a> = &'a dyn Fn(&Decomposition, usize) -> u64;

/// This rank's times around the iteration loop, for the report.
struct Clocks {
    /// Seconds setting up the solver.
    setup: f64,
    /// Seconds in the loop (checkpoints and hooks left out).
    elapsed: f64,
    /// The checkpoint restarted from: its bytes and the seconds reading it.
    read: (u64, f64),
}

/// The report, every rank's figures and the result's fields, fingerprinted. Collective.
fn sum_up(
    comm: &Comm,
    cfg: &Config,
    layout: Layout,
    solver: Box<dyn Solver>,
    stores: super::kernels::Stores,
    run: &Driven,
    clocks: Clocks,
) -> Result<Solution> {
    let Clocks {
        setup,
        elapsed,
        read: (bytes_read, read_seconds),
    } = clocks;
    let max = |x: f64| comm.all_reduce_value(x, ReduceOp::Max);
    let sum = |x: u64| comm.all_reduce_value(x, ReduceOp::Sum);
    let d = &cfg.domain;
    let done = run.done;
    let method = cfg.solving.method;
    let linear = method != super::Method::Jacobi;
    // What the user waits for: for a linear solve, the setup too.
    let setup_seconds = max(setup)?;
    let seconds = max(elapsed + if linear { setup } else { 0.0 })?;
    let work_units = match solver.work_units() {
        Some(w) => Some(max(w)?),
        None => None,
    };
    let levels = match solver.levels() {
        Some(mut levels) => {
            let times: Vec<f64> = levels.iter().map(|l| l.seconds).collect();
            let slowest = comm.all_reduce(&times, ReduceOp::Max)?;
            for (l, t) in levels.iter_mut().zip(slowest) {
                l.seconds = t;
            }
            Some(levels)
        }
        None => None,
    };
    let error = match solver.local_error(done) {
        Some(e) => Some(max(e)?),
        None => None,
    };
    let (bytes, messages) = solver.traffic();
    let t = &run.time;
    let decomp = &layout.decomp;
    let mut report = Report {
        problem: cfg.problem,
        ranks: comm.size(),
        px: decomp.grid.px,
        py: decomp.grid.py,
        nx: d.nx,
        ny: d.ny,
        ghost: d.ghost,
        threads: d.threads,
        time_block: cfg.sweeps.time_block,
        stores,
        exchange: d.exchange.to_string(),
        topology: d.topology.to_string(),
        iters: done,
        seconds,
        mcells_per_s: (d.nx * d.ny) as f64 * (done - run.first) as f64 / seconds / 1e6,
        residual: run.residual,
        converged: run.converged,
        stalled_at: run.stalled,
        checksum: None,
        field_sha256: None,
        field_digest: None,
        compute_seconds: max(t.compute)?,
        comm_seconds: max(t.halo + t.reduce)?,
        wait_seconds: max(t.wait)?,
        bytes_sent: sum(bytes)?,
        messages_sent: sum(messages)?,
        dt: (cfg.problem == super::Problem::Heat).then(|| cfg.heat.time_step(d)),
        time: solver.time(done),
        steps: (cfg.problem == super::Problem::Cavity).then_some(done),
        anderson: cfg
            .cavity
            .anderson
            .filter(|_| cfg.problem == super::Problem::Cavity),
        restarted_from: cfg.restart.is_some().then_some(run.first),
        error,
        solver: matches!(
            cfg.problem,
            super::Problem::Laplace | super::Problem::Poisson
        )
        .then_some(method),
        setup_seconds: linear.then_some(setup_seconds),
        relative_residual: linear.then_some(run.residual),
        work_units,
        levels,
        per_rank: None,
        compute_imbalance: None,
        memory_imbalance: None,
        cavity: None,
        checkpoint_io: None,
    };
    let (written, bytes_written, write_seconds) = run.checkpoints;
    if written > 0 || bytes_read > 0 {
        report.checkpoint_io = Some(super::CheckpointIo {
            written,
            bytes_written,
            write_seconds: max(write_seconds)?,
            bytes_read,
            read_seconds: max(read_seconds)?,
        });
    }
    let per_step = |x: u64| x as f64 / (done - run.first).max(1) as f64;
    let per_rank = rank_stats(
        comm,
        RankStats {
            rank: comm.rank(),
            cells: layout.block.cells(),
            compute_seconds: t.compute,
            halo_seconds: t.halo,
            wait_seconds: t.wait,
            reduce_seconds: t.reduce,
            messages_per_step: per_step(messages),
            bytes_per_step: per_step(bytes),
            // Now, with the solver and its arrays still alive.
            peak_rss_bytes: crate::node::peak_rss().unwrap_or(0),
        },
    )?;
    // The solver's other arrays go now: outputs have the memory they held.
    let fields: Vec<(String, DistArray)> = solver
        .into_fields()
        .into_iter()
        .map(|(n, f)| (n.to_string(), f))
        .collect();
    let primary = &fields[0].1;
    if cfg.fingerprints == super::Fingerprints::Both {
        if let Some(print) = crate::io::distributed_sha256(comm, primary, 0)? {
            report.checksum = Some(print.sum);
            report.field_sha256 = Some(print.sha256);
        }
    }
    report.field_digest = Some(crate::io::band_digest(comm, primary)?);
    Ok(Solution {
        report,
        fields,
        layout,
        per_rank,
    })
}

/// Every rank's figures, gathered on rank 0 (`None` elsewhere).
fn rank_stats(comm: &Comm, mine: RankStats) -> Result<Option<Vec<RankStats>>> {
    let row = [
        mine.cells as f64,
        mine.compute_seconds,
        mine.halo_seconds,
        mine.wait_seconds,
        mine.reduce_seconds,
        mine.messages_per_step,
        mine.bytes_per_step,
        // Exact: a u64 below 2^53 (8 PiB) converts to f64 and back unchanged.
        mine.peak_rss_bytes as f64,
    ];
    let all = comm.gather(0, &row)?;
    Ok(all.map(|v| {
        v.chunks(row.len())
            .enumerate()
            .map(|(rank, r)| RankStats {
                rank,
                cells: r[0] as usize,
                compute_seconds: r[1],
                halo_seconds: r[2],
                wait_seconds: r[3],
                reduce_seconds: r[4],
                messages_per_step: r[5],
                bytes_per_step: r[6],
                peak_rss_bytes: r[7] as u64,
            })
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomp::ProcGrid;
    use crate::solver::{Checkpointing, Domain, Problem};

    fn config(problem: Problem, nx: usize, ny: usize) -> Config {
        Config {
            problem,
            domain: Domain {
                nx,
                ny,
                ghost: 1,
                ..Domain::default()
            },
            ..Config::default()
        }
    }

    #[test]
    fn the_need_counts_each_solvers_arrays_and_the_bands_it_moves() {
        // The case of #9: 100000x100000 over 1x2 ranks, whose first array failed to allocate
        // with "memory allocation of 40002400032 bytes failed".
        let decomp = Decomposition::new(100_000, 100_000, ProcGrid::new(1, 2).unwrap()).unwrap();
        let (l, g) = (40_002_400_032u64, 80_000_000_000u64);
        // The exchange's buffers: two faces of 100000 and two of 50000 cells, one layer, and
        // four corners, each sent and received.
        let x = 2 * (2 * (50_000 + 100_000) + 4) * 8;
        // Bands of 5 rows (4 MB): one assembled, its bytes, pieces both ways, two bands a round.
        let m = 4 * 4_000_000 + 2 * 4_000_000;
        let none: After<'_> = &|_, _| 0;
        let need = |cfg: &Config, rank, after| bytes_needed(cfg, &decomp, rank, after);
        let laplace = config(Problem::Laplace, 100_000, 100_000);
        assert_eq!(need(&laplace, 1, none), 2 * l + x + m);
        assert_eq!(need(&laplace, 0, none), 2 * l + x + m);
        // Outputs count after the solver's arrays are gone, beside the result.
        let outputs: After<'_> = &|_, rank| if rank == 0 { 5 * g } else { 0 };
        assert_eq!(need(&laplace, 1, outputs), 2 * l + x + m);
        assert_eq!(need(&laplace, 0, outputs), l + 5 * g);
        let poisson = config(Problem::Poisson, 100_000, 100_000);
        assert_eq!(need(&poisson, 1, none), 3 * l + x + m);
        let cavity = config(Problem::Cavity, 100_000, 100_000);
        assert_eq!(need(&cavity, 0, none), 3 * l + x + m);
        let checkpointed = Config {
            checkpoint: Some(Checkpointing {
                every: 10,
                dir: "ckpt".into(),
                keep: None,
            }),
            ..cavity.clone()
        };
        assert_eq!(need(&checkpointed, 0, none), 3 * l + x + m);
        assert_eq!(need(&checkpointed, 1, none), 3 * l + x + m);
        let restarted = Config {
            restart: Some("ckpt".into()),
            ..laplace
        };
        assert_eq!(need(&restarted, 1, none), 2 * l + x + m);
        assert_eq!(need(&restarted, 0, none), 2 * l + x + m);
    }
}
