//! Checkpoint files: a run's global state, its parameters and a checksum, written atomically.
//!
//! A checkpoint is one file, `ckpt-<iteration>.halo`:
//!
//! ```text
//! HALO-CHECKPOINT 1\n
//! {"problem":"laplace","nx":…,"ny":…,"iters":…,"time":…,"params":{…},"fields":["u"],
//!  "payload_bytes":…,"sha256":"…"}\n
//! <payload: each field as little-endian f64, (ny, nx) row-major, one after another>
//! ```
//!
//! It is written to a temporary name, flushed to disk and renamed, so a file with the final name
//! is complete unless the disk itself corrupts it; reading it checks the length and the SHA-256
//! of the payload, and that it belongs to the run that wants it.

use super::files::{io_err, write_atomic};
use super::hash::sha256_hex;
use crate::error::{Error, Result};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const MAGIC: &str = "HALO-CHECKPOINT 1";

/// What a checkpoint says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointHeader {
    /// The problem's name.
    pub problem: String,
    /// Global cells along x.
    pub nx: usize,
    /// Global cells along y.
    pub ny: usize,
    /// Iterations (steps) done when it was taken.
    pub iters: usize,
    /// Simulated time when it was taken (0 for steady problems).
    pub time: f64,
    /// The parameters the state depends on, by name, as text (so they compare exactly).
    pub params: Vec<(String, String)>,
    /// The fields in the payload, in order.
    pub fields: Vec<String>,
    /// The payload's length in bytes.
    pub payload_bytes: usize,
    /// SHA-256 of the payload, hex.
    pub sha256: String,
}

/// A checkpoint read back: its header and its fields, each `(ny, nx)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// What it says about itself.
    pub header: CheckpointHeader,
    /// The fields, in the header's order.
    pub fields: Vec<Array2<f64>>,
}

/// The file name of the checkpoint at `iters`.
pub fn checkpoint_name(iters: usize) -> String {
    format!("ckpt-{iters:010}.halo")
}

/// Writes a checkpoint of `fields` into `dir` atomically; `header`'s payload length and checksum
/// are filled in here. Returns its path.
pub fn write_checkpoint(
    dir: &Path,
    mut header: CheckpointHeader,
    fields: &[&Array2<f64>],
) -> Result<PathBuf> {
    let mut payload = Vec::with_capacity(fields.iter().map(|f| 8 * f.len()).sum());
    for f in fields {
        for x in f.iter() {
            payload.extend_from_slice(&x.to_le_bytes());
        }
    }
    header.payload_bytes = payload.len();
    header.sha256 = sha256_hex(&payload);
    let mut bytes = format!(
        "{MAGIC}\n{}\n",
        serde_json::to_string(&header).expect("serialisable")
    )
    .into_bytes();
    bytes.extend_from_slice(&payload);
    let path = dir.join(checkpoint_name(header.iters));
    write_atomic(&path, &bytes)?;
    Ok(path)
}

/// Reads and verifies one checkpoint file: its format, length and checksum.
pub fn read_checkpoint(path: &Path) -> Result<Checkpoint> {
    let bad = |why: String| Error::Io {
        path: path.display().to_string(),
        message: format!("not a usable checkpoint: {why}"),
    };
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    let mut lines = bytes.splitn(3, |&b| b == b'\n');
    let magic = lines.next().unwrap_or_default();
    if magic != MAGIC.as_bytes() {
        return Err(bad(
            "it does not start with the halo checkpoint marker".into()
        ));
    }
    let head = lines
        .next()
        .ok_or_else(|| bad("it ends before its header".into()))?;
    let header: CheckpointHeader =
        serde_json::from_slice(head).map_err(|e| bad(format!("its header is damaged ({e})")))?;
    let payload = lines.next().unwrap_or_default();
    if payload.len() != header.payload_bytes {
        return Err(bad(format!(
            "it is truncated or padded: {} bytes of data where its header says {}",
            payload.len(),
            header.payload_bytes
        )));
    }
    if sha256_hex(payload) != header.sha256 {
        return Err(bad(
            "its data does not match its checksum (corrupted)".into()
        ));
    }
    let cells = header.nx * header.ny;
    if header.payload_bytes != 8 * cells * header.fields.len() {
        return Err(bad("its size does not fit its grid and fields".into()));
    }
    let fields = payload
        .chunks_exact(8 * cells.max(1))
        .take(header.fields.len())
        .map(|chunk| {
            let v: Vec<f64> = chunk
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect();
            Array2::from_shape_vec((header.ny, header.nx), v).expect("length checked")
        })
        .collect();
    Ok(Checkpoint { header, fields })
}

/// The newest checkpoint in `dir` (the highest iteration), read and verified. A damaged newest
/// checkpoint is an error, not a reason to fall back silently to an older one.
pub fn newest_checkpoint(dir: &Path) -> Result<Checkpoint> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
    let newest = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let iters: usize = name
                .strip_prefix("ckpt-")?
                .strip_suffix(".halo")?
                .parse()
                .ok()?;
            Some((iters, e.path()))
        })
        .max_by_key(|(iters, _)| *iters);
    match newest {
        Some((_, path)) => read_checkpoint(&path),
        None => Err(Error::Io {
            path: dir.display().to_string(),
            message: "no checkpoint here to restart from (files ckpt-*.halo)".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> CheckpointHeader {
        CheckpointHeader {
            problem: "laplace".into(),
            nx: 3,
            ny: 2,
            iters: 40,
            time: 0.0,
            params: vec![],
            fields: vec!["u".into()],
            payload_bytes: 0,
            sha256: String::new(),
        }
    }

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("halo-ckpt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn round_trip_keeps_every_bit_and_newest_wins() {
        let d = temp("trip");
        let u = Array2::from_shape_fn((2, 3), |(i, j)| (i * 3 + j) as f64 / 7.0 - 0.1);
        write_checkpoint(&d, header(), &[&u]).unwrap();
        let mut later = header();
        later.iters = 80;
        let u2 = u.mapv(|x| -x);
        write_checkpoint(&d, later, &[&u2]).unwrap();
        let c = newest_checkpoint(&d).unwrap();
        assert_eq!(c.header.iters, 80);
        assert_eq!(c.fields, vec![u2]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn truncated_corrupted_and_foreign_files_are_refused() {
        let d = temp("bad");
        let u = Array2::from_elem((2, 3), 1.5);
        let p = write_checkpoint(&d, header(), &[&u]).unwrap();
        let good = std::fs::read(&p).unwrap();
        std::fs::write(&p, &good[..good.len() - 5]).unwrap();
        assert!(read_checkpoint(&p)
            .unwrap_err()
            .to_string()
            .contains("truncated"));
        let mut flipped = good.clone();
        let n = flipped.len();
        flipped[n - 3] ^= 0x40;
        std::fs::write(&p, &flipped).unwrap();
        assert!(read_checkpoint(&p)
            .unwrap_err()
            .to_string()
            .contains("corrupted"));
        std::fs::write(&p, b"hello\n").unwrap();
        assert!(read_checkpoint(&p)
            .unwrap_err()
            .to_string()
            .contains("marker"));
        let empty = temp("empty");
        assert!(newest_checkpoint(&empty)
            .unwrap_err()
            .to_string()
            .contains("no checkpoint here"));
        let _ = std::fs::remove_dir_all(&d);
        let _ = std::fs::remove_dir_all(&empty);
    }
}
