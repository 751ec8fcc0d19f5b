//! Which solver solves which problem, by which method: the one place that knows them all. A new
//! solver is one new file and one arm here.

use super::cavity::CavitySolver;
use super::cycles::Cycles;
use super::driver::Solver;
use super::implicit::Implicit;
use super::jacobi::Jacobi;
use super::kernels::Stores;
use super::krylov::Cg;
use super::options::{Config, Method, Problem};
use super::pipecg::PipeCg;
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

/// What the solver for a problem keeps on each rank: ghosted arrays of the local shape in all.
/// Scratch (halo buffers, tiles) is small beside them. Read by the memory check before building.
pub(crate) struct Footprint {
    /// Ghosted arrays (or flat vectors of that size) it holds.
    pub arrays: usize,
}

/// The [`Footprint`] of the solver `cfg` asks for.
pub(crate) fn footprint(cfg: &Config) -> Footprint {
    let (problem, method) = (cfg.problem, cfg.solving.method);
    // A multigrid hierarchy: u, b and r on the finest level, and a third of that again on the
    // coarser ones (each has a quarter of the cells of the one above, or half when one axis
    // alone is coarsened; counted as a half, the worse case).
    let hierarchy = 6;
    match method {
        Method::Jacobi => {}
        Method::Mg | Method::Fmg => return Footprint { arrays: hierarchy },
        // x, r, p, w beside the hierarchy (the finest level alone for cg).
        Method::Cg => return Footprint { arrays: 7 },
        Method::Mgcg => {
            return Footprint {
                arrays: 4 + hierarchy,
            }
        }
        // x, r, u, w, p, s, q, z, m, n beside the hierarchy.
        Method::Pipecg => {
            return Footprint {
                arrays: 10 + hierarchy,
            }
        }
    }
    if problem == Problem::Heat && cfg.heat.scheme.implicit() {
        // u beside the hierarchy.
        return Footprint {
            arrays: 1 + hierarchy,
        };
    }
    match problem {
        // u and the array the next sweep writes, and for Poisson the right-hand side.
        Problem::Laplace | Problem::Heat => Footprint { arrays: 2 },
        Problem::Poisson => Footprint { arrays: 3 },
        // ψ, ω and the next ω; with Anderson acceleration its history (depth m): ΔF of ω and
        // ΔG of ψ and ω per window, the window's start (ω) and last end (ψ, ω), its last change,
        // and while a window closes its new change, end (ψ, ω) and differences (ΔF, ΔG).
        Problem::Cavity => Footprint {
            arrays: 3 + cfg.cavity.anderson.map_or(0, |a| 3 * a.depth + 7),
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
    let stencil = StencilProblem {
        problem: cfg.problem,
        domain: cfg.domain.clone(),
        heat: cfg.heat.clone(),
        manufactured: cfg.manufactured,
    };
    let cycling = cfg.solving.cycling;
    let exact = cfg.solving.exact_dots;
    let solver: Box<dyn Solver> = match cfg.solving.method {
        Method::Jacobi => return build_jacobi_family(comm, cfg, layout, pool, stencil),
        Method::Mg => Box::new(Cycles::new(comm, layout, stencil, cycling, false)?),
        Method::Fmg => Box::new(Cycles::new(comm, layout, stencil, cycling, true)?),
        Method::Cg => Box::new(Cg::new(comm, layout, stencil, None, exact)?),
        Method::Mgcg => Box::new(Cg::new(comm, layout, stencil, Some(cycling), exact)?),
        Method::Pipecg => Box::new(PipeCg::new(comm, layout, stencil, cycling, exact)?),
    };
    Ok(Built {
        solver,
        stores: Stores::Cached,
    })
}

/// The Jacobi family's solvers, heat's implicit steps, and the cavity's.
fn build_jacobi_family(
    comm: &Comm,
    cfg: &Config,
    layout: &Layout,
    pool: Option<rayon::ThreadPool>,
    stencil: StencilProblem,
) -> Result<Built> {
    match cfg.problem {
        Problem::Heat if cfg.heat.scheme.implicit() => {
            let solver =
                Implicit::new(comm, layout, stencil, cfg.heat.scheme, cfg.solving.cycling)?;
            Ok(Built {
                solver: Box::new(solver),
                stores: Stores::Cached,
            })
        }
        Problem::Laplace | Problem::Poisson | Problem::Heat => {
            let stores = cfg.sweeps.stores.unwrap_or_else(|| {
                // Two arrays of the local shape per rank, as many ranks as share the node's cache.
                let (r, c) = layout.local_shape();
                let node = 2 * r * c * std::mem::size_of::<f64>() * comm.node_size();
                super::memory::stores_for(node, super::memory::last_level_cache_bytes())
            });
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
            solver: Box::new(CavitySolver::new(comm, layout, &cfg.cavity)?.with_pool(pool)),
            stores: Stores::Cached,
        }),
    }
}
