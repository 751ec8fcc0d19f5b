//! A whole run: set up the layout, build the problem's solver, restore it from a checkpoint, drive
//! it, and sum up what happened across the ranks.

use super::driver::{drive, Driven, Monitor, Solver};
use super::options::Config;
use super::registry::{build, Built};
use super::report::{RankStats, Report};
use crate::comm::{Comm, ReduceOp};
use crate::decomp::Stencil;
use crate::error::{Error, Result};
use crate::grid::Layout;
use crate::io::{Checkpointer, RunIdentity};
use ndarray::Array2;

/// A finished run: its report, and on the root rank the gathered final state.
pub struct Solution {
    /// The summary; `checksum` is filled on the root only.
    pub report: Report,
    /// The final state on rank 0, by name (the solver's checkpointable fields, each `(ny, nx)`:
    /// `u` for the Jacobi family, `psi` then `omega` for the cavity); empty elsewhere.
    pub fields: Vec<(String, Array2<f64>)>,
    /// This rank's layout.
    pub layout: Layout,
    /// Every rank's figures, on rank 0 (`None` elsewhere).
    pub per_rank: Option<Vec<RankStats>>,
}

impl Solution {
    /// The gathered field called `name`, on rank 0.
    pub fn field(&self, name: &str) -> Option<&Array2<f64>> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, f)| f)
    }

    /// The first field of the state (the solution `u`, or the cavity's stream function), on
    /// rank 0.
    pub fn primary(&self) -> Option<&Array2<f64>> {
        self.fields.first().map(|(_, f)| f)
    }
}

/// Solves `cfg` on `comm`'s ranks, with `monitor` watching; collective. Every error is agreed,
/// so all ranks return the same `Err` together. Setting up (allocating, restoring) is not
/// counted in the report's `seconds`.
pub fn solve(comm: &Comm, cfg: &Config, monitor: &mut dyn Monitor) -> Result<Solution> {
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
    let layout = Layout::new(decomp, comm.rank(), d.ghost, stencil, bc)?;
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
    let Built { mut solver, stores } = build(comm, cfg, &layout, pool);

    let identity = RunIdentity {
        problem: cfg.problem.to_string(),
        nx: d.nx,
        ny: d.ny,
        params: cfg.state_params(),
    };
    let first = match &cfg.restart {
        Some(dir) => {
            let names: Vec<&str> = solver.state().iter().map(|(n, _)| *n).collect();
            let r = crate::io::restore(comm, dir, &identity, cfg.stop.iters, &layout, &names)?;
            solver.restore(r.fields, r.time);
            r.iters
        }
        None => 0,
    };
    let checkpointer = cfg.checkpoint.as_ref().map(|c| Checkpointer {
        every: c.every,
        dir: c.dir.clone(),
        run: identity,
    });

    comm.barrier();
    let start = Comm::wtime();
    let run = drive(
        comm,
        solver.as_mut(),
        &cfg.stop,
        checkpointer.as_ref(),
        first,
        monitor,
    )?;
    let elapsed = Comm::wtime() - start - run.untimed;
    sum_up(comm, cfg, layout, solver.as_ref(), stores, &run, elapsed)
}

/// The report, every rank's figures and the gathered state. Collective.
fn sum_up(
    comm: &Comm,
    cfg: &Config,
    layout: Layout,
    solver: &dyn Solver,
    stores: super::kernels::Stores,
    run: &Driven,
    elapsed: f64,
) -> Result<Solution> {
    let max = |x: f64| comm.all_reduce_value(x, ReduceOp::Max);
    let sum = |x: u64| comm.all_reduce_value(x, ReduceOp::Sum);
    let d = &cfg.domain;
    let done = run.done;
    let seconds = max(elapsed)?;
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
        iters: done,
        seconds,
        mcells_per_s: (d.nx * d.ny) as f64 * (done - run.first) as f64 / seconds / 1e6,
        residual: run.residual,
        converged: run.converged,
        stalled_at: run.stalled,
        checksum: 0.0,
        field_sha256: None,
        compute_seconds: max(t.compute)?,
        comm_seconds: max(t.halo + t.reduce)?,
        wait_seconds: max(t.wait)?,
        bytes_sent: sum(bytes)?,
        messages_sent: sum(messages)?,
        dt: (cfg.problem == super::Problem::Heat).then(|| cfg.heat.time_step(d)),
        time: solver.time(done),
        steps: (cfg.problem == super::Problem::Cavity).then_some(done),
        restarted_from: cfg.restart.is_some().then_some(run.first),
        error,
        per_rank: None,
        compute_imbalance: None,
    };
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
        },
    )?;
    let mut fields = Vec::new();
    for (name, f) in solver.state() {
        if let Some(g) = f.gather(comm, 0)? {
            fields.push((name.to_string(), g));
        }
    }
    if let Some((_, g)) = fields.first() {
        report.checksum = g.iter().sum();
    }
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
