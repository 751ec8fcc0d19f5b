//! The iteration loop: exchange, sweep, check, repeat.

use super::config::Config;
use super::kernels::{max_change, sweep, Stores};
use super::problems;
use super::report::Report;
use super::tiling::{run_pass, tile_shape, Pass};
use crate::comm::{Comm, ReduceOp};
use crate::decomp::Stencil;
use crate::decomp::{frame, Rect};
use crate::error::{Error, Result};
use crate::grid::{Boundary, DistArray, HaloExchange, Layout, Side};
use ndarray::Array2;

/// Where a run is, for progress displays: called after every pass of sweeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Iterations done.
    pub iter: usize,
    /// Iterations at most.
    pub iters: usize,
    /// The residual, on iterations that checked it.
    pub residual: Option<f64>,
}

/// A finished run: its report, and on the root rank the gathered final field.
pub struct Solution {
    /// The summary; `checksum` and `field_sha256` are filled on the root only.
    pub report: Report,
    /// The final `(ny, nx)` field on rank 0, `None` elsewhere.
    pub field: Option<Array2<f64>>,
    /// This rank's layout.
    pub layout: Layout,
    /// Every rank's figures, on rank 0 (`None` elsewhere).
    pub per_rank: Option<Vec<RankStats>>,
    /// The cavity's final vorticity on rank 0 (`field` holds its stream function).
    pub vorticity: Option<Array2<f64>>,
}

/// One rank's share of the work and the time it spent, for studying balance and overlap.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RankStats {
    /// The rank.
    pub rank: usize,
    /// Cells it owns.
    pub cells: usize,
    /// Seconds in stencil sweeps and residual checks.
    pub compute_seconds: f64,
    /// Seconds in halo exchanges: packing, waiting for neighbours, unpacking.
    pub halo_seconds: f64,
    /// Of those, seconds spent waiting for the neighbours' messages.
    pub wait_seconds: f64,
    /// Seconds in residual allreduces (waiting for the slowest rank included).
    pub reduce_seconds: f64,
    /// Halo messages it sent per iteration.
    pub messages_per_step: f64,
    /// Halo bytes it sent per iteration.
    pub bytes_per_step: f64,
}

/// The largest over the mean of `f` across ranks: 1 is perfect balance.
pub fn imbalance(ranks: &[RankStats], f: impl Fn(&RankStats) -> f64) -> f64 {
    let max = ranks.iter().map(&f).fold(0.0, f64::max);
    let mean = ranks.iter().map(&f).sum::<f64>() / ranks.len().max(1) as f64;
    if mean > 0.0 {
        max / mean
    } else {
        1.0
    }
}

/// Solves `cfg` on `comm`'s ranks; collective. Every error is agreed, so all ranks return the
/// same `Err` together. `progress` is called after every pass: every iteration, or every
/// `time_block` of them (pass one on rank 0 only).
///
/// With ghost width W the halos are exchanged once every W iterations: after an exchange, the
/// k-th sweep also updates the W−1−k ghost layers next to neighbours, redundantly, so the next
/// sweep has what it reads. Every cell is computed by the same formula from the same values
/// wherever it is computed, so the field is bitwise the same for every W, rank count, process grid
/// and thread count. With `time_block` T > 1, up to T of those sweeps run as one pass over
/// cache-sized tiles ([`super::tiling`]), again to the same bits.
pub fn solve(
    comm: &Comm,
    cfg: &Config,
    progress: Option<&mut dyn FnMut(Progress)>,
) -> Result<Solution> {
    // These checks depend only on the arguments and the rank count, the same on every rank, so
    // every rank fails alike without a message sent.
    cfg.validate()?;
    let decomp = crate::grid::decompose(comm, cfg.nx, cfg.ny, cfg.procs)?;
    let stencil = if cfg.ghost > 1 {
        Stencil::Box
    } else {
        Stencil::Star
    };
    let bc = problems::boundaries(cfg.problem);
    let layout = Layout::new(decomp, comm.rank(), cfg.ghost, stencil, bc)?;
    let pool = match cfg.threads {
        1 => None,
        t => Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .map_err(|e| Error::Config(format!("--threads {t}: {e}"))),
        ),
    }
    .transpose();
    // A pool can fail on one rank alone (thread limits): agree.
    let pool = comm.agree(pool)?;

    let stores = match (cfg.problem, cfg.stores) {
        (super::Problem::Cavity, _) => Stores::Cached,
        (_, Some(s)) => s,
        (_, None) => {
            // Two arrays of the local shape per rank, as many ranks as share the node's cache.
            let (r, c) = layout.local_shape();
            let node = 2 * r * c * std::mem::size_of::<f64>() * comm.node_size();
            super::memory::stores_for(node, super::memory::last_level_cache_bytes())
        }
    };

    comm.barrier();
    let start = Comm::wtime();
    let run = match cfg.problem {
        super::Problem::Cavity => super::cavity::cavity_loop(comm, cfg, &layout, progress)?,
        _ => stencil_loop(comm, cfg, &layout, stores, pool, progress)?,
    };
    let elapsed = Comm::wtime() - start - run.untimed;
    let done = run.done;

    let max = |x: f64| comm.all_reduce_value(x, ReduceOp::Max);
    let sum = |x: u64| comm.all_reduce_value(x, ReduceOp::Sum);
    let seconds = max(elapsed)?;
    let error = match problems::exact(cfg, done) {
        Some(exact) => {
            let b = &layout.block;
            let local = run
                .u
                .interior()
                .indexed_iter()
                .map(|((i, j), &x)| (x - exact(b.rows.start + i, b.cols.start + j)).abs())
                .fold(0.0, f64::max);
            Some(max(local)?)
        }
        None => None,
    };
    let mut report = Report {
        problem: cfg.problem,
        ranks: comm.size(),
        px: decomp.grid.px,
        py: decomp.grid.py,
        nx: cfg.nx,
        ny: cfg.ny,
        ghost: cfg.ghost,
        threads: cfg.threads,
        time_block: cfg.time_block,
        stores,
        iters: done,
        seconds,
        mcells_per_s: (cfg.nx * cfg.ny) as f64 * (done - run.first) as f64 / seconds / 1e6,
        residual: run.residual,
        converged: run.converged,
        checksum: 0.0,
        field_sha256: String::new(),
        compute_seconds: max(run.compute)?,
        comm_seconds: max(run.halo + run.reduce)?,
        wait_seconds: max(run.wait)?,
        bytes_sent: sum(run.bytes)?,
        messages_sent: sum(run.messages)?,
        dt: (cfg.problem == super::Problem::Heat).then(|| cfg.time_step()),
        time: run.time,
        steps: (cfg.problem == super::Problem::Cavity).then_some(done),
        restarted_from: cfg.restart.is_some().then_some(run.first),
        error,
        per_rank: None,
        compute_imbalance: None,
    };
    let per_rank = rank_stats(
        comm,
        RankStats {
            rank: comm.rank(),
            cells: layout.block.cells(),
            compute_seconds: run.compute,
            halo_seconds: run.halo,
            wait_seconds: run.wait,
            reduce_seconds: run.reduce,
            messages_per_step: run.messages as f64 / (done - run.first).max(1) as f64,
            bytes_per_step: run.bytes as f64 / (done - run.first).max(1) as f64,
        },
    )?;
    let field = run.u.gather(comm, 0)?;
    let vorticity = match &run.vorticity {
        Some(w) => w.gather(comm, 0)?,
        None => None,
    };
    if let Some(g) = &field {
        report.checksum = g.iter().sum();
        report.field_sha256 = crate::io::field_sha256(g);
    }
    Ok(Solution {
        report,
        field,
        layout,
        per_rank,
        vorticity,
    })
}

/// What an iteration loop leaves behind.
pub(crate) struct Looped {
    /// The final field (the stream function, for the cavity).
    pub u: DistArray,
    /// The cavity's final vorticity.
    pub vorticity: Option<DistArray>,
    /// Iterations done.
    pub done: usize,
    /// The last residual checked.
    pub residual: f64,
    /// Whether the tolerance was met.
    pub converged: bool,
    /// Seconds computing.
    pub compute: f64,
    /// Seconds in halo exchanges.
    pub halo: f64,
    /// Seconds in allreduces.
    pub reduce: f64,
    /// Of the halo seconds, those spent waiting for messages (in `end`, or a whole blocking
    /// exchange) rather than posting them.
    pub wait: f64,
    /// This rank's halo bytes sent.
    pub bytes: u64,
    /// This rank's halo messages sent.
    pub messages: u64,
    /// Time-dependent problems: the simulated time reached.
    pub time: Option<f64>,
    /// The iteration this run started from (not 0 after a restart).
    pub first: usize,
    /// Seconds spent outside the iterations (making the fields, writing checkpoints), left out
    /// of the loop's time.
    pub untimed: f64,
}

/// Slices of the core sweep between which an overlapped exchange is given a chance to progress.
const PROGRESS_SLICES: usize = 8;

/// The Jacobi and explicit-Euler loop of the 5-point problems.
fn stencil_loop(
    comm: &Comm,
    cfg: &Config,
    layout: &Layout,
    stores: Stores,
    pool: Option<rayon::ThreadPool>,
    mut progress: Option<&mut dyn FnMut(Progress)>,
) -> Result<Looped> {
    let setup = Comm::wtime();
    let kernel = problems::kernel(cfg);
    let f = problems::rhs(cfg, layout);
    // Heat is the one time-dependent problem here.
    let sim_time =
        |done: usize| (cfg.problem == super::Problem::Heat).then(|| cfg.time_step() * done as f64);
    let (mut u, first) = match &cfg.restart {
        Some(_) => {
            let r = super::checkpoint::restore(comm, cfg, layout, &["u"])?;
            (r.fields.into_iter().next().expect("one field"), r.iters)
        }
        None => (problems::initial(cfg, layout), 0),
    };
    let mut v = u.clone();
    let mut ex = HaloExchange::new(comm, layout);
    let neumann = Side::ALL
        .iter()
        .any(|&s| layout.is_physical(s) && layout.bc.side(s) == Boundary::Neumann);
    if cfg.time_block > 1
        && Side::ALL
            .iter()
            .any(|&s| layout.bc.side(s) == Boundary::Neumann)
    {
        // The same on every rank: the conditions are the problem's, not the rank's.
        return Err(Error::Config(format!(
            "--time-block {}: Neumann edges are mirrored after every sweep, which a tiled pass cannot do; use --time-block 1",
            cfg.time_block
        )));
    }
    let stride = layout.local_shape().1;
    let inner = layout.interior();
    let w = cfg.ghost;
    let parallel = pool.is_some();
    let in_pool = |job: &mut (dyn FnMut() + Send)| match &pool {
        Some(p) => p.install(job),
        None => job(),
    };

    let (mut compute, mut halo, mut reduce, mut wait) = (0.0, 0.0, 0.0, 0.0);
    let (mut residual, mut converged, mut done) = (f64::NAN, false, first);
    let mut first_residual = None;
    // Passes of several sweeps end wherever the field must be seen between iterations.
    let every: Vec<usize> = [Some(cfg.check_every), cfg.checkpoint_every]
        .into_iter()
        .flatten()
        .collect();
    let at: Vec<usize> = [Some(cfg.iters), cfg.fault.map(|f| f.iter)]
        .into_iter()
        .flatten()
        .collect();
    // A tile's two scratch buffers take a quarter of the core's L2 (measured best here, against
    // a half or all of it: the rows streaming in from the field need room too).
    let tile_budget = super::memory::cache_bytes(2).unwrap_or(1 << 20) / 4;
    // Mapping and writing the arrays is setup, not iteration.
    let mut untimed = Comm::wtime() - setup;
    let mut it = first;
    while it < cfg.iters {
        let steps = super::tiling::pass_len(it, cfg.time_block, w, &every, &at);
        let region = layout.grown(w - 1 - it % w);
        let check = (it + steps).is_multiple_of(cfg.check_every) || it + steps == cfg.iters;
        let mut local = (0.0, false);
        let run_sweep = |u: &DistArray, v: &mut DistArray, r: &Rect| {
            in_pool(&mut || {
                let (us, vs) = (slice(u), slice_mut(v));
                sweep(
                    kernel,
                    stores,
                    us,
                    vs,
                    &f,
                    stride,
                    r.rows.clone(),
                    r.cols.clone(),
                    parallel,
                );
            })
        };
        // A restart exchanges at once: its ghosts were not saved.
        let exchange_now = it % w == 0 || it == first;
        let t0 = Comm::wtime();
        if steps > 1 {
            // Temporal blocking: the exchange completes, then `steps` sweeps run tile by tile.
            if exchange_now {
                ex.exchange(&mut u);
            }
            let t1 = Comm::wtime();
            let regions: Vec<Rect> = (it..it + steps)
                .map(|j| layout.grown(w - 1 - j % w))
                .collect();
            let last = regions.last().expect("steps > 1");
            let pass = Pass {
                kernel,
                tile: tile_shape(last, steps, tile_budget),
                regions: &regions,
                stores,
                check: check.then(|| inner.clone()),
            };
            in_pool(&mut || {
                local = run_pass(&pass, slice(&u), slice_mut(&mut v), &f, stride, parallel);
            });
            halo += t1 - t0;
            wait += t1 - t0;
            compute += Comm::wtime() - t1;
        } else if exchange_now && cfg.overlap {
            // Update the cells that need no ghost while the halos travel, then the rest.
            let mut pending = ex.begin(&u);
            let t1 = Comm::wtime();
            let core = layout.core();
            // In slices, letting MPI move the messages between them (transports that progress
            // only inside MPI calls would otherwise leave them waiting until `end`).
            // Once the messages are in, the rest of the core goes in one sweep.
            let (mut arrived, mut polling) = (false, 0.0);
            let slice_rows = core.rows.len().div_ceil(PROGRESS_SLICES).max(1);
            let mut next = core.rows.start;
            while next < core.rows.end {
                let end = if arrived {
                    core.rows.end
                } else {
                    (next + slice_rows).min(core.rows.end)
                };
                let cols = core.cols.clone();
                run_sweep(
                    &u,
                    &mut v,
                    &Rect {
                        rows: next..end,
                        cols,
                    },
                );
                next = end;
                if !arrived {
                    // Time inside MPI is communication, not computation: it may include
                    // yielding the core to another rank.
                    let t = Comm::wtime();
                    arrived = pending.progress();
                    polling += Comm::wtime() - t;
                }
            }
            let t2 = Comm::wtime();
            pending.end(&mut u);
            if neumann {
                u.apply_boundaries();
            }
            let t3 = Comm::wtime();
            for r in frame(&region, &core) {
                run_sweep(&u, &mut v, &r);
            }
            halo += (t1 - t0) + (t3 - t2) + polling;
            wait += (t3 - t2) + polling;
            compute += (t2 - t1 - polling) + (Comm::wtime() - t3);
        } else {
            if exchange_now {
                ex.exchange(&mut u);
                if neumann {
                    // Mirror the fresh neighbour cells too (ghost rows next to a mirrored edge).
                    u.apply_boundaries();
                }
            }
            let t1 = Comm::wtime();
            run_sweep(&u, &mut v, &region);
            halo += t1 - t0;
            wait += t1 - t0;
            compute += Comm::wtime() - t1;
        }
        let t1 = Comm::wtime();
        if check && steps == 1 {
            in_pool(&mut || {
                let (us, vs) = (slice(&u), slice(&v));
                local = max_change(
                    us,
                    vs,
                    stride,
                    inner.rows.clone(),
                    inner.cols.clone(),
                    parallel,
                );
            });
        }
        if neumann {
            v.apply_boundaries();
        }
        std::mem::swap(&mut u, &mut v);
        done = it + steps;
        it = done;
        compute += Comm::wtime() - t1;
        if let Some(f) = &cfg.fault {
            let centre = (
                inner.rows.start + inner.rows.len() / 2,
                inner.cols.start + inner.cols.len() / 2,
            );
            if let Some(cell) = f.strike(comm.rank(), done, centre) {
                u.local_mut()[cell] = f64::NAN;
            }
        }
        if cfg.checkpoint_every.is_some_and(|n| done % n == 0) {
            let t = Comm::wtime();
            let time = sim_time(done).unwrap_or(0.0);
            super::checkpoint::save(comm, cfg, done, time, &[("u", &u)])?;
            untimed += Comm::wtime() - t;
        }
        let t2 = Comm::wtime();
        let mut seen = None;
        if check {
            let mut global = [0.0; 2];
            comm.all_reduce_into(
                &[local.0, f64::from(u8::from(local.1))],
                &mut global,
                ReduceOp::Max,
            )?;
            reduce += Comm::wtime() - t2;
            if global[1] > 0.0 {
                return Err(diverged(
                    comm,
                    &u,
                    &format!("{}: the field", cfg.problem),
                    done,
                ));
            }
            if first_residual.is_some_and(|r0: f64| global[0] > 1e12 * r0) {
                return Err(Error::Diverged(format!(
                    "{}: the residual grew from {:.3e} to {:.3e} by iteration {done}: the iteration diverges",
                    cfg.problem,
                    first_residual.unwrap_or(0.0),
                    global[0]
                )));
            }
            first_residual = first_residual.or(Some(global[0]));
            residual = global[0];
            seen = Some(residual);
        }
        if let Some(p) = progress.as_mut() {
            p(Progress {
                iter: done,
                iters: cfg.iters,
                residual: seen,
            });
        }
        if seen.is_some_and(|r| cfg.tol.is_some_and(|tol| r <= tol)) {
            converged = true;
            break;
        }
    }
    Ok(Looped {
        bytes: ex.bytes_sent(),
        messages: ex.messages_sent(),
        u,
        vorticity: None,
        done,
        residual,
        converged,
        compute,
        halo,
        reduce,
        wait,
        time: sim_time(done),
        first,
        untimed,
    })
}

/// The error for a field gone NaN or infinite, agreed on every rank: it names the iteration, the
/// lowest rank holding a bad cell and that cell's global row and column. Collective.
pub(crate) fn diverged(comm: &Comm, field: &DistArray, what: &str, done: usize) -> Error {
    let layout = field.layout();
    let first = field
        .interior()
        .indexed_iter()
        .find(|(_, x)| !x.is_finite())
        .map(|((i, j), &x)| (layout.block.rows.start + i, layout.block.cols.start + j, x));
    let local = match first {
        Some((r, c, x)) => Err(Error::Diverged(format!(
            "{what} became {x} by iteration {done}, first at cell (row {r}, column {c})"
        ))),
        None => Ok(()),
    };
    match comm.agree(local) {
        Err(e) => e,
        Ok(()) => Error::Diverged(format!("{what} became NaN or infinite by iteration {done}")),
    }
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
            })
            .collect()
    }))
}

fn slice(a: &DistArray) -> &[f64] {
    a.local().as_slice().expect("ghosted arrays are contiguous")
}

fn slice_mut(a: &mut DistArray) -> &mut [f64] {
    a.local_mut()
        .as_slice_mut()
        .expect("ghosted arrays are contiguous")
}
