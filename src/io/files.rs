//! Writing files so that a reader never sees half of one, and clearing away the temporary files
//! of runs that died mid-write.
//!
//! [`write_atomic`] writes `DIR/NAME` through `DIR/.NAME.tmp-HOST-PID`, HOST being this host's
//! name and PID this process's id. A run killed mid-write leaves that file behind; the next run
//! into the same directory ([`ensure_dir`]) removes it once it can tell its writer is gone: the
//! name has exactly that form, HOST is this host (on a shared file system a run on another node
//! may be writing it right now, and its PID means nothing here) and no process PID exists.

use crate::error::{Error, Result};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Maps an I/O error on `path` to [`Error::Io`].
pub(crate) fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Creates `dir` and its parents if needed, checks it can be written to, and removes the
/// temporary files that dead `halo` runs on this host left there
/// (see [`remove_stale_temporaries`]).
pub fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Io {
            path: dir.display().to_string(),
            message: "is not a directory (a file of that name is in the way)".into(),
        });
    }
    fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    // A probe of this process's own, so that two runs starting into one directory do not trip
    // over each other's.
    let probe = temporary(&dir.join("halo-write-test"));
    fs::write(&probe, b"").map_err(|e| io_err(dir, e))?;
    fs::remove_file(&probe).map_err(|e| io_err(&probe, e))?;
    remove_stale_temporaries(dir);
    Ok(())
}

/// Creates the temporary file `tmp` (a name from [`temporary`]) for a writer other than
/// [`write_atomic`] (the ranks of a checkpoint), and locks it as `write_atomic` locks its own:
/// refused once the process is exiting ([`abandon_writes`]), so that no temporary is begun after
/// the watchdog has tidied. The lock lasts as long as the returned handle.
pub(crate) fn create_temporary(tmp: &Path) -> std::io::Result<fs::File> {
    let f = {
        let creating = CREATING.lock().unwrap_or_else(|e| e.into_inner());
        if !*creating {
            return Err(std::io::Error::other("not written: the process is exiting"));
        }
        fs::File::create(tmp)?
    };
    lock(&f, false)?;
    Ok(f)
}

/// Writes `bytes` to `path` atomically: into a temporary file beside it, flushed to disk, then
/// renamed over `path`. A crash leaves the old file or the new one, never a torn one (and a
/// temporary file that the next run into the directory removes).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temporary(path);
    let write = || -> std::io::Result<()> {
        let mut f = {
            let creating = CREATING.lock().unwrap_or_else(|e| e.into_inner());
            if !*creating {
                return Err(std::io::Error::other("not written: the process is exiting"));
            }
            fs::File::create(&tmp)?
        };
        // Held until the file is closed (or the process dies): how a tidying run tells a live
        // writer from a dead one, whatever process ids look like from where it stands.
        lock(&f, false)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err(path, e)
    })
}

/// Removes the temporary files in `dir` that [`write_atomic`] began in processes on this host
/// that no longer exist, and returns their paths. Files of live processes, of other hosts, and
/// anything else are left alone; so are files that cannot be removed (this is tidying, not a
/// condition for running). A host whose name cannot be read removes nothing.
pub fn remove_stale_temporaries(dir: &Path) -> Vec<PathBuf> {
    let me = std::process::id();
    remove_temporaries(dir, |pid| pid != me && !alive(pid), Owner::Gone)
}

/// For a process about to exit in the middle of its work (a watchdog): makes every later
/// [`write_atomic`] in this process fail before it creates a file, then removes this process's
/// temporary files in `dirs` (writes cut short) and returns their paths.
pub fn abandon_writes(dirs: &[PathBuf]) -> Vec<PathBuf> {
    *CREATING.lock().unwrap_or_else(|e| e.into_inner()) = false;
    let me = std::process::id();
    dirs.iter()
        .flat_map(|d| remove_temporaries(d, |pid| pid == me, Owner::Us))
        .collect()
}

/// Whether [`write_atomic`] may still create temporary files; taken while it creates one, so
/// that [`abandon_writes`] sees every file created before it and none is created after.
static CREATING: Mutex<bool> = Mutex::new(true);

/// Removes the regular files in `dir` named as [`write_atomic`]'s temporaries on this host whose
/// process id satisfies `whose`; files of [`Owner::Gone`] only if no live writer holds their lock.
fn remove_temporaries(dir: &Path, whose: impl Fn(u32) -> bool, owner: Owner) -> Vec<PathBuf> {
    let (Some(here), Ok(entries)) = (host(), fs::read_dir(dir)) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name();
        let Some((host, pid)) = name.to_str().and_then(temporary_owner) else {
            continue;
        };
        // Never through a symbolic link, never a directory.
        let regular = entry.file_type().is_ok_and(|t| t.is_file());
        if host != here || !regular || !whose(pid) {
            continue;
        }
        // A writer holds its lock until it is done: one that does is alive, even if its process
        // id says otherwise (another PID namespace on this host, a container).
        let free = owner == Owner::Us
            || fs::File::open(entry.path()).is_ok_and(|file| lock(&file, true).is_ok());
        if free && fs::remove_file(entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    removed
}

/// Whose temporary files [`remove_temporaries`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// This process's own (it holds their locks itself).
    Us,
    /// Processes that look gone: removed only if their lock is free.
    Gone,
}

/// Takes an exclusive `flock` on `file`: waiting for it, or failing at once if another holds
/// it (`try`).
fn lock(file: &fs::File, r#try: bool) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let op = if r#try {
        libc::LOCK_EX | libc::LOCK_NB
    } else {
        libc::LOCK_EX
    };
    // SAFETY: flock takes an open descriptor, which `file` owns and keeps open for the call;
    // it reads or writes no memory of ours.
    if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Flushes `dir`'s entries to disk (`fsync` of the directory): a rename into it survives a
/// crash once this returns.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

/// The temporary path [`write_atomic`] writes `path` through: `.NAME.tmp-HOST-PID` beside it.
pub(crate) fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(
        ".{name}.tmp-{}-{}",
        host().unwrap_or("unknown-host"),
        std::process::id()
    ))
}

/// The host and process id in a file name of the form [`temporary`] gives, or `None` for any
/// other name.
fn temporary_owner(file: &str) -> Option<(&str, u32)> {
    let (name, tail) = file.strip_prefix('.')?.rsplit_once(".tmp-")?;
    let (host, pid) = tail.rsplit_once('-')?;
    let id: u32 = pid.parse().ok()?;
    // Exactly as written: no sign, no leading zeros.
    (!name.is_empty() && !host.is_empty() && id.to_string() == pid).then_some((host, id))
}

/// This host's name as temporary file names carry it (characters other than letters, digits,
/// `.`, `_` and `-` replaced by `_`), or `None` if it cannot be read.
fn host() -> Option<&'static str> {
    static HOST: OnceLock<Option<String>> = OnceLock::new();
    HOST.get_or_init(|| {
        let mut buf = [0u8; 256];
        // SAFETY: gethostname writes at most `buf.len()` bytes into `buf`, which is ours and
        // that long; the name is read back only up to its NUL, or the buffer's end.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        let name: String = String::from_utf8_lossy(&buf[..end])
            .chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
                _ => '_',
            })
            .collect();
        (rc == 0 && !name.is_empty()).then_some(name)
    })
    .as_deref()
}

/// Whether a process `pid` exists on this host (in this process's PID namespace). Anything but
/// a definite "no such process" counts as alive, so that nothing is removed on a guess.
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return true;
    };
    if pid <= 0 {
        return true;
    }
    // SAFETY: kill with signal 0 sends nothing; it only checks that `pid` exists (and that we
    // may signal it). A positive pid names one process, never a group.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("halo-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// A process id that no process has: a child that has been waited for.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn a_file_in_the_way_of_a_directory_is_named_as_such() {
        let f = std::env::temp_dir().join(format!("halo-not-a-dir-{}", std::process::id()));
        fs::write(&f, b"x").unwrap();
        let e = ensure_dir(&f).unwrap_err().to_string();
        let _ = fs::remove_file(&f);
        assert!(
            e.ends_with(": is not a directory (a file of that name is in the way)"),
            "{e}"
        );
    }

    #[test]
    fn temporary_names_are_read_back_exactly_and_nothing_else_is() {
        let here = host().expect("this host has a name");
        let t = temporary(Path::new("/x/ckpt-0000000020.halo"));
        let name = t.file_name().unwrap().to_str().unwrap();
        assert_eq!(
            temporary_owner(name),
            Some((here, std::process::id())),
            "{name}"
        );
        assert_eq!(
            temporary_owner(".field.vti.tmp-node-7.cluster-42"),
            Some(("node-7.cluster", 42))
        );
        for other in [
            "field.vti.tmp-node-42",
            ".field.vti.tmp-node-042",
            ".field.vti.tmp-node-+42",
            ".field.vti.tmp-node-",
            ".field.vti.tmp--42",
            "..tmp-node-42",
            ".field.vti.tmp-42",
            ".field.vti",
            "ckpt-0000000020.halo",
        ] {
            assert_eq!(temporary_owner(other), None, "{other}");
        }
    }

    #[test]
    fn stale_temporaries_go_and_live_ones_stay() {
        let d = temp("stale");
        let here = host().unwrap();
        let dead = dead_pid();
        let me = std::process::id();
        let stale = d.join(format!(".ckpt-0000000020.halo.tmp-{here}-{dead}"));
        let live = d.join(format!(".field.vti.tmp-{here}-{me}"));
        let elsewhere = d.join(format!(".field.vti.tmp-{here}x-{dead}"));
        let old_style = d.join(format!(".field.vti.tmp-{dead}"));
        let not_ours = d.join(format!("notes.tmp-{here}-{dead}"));
        for f in [&stale, &live, &elsewhere, &old_style, &not_ours] {
            fs::write(f, b"partial").unwrap();
        }
        let a_dir = d.join(format!(".out.tmp-{here}-{dead}"));
        fs::create_dir(&a_dir).unwrap();
        ensure_dir(&d).unwrap();
        assert!(!stale.exists());
        for kept in [&live, &elsewhere, &old_style, &not_ours, &a_dir] {
            assert!(kept.exists(), "{} was removed", kept.display());
        }
        // The probe of ensure_dir is gone too.
        let left = fs::read_dir(&d).unwrap().count();
        assert_eq!(left, 5);
        // This process's own, as abandon_writes picks them (which cannot be called here: it
        // would stop the other tests' writes).
        assert_eq!(
            remove_temporaries(&d, |pid| pid == me, Owner::Us),
            vec![live.clone()]
        );
        assert!(!live.exists() && elsewhere.exists());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_file_whose_writer_holds_its_lock_stays_whatever_its_pid_says() {
        // A writer in another PID namespace: its process id looks dead from here.
        let d = temp("locked");
        let here = host().unwrap();
        let looks_dead = d.join(format!(".field.vti.tmp-{here}-{}", dead_pid()));
        fs::write(&looks_dead, b"partial").unwrap();
        let writer = fs::File::open(&looks_dead).unwrap();
        lock(&writer, false).unwrap();
        assert!(remove_stale_temporaries(&d).is_empty());
        assert!(looks_dead.exists());
        // Once its writer is gone, the lock is free and the file goes.
        drop(writer);
        assert_eq!(remove_stale_temporaries(&d), vec![looks_dead.clone()]);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_failed_write_leaves_no_temporary() {
        let d = temp("fail");
        let target = d.join("sub");
        fs::create_dir(&target).unwrap();
        // Renaming a file over a directory fails after the temporary was written.
        assert!(write_atomic(&target, b"x").is_err());
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
        write_atomic(&d.join("f"), b"y").unwrap();
        assert_eq!(fs::read(d.join("f")).unwrap(), b"y");
        assert_eq!(fs::read_dir(&d).unwrap().count(), 2);
        let _ = fs::remove_dir_all(&d);
    }
}
