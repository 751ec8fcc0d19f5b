//! Error agreement: one rank's failure becomes every rank's error, together.

use super::Comm;
use crate::error::{Error, Result};
use mpi::collective::SystemOperation;
use mpi::traits::*;

impl Comm {
    /// Makes a rank-local outcome collective: if `local` is `Err` on any rank, every rank returns
    /// [`Error::Agreed`] naming the lowest failing rank and its error's text; otherwise each rank
    /// gets its own `Ok` back.
    ///
    /// Costs one allreduce of one integer when all is well, and a broadcast of the message when
    /// not. Every rank must call it, the failing ones included, as with any collective. This is
    /// the Parallel Research Kernels' `bail_out`: validate, agree, then either all go on or all
    /// leave, and rank 0 prints the one message.
    ///
    /// ```no_run
    /// # fn main() -> halo::Result<()> {
    /// let mpi = halo::comm::init()?;
    /// let world = mpi.world();
    /// let parsed: halo::Result<u32> = if world.rank() == 2 {
    ///     Err(halo::Error::Decomposition("rank 2 could not read its input".into()))
    /// } else {
    ///     Ok(7)
    /// };
    /// match world.agree(parsed) {
    ///     Ok(v) => println!("rank {} has {v}", world.rank()),
    ///     Err(e) if world.rank() == 0 => eprintln!("error: {e}"),
    ///     Err(_) => {}
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn agree<T>(&self, local: Result<T>) -> Result<T> {
        let mine: u64 = if local.is_err() {
            self.rank as u64
        } else {
            self.size as u64
        };
        let mut first: u64 = 0;
        self.raw
            .all_reduce_into(&mine, &mut first, SystemOperation::min());
        if first == self.size as u64 {
            return local;
        }
        let first = first as usize;
        Err(self.agreed_from(first, local.err()))
    }

    /// Like [`Comm::agree`], but only `root`'s outcome counts (the other ranks pass anything):
    /// the root broadcasts whether it succeeded and its value, or its error.
    pub(crate) fn root_decides(&self, root: usize, local: Result<u64>) -> Result<u64> {
        let mut header: [u64; 2] = match &local {
            Ok(v) => [0, *v],
            Err(_) => [1, 0],
        };
        self.raw
            .process_at_rank(root as i32)
            .broadcast_into(&mut header[..]);
        if header[0] == 0 {
            return Ok(header[1]);
        }
        Err(self.agreed_from(root, local.err()))
    }

    /// `Error::Agreed` on every rank from `rank`'s error (the others pass anything): its exit
    /// code and text are broadcast from there.
    fn agreed_from(&self, rank: usize, err: Option<Error>) -> Error {
        let mut bytes = Vec::new();
        if let Some(e) = err {
            bytes.push(e.exit_code());
            bytes.extend_from_slice(e.to_string().as_bytes());
        }
        let bytes = self.bytes_from(rank, bytes);
        let (code, text) = bytes.split_first().map_or((1, &[][..]), |(c, t)| (*c, t));
        Error::Agreed {
            rank,
            code,
            message: String::from_utf8_lossy(text).into_owned(),
        }
    }

    /// Broadcasts a byte string of any length from `root` (its length first). `root` must be in
    /// range; only the root's `bytes` are read.
    pub(crate) fn bytes_from(&self, root: usize, mut bytes: Vec<u8>) -> Vec<u8> {
        let p = self.raw.process_at_rank(root as i32);
        let mut len = bytes.len() as u64;
        p.broadcast_into(&mut len);
        if self.rank != root {
            bytes = vec![0; len as usize];
        }
        if len > 0 {
            p.broadcast_into(&mut bytes[..]);
        }
        bytes
    }

    /// Every rank's `len` agreed on: `Ok(len)` when all are equal, else `UnequalLengths` on all.
    pub(crate) fn equal_lens(&self, what: &'static str, len: usize) -> Result<usize> {
        let mine = [len as u64, u64::MAX - len as u64];
        let mut ext = [0u64; 2];
        self.raw
            .all_reduce_into(&mine[..], &mut ext[..], SystemOperation::max());
        let (max, min) = (ext[0] as usize, (u64::MAX - ext[1]) as usize);
        if min != max {
            return Err(Error::UnequalLengths { what, min, max });
        }
        Ok(len)
    }
}
