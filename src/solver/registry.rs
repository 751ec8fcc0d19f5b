//! Which solver solves which problem: the one place that knows them all. A new solver is one new
//! file and one arm here.

use super::cavity::CavitySolver;
use super::driver::Solver;
use super::jacobi::Jacobi;
use super::kernels::Stores;
use super::options::{Config, Problem};
use super::problems::StencilProblem;
use crate::comm::Comm;
use crate::error::Result;
use crate::grid::Layout;

/// A solver ready to drive, and the stores its sweeps use (for the report).
pub(crate) struct Built {
    /// The solver, at its starting state.
    pub solver: Box<dyn Solver>,
    /// How its sweeps store results.
    pub stores: Stores,
}

/// What the solver for a problem keeps on each rank: ghosted arrays of the local shape in all,
/// and how many of them are its state (gathered at the end, written to checkpoints). Scratch
/// (halo buffers, tiles) is small beside them. Read by the memory check before building.
pub(crate) struct Footprint {
    /// Ghosted arrays (or flat vectors of that size) it holds.
    pub arrays: usize,
    /// Of those, the fields of its state.
    pub state: usize,
}

/// The [`Footprint`] of the solver for `problem`.
pub(crate) fn footprint(problem: Problem) -> Footprint {
    match problem {
        // u and the array the next sweep writes, and for Poisson the right-hand side.
        Problem::Laplace | Problem::Heat => Footprint {
            arrays: 2,
            state: 1,
        },
        Problem::Poisson => Footprint {
            arrays: 3,
            state: 1,
        },
        // ψ, ω and the next ω.
        Problem::Cavity => Footprint {
            arrays: 3,
            state: 2,
        },
    }
}

/// The solver for `cfg` on `layout`; `pool` runs its sweeps when given. Collective; a rank that
/// cannot allocate is an error on every rank.
pub(crate) fn build(
    comm: &Comm,
    cfg: &Config,
    layout: &Layout,
    pool: Option<rayon::ThreadPool>,
) -> Result<Built> {
    match cfg.problem {
        Problem::Laplace | Problem::Poisson | Problem::Heat => {
            let stores = cfg.sweeps.stores.unwrap_or_else(|| {
                // Two arrays of the local shape per rank, as many ranks as share the node's cache.
                let (r, c) = layout.local_shape();
                let node = 2 * r * c * std::mem::size_of::<f64>() * comm.node_size();
                super::memory::stores_for(node, super::memory::last_level_cache_bytes())
            });
            let stencil = StencilProblem {
                problem: cfg.problem,
                domain: cfg.domain.clone(),
                heat: cfg.heat.clone(),
            };
            let solver = Jacobi::new(
                comm,
                layout,
                stencil,
                pool,
                stores,
                cfg.sweeps.overlap,
                cfg.sweeps.time_block,
            )?;
            Ok(Built {
                solver: Box::new(solver),
                stores,
            })
        }
        Problem::Cavity => Ok(Built {
            solver: Box::new(CavitySolver::new(comm, layout, &cfg.cavity)?),
            stores: Stores::Cached,
        }),
    }
}
