//! What to solve and how: the solver's configuration, checked before any rank computes.

use super::kernels::Stores;
use crate::decomp::ProcGrid;
use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// The stencil problems `halo` solves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Problem {
    /// Jacobi iteration for Laplace's equation: the edge before row 0 held at 1, the others at 0,
    /// the interior starting at 0, `u'[i][j] = 0.25 * (u[i-1][j] + u[i+1][j] + u[i][j-1] +
    /// u[i][j+1])`, summed left to right.
    Laplace,
    /// Jacobi iteration for `-∇²u = f` on the unit square with the manufactured solution
    /// `u = sin(πx)·sin(πy)` (so `f = 2π²·sin(πx)·sin(πy)`, zero on the edges).
    Poisson,
    /// Explicit (forward Euler) time steps of `u_t = α∇²u` on the unit square, zero on the edges,
    /// from `u = sin(πx)·sin(πy)`, whose exact solution decays as `exp(-2π²αt)`.
    Heat,
    /// The lid-driven cavity: incompressible Navier–Stokes in vorticity–stream-function form,
    /// lid speed 1, no-slip walls in the ghost layer (see [`super::cavity`]).
    Cavity,
}

impl Problem {
    /// Every problem, in the order `--help` lists them.
    pub const ALL: [Problem; 4] = [
        Problem::Laplace,
        Problem::Poisson,
        Problem::Heat,
        Problem::Cavity,
    ];

    /// The problem's name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Problem::Laplace => "laplace",
            Problem::Poisson => "poisson",
            Problem::Heat => "heat",
            Problem::Cavity => "cavity",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Problem {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Problem::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown problem '{s}' (choose laplace, poisson, heat or cavity)"
                ))
            })
    }
}

/// What a [`Fault`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Write NaN into one cell of the field.
    Nan,
    /// Panic.
    Panic,
    /// Crash at once (`abort`), as a killed process would vanish.
    Abort,
}

/// A failure to inject into a run on purpose, to see how the job fails: `KIND@ITER[:RANK]`, e.g.
/// `nan@30:1` (rank 1 writes NaN into its field after iteration 30). For testing the failure
/// handling of `halo` and of the cluster it runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// What happens.
    pub kind: FaultKind,
    /// After which iteration.
    pub iter: usize,
    /// On which rank.
    pub rank: usize,
}

impl FromStr for Fault {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::Config(format!("'{s}' is not a fault: KIND@ITER[:RANK] with KIND nan, panic or abort, e.g. nan@30:1"))
        };
        let (kind, at) = s.split_once('@').ok_or_else(bad)?;
        let kind = match kind {
            "nan" => FaultKind::Nan,
            "panic" => FaultKind::Panic,
            "abort" => FaultKind::Abort,
            _ => return Err(bad()),
        };
        let (iter, rank) = at.split_once(':').unwrap_or((at, "0"));
        Ok(Fault {
            kind,
            iter: iter.parse().map_err(|_| bad())?,
            rank: rank.parse().map_err(|_| bad())?,
        })
    }
}

impl Fault {
    /// Carries the fault out if it is due on `rank` after iteration `done`: returns the local
    /// cell `(i, j)` to poison for [`FaultKind::Nan`], panics or aborts for the others.
    pub fn strike(
        &self,
        rank: usize,
        done: usize,
        centre: (usize, usize),
    ) -> Option<(usize, usize)> {
        if rank != self.rank || done != self.iter {
            return None;
        }
        match self.kind {
            FaultKind::Nan => Some(centre),
            FaultKind::Panic => panic!("injected fault: rank {rank} panics after iteration {done}"),
            FaultKind::Abort => std::process::abort(),
        }
    }
}

/// A solver run: the problem, the grid, how it is split, and when to stop.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// What to solve.
    pub problem: Problem,
    /// Interior cells along x.
    pub nx: usize,
    /// Interior cells along y.
    pub ny: usize,
    /// The process grid; `None` chooses one ([`ProcGrid::auto`]).
    pub procs: Option<ProcGrid>,
    /// Ghost width W: halos are exchanged once every W iterations and the ghost zone is updated
    /// redundantly in between. Results are bitwise the same for every W.
    pub ghost: usize,
    /// Rayon threads per rank.
    pub threads: usize,
    /// Iterations (time steps, for heat) at most.
    pub iters: usize,
    /// Stop once the residual is at most this (checked every `check_every` iterations).
    pub tol: Option<f64>,
    /// Iterations between residual checks (each one an allreduce).
    pub check_every: usize,
    /// Heat: the time step; `None` takes [`Config::DT_SAFETY`] of the stability limit.
    pub dt: Option<f64>,
    /// Heat: the diffusivity α.
    pub alpha: f64,
    /// Cavity: the Reynolds number (lid speed 1, side 1).
    pub re: f64,
    /// Cavity: red-black SOR sweeps of the stream function per time step.
    pub sweeps: usize,
    /// Write a checkpoint every this many iterations (with `checkpoint_dir`).
    pub checkpoint_every: Option<usize>,
    /// Where checkpoints go.
    pub checkpoint_dir: Option<std::path::PathBuf>,
    /// Resume from the newest checkpoint in this directory.
    pub restart: Option<std::path::PathBuf>,
    /// A failure to inject on purpose (testing).
    pub fault: Option<Fault>,
    /// Update the cells that need no ghost while the halo exchange is in flight.
    pub overlap: bool,
    /// How sweeps store their results; `None` chooses by the arrays' size against the
    /// last-level cache ([`super::memory::stores_for`]).
    pub stores: Option<Stores>,
    /// Temporal blocking: sweeps per pass over cache-sized tiles (1: one sweep per pass over the
    /// whole block). At most the ghost width, since a pass runs between two halo exchanges.
    pub time_block: usize,
}

impl Default for Config {
    /// Laplace on 1024×1024 for 1000 iterations: a meaningful run of seconds on one rank.
    fn default() -> Self {
        Config {
            problem: Problem::Laplace,
            nx: 1024,
            ny: 1024,
            procs: None,
            ghost: 1,
            threads: 1,
            iters: 1000,
            tol: None,
            check_every: 100,
            dt: None,
            alpha: 1.0,
            re: 100.0,
            sweeps: 2,
            checkpoint_every: None,
            checkpoint_dir: None,
            restart: None,
            fault: None,
            overlap: true,
            stores: None,
            time_block: 1,
        }
    }
}

impl Config {
    /// The cavity's default steady-state tolerance on `max |ω' − ω|/dt`, used when neither
    /// `--iters` nor `--tol` is given: enough for Ghia's centreline values to within 0.005 at
    /// Re = 100 on 129 × 129.
    pub const CAVITY_TOL: f64 = 1e-3;

    /// The parameters a checkpoint must share with a run that restarts from it, as exact text.
    pub fn state_params(&self) -> Vec<(String, String)> {
        let p = |k: &str, v: f64| (k.to_string(), v.to_string());
        match self.problem {
            Problem::Laplace | Problem::Poisson => vec![],
            Problem::Heat => vec![p("alpha", self.alpha), p("dt", self.time_step())],
            Problem::Cavity => vec![p("re", self.re), p("sweeps", self.sweeps as f64)],
        }
    }

    /// The default heat time step as a fraction of the stability limit.
    pub const DT_SAFETY: f64 = 0.5;

    /// Grid spacing along x on the unit square: the walls sit in the ghost layer.
    pub fn hx(&self) -> f64 {
        1.0 / (self.nx + 1) as f64
    }

    /// Grid spacing along y.
    pub fn hy(&self) -> f64 {
        1.0 / (self.ny + 1) as f64
    }

    /// The largest stable explicit heat step: `1 / (2α(1/hx² + 1/hy²))`.
    pub fn dt_limit(&self) -> f64 {
        1.0 / (2.0 * self.alpha * (1.0 / (self.hx() * self.hx()) + 1.0 / (self.hy() * self.hy())))
    }

    /// The heat time step this run uses.
    pub fn time_step(&self) -> f64 {
        self.dt.unwrap_or(Self::DT_SAFETY * self.dt_limit())
    }

    /// Checks everything that does not depend on the rank count; the same on every rank. Each
    /// error names the option and says what would be accepted.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.nx == 0 || self.ny == 0 {
            return bad(format!(
                "--grid {}x{}: both sides must be at least 1",
                self.nx, self.ny
            ));
        }
        if self.nx.checked_mul(self.ny).is_none_or(|c| c > 1 << 34) {
            return bad(format!(
                "--grid {}x{}: more than 2^34 cells",
                self.nx, self.ny
            ));
        }
        if self.ghost == 0 {
            return bad("--ghost must be at least 1".into());
        }
        if self.time_block == 0 || self.time_block > self.ghost {
            return bad(format!(
                "--time-block {}: choose 1 to the ghost width ({}): a pass of sweeps runs between two halo exchanges, so --ghost must be at least --time-block",
                self.time_block, self.ghost
            ));
        }
        if self.threads == 0 || self.threads > 1024 {
            return bad(format!("--threads {}: choose 1 to 1024", self.threads));
        }
        if self.iters == 0 {
            return bad("--iters must be at least 1".into());
        }
        if self.check_every == 0 {
            return bad("--check-every must be at least 1".into());
        }
        if let Some(t) = self.tol {
            if !(t.is_finite() && t > 0.0) {
                return bad(format!("--tol {t}: must be a positive number"));
            }
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return bad(format!("--alpha {}: must be a positive number", self.alpha));
        }
        match (self.checkpoint_every, &self.checkpoint_dir) {
            (Some(0), _) => return bad("--checkpoint-every must be at least 1".into()),
            (Some(_), None) => return bad("--checkpoint-every needs --checkpoint-dir DIR".into()),
            (None, Some(_)) => return bad("--checkpoint-dir needs --checkpoint-every N".into()),
            _ => {}
        }
        if self.problem == Problem::Cavity {
            if !(self.re.is_finite() && self.re > 0.0) {
                return bad(format!("--re {}: must be a positive number", self.re));
            }
            if self.time_block != 1 {
                return bad(format!(
                    "--time-block {}: the cavity takes one step per pass",
                    self.time_block
                ));
            }
            if self.ghost != 1 {
                return bad(format!(
                    "--ghost {}: the cavity exchanges every step (ghost width 1)",
                    self.ghost
                ));
            }
            if self.threads != 1 {
                return bad(format!(
                    "--threads {}: the cavity runs one thread per rank; use more ranks",
                    self.threads
                ));
            }
            if self.sweeps == 0 {
                return bad("--sweeps must be at least 1".into());
            }
        }
        if let Some(dt) = self.dt {
            if self.problem != Problem::Heat {
                return bad(format!(
                    "--dt is for the heat problem, not {}",
                    self.problem
                ));
            }
            if !(dt.is_finite() && dt > 0.0) {
                return bad(format!("--dt {dt}: must be a positive number"));
            }
            if dt > self.dt_limit() {
                return bad(format!(
                    "--dt {dt} is unstable on a {}x{} grid: explicit heat steps need dt <= {:.6e} (alpha {})",
                    self.nx,
                    self.ny,
                    self.dt_limit(),
                    self.alpha
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_problems_parse() {
        Config::default().validate().unwrap();
        assert_eq!("heat".parse::<Problem>().unwrap(), Problem::Heat);
        let e = "wave".parse::<Problem>().unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown problem 'wave' (choose laplace, poisson, heat or cavity)"
        );
    }

    #[test]
    fn the_stability_limit_is_the_textbook_one() {
        let c = Config {
            nx: 9,
            ny: 9,
            problem: Problem::Heat,
            ..Config::default()
        };
        // h = 0.1: dt <= h²/4 for alpha 1.
        assert!((c.dt_limit() - 0.0025).abs() < 1e-15);
        assert!((c.time_step() - 0.00125).abs() < 1e-15);
        let unstable = Config {
            dt: Some(0.003),
            ..c.clone()
        };
        let e = unstable.validate().unwrap_err().to_string();
        assert!(e.starts_with("--dt 0.003 is unstable on a 9x9 grid"), "{e}");
        assert!(Config {
            dt: Some(0.0025),
            ..c
        }
        .validate()
        .is_ok());
    }

    #[test]
    fn bad_values_name_their_option() {
        let d = Config::default();
        for (c, opt) in [
            (Config { nx: 0, ..d.clone() }, "--grid"),
            (
                Config {
                    ghost: 0,
                    ..d.clone()
                },
                "--ghost",
            ),
            (
                Config {
                    threads: 0,
                    ..d.clone()
                },
                "--threads",
            ),
            (
                Config {
                    iters: 0,
                    ..d.clone()
                },
                "--iters",
            ),
            (
                Config {
                    check_every: 0,
                    ..d.clone()
                },
                "--check-every",
            ),
            (
                Config {
                    tol: Some(-1.0),
                    ..d.clone()
                },
                "--tol",
            ),
            (
                Config {
                    tol: Some(f64::NAN),
                    ..d.clone()
                },
                "--tol",
            ),
            (
                Config {
                    dt: Some(1e-9),
                    ..d.clone()
                },
                "--dt",
            ),
            (
                Config {
                    alpha: 0.0,
                    ..d.clone()
                },
                "--alpha",
            ),
        ] {
            let e = c.validate().unwrap_err().to_string();
            assert!(e.starts_with(opt), "{e}");
        }
    }
}
