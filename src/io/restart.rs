//! Checkpoints of a distributed run, written and read by every rank at once through MPI-IO, in
//! the [`super::checkpoint`] format: no rank holds more than its block and a few bands.
//!
//! **Writing.** Each field is cut into the header's row bands ([`crate::grid::Bands`]), each band
//! assembled on a rank that holds part of it ([`assemble_bands`], [`Assembly::Spread`]: on row
//! strips, a run of consecutive bands per rank, each already there; with PX ranks along x, every
//! PX-th band of its process row), hashed there and written there at its place
//! in the one shared file: each rank writes whole bands, large contiguous pieces of the global
//! row-major layout, the aggregation that collective MPI-IO would otherwise do behind the scenes.
//! Rank 0 gathers the bands' checksums and writes the header; every rank syncs the file
//! (`MPI_File_sync`) and closes it; rank 0 renames it from its temporary name to
//! `ckpt-<iteration>.halo` and syncs the directory, so a crash leaves the previous checkpoint or
//! the new one, never half of one. With a limit (`keep`), rank 0 then removes the oldest.
//!
//! **Reading.** Rank 0 finds the newest checkpoint, verifies its header and that it belongs to
//! the run, and shares the header; each band is read by the rank it would be assembled on,
//! verified against its
//! checksum (a damaged band is named in the error, on every rank), and scattered into the
//! blocks of whatever decomposition the restarted run has ([`scatter_bands`]). Every byte is read
//! once, by one rank, and verified before it is used.

use super::checkpoint::{
    checkpoint_name, newest_head, newest_header, prune_checkpoints, verify_band, CheckpointHeader,
};
use super::files::{create_temporary, io_err, sync_dir, temporary};
use super::hash::{hex, sha256_raw};
use crate::comm::{le_bytes, Comm, FileMode};
use crate::error::{Error, Result};
use crate::grid::{assemble_bands, scatter_bands, Assembly, DistArray};
use std::path::{Path, PathBuf};

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

/// Writes a run's checkpoints: every `every` iterations, into `dir`, keeping the newest `keep`.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpointer {
    /// Iterations between checkpoints.
    pub every: usize,
    /// Where they go.
    pub dir: PathBuf,
    /// Whose state they hold.
    pub run: RunIdentity,
    /// How many checkpoints to keep (the newest); `None` keeps them all.
    pub keep: Option<usize>,
}

/// The state a restart resumes from.
#[derive(Debug)]
pub struct Restored {
    /// Iterations (steps) already done.
    pub iters: usize,
    /// Simulated time reached.
    pub time: f64,
    /// The driver's state, as [`Checkpointer::save`] was given it.
    pub driver: Vec<(String, String)>,
    /// The checkpoint file's size.
    pub bytes: u64,
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
    /// iterations, every rank its share (see the module docs), and returns the file's size.
    /// Collective; every rank returns the same error if any rank cannot write, and no file of
    /// the final name is left then.
    pub fn save(
        &self,
        comm: &Comm,
        iters: usize,
        time: f64,
        fields: &[(&str, &DistArray)],
        driver: &[(String, String)],
    ) -> Result<u64> {
        let root = comm.rank() == 0;
        let path = self.dir.join(checkpoint_name(iters));
        let mut header = CheckpointHeader {
            problem: self.run.problem.clone(),
            nx: self.run.nx,
            ny: self.run.ny,
            iters,
            time,
            params: self.run.params.clone(),
            fields: fields.iter().map(|(n, _)| n.to_string()).collect(),
            payload_bytes: 0,
            driver: driver.to_vec(),
            data_offset: 0,
            band_rows: 0,
            bands: Vec::new(),
        };
        header.lay_out();
        // Rank 0's temporary name, so that a tidying run can tell whose it is.
        let tmp = root.then(|| temporary(&path).display().to_string());
        let tmp = PathBuf::from(comm.broadcast_string(0, tmp.as_deref())?);
        let written = write_parallel(comm, &tmp, &mut header, fields);
        let finished = match written {
            // Rank 0 holds the temporary's lock until it is renamed.
            Ok(_held) if root => std::fs::rename(&tmp, &path)
                .map_err(|e| io_err(&path, e))
                .and_then(|()| sync_dir(&self.dir)),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        let finished = comm.agree(finished);
        if root && finished.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        finished?;
        let pruned = match self.keep {
            Some(keep) if root => prune_checkpoints(&self.dir, keep, iters).map(|_| ()),
            _ => Ok(()),
        };
        comm.agree(pruned)?;
        Ok(header.data_offset + header.payload_bytes)
    }
}

/// Writes the checkpoint file `tmp`: every field's bands where they are assembled, then the
/// header with their checksums (filled into `header` on rank 0), synced and closed. Collective.
///
/// Rank 0 creates the temporary file first and locks it (`flock`), as [`super::write_atomic`]
/// does its own: a run tidying the directory from another PID namespace of this host sees a live
/// writer, and a process whose watchdog has already tidied (it is exiting) begins none. The
/// ranks then open the file without creating it, so one removed in between is an error, not a
/// new temporary left behind. Rank 0 holds the lock until it drops the handle, after the rename.
fn write_parallel(
    comm: &Comm,
    tmp: &Path,
    header: &mut CheckpointHeader,
    fields: &[(&str, &DistArray)],
) -> Result<Option<std::fs::File>> {
    let held = if comm.rank() == 0 {
        create_temporary(tmp).map(Some).map_err(|e| io_err(tmp, e))
    } else {
        Ok(None)
    };
    let held = comm.agree(held)?;
    let mut file = comm.open_file(tmp, FileMode::Write)?;
    // The same file through the kernel directly, to start writing each band out to the disk as
    // soon as it is handed over (a hint: without it, everything waits for MPI_File_sync).
    let flusher = std::fs::OpenOptions::new().write(true).open(tmp).ok();
    let bands = header.band_layout();
    let mut bytes = Vec::new();
    for (f, (_, field)) in fields.iter().enumerate() {
        // This rank's bands' checksums, in the order it assembled them.
        let mut hashes: Vec<u8> = Vec::new();
        let layout = &*header;
        assemble_bands(comm, field, &bands, Assembly::Spread, |k, band| {
            let bytes = le_bytes(band, &mut bytes);
            hashes.extend_from_slice(&sha256_raw(bytes));
            let at = layout.band_offset(f, k);
            file.write_at(at, bytes)?;
            if let Some(fd) = &flusher {
                write_out(fd, at, bytes.len() as u64);
            }
            Ok(())
        })?;
        if let Some(all) = comm.gather_varcount(0, &hashes)? {
            let plan = Assembly::Spread.assignment(&field.layout().decomp, &bands);
            for (q, ks) in plan.iter().enumerate() {
                for (t, &k) in ks.iter().enumerate() {
                    header.bands[f][k] = hex(&all.chunk(q)[32 * t..32 * (t + 1)]);
                }
            }
        }
    }
    let head = if comm.rank() == 0 {
        header.head_bytes()
    } else {
        Vec::new()
    };
    file.write_at_all(0, &head)?;
    file.sync()?;
    file.close()?;
    Ok(held)
}

/// Reads the newest checkpoint in `dir`, checks on rank 0 that it belongs to `run` (and is not
/// already at or past `iters`), and fills the interiors of `fields` with its fields `names`,
/// every rank reading its share of the bands (see the module docs); the fields' own layouts say
/// where. Collective; a missing, damaged or foreign checkpoint is the same error on every rank,
/// and the fields are then not to be used.
pub fn restore(
    comm: &Comm,
    dir: &Path,
    run: &RunIdentity,
    iters: usize,
    names: &[&str],
    fields: &mut [&mut DistArray],
) -> Result<Restored> {
    let found = if comm.rank() == 0 {
        let fits = |h: &CheckpointHeader| check_fits(dir, run, iters, h, names);
        newest_head(dir, &fits).map(Some)
    } else {
        Ok(None)
    };
    let found = comm.agree(found)?;
    // The header as JSON text (its time exact), and the file's path: every rank needs them.
    let json = found
        .as_ref()
        .map(|(h, _)| serde_json::to_string(h).expect("a header serialises"));
    let json = comm.broadcast_string(0, json.as_deref())?;
    let header: CheckpointHeader = serde_json::from_str(&json).expect("what rank 0 serialised");
    let path = found.as_ref().map(|(_, p)| p.display().to_string());
    let path = PathBuf::from(comm.broadcast_string(0, path.as_deref())?);
    let mut file = comm.open_file(&path, FileMode::Read)?;
    let bands = header.band_layout();
    let Some(decomp) = fields.first().map(|f| f.layout().decomp) else {
        return Err(Error::Config("restore: no fields to restore".into()));
    };
    let mine = &Assembly::Spread.assignment(&decomp, &bands)[comm.rank()];
    for (f, a) in fields.iter_mut().enumerate() {
        // A thread brings this rank's bands from the disk into the page cache in order, ahead of
        // the reads (so the disk never waits while bands are verified and handed out); each band
        // read (MPI-IO) is checked against its SHA-256 before its pieces go out. No band is used
        // before every one is verified: a damaged band fails the whole restore, on every rank.
        let runs: Vec<(u64, u64)> = mine
            .iter()
            .map(|&k| (header.band_offset(f, k), 8 * bands.cells(k) as u64))
            .collect();
        let checked = std::thread::scope(|s| {
            s.spawn(|| read_ahead(&path, &runs));
            let mut verified: std::result::Result<(), String> = Ok(());
            let read = scatter_bands(comm, a, &bands, Assembly::Spread, |k, band| {
                file.read_f64_at(header.band_offset(f, k), band)?;
                if verified.is_ok() {
                    verified = verify_band(&header, f, k, band);
                }
                Ok(())
            });
            read.map(|()| verified)
        })?;
        comm.agree(checked.map_err(|why| Error::Io {
            path: path.display().to_string(),
            message: format!("not a usable checkpoint: {why}"),
        }))?;
        a.apply_boundaries();
    }
    file.close()?;
    Ok(Restored {
        iters: header.iters,
        time: header.time,
        bytes: header.data_offset + header.payload_bytes,
        driver: header.driver,
    })
}

/// Asks the kernel to start writing `len` bytes of `file` from `offset` out to the disk
/// (`sync_file_range(SYNC_FILE_RANGE_WRITE)`), without waiting: the disk then works while the
/// next bands are assembled and hashed, and the final sync has little left to do. A hint: where
/// it cannot be given, nothing is lost but speed.
fn write_out(file: &std::fs::File, offset: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(len)) = (
            libc::off64_t::try_from(offset),
            libc::off64_t::try_from(len),
        ) else {
            return;
        };
        // SAFETY: sync_file_range takes an open descriptor, which `file` owns and keeps open
        // for the call, two integers and flags; it reads or writes no memory of ours.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
        };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

/// Brings the byte ranges `runs` (offset, length) of the file at `path` into the page cache, one
/// after another, each call returning once its range is read (`readahead(2)`), so that the reads
/// that follow find them there. A hint: where it cannot be given, nothing is lost but speed.
fn read_ahead(path: &Path, runs: &[(u64, u64)]) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let Ok(file) = std::fs::File::open(path) else {
            return;
        };
        for &(offset, len) in runs {
            let (Ok(offset), Ok(len)) = (libc::off64_t::try_from(offset), usize::try_from(len))
            else {
                continue;
            };
            // SAFETY: readahead takes an open descriptor, which `file` owns and keeps open for
            // the call, and two integers; it reads or writes no memory of ours.
            unsafe { libc::readahead(file.as_raw_fd(), offset, len) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (path, runs);
}

/// Refuses a checkpoint of another problem, grid or parameters, or one already at the run's end.
fn check_fits(
    dir: &Path,
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
        return refuse(format!(
            "the checkpoint was made with {}, this run has {}",
            list_params(&h.params),
            list_params(&run.params)
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
    format!(", with {}", list_params(p))
}

/// `alpha 1, dt 0.001` for parameters.
fn list_params(p: &[(String, String)]) -> String {
    let list: Vec<String> = p.iter().map(|(k, v)| format!("{k} {v}")).collect();
    list.join(", ")
}
