//! Checkpoint files: a run's global state, its parameters and a checksum, written atomically.
//!
//! A checkpoint is one file, `ckpt-<iteration>.halo`:
//!
//! ```text
//! HALO-CHECKPOINT 2 sha256 <64 hex digits>\n
//! {"problem":"laplace","nx":…,"ny":…,"iters":…,"time":"…","params":[…],"fields":["u"],
//!  "payload_bytes":…,"driver":[…]}\n
//! <payload: each field as little-endian f64, (ny, nx) row-major, one after another>
//! ```
//!
//! The SHA-256 on the first line covers every byte after it, the header and the payload: no
//! byte a restart uses escapes it, and a damaged first line does not read as the marker and a
//! checksum. Format 1 checksummed only the payload, so a changed `"iters"` went unnoticed; its
//! files are refused, since nothing can verify them.
//!
//! It is written to a temporary name, flushed to disk and renamed, so a file with the final name
//! is complete unless the disk itself corrupts it; reading it checks the checksum and the length,
//! and that it belongs to the run that wants it.

use super::files::{io_err, write_atomic};
use super::hash::sha256_hex;
use crate::error::{Error, Result};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The marker every checkpoint starts with, before its format number.
const MAGIC: &str = "HALO-CHECKPOINT";
/// The format this halo writes and reads.
const FORMAT: u32 = 2;

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
    pub payload_bytes: usize,
    /// What the driver needs to go on exactly where it stopped (the last residual, whether the
    /// run had converged, the history its stopping rules read), by name, as exact text.
    #[serde(default)]
    pub driver: Vec<(String, String)>,
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

/// Writes a checkpoint of `fields` into `dir` atomically; `header`'s payload length is filled in
/// here, and the checksum over the header and the payload. Returns its path.
pub fn write_checkpoint(
    dir: &Path,
    mut header: CheckpointHeader,
    fields: &[&Array2<f64>],
) -> Result<PathBuf> {
    let path = dir.join(checkpoint_name(header.iters));
    header.payload_bytes = fields.iter().map(|f| 8 * f.len()).sum();
    write_atomic(&path, &encode(&header, fields))?;
    Ok(path)
}

/// The bytes of a checkpoint file: the marker line with the checksum, the header, the payload.
fn encode(header: &CheckpointHeader, fields: &[&Array2<f64>]) -> Vec<u8> {
    let mut body = serde_json::to_string(header)
        .expect("serialisable")
        .into_bytes();
    body.push(b'\n');
    body.reserve(header.payload_bytes);
    for f in fields {
        for x in f.iter() {
            body.extend_from_slice(&x.to_le_bytes());
        }
    }
    let mut bytes = format!("{MAGIC} {FORMAT} sha256 {}\n", sha256_hex(&body)).into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

/// Reads and verifies one checkpoint file: its format, checksum and length. Only a regular file
/// is read, or a symbolic link to one (a device, a FIFO, a socket or a directory is refused
/// unopened), and its data only once the file's size is what its header says.
pub fn read_checkpoint(path: &Path) -> Result<Checkpoint> {
    read_checkpoint_if(path, &|_| Ok(()))
}

/// What a reader says of a checkpoint's header before its data is read: `Err` stops the read.
pub type Accept<'a> = &'a dyn Fn(&CheckpointHeader) -> Result<()>;

/// [`read_checkpoint`], asking `accept` about the header before reading the data: a checkpoint of
/// another run (a larger grid, say) is refused without loading it. The header is not verified
/// yet at that point; the whole file is, once read.
pub fn read_checkpoint_if(path: &Path, accept: Accept<'_>) -> Result<Checkpoint> {
    let bytes = read_regular(path, accept)?;
    decode(&bytes).map_err(|why| Error::Io {
        path: path.display().to_string(),
        message: format!("not a usable checkpoint: {why}"),
    })
}

/// A checkpoint from its file's bytes, verified; or why it cannot be used.
fn decode(bytes: &[u8]) -> std::result::Result<Checkpoint, String> {
    let (first, body) = match bytes.iter().position(|&b| b == b'\n') {
        Some(n) => (&bytes[..n], &bytes[n + 1..]),
        None => (bytes, &[][..]),
    };
    let sha256 = marker_checksum(first)?;
    let (head, payload) = match body.iter().position(|&b| b == b'\n') {
        Some(n) => (&body[..n], &body[n + 1..]),
        None => (body, &[][..]),
    };
    let header = serde_json::from_slice::<CheckpointHeader>(head);
    if sha256_hex(body) != sha256 {
        // Say what most likely happened; either way the file is not used.
        return Err(match header {
            Ok(h) if payload.len() != h.payload_bytes => format!(
                "it is truncated or padded: {} bytes of data where its header says {}",
                payload.len(),
                h.payload_bytes
            ),
            _ => "its contents do not match its checksum (corrupted)".into(),
        });
    }
    // Checksummed, but possibly written by hand: nothing below trusts a size unchecked.
    let header = header.map_err(|e| format!("its header is not one ({e})"))?;
    let cells = header.nx.checked_mul(header.ny);
    let expected = cells
        .and_then(|c| c.checked_mul(header.fields.len()))
        .and_then(|c| c.checked_mul(8));
    if payload.len() != header.payload_bytes || expected != Some(payload.len()) {
        return Err("its size does not fit its grid and fields".into());
    }
    let cells = cells.unwrap_or(0);
    let fields = (0..header.fields.len())
        .map(|k| {
            let chunk = &payload[8 * cells * k..8 * cells * (k + 1)];
            let v: Vec<f64> = chunk
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect();
            Array2::from_shape_vec((header.ny, header.nx), v).expect("length checked")
        })
        .collect();
    Ok(Checkpoint { header, fields })
}

/// The checksum the marker line `first` carries, or why that line is not a format-2 marker.
fn marker_checksum(first: &[u8]) -> std::result::Result<&str, String> {
    let not_marker = || "it does not start with the halo checkpoint marker".to_string();
    let line = std::str::from_utf8(first).map_err(|_| not_marker())?;
    let rest = line
        .strip_prefix(MAGIC)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(not_marker)?;
    if rest == "1" {
        return Err(format!(
            "it is in checkpoint format 1, whose header no checksum covers, so it cannot be \
             verified: restart it with the halo that wrote it, or run again from the start \
             (this halo reads format {FORMAT})"
        ));
    }
    let mut words = rest.split(' ');
    let format = words.next().unwrap_or_default();
    if format != FORMAT.to_string() {
        return Err(match format.parse::<u32>() {
            Ok(n) if n.to_string() == format => format!(
                "it is in checkpoint format {n}, which this halo does not read (it reads \
                 format {FORMAT}); a newer halo's, or a damaged file"
            ),
            _ => "its first line is damaged".into(),
        });
    }
    match (words.next(), words.next(), words.next()) {
        (Some("sha256"), Some(hex), None)
            if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            Ok(hex)
        }
        _ => Err("its first line is damaged".into()),
    }
}

/// The newest checkpoint in `dir` (the highest iteration in its name), read and verified. A
/// damaged newest checkpoint, one whose name and header disagree, or a name that is no regular
/// file (a device, a FIFO, a directory, or a symbolic link to one: see [`read_checkpoint`]) is an
/// error, not a reason to fall back silently to an older one.
pub fn newest_checkpoint(dir: &Path) -> Result<Checkpoint> {
    newest_checkpoint_if(dir, &|_| Ok(()))
}

/// The newest checkpoint file in `dir` by its name, with the iteration the name gives.
fn newest_file(dir: &Path) -> Result<Option<(usize, PathBuf)>> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
    Ok(entries
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
        .max_by_key(|(iters, _)| *iters))
}

/// The header of the newest checkpoint in `dir`, read without its data and not verified: what
/// the directory holds, at a glance. `None` when it holds none, or none whose header reads.
pub fn newest_header(dir: &Path) -> Option<CheckpointHeader> {
    let (_, path) = newest_file(dir).ok()??;
    let seen = std::cell::RefCell::new(None);
    let peek = |h: &CheckpointHeader| {
        *seen.borrow_mut() = Some(h.clone());
        // Stop before the data: the header is all that is wanted.
        Err(Error::Config(String::new()))
    };
    let _ = read_checkpoint_if(&path, &peek);
    seen.into_inner()
}

/// [`newest_checkpoint`], asking `accept` about its header before its data is read (see
/// [`read_checkpoint_if`]).
pub fn newest_checkpoint_if(dir: &Path, accept: Accept<'_>) -> Result<Checkpoint> {
    let newest = newest_file(dir)?;
    match newest {
        Some((iters, path)) => {
            let c = read_checkpoint_if(&path, accept)?;
            if c.header.iters != iters {
                // A renamed file: which one is newest is in doubt.
                return Err(Error::Io {
                    path: path.display().to_string(),
                    message: format!(
                        "not a usable checkpoint: its name says iteration {iters}, it holds iteration {}",
                        c.header.iters
                    ),
                });
            }
            Ok(c)
        }
        None => Err(Error::Io {
            path: dir.display().to_string(),
            message: "no checkpoint here to restart from (files ckpt-*.halo)".into(),
        }),
    }
}

/// The most of a checkpoint read before its size is checked against its header: the marker line
/// and the header, a few hundred bytes as halo writes them.
const HEAD_LIMIT: u64 = 1 << 20;

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

/// The bytes of the checkpoint file at `path`, read only if it is a regular file whose size is
/// what its header says: the marker line, the header line and the header's `payload_bytes`.
///
/// A device, FIFO, socket or directory is refused without being opened (reading `/dev/zero`
/// would fill the memory; a FIFO would wait for a writer until `--timeout`), and so is a
/// symbolic link to one. A symbolic link to a regular file is followed: it holds a checkpoint
/// like the file itself, checked the same way (checkpoints staged elsewhere may be linked in).
/// The file is opened without blocking and checked again once open, should it have been swapped
/// in between. At most [`HEAD_LIMIT`] bytes are read before the size is checked, and never more
/// than the size the file had when opened.
fn read_regular(path: &Path, accept: Accept<'_>) -> Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let unusable = |why: String| Error::Io {
        path: path.display().to_string(),
        message: format!("not a usable checkpoint: {why}"),
    };
    let not_regular = |t: std::fs::FileType| {
        let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        let link = if link { "a symbolic link to " } else { "" };
        unusable(format!("it is {link}{}, not a regular file", file_kind(t)))
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
    let size = meta.len();
    let mut file = file.take(size);
    let mut bytes = Vec::new();
    (&mut file)
        .take(HEAD_LIMIT)
        .read_to_end(&mut bytes)
        .map_err(|e| io_err(path, e))?;
    match declared_size(&bytes) {
        Ok((head, payload)) if head.checked_add(payload) != Some(size) => {
            return Err(unusable(format!(
                "it is truncated or padded: {} bytes of data where its header says {payload}",
                size.saturating_sub(head)
            )));
        }
        Ok((head, _)) => {
            // The size fits the header: let the reader refuse it before the data is read.
            let line = bytes.iter().position(|&b| b == b'\n').map_or(0, |n| n + 1);
            let json = &bytes[line..(head as usize).saturating_sub(1).max(line)];
            if let Ok(header) = serde_json::from_slice::<CheckpointHeader>(json) {
                accept(&header)?;
            }
        }
        // All of it is here, and small: decoding says best what is wrong.
        Err(_) if bytes.len() as u64 == size => return Ok(bytes),
        Err(why) => return Err(unusable(why)),
    }
    let rest = usize::try_from(size - bytes.len() as u64).unwrap_or(usize::MAX);
    bytes
        .try_reserve_exact(rest)
        .map_err(|_| crate::node::out_of_memory(size, "a checkpoint's data"))?;
    file.read_to_end(&mut bytes).map_err(|e| io_err(path, e))?;
    Ok(bytes)
}

/// From the start of a checkpoint file: the length of its marker line and header line together,
/// and the payload's length its header gives; or why they cannot be read there.
fn declared_size(start: &[u8]) -> std::result::Result<(u64, u64), String> {
    #[derive(Deserialize)]
    struct Payload {
        payload_bytes: u64,
    }
    let first = start.iter().position(|&b| b == b'\n');
    marker_checksum(&start[..first.unwrap_or(start.len())])?;
    let first = first.unwrap_or(start.len());
    let body = &start[(first + 1).min(start.len())..];
    let second = body
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| format!("its header does not end within its first {HEAD_LIMIT} bytes"))?;
    let header: Payload = serde_json::from_slice(&body[..second])
        .map_err(|e| format!("its header cannot be read ({e}): the file is damaged"))?;
    Ok(((first + 1 + second + 1) as u64, header.payload_bytes))
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
        // A reader may refuse it by its header, which it is shown as written.
        let seen = std::cell::Cell::new(None);
        let refuse = |h: &CheckpointHeader| {
            seen.set(Some((h.iters, h.nx, h.ny)));
            Err(Error::Config("not this run's".into()))
        };
        let e = newest_checkpoint_if(&d, &refuse).unwrap_err();
        assert_eq!(e, Error::Config("not this run's".into()));
        assert_eq!(seen.get(), Some((80, 3, 2)));
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

    #[test]
    fn a_flip_of_any_bit_anywhere_is_refused() {
        // The header especially: format 1 restarted from a changed "iters" without a word.
        let mut h = header();
        h.time = 0.125;
        h.params = vec![("alpha".into(), "1".into())];
        let u = Array2::from_shape_fn((2, 3), |(i, j)| i as f64 - j as f64 / 3.0);
        h.payload_bytes = 8 * u.len();
        let good = encode(&h, &[&u]);
        assert_eq!(decode(&good).unwrap().fields, vec![u]);
        let header_end = good
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .nth(1)
            .unwrap()
            .0;
        assert!(header_end > 100, "a header worth the name");
        for k in 0..good.len() {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad[k] ^= 1 << bit;
                assert!(
                    decode(&bad).is_err(),
                    "byte {k} (of a header of {}) with bit {bit} flipped was accepted",
                    header_end + 1
                );
            }
        }
    }

    #[test]
    fn times_come_back_to_the_last_bit() {
        // A restart continues from the time it reads: one ulp off and the run is another run.
        let u = Array2::from_elem((2, 3), 0.0);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut h = header();
            h.time = (x >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi((x % 40) as i32 - 20);
            h.payload_bytes = 8 * u.len();
            let back = decode(&encode(&h, &[&u])).unwrap();
            assert_eq!(back.header.time.to_bits(), h.time.to_bits(), "{:e}", h.time);
        }
    }

    #[test]
    fn format_1_renamed_and_oversized_files_are_refused() {
        let d = temp("old");
        let u = Array2::from_elem((2, 3), 1.5);
        // A format-1 file as the previous halo wrote it (its checksum covered the payload only).
        let payload: Vec<u8> = u.iter().flat_map(|x: &f64| x.to_le_bytes()).collect();
        let old = format!(
            "HALO-CHECKPOINT 1\n{{\"problem\":\"laplace\",\"nx\":3,\"ny\":2,\"iters\":40,\"time\":0.0,\"params\":[],\"fields\":[\"u\"],\"payload_bytes\":48,\"sha256\":\"{}\"}}\n",
            sha256_hex(&payload)
        );
        let p = d.join(checkpoint_name(40));
        std::fs::write(&p, [old.as_bytes(), &payload].concat()).unwrap();
        let e = read_checkpoint(&p).unwrap_err().to_string();
        assert!(e.contains("format 1"), "{e}");
        assert!(e.contains("cannot be verified"), "{e}");
        assert!(e.starts_with(&p.display().to_string()), "{e}");
        // A newer format is not guessed at.
        let mut newer = encode(&header_for(&u), &[&u]);
        newer[16] = b'3';
        assert!(decode(&newer).unwrap_err().contains("format 3"));

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
        h.nx = usize::MAX;
        h.payload_bytes = 0;
        let e = decode(&encode(&h, &[])).unwrap_err();
        assert!(e.contains("does not fit its grid"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    fn header_for(u: &Array2<f64>) -> CheckpointHeader {
        let mut h = header();
        h.payload_bytes = 8 * u.len();
        h
    }
}
