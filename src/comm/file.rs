//! Parallel file I/O (MPI-IO): every rank of a communicator opens one file and reads and writes
//! its own parts of it at explicit offsets, so no rank ever holds the whole file.
//!
//! rsmpi has no MPI-IO; this wraps the few `MPI_File_*` calls `halo` needs over `mpi::ffi`.
//! Collective calls (`*_all`, [`Comm::open_file`], [`File::sync`], [`File::close`]) make every
//! rank agree on the outcome, as the checked collectives do: one rank's failure is the same
//! [`Error::Agreed`] on every rank, whose text is the failing rank's [`Error::Io`], such as
//! `/x/ckpt.halo: MPI_File_open: MPI_ERR_NO_SUCH_FILE: no such file or directory`.
//! Independent calls ([`File::write_at`], [`File::read_at`], [`File::size`]) concern the calling
//! rank alone and return its own [`Error::Io`].
//!
//! MPI counts are C `int`s: a transfer is cut into pieces of at most 1 GiB, and a collective one
//! makes as many calls on every rank as the rank with the most pieces needs (the others pass 0
//! bytes), so a rank may write or read any length, 0 included.

use super::{Comm, ReduceOp};
use crate::error::{Error, Result};
use mpi::ffi;
use mpi::raw::AsRaw;
use mpi::traits::Equivalence;
use std::ffi::CString;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::os::raw::{c_char, c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The largest piece one MPI call moves: 1 GiB, well inside a C `int` count of bytes.
const CHUNK: usize = 1 << 30;

/// How a file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// Write-only; created if missing, and truncated to 0 bytes on open if it exists (a
    /// collective `MPI_File_set_size(0)`), so no byte of an older, longer file survives.
    Create,
    /// Write-only, like [`FileMode::Create`], but the file must exist already (one rank made
    /// it, under a name it controls): a file removed in the meantime is an error, not made anew.
    Write,
    /// Read-only; the file must exist.
    Read,
}

/// A file open on every rank of a communicator (`MPI_File`), from [`Comm::open_file`].
///
/// Offsets are in bytes from the start of the file. Close it with [`File::close`] to learn
/// whether closing worked; dropping it closes it too, ignoring errors. Closing is collective, so
/// every rank must close or drop its `File` at the same point of the program. Errors of the
/// collective calls are agreed, so ranks that leave a scope early with `?` all leave it
/// together; a rank that panics instead should end the job ([`super::abort_on_panic`]).
///
/// Like [`Comm`], neither `Send` nor `Sync`: MPI calls stay on the thread that started MPI.
///
/// ```compile_fail,E0277
/// fn on_another_thread<T: Send>(_: T) {}
/// let mpi = halo::comm::init().unwrap();
/// let world = mpi.world();
/// let file = world.open_file("x".as_ref(), halo::comm::FileMode::Read).unwrap();
/// on_another_thread(file); // error: `File` cannot be sent between threads
/// ```
pub struct File<'c> {
    comm: &'c Comm,
    /// Valid while `open`; `MPI_File_close` ends it.
    fh: ffi::MPI_File,
    open: bool,
    /// The path as given, for error messages.
    path: String,
}

impl Comm {
    /// Opens `path` on every rank of this communicator (`MPI_File_open`, collective); every rank
    /// must pass the same path and mode.
    ///
    /// The outcome is agreed: a file that cannot be opened (missing for [`FileMode::Read`], in a
    /// directory that does not exist, not permitted) is the same `Err` on every rank, naming the
    /// path, the MPI call and MPI's reason.
    ///
    /// ```no_run
    /// # fn main() -> halo::Result<()> {
    /// use halo::comm::FileMode;
    /// let mpi = halo::comm::init()?;
    /// let world = mpi.world();
    /// let mine = [world.rank() as f64; 4];
    /// let mut file = world.open_file("blocks.bin".as_ref(), FileMode::Create)?;
    /// file.write_f64_at_all(32 * world.rank() as u64, &mine)?;
    /// file.close()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn open_file(&self, path: &Path, mode: FileMode) -> Result<File<'_>> {
        let shown = path.display().to_string();
        // A path MPI cannot take is refused on every rank before any rank calls MPI_File_open.
        let cpath =
            self.agree(
                CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::Io {
                    path: shown.clone(),
                    message: "MPI_File_open: the path contains a NUL byte".into(),
                }),
            )?;
        let amode = match mode {
            FileMode::Create => (ffi::MPI_MODE_WRONLY | ffi::MPI_MODE_CREATE) as c_int,
            FileMode::Write => ffi::MPI_MODE_WRONLY as c_int,
            FileMode::Read => ffi::MPI_MODE_RDONLY as c_int,
        };
        let mut fh = MaybeUninit::<ffi::MPI_File>::uninit();
        // SAFETY: `cpath` is a NUL-terminated string that lives past this blocking call;
        // `self.raw` is a live communicator; `RSMPI_INFO_NULL` is a constant the rsmpi shim
        // initialises before `main`; `fh` is writable storage for one handle, which MPI fills
        // on success (and which is read below only then).
        let rc = unsafe {
            ffi::MPI_File_open(
                self.raw.as_raw(),
                cpath.as_ptr(),
                amode,
                ffi::RSMPI_INFO_NULL,
                fh.as_mut_ptr(),
            )
        };
        let opened = checked(rc, &shown, "MPI_File_open").map(|()| {
            // SAFETY: MPI_File_open returned MPI_SUCCESS, so it wrote a valid handle into `fh`.
            unsafe { fh.assume_init() }
        });
        // If some ranks opened the file and others did not (MPI libraries agree on open errors
        // among the ranks, so this should not happen), the handles that did open are left
        // open: closing them is collective and would wait forever for the ranks that failed.
        let fh = self.agree(opened)?;
        let file = File {
            comm: self,
            fh,
            open: true,
            path: shown,
        };
        if mode != FileMode::Read {
            // SAFETY: `file.fh` is an open handle; MPI_File_set_size is collective, and every
            // rank reaches it (the open was agreed above).
            let rc = unsafe { ffi::MPI_File_set_size(file.fh, 0) };
            // On failure `file` drops here, on every rank together, which closes it.
            self.agree(checked(rc, &file.path, "MPI_File_set_size"))?;
        }
        Ok(file)
    }
}

/// Which way a transfer goes: the calling rank's bytes, to write or to fill.
enum Buf<'b> {
    Write(&'b [u8]),
    Read(&'b mut [u8]),
}

impl Buf<'_> {
    fn len(&self) -> usize {
        match self {
            Buf::Write(b) => b.len(),
            Buf::Read(b) => b.len(),
        }
    }
}

impl File<'_> {
    /// Writes `bytes` at `offset` (`MPI_File_write_at_all`, collective): each rank its own
    /// bytes at its own offset, of any length (0 included). Agreed.
    pub fn write_at_all(&mut self, offset: u64, bytes: &[u8]) -> Result<()> {
        self.transfer_all(offset, Buf::Write(bytes), CHUNK)
    }

    /// Fills `bytes` from `offset` (`MPI_File_read_at_all`, collective): each rank its own
    /// range, of any length (0 included). Reading past the end of the file is an error. Agreed.
    pub fn read_at_all(&mut self, offset: u64, bytes: &mut [u8]) -> Result<()> {
        self.transfer_all(offset, Buf::Read(bytes), CHUNK)
    }

    /// Writes `values` at byte `offset`, little-endian whatever the host, as
    /// [`File::write_at_all`] does (collective, agreed).
    pub fn write_f64_at_all(&mut self, offset: u64, values: &[f64]) -> Result<()> {
        let mut spare = Vec::new();
        self.write_at_all(offset, le_bytes(values, &mut spare))
    }

    /// Fills `values` from byte `offset`, read as little-endian whatever the host, as
    /// [`File::read_at_all`] does (collective, agreed).
    pub fn read_f64_at_all(&mut self, offset: u64, values: &mut [f64]) -> Result<()> {
        read_le(values, |bytes| self.read_at_all(offset, bytes))
    }

    /// Writes `bytes` at `offset` from this rank alone (`MPI_File_write_at`). Not collective and
    /// not agreed: the error, if any, is this rank's.
    pub fn write_at(&mut self, offset: u64, bytes: &[u8]) -> Result<()> {
        self.transfer(offset, Buf::Write(bytes), CHUNK)
    }

    /// Fills `bytes` from `offset` on this rank alone (`MPI_File_read_at`); reading past the end
    /// of the file is an error. Not collective and not agreed.
    pub fn read_at(&mut self, offset: u64, bytes: &mut [u8]) -> Result<()> {
        self.transfer(offset, Buf::Read(bytes), CHUNK)
    }

    /// Fills `values` from byte `offset`, read as little-endian whatever the host, as
    /// [`File::read_at`] does (this rank alone, not agreed).
    pub fn read_f64_at(&mut self, offset: u64, values: &mut [f64]) -> Result<()> {
        read_le(values, |bytes| self.read_at(offset, bytes))
    }

    /// The file's size in bytes (`MPI_File_get_size`). Not collective.
    pub fn size(&self) -> Result<u64> {
        let mut size: ffi::MPI_Offset = 0;
        // SAFETY: `self.fh` is open (only `close_handle` ends it, and it takes `&mut self`);
        // `size` is a live MPI_Offset for MPI to write.
        let rc = unsafe { ffi::MPI_File_get_size(self.fh, &mut size) };
        checked(rc, &self.path, "MPI_File_get_size")?;
        u64::try_from(size).map_err(|_| self.io("MPI_File_get_size", format!("size {size}")))
    }

    /// Makes every rank's writes so far visible to all and durable on the storage device
    /// (`MPI_File_sync`, collective). Agreed.
    pub fn sync(&mut self) -> Result<()> {
        // SAFETY: `self.fh` is open; every rank calls this collective together.
        let rc = unsafe { ffi::MPI_File_sync(self.fh) };
        self.comm.agree(checked(rc, &self.path, "MPI_File_sync"))
    }

    /// Closes the file (`MPI_File_close`, collective). Agreed.
    pub fn close(mut self) -> Result<()> {
        let local = self.close_handle();
        self.comm.agree(local)
    }

    /// `MPI_File_close` once; a closed file stays closed.
    fn close_handle(&mut self) -> Result<()> {
        if !self.open {
            return Ok(());
        }
        self.open = false;
        // SAFETY: `self.fh` is open (checked just above), and is not used again: `open` is now
        // false, and MPI sets the handle to MPI_FILE_NULL.
        let rc = unsafe { ffi::MPI_File_close(&mut self.fh) };
        checked(rc, &self.path, "MPI_File_close")
    }

    /// An [`Error::Io`] for this file: `call: why`.
    fn io(&self, call: &str, why: String) -> Error {
        Error::Io {
            path: self.path.clone(),
            message: format!("{call}: {why}"),
        }
    }

    /// The first byte as an `MPI_Offset`, checked so that no byte of `len` from `offset` lies
    /// past MPI_Offset's range.
    fn span(&self, call: &str, offset: u64, len: usize) -> Result<ffi::MPI_Offset> {
        let end = offset.checked_add(len as u64);
        match (ffi::MPI_Offset::try_from(offset), end) {
            (Ok(start), Some(end)) if ffi::MPI_Offset::try_from(end).is_ok() => Ok(start),
            _ => Err(self.io(
                call,
                format!(
                    "{len} bytes at offset {offset} reach past the largest offset MPI \
                     can address ({})",
                    ffi::MPI_Offset::MAX
                ),
            )),
        }
    }

    /// Where a transfer of `len` bytes at `offset` starts, checked before any MPI call: that it
    /// lies within MPI_Offset's range, and for a read, within the file. (A collective read past
    /// the end cannot be told from its status: ROMIO and OMPIO report every byte asked for as
    /// read. `MPI_Get_count` is checked after each read all the same.)
    fn start(&self, call: &str, offset: u64, buf: &Buf<'_>) -> Result<ffi::MPI_Offset> {
        let len = buf.len();
        let start = self.span(call, offset, len)?;
        if let Buf::Read(_) = buf {
            let size = self.size()?;
            if len > 0 && offset + len as u64 > size {
                return Err(self.io(
                    call,
                    format!(
                        "short read: {len} bytes at offset {offset} reach past the end of the \
                         file ({size} bytes)"
                    ),
                ));
            }
        }
        Ok(start)
    }

    /// [`File::read_at_all`] in pieces of at most `chunk` bytes: for the self-check, which
    /// exercises the many-piece path with small pieces (writes share that path).
    pub(super) fn read_at_all_chunked(
        &mut self,
        offset: u64,
        bytes: &mut [u8],
        chunk: usize,
    ) -> Result<()> {
        self.transfer_all(offset, Buf::Read(bytes), chunk)
    }

    /// A collective transfer in pieces of at most `chunk` bytes (at least 1): every rank makes
    /// as many calls as the rank with the most pieces (passing 0 bytes once its own are done,
    /// and after an error of its own), then the ranks agree on the outcome.
    fn transfer_all(&mut self, offset: u64, mut buf: Buf<'_>, chunk: usize) -> Result<()> {
        let chunk = chunk.max(1);
        let call = match buf {
            Buf::Write(_) => "MPI_File_write_at_all",
            Buf::Read(_) => "MPI_File_read_at_all",
        };
        let len = buf.len();
        let start = self.start(call, offset, &buf);
        // Whether any rank cannot take part, and the number of rounds: one allreduce settles
        // both, and the rare failure then costs one more to agree on the message. (Both stay
        // below 2^63: MPICH 4.0's MPI_MAX was seen to order u64s as signed.)
        let mine = [u64::from(start.is_err()), len.div_ceil(chunk) as u64];
        let mut most = [0u64; 2];
        self.comm.all_reduce_into(&mine, &mut most, ReduceOp::Max)?;
        let [failed, rounds] = most;
        if failed != 0 {
            return self.comm.agree(start.map(|_| ()));
        }
        let start = start?; // Ok on every rank: none failed
        let mut failed = None;
        for k in 0..rounds as usize {
            let lo = k.saturating_mul(chunk).min(len);
            let hi = if failed.is_some() {
                lo
            } else {
                lo.saturating_add(chunk).min(len)
            };
            let at = start + lo as ffi::MPI_Offset;
            if let Err(e) = self.piece(call, true, at, &mut buf, lo..hi) {
                failed.get_or_insert(e);
            }
        }
        self.comm.agree(failed.map_or(Ok(()), Err))
    }

    /// An independent transfer in pieces of at most `chunk` bytes (at least 1); stops at the
    /// first error.
    fn transfer(&mut self, offset: u64, mut buf: Buf<'_>, chunk: usize) -> Result<()> {
        let chunk = chunk.max(1);
        let call = match buf {
            Buf::Write(_) => "MPI_File_write_at",
            Buf::Read(_) => "MPI_File_read_at",
        };
        let len = buf.len();
        let start = self.start(call, offset, &buf)?;
        for lo in (0..len).step_by(chunk) {
            let hi = lo.saturating_add(chunk).min(len);
            self.piece(call, false, start + lo as ffi::MPI_Offset, &mut buf, lo..hi)?;
        }
        Ok(())
    }

    /// One MPI call on `buf[range]` at file offset `at`, collective or independent; a read
    /// must fill the whole range.
    fn piece(
        &mut self,
        call: &str,
        collective: bool,
        at: ffi::MPI_Offset,
        buf: &mut Buf<'_>,
        range: Range<usize>,
    ) -> Result<()> {
        let want = range.len();
        // At most `chunk` bytes, and the public callers' chunk is 1 GiB: a C int.
        let n = c_int::try_from(want).map_err(|_| Error::CountOverflow {
            what: "MPI-IO",
            count: want,
        })?;
        let byte = u8::equivalent_datatype();
        // SAFETY: a plain C struct of integers, for which all zeros is a valid value; MPI
        // overwrites it.
        let mut status: ffi::MPI_Status = unsafe { std::mem::zeroed() };
        let rc = match buf {
            Buf::Write(b) => {
                let p = b[range].as_ptr() as *const c_void;
                // SAFETY: `p` points at `n` initialised bytes of `b` (the slice `b[range]`,
                // bounds-checked above), which stay borrowed through this blocking call; the
                // datatype is one byte, so `n` elements are `n` bytes; `byte` owns its handle
                // and lives to the end of this function; `self.fh` is open; `status` is live.
                unsafe {
                    if collective {
                        ffi::MPI_File_write_at_all(self.fh, at, p, n, byte.as_raw(), &mut status)
                    } else {
                        ffi::MPI_File_write_at(self.fh, at, p, n, byte.as_raw(), &mut status)
                    }
                }
            }
            Buf::Read(b) => {
                let p = b[range].as_mut_ptr() as *mut c_void;
                // SAFETY: `p` points at `n` writable bytes of `b` (the slice `b[range]`,
                // bounds-checked above), mutably borrowed through this blocking call; the
                // datatype is one byte, so MPI writes at most `n` bytes; `byte` owns its handle
                // and lives to the end of this function; `self.fh` is open; `status` is live.
                unsafe {
                    if collective {
                        ffi::MPI_File_read_at_all(self.fh, at, p, n, byte.as_raw(), &mut status)
                    } else {
                        ffi::MPI_File_read_at(self.fh, at, p, n, byte.as_raw(), &mut status)
                    }
                }
            }
        };
        checked(rc, &self.path, call)?;
        if let Buf::Read(_) = buf {
            let mut got: c_int = 0;
            // SAFETY: `status` was filled by the read that just succeeded; `byte` is the
            // datatype it read; `got` is a live int for MPI to write.
            let rc = unsafe { ffi::MPI_Get_count(&status, byte.as_raw(), &mut got) };
            checked(rc, &self.path, "MPI_Get_count")?;
            if got != n {
                return Err(self.io(
                    call,
                    format!(
                        "short read at offset {at}: asked for {want} bytes, got {} (past the end \
                         of the file)",
                        got.max(0)
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Drop for File<'_> {
    /// Closes the file if [`File::close`] did not: collective, so every rank drops its `File`
    /// together (agreed errors make ranks leave a scope together). An error closing is ignored.
    fn drop(&mut self) {
        let _ = self.close_handle();
    }
}

/// `Ok` for MPI_SUCCESS, else an [`Error::Io`] `path: call: MPI's error string`.
fn checked(rc: c_int, path: &str, call: &str) -> Result<()> {
    if rc == ffi::MPI_SUCCESS as c_int {
        return Ok(());
    }
    Err(Error::Io {
        path: path.to_string(),
        message: format!("{call}: {}", error_string(rc)),
    })
}

/// MPI's text for an error code (`MPI_Error_string`).
fn error_string(code: c_int) -> String {
    let mut text = vec![0 as c_char; ffi::MPI_MAX_ERROR_STRING as usize + 1];
    let mut len: c_int = 0;
    // SAFETY: `text` holds MPI_MAX_ERROR_STRING + 1 chars, more than the at most
    // MPI_MAX_ERROR_STRING MPI writes; `len` is a live int for MPI to write.
    let rc = unsafe { ffi::MPI_Error_string(code, text.as_mut_ptr(), &mut len) };
    if rc != ffi::MPI_SUCCESS as c_int {
        return format!("MPI error code {code}");
    }
    let len = (len.max(0) as usize).min(text.len());
    let bytes: Vec<u8> = text[..len].iter().map(|&c| c as u8).collect();
    one_line(&String::from_utf8_lossy(&bytes))
}

/// An MPI error string on one line. MPICH's span several: the error class's text ending in
/// `, error stack:`, then one line per layer, the innermost (the operating system's reason)
/// last; the first and the last are kept.
fn one_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let first = lines.first().map_or("", |l| {
        l.trim_end_matches("error stack:")
            .trim_end_matches([',', ' '])
    });
    match lines.last() {
        Some(last) if lines.len() > 1 => format!("{first}: {last}"),
        _ => first.to_string(),
    }
}

/// The little-endian bytes of `values`: on a little-endian host the values' own memory, with
/// no copy; elsewhere converted into `spare`.
pub(crate) fn le_bytes<'a>(values: &'a [f64], spare: &'a mut Vec<u8>) -> &'a [u8] {
    if cfg!(target_endian = "little") {
        // SAFETY: the slice covers exactly the memory of `values` (size_of_val bytes from its
        // start), borrowed for as long as the view lives; an f64 has no padding, so every byte
        // is initialised, and u8 needs no alignment.
        unsafe {
            std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
        }
    } else {
        spare.clear();
        spare.extend(values.iter().flat_map(|x| x.to_le_bytes()));
        spare
    }
}

/// `values` as the little-endian bytes to read them into, on a little-endian host (their own
/// memory, so a read fills them with no copy); `None` elsewhere.
pub(crate) fn le_bytes_mut(values: &mut [f64]) -> Option<&mut [u8]> {
    // SAFETY: the slice covers exactly the memory of `values`, borrowed mutably for as long as
    // the view lives; every 8-byte pattern is a valid f64, so whatever is written through it
    // leaves `values` valid, and u8 needs no alignment.
    cfg!(target_endian = "little").then(|| unsafe {
        std::slice::from_raw_parts_mut(
            values.as_mut_ptr().cast::<u8>(),
            std::mem::size_of_val(values),
        )
    })
}

/// Fills `values` by `read` into their bytes: straight into them where the host is
/// little-endian, else through a buffer, converted.
fn read_le(values: &mut [f64], read: impl FnOnce(&mut [u8]) -> Result<()>) -> Result<()> {
    if let Some(view) = le_bytes_mut(values) {
        return read(view);
    }
    let mut bytes = vec![0u8; std::mem::size_of_val(values)];
    read(&mut bytes)?;
    for (v, b) in values.iter_mut().zip(bytes.chunks_exact(8)) {
        *v = f64::from_le_bytes(b.try_into().expect("8 bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn mpi_error_strings_become_one_line() {
        let mpich =
            "File does not exist, error stack:\nADIOI_UFS_OPEN(37): File /x does not exist\n";
        assert_eq!(
            one_line(mpich),
            "File does not exist: ADIOI_UFS_OPEN(37): File /x does not exist"
        );
        let ompi = "MPI_ERR_NO_SUCH_FILE: no such file or directory";
        assert_eq!(one_line(ompi), ompi);
        assert_eq!(one_line(""), "");
    }
}
