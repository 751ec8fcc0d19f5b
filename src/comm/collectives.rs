//! Broadcast, scatter, gather, allgather, reduce and allreduce.

use super::{count, counts_and_displs, Comm, VarChunks};
use crate::error::{Error, Result};
use mpi::collective::SystemOperation;
use mpi::datatype::{Partition, PartitionMut};
use mpi::ffi;
use mpi::raw::AsRaw;
use mpi::traits::*;
use std::os::raw::c_void;

/// A reduction operation for [`Comm::reduce`] and [`Comm::all_reduce`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceOp {
    /// Element-wise sum (`MPI_SUM`).
    Sum,
    /// Element-wise product (`MPI_PROD`).
    Prod,
    /// Element-wise minimum (`MPI_MIN`).
    Min,
    /// Element-wise maximum (`MPI_MAX`).
    Max,
}

impl ReduceOp {
    #[inline]
    pub(super) fn system(self) -> SystemOperation {
        match self {
            ReduceOp::Sum => SystemOperation::sum(),
            ReduceOp::Prod => SystemOperation::product(),
            ReduceOp::Min => SystemOperation::min(),
            ReduceOp::Max => SystemOperation::max(),
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// The numeric types MPI reduces natively: `i8`–`i64`, `u8`–`u64`, `usize`, `isize`, `f32`, `f64`.
pub trait Reducible: Equivalence + Copy + Default + sealed::Sealed {}

macro_rules! reducible {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl Reducible for $t {}
    )*};
}
reducible!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64);

impl Comm {
    /// Broadcasts `buf` from `root` into `buf` on every rank (`MPI_Bcast`).
    ///
    /// Zero-overhead form: every rank must pass a buffer of the same length.
    #[inline]
    pub fn broadcast_into<T: Equivalence>(&self, root: usize, buf: &mut [T]) -> Result<()> {
        let root = self.root_rank(root)?;
        let n = count("broadcast", buf.len())?;
        let t = T::equivalent_datatype();
        // SAFETY: `buf` holds `n` elements of `T`'s MPI datatype and stays borrowed for the
        // blocking call; `root` is a rank of this communicator. `t` owns the datatype handle and
        // lives to the end of this function, past the blocking call: a user-defined datatype
        // (rsmpi's `UserDatatype`) frees itself when dropped, so the raw handle must never
        // outlive its owner (as it would in `let t = T::equivalent_datatype().as_raw();`).
        unsafe {
            ffi::MPI_Bcast(
                buf.as_mut_ptr() as *mut c_void,
                n,
                t.as_raw(),
                root,
                self.raw.as_raw(),
            );
        }
        Ok(())
    }

    /// Returns `root`'s `value` on every rank; the other ranks' `value` is ignored.
    #[inline]
    pub fn broadcast<T: Equivalence + Copy>(&self, root: usize, value: T) -> Result<T> {
        let mut v = value;
        self.root(root)?.broadcast_into(&mut v);
        Ok(v)
    }

    /// Returns `root`'s vector, of any length, on every rank; the others pass `None`.
    ///
    /// The length is broadcast first, so the other ranks need not know it. `broadcast_vec::<u8>`
    /// broadcasts bytes. A root that passes `None` is an error on every rank.
    pub fn broadcast_vec<T: Equivalence + Clone + Default>(
        &self,
        root: usize,
        data: Option<Vec<T>>,
    ) -> Result<Vec<T>> {
        const WHAT: &str = "broadcast_vec";
        let p = self.root(root)?;
        let local = match (self.rank == root, &data) {
            (false, _) => Ok(0),
            (true, None) => Err(Error::MissingRootData { what: WHAT }),
            (true, Some(v)) => count(WHAT, v.len()).map(|_| v.len() as u64),
        };
        let len = self.root_decides(root, local)? as usize;
        let mut buf = match data {
            Some(v) if self.rank == root => v,
            _ => vec![T::default(); len],
        };
        if len > 0 {
            p.broadcast_into(&mut buf[..]);
        }
        Ok(buf)
    }

    /// Returns `root`'s string on every rank; the others pass `None`.
    pub fn broadcast_string(&self, root: usize, s: Option<&str>) -> Result<String> {
        let bytes = self.broadcast_vec(root, s.map(|s| s.as_bytes().to_vec()))?;
        // The bytes came from a `&str`, so they are UTF-8.
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Scatters `send`, on `root`, in equal chunks of `recv.len()` elements, rank `i` getting
    /// chunk `i` (`MPI_Scatter`).
    ///
    /// Zero-overhead form: every rank must pass the same `recv.len()`; the root checks that
    /// `send` holds `size() * recv.len()` elements. `send` is ignored on the other ranks.
    #[inline]
    pub fn scatter_into<T: Equivalence>(
        &self,
        root: usize,
        send: Option<&[T]>,
        recv: &mut [T],
    ) -> Result<()> {
        let r = self.root_rank(root)?;
        let n = count("scatter", recv.len())?;
        let mut from: *const c_void = std::ptr::null();
        if self.rank == root {
            let send = send.ok_or(Error::MissingRootData { what: "scatter" })?;
            let expected = recv.len() * self.size;
            if send.len() != expected {
                return Err(Error::LengthMismatch {
                    what: "scatter: the root's send buffer",
                    expected,
                    found: send.len(),
                });
            }
            from = send.as_ptr() as *const c_void;
        }
        let t = T::equivalent_datatype();
        // SAFETY: on the root `from` holds size() chunks of `n` elements (checked above); the
        // other ranks' send arguments are ignored by MPI. `recv` holds `n` elements. `t` owns the
        // datatype handle and lives past the blocking call (a `UserDatatype` frees itself on
        // drop, so the raw handle must not outlive it).
        unsafe {
            ffi::MPI_Scatter(
                from,
                n,
                t.as_raw(),
                recv.as_mut_ptr() as *mut c_void,
                n,
                t.as_raw(),
                r,
                self.raw.as_raw(),
            );
        }
        Ok(())
    }

    /// Scatters `root`'s `send` in equal chunks, one per rank, in rank order; the others pass
    /// `None`. Its length must divide by the rank count; the chunk length is sent along.
    pub fn scatter<T: Equivalence + Clone + Default>(
        &self,
        root: usize,
        send: Option<&[T]>,
    ) -> Result<Vec<T>> {
        const WHAT: &str = "scatter";
        self.root(root)?;
        let local = match (self.rank == root, send) {
            (false, _) => Ok(0),
            (true, None) => Err(Error::MissingRootData { what: WHAT }),
            (true, Some(s)) if s.len() % self.size != 0 => Err(Error::NotDivisible {
                what: WHAT,
                len: s.len(),
                ranks: self.size,
            }),
            (true, Some(s)) => count(WHAT, s.len() / self.size).map(|c| c as u64),
        };
        let chunk = self.root_decides(root, local)? as usize;
        let mut recv = vec![T::default(); chunk];
        self.scatter_into(root, send, &mut recv)?;
        Ok(recv)
    }

    /// Scatters `root`'s data in chunks of different lengths (`MPI_Scatterv`): the root passes
    /// `Some((data, lens))` with one length per rank adding up to `data.len()`, the others
    /// `None`; each rank gets its chunk, its length sent along.
    pub fn scatter_varcount<T: Equivalence + Clone + Default>(
        &self,
        root: usize,
        send: Option<(&[T], &[usize])>,
    ) -> Result<Vec<T>> {
        const WHAT: &str = "scatter_varcount";
        let p = self.root(root)?;
        let is_root = self.rank == root;
        let local = match (is_root, send) {
            (false, _) => Ok(0),
            (true, None) => Err(Error::MissingRootData { what: WHAT }),
            (true, Some((data, lens))) => check_lens(WHAT, data.len(), lens, self.size).map(|_| 0),
        };
        self.root_decides(root, local)?;
        let mut mine: u64 = 0;
        match send {
            Some((_, lens)) if is_root => {
                let lens: Vec<u64> = lens.iter().map(|&n| n as u64).collect();
                p.scatter_into_root(&lens[..], &mut mine);
            }
            _ => p.scatter_into(&mut mine),
        }
        let mut recv = vec![T::default(); mine as usize];
        match send {
            Some((data, lens)) if is_root => {
                let (counts, displs) = counts_and_displs(WHAT, lens)?;
                p.scatter_varcount_into_root(&Partition::new(data, counts, displs), &mut recv[..]);
            }
            _ => p.scatter_varcount_into(&mut recv[..]),
        }
        Ok(recv)
    }

    /// Gathers every rank's `send`, all of the same length, into `recv` on `root` in rank order
    /// (`MPI_Gather`).
    ///
    /// Zero-overhead form: the root passes `Some(recv)` of `size() * send.len()` elements (it
    /// checks), the others `None` (ignored); every rank must send the same length.
    #[inline]
    pub fn gather_into<T: Equivalence>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<&mut [T]>,
    ) -> Result<()> {
        let r = self.root_rank(root)?;
        let n = count("gather", send.len())?;
        let mut into: *mut c_void = std::ptr::null_mut();
        if self.rank == root {
            let recv = recv.ok_or(Error::MissingRootData { what: "gather" })?;
            let expected = send.len() * self.size;
            if recv.len() != expected {
                return Err(Error::LengthMismatch {
                    what: "gather: the root's receive buffer",
                    expected,
                    found: recv.len(),
                });
            }
            into = recv.as_mut_ptr() as *mut c_void;
        }
        let t = T::equivalent_datatype();
        // SAFETY: `send` holds `n` elements; on the root `into` holds size() chunks of `n`
        // (checked above), elsewhere MPI ignores it. `t` owns the datatype handle and lives past
        // the blocking call (a `UserDatatype` frees itself on drop).
        unsafe {
            ffi::MPI_Gather(
                send.as_ptr() as *const c_void,
                n,
                t.as_raw(),
                into,
                n,
                t.as_raw(),
                r,
                self.raw.as_raw(),
            );
        }
        Ok(())
    }

    /// Gathers every rank's `send` on `root`, in rank order: `Some` there, `None` elsewhere.
    ///
    /// All ranks must send the same length; ranks that do not are an `UnequalLengths` error on
    /// every rank (use [`Comm::gather_varcount`] for chunks of different lengths).
    pub fn gather<T: Equivalence + Clone + Default>(
        &self,
        root: usize,
        send: &[T],
    ) -> Result<Option<Vec<T>>> {
        self.root(root)?;
        let n = self.equal_lens("gather", send.len())?;
        count("gather", n * self.size)?;
        if self.rank == root {
            let mut out = vec![T::default(); n * self.size];
            self.gather_into(root, send, Some(&mut out))?;
            Ok(Some(out))
        } else {
            self.gather_into(root, send, None)?;
            Ok(None)
        }
    }

    /// Gathers chunks of any lengths on `root` (`MPI_Gatherv`); the lengths are exchanged first,
    /// so no rank needs to know the others'. `Some` on the root, `None` elsewhere.
    pub fn gather_varcount<T: Equivalence + Clone + Default>(
        &self,
        root: usize,
        send: &[T],
    ) -> Result<Option<VarChunks<T>>> {
        const WHAT: &str = "gather_varcount";
        let p = self.root(root)?;
        let spare = super::spare();
        let send = super::placed(send, &spare);
        let lens = self.all_lens(send.len());
        let (counts, displs) = counts_and_displs(WHAT, &lens)?;
        if self.rank == root {
            let mut buf = vec![T::default(); lens.iter().sum()];
            let mut part = PartitionMut::new(&mut buf[..], counts, displs);
            p.gather_varcount_into_root(send, &mut part);
            Ok(Some(VarChunks::new(buf, &lens)))
        } else {
            p.gather_varcount_into(send);
            Ok(None)
        }
    }

    /// Gathers every rank's `send`, all of the same length, into `recv` on every rank
    /// (`MPI_Allgather`).
    ///
    /// Zero-overhead form: `recv` must hold `size() * send.len()` elements.
    #[inline]
    pub fn all_gather_into<T: Equivalence>(&self, send: &[T], recv: &mut [T]) -> Result<()> {
        count("all_gather", send.len())?;
        let expected = send.len() * self.size;
        if recv.len() != expected {
            return Err(Error::LengthMismatch {
                what: "all_gather: the receive buffer",
                expected,
                found: recv.len(),
            });
        }
        self.raw.all_gather_into(send, recv);
        Ok(())
    }

    /// Every rank's `send`, all of the same length, concatenated in rank order, on every rank.
    pub fn all_gather<T: Equivalence + Clone + Default>(&self, send: &[T]) -> Result<Vec<T>> {
        let n = self.equal_lens("all_gather", send.len())?;
        count("all_gather", n * self.size)?;
        let mut out = vec![T::default(); n * self.size];
        self.all_gather_into(send, &mut out)?;
        Ok(out)
    }

    /// Every rank's `send`, of any length, on every rank (`MPI_Allgatherv`).
    pub fn all_gather_varcount<T: Equivalence + Clone + Default>(
        &self,
        send: &[T],
    ) -> Result<VarChunks<T>> {
        let spare = super::spare();
        let send = super::placed(send, &spare);
        let lens = self.all_lens(send.len());
        let (counts, displs) = counts_and_displs("all_gather_varcount", &lens)?;
        let mut buf = vec![T::default(); lens.iter().sum()];
        let mut part = PartitionMut::new(&mut buf[..], counts, displs);
        self.raw.all_gather_varcount_into(send, &mut part);
        Ok(VarChunks::new(buf, &lens))
    }

    /// Reduces every rank's `send` element-wise with `op` into `recv` on `root` (`MPI_Reduce`).
    ///
    /// Zero-overhead form: the root passes `Some(recv)` as long as `send` (it checks), the others
    /// `None`; all ranks must send the same length.
    #[inline]
    pub fn reduce_into<T: Reducible>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<&mut [T]>,
        op: ReduceOp,
    ) -> Result<()> {
        let r = self.root_rank(root)?;
        let n = count("reduce", send.len())?;
        let mut into: *mut c_void = std::ptr::null_mut();
        if self.rank == root {
            let recv = recv.ok_or(Error::MissingRootData { what: "reduce" })?;
            if recv.len() != send.len() {
                return Err(Error::LengthMismatch {
                    what: "reduce: the root's receive buffer",
                    expected: send.len(),
                    found: recv.len(),
                });
            }
            into = recv.as_mut_ptr() as *mut c_void;
        }
        let t = T::equivalent_datatype();
        let o = op.system();
        // SAFETY: `send` holds `n` elements; on the root `into` holds `n` too (checked above),
        // elsewhere MPI ignores it. `t` and `o` own the datatype and operation handles and live
        // past the blocking call, so MPI never sees a handle freed by a dropped temporary.
        unsafe {
            ffi::MPI_Reduce(
                send.as_ptr() as *const c_void,
                into,
                n,
                t.as_raw(),
                o.as_raw(),
                r,
                self.raw.as_raw(),
            );
        }
        Ok(())
    }

    /// Every rank's `send` reduced element-wise with `op`: `Some` on `root`, `None` elsewhere.
    /// All ranks must pass the same length (checked on every rank).
    pub fn reduce<T: Reducible>(
        &self,
        root: usize,
        send: &[T],
        op: ReduceOp,
    ) -> Result<Option<Vec<T>>> {
        self.root(root)?;
        let n = self.equal_lens("reduce", send.len())?;
        if self.rank == root {
            let mut out = vec![T::default(); n];
            self.reduce_into(root, send, Some(&mut out), op)?;
            Ok(Some(out))
        } else {
            self.reduce_into(root, send, None, op)?;
            Ok(None)
        }
    }

    /// Every rank's `value` reduced with `op`: `Some` on `root`, `None` elsewhere.
    #[inline]
    pub fn reduce_value<T: Reducible>(
        &self,
        root: usize,
        value: T,
        op: ReduceOp,
    ) -> Result<Option<T>> {
        let p = self.root(root)?;
        if self.rank == root {
            let mut out = T::default();
            p.reduce_into_root(&value, &mut out, op.system());
            Ok(Some(out))
        } else {
            p.reduce_into(&value, op.system());
            Ok(None)
        }
    }

    /// Reduces every rank's `send` element-wise with `op` into `recv` on every rank
    /// (`MPI_Allreduce`).
    ///
    /// Zero-overhead form: `recv` must be as long as `send` (checked), and all ranks must pass the
    /// same length.
    #[inline]
    pub fn all_reduce_into<T: Reducible>(
        &self,
        send: &[T],
        recv: &mut [T],
        op: ReduceOp,
    ) -> Result<()> {
        count("all_reduce", send.len())?;
        if recv.len() != send.len() {
            return Err(Error::LengthMismatch {
                what: "all_reduce: the receive buffer",
                expected: send.len(),
                found: recv.len(),
            });
        }
        self.raw.all_reduce_into(send, recv, op.system());
        Ok(())
    }

    /// Every rank's `send` reduced element-wise with `op`, on every rank. All ranks must pass the
    /// same length (checked on every rank).
    pub fn all_reduce<T: Reducible>(&self, send: &[T], op: ReduceOp) -> Result<Vec<T>> {
        let n = self.equal_lens("all_reduce", send.len())?;
        let mut out = vec![T::default(); n];
        self.all_reduce_into(send, &mut out, op)?;
        Ok(out)
    }

    /// Every rank's `value` reduced with `op`, on every rank.
    #[inline]
    pub fn all_reduce_value<T: Reducible>(&self, value: T, op: ReduceOp) -> Result<T> {
        let mut out = T::default();
        self.raw.all_reduce_into(&value, &mut out, op.system());
        Ok(out)
    }

    /// Every rank's `len`, in rank order, on every rank.
    fn all_lens(&self, len: usize) -> Vec<usize> {
        let mine = len as u64;
        let mut lens = vec![0u64; self.size];
        self.raw.all_gather_into(&mine, &mut lens[..]);
        lens.into_iter().map(|n| n as usize).collect()
    }
}

/// Checks one length per rank, adding up to `total` and fitting MPI counts.
fn check_lens(what: &'static str, total: usize, lens: &[usize], ranks: usize) -> Result<()> {
    if lens.len() != ranks {
        return Err(Error::LengthMismatch {
            what: "scatter_varcount: the root's lengths (one per rank)",
            expected: ranks,
            found: lens.len(),
        });
    }
    let sum: usize = lens.iter().sum();
    if sum != total {
        return Err(Error::LengthMismatch {
            what: "scatter_varcount: the root's data (the sum of the lengths)",
            expected: sum,
            found: total,
        });
    }
    counts_and_displs(what, lens).map(|_| ())
}
