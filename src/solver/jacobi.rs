//! The Jacobi family: Jacobi sweeps of Laplace and Poisson, explicit Euler steps of heat. One
//! pass is one sweep, or up to `time_block` sweeps over cache-sized tiles ([`super::tiling`]).
//!
//! With ghost width W the halos are exchanged once every W iterations: after an exchange, the
//! k-th sweep also updates the W−1−k ghost layers next to neighbours, redundantly, so the next
//! sweep has what it reads. Every cell is computed by the same formula from the same values
//! wherever it is computed, so the field is bitwise the same for every W, rank count, process grid
//! and thread count. With `time_block` T > 1, up to T of those sweeps run as one pass over
//! cache-sized tiles, again to the same bits.

use super::driver::{Advanced, LocalResidual, Pass, Solver, Timings};
use super::kernels::{max_change, sweep, Kernel, Stores};
use super::problems::StencilProblem;
use super::tiling::{run_pass, tile_shape};
use crate::comm::Comm;
use crate::decomp::{frame, Rect};
use crate::error::Result;
use crate::grid::{DistArray, HaloExchange, Layout};

/// Slices of the core sweep between which an overlapped exchange is given a chance to progress.
const PROGRESS_SLICES: usize = 8;

/// The sweeps in the pass that starts after iteration `it`: at most `time_block`, ending at the
/// next exchange (the end of the ghost period of width `ghost`) and at `until`, where the driver
/// needs to see the field.
fn pass_steps(it: usize, time_block: usize, ghost: usize, until: usize) -> usize {
    time_block.min(ghost - it % ghost).min(until - it).max(1)
}

/// What a sweep needs besides the two arrays: the rule, the right-hand side, where it runs.
struct Sweeper {
    kernel: Kernel,
    stores: Stores,
    /// The right-hand side over the ghosted array, or empty.
    f: Vec<f64>,
    /// Columns of the ghosted array.
    stride: usize,
    pool: Option<rayon::ThreadPool>,
    /// Bytes a tile's two scratch buffers may take.
    tile_budget: usize,
}

impl Sweeper {
    /// Runs `job` on the pool, or here.
    fn run(&self, job: impl FnOnce() + Send) {
        match &self.pool {
            Some(p) => p.install(job),
            None => job(),
        }
    }

    /// One sweep of `u` into `v` over `r`.
    fn sweep(&self, u: &DistArray, v: &mut DistArray, r: &Rect) {
        let parallel = self.pool.is_some();
        self.run(|| {
            sweep(
                self.kernel,
                self.stores,
                u.as_slice(),
                v.as_slice_mut(),
                &self.f,
                self.stride,
                r.rows.clone(),
                r.cols.clone(),
                parallel,
            )
        });
    }

    /// The largest change from `u` to `v` over `r`, and whether a value of `v` there is bad.
    fn change(&self, u: &DistArray, v: &DistArray, r: &Rect) -> (f64, bool) {
        let parallel = self.pool.is_some();
        let mut local = (0.0, false);
        self.run(|| {
            local = max_change(
                u.as_slice(),
                v.as_slice(),
                self.stride,
                r.rows.clone(),
                r.cols.clone(),
                parallel,
            )
        });
        local
    }

    /// One sweep per region as one pass over tiles; the last sweep's change over `check`.
    fn tiled(
        &self,
        regions: &[Rect],
        check: Option<Rect>,
        u: &DistArray,
        v: &mut DistArray,
    ) -> (f64, bool) {
        let last = regions.last().expect("a pass has sweeps");
        let pass = super::tiling::Pass {
            kernel: self.kernel,
            tile: tile_shape(last, regions.len(), self.tile_budget),
            regions,
            stores: self.stores,
            check,
        };
        let parallel = self.pool.is_some();
        let mut local = (0.0, false);
        self.run(|| {
            local = run_pass(
                &pass,
                u.as_slice(),
                v.as_slice_mut(),
                &self.f,
                self.stride,
                parallel,
            )
        });
        local
    }
}

/// A Jacobi-family solver on one rank's block.
pub struct Jacobi {
    stencil: StencilProblem,
    layout: Layout,
    sweeper: Sweeper,
    /// The field, and the array the next sweep writes.
    u: DistArray,
    v: DistArray,
    ex: HaloExchange,
    overlap: bool,
    time_block: usize,
    /// The ghosts hold nothing yet (a fresh start or a restart): exchange before the next sweep.
    stale: bool,
}

impl Jacobi {
    /// The solver for `stencil` on `layout`, from the problem's starting field. Collective (it
    /// plans the halo exchange); a rank that cannot allocate its arrays is an error on every
    /// rank. `pool` runs the sweeps when given; `stores`, `overlap` and `time_block` choose how
    /// (never what) they compute.
    pub fn new(
        comm: &Comm,
        layout: &Layout,
        stencil: StencilProblem,
        pool: Option<rayon::ThreadPool>,
        stores: Stores,
        overlap: bool,
        time_block: usize,
    ) -> Result<Self> {
        // Every array before the first collective, so that all ranks leave together if one
        // rank's allocator says no.
        let arrays = stencil.initial(layout).and_then(|u| {
            let v = u.try_clone()?;
            Ok((u, v, stencil.rhs(layout)?))
        });
        let (u, v, f) = comm.agree(arrays)?;
        Ok(Jacobi {
            sweeper: Sweeper {
                kernel: stencil.kernel(),
                stores,
                f,
                stride: layout.local_shape().1,
                pool,
                // A tile's two scratch buffers take a quarter of the core's L2 (measured best
                // here, against a half or all of it: the rows streaming in from the field need
                // room too).
                tile_budget: super::memory::cache_bytes(2).unwrap_or(1 << 20) / 4,
            },
            v,
            u,
            stencil,
            layout: layout.clone(),
            ex: HaloExchange::new(comm, layout),
            overlap,
            time_block,
            stale: true,
        })
    }

    /// One sweep over `region` with the exchange in flight: the cells that need no ghost first,
    /// in slices between which MPI may move the messages, then the frame around them.
    fn overlapped_sweep(&mut self, region: &Rect, time: &mut Timings) {
        let t0 = Comm::wtime();
        let core = self.layout.core();
        let mut pending = self.ex.begin(&self.u);
        let t1 = Comm::wtime();
        // Transports that progress only inside MPI calls would otherwise leave the messages
        // waiting until `end`. Once they are in, the rest of the core goes in one sweep.
        let (mut arrived, mut polling) = (false, 0.0);
        let slice_rows = core.rows.len().div_ceil(PROGRESS_SLICES).max(1);
        let mut next = core.rows.start;
        while next < core.rows.end {
            let end = if arrived {
                core.rows.end
            } else {
                (next + slice_rows).min(core.rows.end)
            };
            let rows = Rect {
                rows: next..end,
                cols: core.cols.clone(),
            };
            self.sweeper.sweep(&self.u, &mut self.v, &rows);
            next = end;
            if !arrived {
                // Time inside MPI is communication, not computation: it may include yielding
                // the core to another rank.
                let t = Comm::wtime();
                arrived = pending.progress();
                polling += Comm::wtime() - t;
            }
        }
        let t2 = Comm::wtime();
        pending.end(&mut self.u);
        let t3 = Comm::wtime();
        for r in frame(region, &core) {
            self.sweeper.sweep(&self.u, &mut self.v, &r);
        }
        time.halo += (t1 - t0) + (t3 - t2) + polling;
        time.wait += (t3 - t2) + polling;
        time.compute += (t2 - t1 - polling) + (Comm::wtime() - t3);
    }
}

impl Solver for Jacobi {
    fn name(&self) -> &str {
        self.stencil.problem.name()
    }

    fn advance(&mut self, pass: Pass, time: &mut Timings) -> Result<Advanced> {
        let it = pass.done;
        let w = self.layout.ghost;
        let steps = pass_steps(it, self.time_block, w, pass.until);
        let check = pass.check && it + steps == pass.until;
        let exchange_now = it.is_multiple_of(w) || self.stale;
        self.stale = false;
        let mut local = (0.0, false);
        let t0 = Comm::wtime();
        if steps > 1 {
            // Temporal blocking: the exchange completes, then `steps` sweeps run tile by tile.
            if exchange_now {
                self.ex.exchange(&mut self.u);
            }
            let t1 = Comm::wtime();
            let regions: Vec<Rect> = (it..it + steps)
                .map(|j| self.layout.grown(w - 1 - j % w))
                .collect();
            let inner = check.then(|| self.layout.interior());
            local = self.sweeper.tiled(&regions, inner, &self.u, &mut self.v);
            time.halo += t1 - t0;
            time.wait += t1 - t0;
            time.compute += Comm::wtime() - t1;
        } else {
            let region = self.layout.grown(w - 1 - it % w);
            if exchange_now && self.overlap {
                self.overlapped_sweep(&region, time);
            } else {
                if exchange_now {
                    self.ex.exchange(&mut self.u);
                }
                let t1 = Comm::wtime();
                self.sweeper.sweep(&self.u, &mut self.v, &region);
                time.halo += t1 - t0;
                time.wait += t1 - t0;
                time.compute += Comm::wtime() - t1;
            }
        }
        let t1 = Comm::wtime();
        if check && steps == 1 {
            local = self
                .sweeper
                .change(&self.u, &self.v, &self.layout.interior());
        }
        std::mem::swap(&mut self.u, &mut self.v);
        time.compute += Comm::wtime() - t1;
        Ok(Advanced {
            steps,
            residual: check.then_some(LocalResidual {
                value: local.0,
                bad: local.1,
                agreed: false,
            }),
        })
    }

    fn state(&self) -> Vec<(&'static str, &DistArray)> {
        vec![("u", &self.u)]
    }

    fn into_fields(self: Box<Self>) -> Vec<(&'static str, DistArray)> {
        vec![("u", self.u)]
    }

    fn state_mut(&mut self) -> Vec<&mut DistArray> {
        vec![&mut self.u]
    }

    fn restored(&mut self, _time: f64) -> Result<()> {
        // Into the array there is: a clone would need memory the run was not checked for.
        self.v.as_slice_mut().copy_from_slice(self.u.as_slice());
        // A checkpoint holds no ghosts.
        self.stale = true;
        Ok(())
    }

    fn time(&self, done: usize) -> Option<f64> {
        self.stencil.time(done)
    }

    fn watched(&self) -> (String, &DistArray) {
        (format!("{}: the field", self.stencil.problem), &self.u)
    }

    fn watched_mut(&mut self) -> &mut DistArray {
        &mut self.u
    }

    fn traffic(&self) -> (u64, u64) {
        (self.ex.bytes_sent(), self.ex.messages_sent())
    }

    fn local_error(&self, done: usize) -> Option<f64> {
        self.stencil.local_error(&self.u, done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solver::driver::next_stop;
    use crate::solver::Stopping;

    /// The pass lengths of a run from `first` to `iters` with blocks of `block` over ghost width
    /// `ghost`, checks every `check`, and monitor stops `at`.
    fn passes(
        first: usize,
        iters: usize,
        block: usize,
        ghost: usize,
        check: usize,
        at: &[usize],
    ) -> Vec<usize> {
        let stop = Stopping {
            iters,
            check_every: check,
            ..Stopping::default()
        };
        let (mut it, mut lens) = (first, vec![]);
        while it < iters {
            let l = pass_steps(it, block, ghost, next_stop(it, &stop, &[], at));
            lens.push(l);
            it += l;
        }
        lens
    }

    #[test]
    fn passes_end_at_exchanges_checks_and_the_last_iteration() {
        // Ghost 4, blocks of 4, checks every 10, 23 iterations.
        assert_eq!(passes(0, 23, 4, 4, 10, &[]), [4, 4, 2, 2, 4, 4, 3]);
        // A restart in mid-period finishes the period first.
        assert_eq!(passes(5, 12, 4, 4, 100, &[])[0], 3);
        // A stop after iteration 6 ends the pass there.
        assert_eq!(passes(4, 12, 4, 4, 100, &[6])[0], 2);
        assert_eq!(passes(7, 12, 8, 8, 100, &[6])[0], 1);
    }
}
