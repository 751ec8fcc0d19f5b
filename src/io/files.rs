//! Writing files so that a reader never sees half of one.

use crate::error::{Error, Result};
use std::fs;
use std::io::Write;
use std::path::Path;

/// Maps an I/O error on `path` to [`Error::Io`].
pub(crate) fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Creates `dir` and its parents if needed, and checks it can be written to.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let probe = dir.join(".halo-write-test");
    fs::write(&probe, b"").map_err(|e| io_err(dir, e))?;
    fs::remove_file(&probe).map_err(|e| io_err(&probe, e))
}

/// Writes `bytes` to `path` atomically: into a temporary file beside it, flushed to disk, then
/// renamed over `path`. A crash leaves the old file or the new one, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err(path, e)
    })
}
