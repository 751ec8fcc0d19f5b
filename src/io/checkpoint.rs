//! Checkpoint files: a run's global state, its parameters and checksums, in one file that every
//! rank writes its share of and reads back its share from (see [`super::restart`]).
//!
//! A checkpoint is one file, `ckpt-<iteration>.halo`:
//!
//! ```text
//! HALO-CHECKPOINT 3 sha256 <64 hex digits> <header length>\n
//! {"problem":"laplace","nx":…,"ny":…,"iters":…,"time":"…","params":[…],"fields":["u"],
//!  "payload_bytes":…,"driver":[…],"data_offset":4096,"band_rows":64,"bands":[["<hex>",…]]}\n
//! <zeros up to data_offset, a multiple of 4096>
//! <payload: each field as little-endian f64, (ny, nx) row-major, one after another>
//! ```
//!
//! The SHA-256 on the first line covers the header (the JSON, `header length` bytes); the header
//! holds the SHA-256 of every band of every field: `band_rows` global rows, all columns (the last
//! band may be shorter), the same bands on any decomposition, so that each band is verified by
//! whichever rank reads it and a damaged one is named. Every byte a restart uses is covered;
//! the zeros before the data are not read. The data starts on a 4096-byte boundary, for file
//! systems that like aligned writes.
//!
//! Formats 1 and 2 were written by rank 0 alone; their files are refused with a message saying
//! so (format 1 could not be verified at all; format 2 would need one rank to read it whole).
//!
//! The writer ([`super::restart`], or [`write_checkpoint`] for a whole field in memory) writes a
//! temporary name, syncs it and renames it, so a file with the final name is complete unless the
//! disk itself corrupts it.

use super::files::{io_err, write_atomic};
use super::hash::{band_sha256, hex, sha256_hex};
use crate::error::{Error, Result};
use crate::grid::Bands;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The marker every checkpoint starts with, before its format number.
const MAGIC: &str = "HALO-CHECKPOINT";
/// The format this halo writes and reads.
pub const FORMAT: u32 = 3;
/// The data starts at a multiple of this.
const ALIGN: u64 = 4096;
/// The longest header read (a few kilobytes as halo writes them: 66 bytes a band).
const HEADER_LIMIT: u64 = 256 << 20;

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
    /// Simulated time when it was taken (0 for steady problems); written as text that reads
    /// back to the same bits.
    #[serde(with = "exact_f64")]
    pub time: f64,
    /// The parameters the state depends on, by name, as text (so they compare exactly).
    pub params: Vec<(String, String)>,
    /// The fields in the payload, in order.
    pub fields: Vec<String>,
    /// The payload's length in bytes.
    pub payload_bytes: u64,
    /// What the driver needs to go on exactly where it stopped (the last residual, whether the
    /// run had converged, the history its stopping rules read), by name, as exact text.
    #[serde(default)]
    pub driver: Vec<(String, String)>,
    /// Where the payload starts in the file.
    #[serde(default)]
    pub data_offset: u64,
    /// Global rows per band.
    #[serde(default)]
    pub band_rows: usize,
    /// The SHA-256 of every band, per field: `bands[f][k]`, lowercase hex.
    #[serde(default)]
    pub bands: Vec<Vec<String>>,
}

/// An `f64` in JSON as a string that parses back to the same bits: serde_json's own reading of
/// numbers can be an ulp off, and a restart from a time an ulp off is another run.
mod exact_f64 {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        // Rust writes the shortest text that reads back as `x` (`0.25`, `1e-7`).
        s.serialize_str(&format!("{x:?}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|_| D::Error::custom(format!("time {text:?} is not a number")))
    }
}

impl CheckpointHeader {
    /// The bands its fields are cut into.
    pub fn band_layout(&self) -> Bands {
        Bands {
            nx: self.nx,
            ny: self.ny,
            rows: self.band_rows,
        }
    }

    /// Where band `k` of field `f` starts in the file.
    pub fn band_offset(&self, f: usize, k: usize) -> u64 {
        let field = 8 * self.nx as u64 * self.ny as u64;
        self.data_offset + f as u64 * field + 8 * (k * self.band_rows) as u64 * self.nx as u64
    }

    /// Fills in what follows from the grid and the fields: the payload's length, the bands (of
    /// [`Bands::new`], their checksums all zeros for now) and the data's offset, which the
    /// checksums, of fixed length, do not move.
    pub fn lay_out(&mut self) {
        let bands = Bands::new(self.nx, self.ny);
        self.band_rows = bands.rows;
        self.payload_bytes = 8 * self.nx as u64 * self.ny as u64 * self.fields.len() as u64;
        self.bands = vec![vec!["0".repeat(64); bands.count()]; self.fields.len()];
        self.data_offset = 0;
        // 20 digits for the offset itself, then aligned: its own length cannot push it over.
        let len = self.head_bytes().len() as u64 + 20;
        self.data_offset = len.div_ceil(ALIGN) * ALIGN;
    }

    /// The file's first bytes: the marker line and the header line.
    pub fn head_bytes(&self) -> Vec<u8> {
        let json = serde_json::to_string(self).expect("serialisable");
        let mut bytes = format!(
            "{MAGIC} {FORMAT} sha256 {} {}\n",
            sha256_hex(json.as_bytes()),
            json.len()
        )
        .into_bytes();
        bytes.extend_from_slice(json.as_bytes());
        bytes.push(b'\n');
        bytes
    }

    /// Whether its sizes fit together: the payload of its grid and fields, bands that cover the
    /// grid, one checksum per band, data after the header. `Err` says why not.
    fn check_sizes(&self, head_len: u64) -> std::result::Result<(), String> {
        let payload = (self.nx as u64)
            .checked_mul(self.ny as u64)
            .and_then(|c| c.checked_mul(self.fields.len() as u64))
            .and_then(|c| c.checked_mul(8));
        if payload != Some(self.payload_bytes) || self.band_rows == 0 {
            return Err("its size does not fit its grid and fields".into());
        }
        // A reader holds a band at a time: bands larger than halo's would cost memory that no
        // check counted.
        if self.band_rows != Bands::new(self.nx, self.ny).rows {
            return Err(format!(
                "its bands of {} rows are not the {} rows halo cuts a {}-wide field into",
                self.band_rows,
                Bands::new(self.nx, self.ny).rows,
                self.nx
            ));
        }
        let count = self.band_layout().count();
        if self.bands.len() != self.fields.len() || self.bands.iter().any(|b| b.len() != count) {
            return Err("its header does not list one checksum for every band".into());
        }
        if self.data_offset < head_len || self.data_offset.checked_add(self.payload_bytes).is_none()
        {
            return Err("its header says its data starts where it cannot".into());
        }
        Ok(())
    }
}

/// A checkpoint read back whole: its header and its fields, each `(ny, nx)`.
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

/// Why band `k` of field `name` cannot be used: its checksum does not match.
pub(crate) fn damaged_band(name: &str, k: usize, bands: &Bands) -> String {
    let rows = bands.rows_of(k);
    format!(
        "band {k} of field {name} (rows {}–{} of {}) does not match its checksum (corrupted)",
        rows.start,
        rows.end - 1,
        bands.ny
    )
}

/// Checks band `k` of field `f` against the header's checksum.
pub(crate) fn verify_band(
    header: &CheckpointHeader,
    f: usize,
    k: usize,
    band: &[f64],
) -> std::result::Result<(), String> {
    if hex(&band_sha256(band)) == header.bands[f][k] {
        Ok(())
    } else {
        Err(damaged_band(&header.fields[f], k, &header.band_layout()))
    }
}

/// Writes a checkpoint of whole `fields` (each `(ny, nx)`) into `dir` atomically, from one
/// process: the same bytes the ranks of a run write together. `header`'s layout and checksums
/// are filled in here. Returns its path.
pub fn write_checkpoint(
    dir: &Path,
    mut header: CheckpointHeader,
    fields: &[&Array2<f64>],
) -> Result<PathBuf> {
    let path = dir.join(checkpoint_name(header.iters));
    header.lay_out();
    let bands = header.band_layout();
    let mut data = Vec::with_capacity(header.payload_bytes as usize);
    for (f, field) in fields.iter().enumerate() {
        let values: Vec<f64> = field.iter().copied().collect();
        for k in 0..bands.count() {
            let rows = bands.rows_of(k);
            let band = &values[rows.start * bands.nx..rows.end * bands.nx];
            header.bands[f][k] = hex(&band_sha256(band));
        }
        data.extend(values.iter().flat_map(|x| x.to_le_bytes()));
    }
    let mut bytes = header.head_bytes();
    bytes.resize(header.data_offset as usize, 0);
    bytes.extend_from_slice(&data);
    write_atomic(&path, &bytes)?;
    Ok(path)
}

/// Reads and verifies one checkpoint file whole: its header, its size and every band. See
/// [`read_head`] for what files are refused unread.
pub fn read_checkpoint(path: &Path) -> Result<Checkpoint> {
    read_checkpoint_if(path, &|_| Ok(()))
}

/// What a reader says of a checkpoint's header before its data is read: `Err` stops the read.
pub type Accept<'a> = &'a dyn Fn(&CheckpointHeader) -> Result<()>;

/// [`read_checkpoint`], asking `accept` about the (verified) header before reading the data.
pub fn read_checkpoint_if(path: &Path, accept: Accept<'_>) -> Result<Checkpoint> {
    use std::io::{Read, Seek, SeekFrom};
    let header = read_head(path, accept)?;
    let unusable = |why: String| Error::Io {
        path: path.display().to_string(),
        message: format!("not a usable checkpoint: {why}"),
    };
    let mut file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    file.seek(SeekFrom::Start(header.data_offset))
        .map_err(|e| io_err(path, e))?;
    let bands = header.band_layout();
    let mut fields = Vec::with_capacity(header.fields.len());
    let mut bytes = Vec::new();
    for f in 0..header.fields.len() {
        let mut values = Vec::with_capacity(bands.nx * bands.ny);
        for k in 0..bands.count() {
            bytes.resize(8 * bands.cells(k), 0);
            file.read_exact(&mut bytes).map_err(|e| io_err(path, e))?;
            let band: Vec<f64> = bytes
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect();
            verify_band(&header, f, k, &band).map_err(unusable)?;
            values.extend_from_slice(&band);
        }
        fields.push(Array2::from_shape_vec((bands.ny, bands.nx), values).expect("whole bands"));
    }
    Ok(Checkpoint { header, fields })
}

/// The header of the checkpoint at `path`, verified, and checked to fit the file's size; asked
/// of `accept` before it is returned. Only a regular file is read, or a symbolic link to one (a
/// device, a FIFO, a socket or a directory is refused unopened); the header's length is read from
/// the first line and at most `HEADER_LIMIT` (256 MiB) bytes are read.
pub fn read_head(path: &Path, accept: Accept<'_>) -> Result<CheckpointHeader> {
    use std::io::Read;
    let unusable = |why: String| Error::Io {
        path: path.display().to_string(),
        message: format!("not a usable checkpoint: {why}"),
    };
    let (file, size) = open_regular(path)?;
    let mut file = std::io::BufReader::new(file.take(size));
    let mut first = Vec::new();
    {
        use std::io::BufRead;
        (&mut file)
            .take(256)
            .read_until(b'\n', &mut first)
            .map_err(|e| io_err(path, e))?;
    }
    if first.last() != Some(&b'\n') {
        return Err(unusable(
            marker(&first)
                .err()
                .unwrap_or_else(|| "its first line is damaged".into()),
        ));
    }
    first.pop();
    let (sha256, len) = marker(&first).map_err(unusable)?;
    if len > HEADER_LIMIT || len > size {
        return Err(unusable(format!(
            "its first line says its header is {len} bytes long: the file is damaged"
        )));
    }
    // The header and the newline after it.
    let mut json = vec![0; len as usize + 1];
    file.read_exact(&mut json)
        .map_err(|_| unusable("it is truncated within its header".into()))?;
    if json.pop() != Some(b'\n') {
        return Err(unusable("its header line is damaged".into()));
    }
    if sha256_hex(&json) != sha256 {
        return Err(unusable(
            "its header does not match its checksum (corrupted)".into(),
        ));
    }
    let header: CheckpointHeader = serde_json::from_slice(&json)
        .map_err(|e| unusable(format!("its header is not one ({e})")))?;
    let head_len = first.len() as u64 + 1 + len + 1;
    header.check_sizes(head_len).map_err(unusable)?;
    let data = size.saturating_sub(header.data_offset);
    if size < header.data_offset || data != header.payload_bytes {
        return Err(unusable(format!(
            "it is truncated or padded: {data} bytes of data where its header says {}",
            header.payload_bytes
        )));
    }
    accept(&header)?;
    Ok(header)
}

/// The checksum and header length the marker line `first` carries, or why that line is not a
/// format-3 marker.
fn marker(first: &[u8]) -> std::result::Result<(&str, u64), String> {
    let not_marker = || "it does not start with the halo checkpoint marker".to_string();
    let line = std::str::from_utf8(first).map_err(|_| not_marker())?;
    let rest = line
        .strip_prefix(MAGIC)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(not_marker)?;
    let mut words = rest.split(' ');
    let format = words.next().unwrap_or_default();
    match format {
        "1" => {
            return Err(format!(
                "it is in checkpoint format 1, whose header no checksum covers, so it cannot be \
                 verified: restart it with the halo that wrote it, or run again from the start \
                 (this halo reads format {FORMAT})"
            ))
        }
        "2" => {
            return Err(format!(
                "it is in checkpoint format 2, which rank 0 wrote alone and only a rank holding \
                 the whole field could read: restart it with the halo that wrote it, or run \
                 again from the start (this halo reads format {FORMAT}, written by every rank)"
            ))
        }
        _ => {}
    }
    if format != FORMAT.to_string() {
        return Err(match format.parse::<u32>() {
            Ok(n) if n.to_string() == format => format!(
                "it is in checkpoint format {n}, which this halo does not read (it reads \
                 format {FORMAT}); a newer halo's, or a damaged file"
            ),
            _ => "its first line is damaged".into(),
        });
    }
    match (words.next(), words.next(), words.next(), words.next()) {
        (Some("sha256"), Some(hex), Some(len), None)
            if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            match len.parse::<u64>() {
                Ok(n) if n.to_string() == len => Ok((hex, n)),
                _ => Err("its first line is damaged".into()),
            }
        }
        _ => Err("its first line is damaged".into()),
    }
}

/// The newest checkpoint in `dir` (the highest iteration in its name), read whole and verified.
/// A damaged newest checkpoint, one whose name and header disagree, or a name that is no regular
/// file (a device, a FIFO, a directory, or a symbolic link to one: see [`read_head`]) is an
/// error, not a reason to fall back silently to an older one.
pub fn newest_checkpoint(dir: &Path) -> Result<Checkpoint> {
    newest_checkpoint_if(dir, &|_| Ok(()))
}

/// The checkpoint files in `dir` by the iteration their names give, oldest first.
pub fn checkpoint_files(dir: &Path) -> Result<Vec<(usize, PathBuf)>> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
    let mut files: Vec<(usize, PathBuf)> = entries
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
        .collect();
    files.sort();
    Ok(files)
}

/// The newest checkpoint file in `dir` by its name, with the iteration the name gives; an error
/// when there is none.
pub fn newest_file(dir: &Path) -> Result<(usize, PathBuf)> {
    checkpoint_files(dir)?.pop().ok_or_else(|| Error::Io {
        path: dir.display().to_string(),
        message: "no checkpoint here to restart from (files ckpt-*.halo)".into(),
    })
}

/// The verified header of the newest checkpoint in `dir`, asked of `accept`, and its path; its
/// name must give the iteration it holds (a renamed file puts which one is newest in doubt).
pub fn newest_head(dir: &Path, accept: Accept<'_>) -> Result<(CheckpointHeader, PathBuf)> {
    let (iters, path) = newest_file(dir)?;
    let header = read_head(&path, accept)?;
    if header.iters != iters {
        return Err(Error::Io {
            path: path.display().to_string(),
            message: format!(
                "not a usable checkpoint: its name says iteration {iters}, it holds iteration {}",
                header.iters
            ),
        });
    }
    Ok((header, path))
}

/// The header of the newest checkpoint in `dir`, when it reads and verifies: what the directory
/// holds, at a glance. `None` when it holds none, or none whose header reads.
pub fn newest_header(dir: &Path) -> Option<CheckpointHeader> {
    let (_, path) = newest_file(dir).ok()?;
    read_head(&path, &|_| Ok(())).ok()
}

/// [`newest_checkpoint`], asking `accept` about its header before its data is read.
pub fn newest_checkpoint_if(dir: &Path, accept: Accept<'_>) -> Result<Checkpoint> {
    let (_, path) = newest_head(dir, accept)?;
    read_checkpoint_if(&path, accept)
}

/// Removes all but the newest `keep` checkpoint files of `dir` up to iteration `upto` (by the
/// iteration in their names); later ones (of an earlier run of the same job, say) are left
/// alone. Returns the paths removed.
pub fn prune_checkpoints(dir: &Path, keep: usize, upto: usize) -> Result<Vec<PathBuf>> {
    let mut files = checkpoint_files(dir)?;
    files.retain(|(iters, _)| *iters <= upto);
    let old = files.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for (_, path) in files.into_iter().take(old) {
        std::fs::remove_file(&path).map_err(|e| io_err(&path, e))?;
        removed.push(path);
    }
    Ok(removed)
}

/// What a file that is not a regular one is, for a refusal.
fn file_kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "an unknown kind of file"
    }
}

/// The checkpoint file at `path`, opened only if it is a regular file, and its size.
///
/// A device, FIFO, socket or directory is refused without being opened (reading `/dev/zero`
/// would fill the memory; a FIFO would wait for a writer until `--timeout`), and so is a
/// symbolic link to one. A symbolic link to a regular file is followed: it holds a checkpoint
/// like the file itself, checked the same way (checkpoints staged elsewhere may be linked in).
/// The file is opened without blocking and checked again once open, should it have been swapped
/// in between.
pub(crate) fn open_regular(path: &Path) -> Result<(std::fs::File, u64)> {
    use std::os::unix::fs::OpenOptionsExt;
    let not_regular = |t: std::fs::FileType| {
        let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        let link = if link { "a symbolic link to " } else { "" };
        Error::Io {
            path: path.display().to_string(),
            message: format!(
                "not a usable checkpoint: it is {link}{}, not a regular file",
                file_kind(t)
            ),
        }
    };
    let meta = std::fs::metadata(path).map_err(|e| io_err(path, e))?;
    if !meta.is_file() {
        return Err(not_regular(meta.file_type()));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| io_err(path, e))?;
    let meta = file.metadata().map_err(|e| io_err(path, e))?;
    if !meta.is_file() {
        return Err(not_regular(meta.file_type()));
    }
    Ok((file, meta.len()))
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
            driver: vec![("residual".into(), "0.25".into())],
            data_offset: 0,
            band_rows: 0,
            bands: vec![],
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
        assert_eq!(c.header.data_offset % ALIGN, 0);
        // A reader may refuse it by its header, which it is shown as written.
        let seen = std::cell::Cell::new(None);
        let refuse = |h: &CheckpointHeader| {
            seen.set(Some((h.iters, h.nx, h.ny)));
            Err(Error::Config("not this run's".into()))
        };
        let e = newest_checkpoint_if(&d, &refuse).unwrap_err();
        assert_eq!(e, Error::Config("not this run's".into()));
        assert_eq!(seen.get(), Some((80, 3, 2)));
        // Pruning keeps the newest.
        assert_eq!(prune_checkpoints(&d, 1, 40).unwrap().len(), 0);
        assert_eq!(prune_checkpoints(&d, 1, 80).unwrap().len(), 1);
        assert_eq!(checkpoint_files(&d).unwrap().len(), 1);
        assert_eq!(newest_checkpoint(&d).unwrap().header.iters, 80);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn many_bands_each_verified_and_the_damaged_one_named() {
        // 70000 columns: 7 rows a band, so 20 rows make 3 bands (7, 7, 6).
        let d = temp("bands");
        let mut h = header();
        (h.nx, h.ny) = (70_000, 20);
        h.fields = vec!["psi".into(), "omega".into()];
        let a = Array2::from_shape_fn((20, 70_000), |(i, j)| (i * 70_000 + j) as f64);
        let b = a.mapv(|x| x.sqrt());
        let p = write_checkpoint(&d, h, &[&a, &b]).unwrap();
        let c = read_checkpoint(&p).unwrap();
        assert_eq!(c.header.band_rows, 7);
        assert_eq!(c.header.bands[1].len(), 3);
        assert_eq!(c.fields, vec![a, b]);
        // A byte of omega's second band (rows 7–13).
        let mut bytes = std::fs::read(&p).unwrap();
        let at = c.header.band_offset(1, 1) as usize + 12345;
        bytes[at] ^= 4;
        std::fs::write(&p, &bytes).unwrap();
        let e = read_checkpoint(&p).unwrap_err().to_string();
        assert!(
            e.ends_with(
                "band 1 of field omega (rows 7–13 of 20) does not match its checksum (corrupted)"
            ),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn truncated_corrupted_and_foreign_files_are_refused() {
        let d = temp("bad");
        let u = Array2::from_elem((2, 3), 1.5);
        let p = write_checkpoint(&d, header(), &[&u]).unwrap();
        let good = std::fs::read(&p).unwrap();
        std::fs::write(&p, &good[..good.len() - 5]).unwrap();
        let e = read_checkpoint(&p).unwrap_err().to_string();
        assert!(
            e.contains("truncated or padded: 43 bytes of data where its header says 48"),
            "{e}"
        );
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

    #[test]
    fn a_flip_of_any_bit_that_is_read_is_refused() {
        // The header especially: format 1 restarted from a changed "iters" without a word.
        let d = temp("flip");
        let mut h = header();
        h.time = 0.125;
        h.params = vec![("alpha".into(), "1".into())];
        let u = Array2::from_shape_fn((2, 3), |(i, j)| i as f64 - j as f64 / 3.0);
        let p = write_checkpoint(&d, h, &[&u]).unwrap();
        let good = std::fs::read(&p).unwrap();
        let c = read_checkpoint(&p).unwrap();
        let head = c.header.head_bytes().len();
        assert!(head > 200, "a header worth the name");
        let data = c.header.data_offset as usize;
        for k in (0..head).chain(data..good.len()) {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad[k] ^= 1 << bit;
                std::fs::write(&p, &bad).unwrap();
                assert!(
                    read_checkpoint(&p).is_err(),
                    "byte {k} (of a head of {head}, data from {data}) with bit {bit} flipped was accepted"
                );
            }
        }
        // The zeros between header and data are never read.
        let mut padded = good.clone();
        padded[head + 1] = b'x';
        std::fs::write(&p, &padded).unwrap();
        assert_eq!(read_checkpoint(&p).unwrap().fields, vec![u]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn times_come_back_to_the_last_bit() {
        // A restart continues from the time it reads: one ulp off and the run is another run.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut h = header();
            h.time = (x >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi((x % 40) as i32 - 20);
            let text = serde_json::to_string(&h).unwrap();
            let back: CheckpointHeader = serde_json::from_str(&text).unwrap();
            assert_eq!(back.time.to_bits(), h.time.to_bits(), "{:e}", h.time);
        }
    }

    #[test]
    fn older_formats_renamed_and_inconsistent_files_are_refused() {
        let d = temp("old");
        let p = d.join(checkpoint_name(40));
        // Format 1's header was covered by no checksum; format 2 was rank 0's alone.
        for (old, says) in [
            ("HALO-CHECKPOINT 1\n{\"iters\":40}\n", "format 1"),
            (
                "HALO-CHECKPOINT 2 sha256 0000000000000000000000000000000000000000000000000000000000000000\n{}\n",
                "format 2",
            ),
        ] {
            std::fs::write(&p, old).unwrap();
            let e = read_checkpoint(&p).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
            assert!(e.contains("run again from the start"), "{e}");
            assert!(e.starts_with(&p.display().to_string()), "{e}");
        }
        // A newer format is not guessed at.
        let u = Array2::from_elem((2, 3), 1.5);
        std::fs::remove_file(&p).unwrap();
        let p = write_checkpoint(&d, header(), &[&u]).unwrap();
        let mut newer = std::fs::read(&p).unwrap();
        newer[16] = b'4';
        std::fs::write(&p, &newer).unwrap();
        let e = read_checkpoint(&p).unwrap_err().to_string();
        assert!(e.contains("format 4"), "{e}");

        // A checkpoint renamed to a later iteration: its header is right, its name is not.
        std::fs::remove_file(&p).unwrap();
        let p = write_checkpoint(&d, header(), &[&u]).unwrap();
        std::fs::rename(&p, d.join(checkpoint_name(50))).unwrap();
        let e = newest_checkpoint(&d).unwrap_err().to_string();
        assert!(
            e.contains("its name says iteration 50, it holds iteration 40"),
            "{e}"
        );

        // A consistent checksum over a header whose sizes overflow: refused, no panic.
        let mut h = header();
        h.lay_out();
        h.nx = usize::MAX;
        let e = h.check_sizes(0).unwrap_err();
        assert!(e.contains("does not fit its grid"), "{e}");
        let mut h = header();
        h.lay_out();
        h.bands[0].pop();
        assert!(h
            .check_sizes(0)
            .unwrap_err()
            .contains("one checksum for every band"));
        // Bands other than halo's (a whole field in one, say) would cost unchecked memory.
        let mut h = header();
        h.lay_out();
        h.band_rows = 1;
        h.bands = vec![vec!["0".repeat(64); 2]];
        let e = h.check_sizes(0).unwrap_err();
        assert!(e.contains("bands of 1 rows are not the 2 rows"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
