//! Checkpoint and restart for every problem: the global state gathered to rank 0 and written
//! there, or read there and scattered onto whatever decomposition the restarted run has.

use super::config::Config;
use crate::comm::Comm;
use crate::error::{Error, Result};
use crate::grid::{DistArray, Layout};
use crate::io::{self, CheckpointHeader};

/// The state a restart resumes from.
pub(crate) struct Restored {
    /// Iterations (steps) already done.
    pub iters: usize,
    /// Simulated time reached.
    pub time: f64,
    /// The fields, laid out for this run, in the order asked for.
    pub fields: Vec<DistArray>,
}

/// Writes a checkpoint of `fields` after `iters` iterations. Collective; every rank returns the
/// same error if rank 0 cannot write.
pub(crate) fn save(
    comm: &Comm,
    cfg: &Config,
    iters: usize,
    time: f64,
    fields: &[(&str, &DistArray)],
) -> Result<()> {
    let dir = cfg
        .checkpoint_dir
        .as_ref()
        .expect("validated: a directory with --checkpoint-every");
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
            problem: cfg.problem.to_string(),
            nx: cfg.nx,
            ny: cfg.ny,
            iters,
            time,
            params: cfg.state_params(),
            fields: fields.iter().map(|(n, _)| n.to_string()).collect(),
            payload_bytes: 0,
            sha256: String::new(),
        };
        io::write_checkpoint(dir, header, &arrays).map(|_| ())
    } else {
        Ok(())
    };
    comm.agree(written)
}

/// Reads the newest checkpoint in `cfg.restart` on rank 0, checks it belongs to this run, and
/// scatters its fields onto `layout`. Collective; a missing, damaged or foreign checkpoint is the
/// same error on every rank.
pub(crate) fn restore(
    comm: &Comm,
    cfg: &Config,
    layout: &Layout,
    names: &[&str],
) -> Result<Restored> {
    let dir = cfg.restart.as_ref().expect("only called with --restart");
    let loaded = if comm.rank() == 0 {
        io::newest_checkpoint(dir).and_then(|c| {
            check_fits(cfg, &c.header, names)?;
            Ok(Some(c))
        })
    } else {
        Ok(None)
    };
    let loaded = comm.agree(loaded)?;
    let iters = comm.broadcast(0, loaded.as_ref().map_or(0, |c| c.header.iters as u64))? as usize;
    let time = comm.broadcast(0, loaded.as_ref().map_or(0.0, |c| c.header.time))?;
    let mut fields = Vec::with_capacity(names.len());
    for k in 0..names.len() {
        let global = loaded.as_ref().map(|c| &c.fields[k]);
        fields.push(DistArray::scatter(comm, 0, global, layout.clone())?);
    }
    Ok(Restored {
        iters,
        time,
        fields,
    })
}

/// Refuses a checkpoint of another problem, grid or parameters, or one already past the run's end.
fn check_fits(cfg: &Config, h: &CheckpointHeader, names: &[&str]) -> Result<()> {
    let refuse = |why: String| {
        Err(Error::Config(format!(
            "--restart {}: {why}",
            cfg.restart
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string())
        )))
    };
    if h.problem != cfg.problem.name() || (h.nx, h.ny) != (cfg.nx, cfg.ny) {
        return refuse(format!(
            "the checkpoint is of {} on {}x{}, this run is {} on {}x{}",
            h.problem, h.nx, h.ny, cfg.problem, cfg.nx, cfg.ny
        ));
    }
    if h.params != cfg.state_params() || h.fields != names {
        let show = |p: &[(String, String)]| {
            p.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return refuse(format!(
            "the checkpoint was made with {}, this run has {}",
            show(&h.params),
            show(&cfg.state_params())
        ));
    }
    if h.iters >= cfg.iters {
        return refuse(format!(
            "the checkpoint is already at iteration {}; ask for more than that with --iters",
            h.iters
        ));
    }
    Ok(())
}
