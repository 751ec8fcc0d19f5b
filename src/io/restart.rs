//! Checkpoints of a distributed run: the global state gathered to rank 0 and written there in the
//! [`super::checkpoint`] format, or read there and scattered onto whatever decomposition the
//! restarted run has.

use super::checkpoint::{newest_checkpoint_if, newest_header, write_checkpoint, CheckpointHeader};
use crate::comm::Comm;
use crate::error::{Error, Result};
use crate::grid::{DistArray, Layout};
use std::path::PathBuf;

/// What identifies a run's state: a checkpoint belongs to a run with the same problem, grid and
/// parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct RunIdentity {
    /// The problem's name.
    pub problem: String,
    /// Global cells along x.
    pub nx: usize,
    /// Global cells along y.
    pub ny: usize,
    /// The parameters the state depends on, by name, as exact text.
    pub params: Vec<(String, String)>,
}

/// Writes a run's checkpoints: every `every` iterations, into `dir`.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpointer {
    /// Iterations between checkpoints.
    pub every: usize,
    /// Where they go.
    pub dir: PathBuf,
    /// Whose state they hold.
    pub run: RunIdentity,
}

/// The state a restart resumes from.
#[derive(Debug)]
pub struct Restored {
    /// Iterations (steps) already done.
    pub iters: usize,
    /// Simulated time reached.
    pub time: f64,
    /// The fields, laid out for this run, in the order asked for.
    pub fields: Vec<DistArray>,
    /// The driver's state, as [`Checkpointer::save`] was given it.
    pub driver: Vec<(String, String)>,
}

impl Checkpointer {
    /// Refuses a directory that holds another run's checkpoints (by the newest one's header):
    /// writing this run's among them would mix two runs, and spoil a restart of either.
    /// Collective; the same error on every rank.
    pub fn check_dir(&self, comm: &Comm) -> Result<()> {
        let newest = (comm.rank() == 0)
            .then(|| newest_header(&self.dir))
            .flatten();
        let verdict = match newest {
            Some(h) if (&h.problem, h.nx, h.ny, &h.params) != (&self.run.problem, self.run.nx, self.run.ny, &self.run.params) => {
                Err(Error::Config(format!(
                    "checkpoint directory {}: it holds checkpoints of another run ({} on {}x{}{}), up to iteration {}; give this run a directory of its own, or remove them",
                    self.dir.display(),
                    h.problem,
                    h.nx,
                    h.ny,
                    show_params(&h.params),
                    h.iters
                )))
            }
            _ => Ok(()),
        };
        comm.agree(verdict)
    }

    /// Writes a checkpoint of `fields` and the driver's state `driver` after `iters`
    /// iterations. Collective; every rank returns the same error if rank 0 cannot write.
    pub fn save(
        &self,
        comm: &Comm,
        iters: usize,
        time: f64,
        fields: &[(&str, &DistArray)],
        driver: &[(String, String)],
    ) -> Result<()> {
        let mut gathered = Vec::with_capacity(fields.len());
        for (_, f) in fields {
            gathered.push(f.gather(comm, 0)?);
        }
        let written = if comm.rank() == 0 {
            let arrays: Vec<_> = gathered
                .iter()
                .map(|g| g.as_ref().expect("rank 0 holds the gathered field"))
                .collect();
            let header = CheckpointHeader {
                problem: self.run.problem.clone(),
                nx: self.run.nx,
                ny: self.run.ny,
                iters,
                time,
                params: self.run.params.clone(),
                fields: fields.iter().map(|(n, _)| n.to_string()).collect(),
                payload_bytes: 0,
                driver: driver.to_vec(),
            };
            write_checkpoint(&self.dir, header, &arrays).map(|_| ())
        } else {
            Ok(())
        };
        comm.agree(written)
    }
}

/// Reads the newest checkpoint in `dir` on rank 0, checks that it belongs to `run` (and is not
/// already at or past `iters`), and scatters its fields `names` onto `layout`. Collective; a
/// missing, damaged or foreign checkpoint is the same error on every rank.
pub fn restore(
    comm: &Comm,
    dir: &std::path::Path,
    run: &RunIdentity,
    iters: usize,
    layout: &Layout,
    names: &[&str],
) -> Result<Restored> {
    let loaded = if comm.rank() == 0 {
        // Refused by its header before its data is read (a larger grid's would not fit), and
        // again once the whole file is verified.
        let fits = |h: &CheckpointHeader| check_fits(dir, run, iters, h, names);
        newest_checkpoint_if(dir, &fits).and_then(|c| {
            fits(&c.header)?;
            Ok(Some(c))
        })
    } else {
        Ok(None)
    };
    let loaded = comm.agree(loaded)?;
    let done = comm.broadcast(0, loaded.as_ref().map_or(0, |c| c.header.iters as u64))? as usize;
    let time = comm.broadcast(0, loaded.as_ref().map_or(0.0, |c| c.header.time))?;
    // The driver's state as JSON text: every rank needs it, rank 0 alone read it.
    let driver = loaded
        .as_ref()
        .map(|c| serde_json::to_string(&c.header.driver).expect("pairs of strings serialise"));
    let driver = comm.broadcast_string(0, driver.as_deref())?;
    let driver = serde_json::from_str(&driver).expect("what rank 0 serialised");
    let mut fields = Vec::with_capacity(names.len());
    for k in 0..names.len() {
        let global = loaded.as_ref().map(|c| &c.fields[k]);
        fields.push(DistArray::scatter(comm, 0, global, layout.clone())?);
    }
    Ok(Restored {
        iters: done,
        time,
        fields,
        driver,
    })
}

/// Refuses a checkpoint of another problem, grid or parameters, or one already at the run's end.
fn check_fits(
    dir: &std::path::Path,
    run: &RunIdentity,
    iters: usize,
    h: &CheckpointHeader,
    names: &[&str],
) -> Result<()> {
    let refuse = |why: String| {
        Err(Error::Config(format!(
            "restart from {}: {why}",
            dir.display()
        )))
    };
    if h.problem != run.problem || (h.nx, h.ny) != (run.nx, run.ny) {
        return refuse(format!(
            "the checkpoint is of {} on {}x{}, this run is {} on {}x{}",
            h.problem, h.nx, h.ny, run.problem, run.nx, run.ny
        ));
    }
    if h.params != run.params || h.fields != names {
        let show = |p: &[(String, String)]| {
            p.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return refuse(format!(
            "the checkpoint was made with {}, this run has {}",
            show(&h.params),
            show(&run.params)
        ));
    }
    if h.iters >= iters {
        return refuse(format!(
            "the checkpoint is already at iteration {}; the run must ask for more iterations than that",
            h.iters
        ));
    }
    Ok(())
}

/// `, with alpha 1, dt 0.001` for parameters, or nothing.
fn show_params(p: &[(String, String)]) -> String {
    if p.is_empty() {
        return String::new();
    }
    let list: Vec<String> = p.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!(", with {}", list.join(", "))
}
