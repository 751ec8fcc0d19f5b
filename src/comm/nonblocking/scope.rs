//! Nonblocking collectives that borrow their buffers for the length of a scope:
//! [`Comm::immediate_scope`], [`ImmediateScope`] and its [`Request`]s.

use super::{check_len, read_at, start, test, wait, write_at, Collective};
use crate::comm::{count, Comm, ReduceOp, Reducible};
use crate::error::{Error, Result};
use mpi::ffi;
use mpi::raw::AsRaw;
use mpi::traits::Equivalence;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::os::raw::c_int;

impl Comm {
    /// Runs `f` with a scope in which nonblocking collectives may borrow buffers from outside
    /// it; returns `f`'s result once every request started in the scope has completed.
    ///
    /// As with [`std::thread::scope`], a buffer lent to a request stays borrowed to the end of
    /// the scope, except that [`Request::wait`] hands the receive buffer back, filled in.
    ///
    /// ```no_run
    /// use halo::comm::ReduceOp;
    ///
    /// # fn main() -> halo::Result<()> {
    /// let mpi = halo::comm::init()?;
    /// let world = mpi.world();
    /// let mine = [world.rank() as i64, 1];
    /// let mut totals = [0i64; 2];
    /// let local_work = world.immediate_scope(|s| -> halo::Result<f64> {
    ///     let mut request = s.all_reduce_into(&mine, &mut totals, ReduceOp::Sum)?;
    ///     let work = (0..1000).map(|i| i as f64).sum::<f64>(); // overlapped
    ///     request.test();
    ///     let totals = request.wait();
    ///     assert_eq!(totals[1], world.size() as i64);
    ///     Ok(work)
    /// })?;
    /// assert_eq!(totals[1], world.size() as i64); // the buffer is the caller's again
    /// # let _ = local_work;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// A buffer that does not outlive the scope cannot be lent:
    ///
    /// ```compile_fail,E0597
    /// use halo::comm::ReduceOp;
    /// let mpi = halo::comm::init().unwrap();
    /// let world = mpi.world();
    /// world.immediate_scope(|s| {
    ///     let mine = [1.0f64];
    ///     let mut total = [0.0f64];
    ///     let r = s.all_reduce_into(&mine, &mut total, ReduceOp::Sum).unwrap();
    ///     std::mem::forget(r); // would leave MPI writing into `total` after it is gone
    /// });
    /// ```
    ///
    /// Nor can a buffer lent to a request be read before the scope ends, except through
    /// [`Request::wait`]:
    ///
    /// ```compile_fail,E0502
    /// let mpi = halo::comm::init().unwrap();
    /// let world = mpi.world();
    /// let mut buf = [0u32; 4];
    /// world.immediate_scope(|s| {
    ///     let r = s.broadcast_into(0, &mut buf).unwrap();
    ///     drop(r);
    ///     println!("{}", buf[0]); // error: still lent to the scope
    /// });
    /// ```
    pub fn immediate_scope<'env, F, R>(&'env self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope ImmediateScope<'scope, 'env>) -> R,
    {
        let scope = ImmediateScope {
            comm: self,
            slots: RefCell::new(Vec::new()),
            _scope: PhantomData,
            _env: PhantomData,
        };
        // Waits for what is still in flight when `f` returns or unwinds. Declared after
        // `scope`, so dropped before it.
        let _finish = FinishScope(&scope.slots);
        f(&scope)
    }
}

/// One request of a scope: its MPI handle, and whether a [`Request`] still owns the slot.
struct Slot {
    request: ffi::MPI_Request,
    taken: bool,
}

/// A scope in which nonblocking collectives borrow buffers: see [`Comm::immediate_scope`].
///
/// Not `Send` or `Sync`.
///
/// ```compile_fail,E0277
/// fn shared_with_another_thread<T: Sync>() {}
/// shared_with_another_thread::<halo::comm::ImmediateScope<'static, 'static>>(); // error
/// ```
pub struct ImmediateScope<'scope, 'env: 'scope> {
    comm: &'env Comm,
    /// Every request started in the scope; a slot is reused once its request has completed.
    slots: RefCell<Vec<Slot>>,
    /// Invariant in `'scope`, as in `std::thread::Scope`, so borrows lent to it last as long.
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl<'scope> ImmediateScope<'scope, '_> {
    /// The requests started in this scope that have not completed: the scope waits for these
    /// when it ends. A [`Request`] completes when it is waited for, tested done, or dropped.
    pub fn in_flight(&self) -> usize {
        self.slots.borrow().iter().filter(|s| s.taken).count()
    }

    /// Starts reducing every rank's `send` element-wise with `op` into `recv` on every rank
    /// (`MPI_Iallreduce`). Both stay borrowed to the end of the scope; [`Request::wait`] hands
    /// `recv` back with the result.
    ///
    /// Zero-overhead form, like [`Comm::all_reduce_into`]: `recv` must be as long as `send`
    /// (checked), and all ranks must pass the same length.
    pub fn all_reduce_into<T: Reducible>(
        &'scope self,
        send: &'scope [T],
        recv: &'scope mut [T],
        op: ReduceOp,
    ) -> Result<Request<'scope, T>> {
        let n = count("immediate all_reduce", send.len())?;
        check_len(
            "immediate all_reduce: the receive buffer",
            send.len(),
            recv.len(),
        )?;
        // SAFETY: `send` and `recv` hold the `n` elements each that an allreduce uses (checked).
        Ok(unsafe { self.start_borrowed(Collective::AllReduce(op), send, recv, n) })
    }

    /// Starts broadcasting `root`'s `buf` into every rank's (`MPI_Ibcast`). It stays borrowed to
    /// the end of the scope; [`Request::wait`] hands it back holding `root`'s data.
    ///
    /// Zero-overhead form, like [`Comm::broadcast_into`]: every rank passes a buffer of the same
    /// length.
    pub fn broadcast_into<T: Equivalence>(
        &'scope self,
        root: usize,
        buf: &'scope mut [T],
    ) -> Result<Request<'scope, T>> {
        let r = self.comm.root_rank(root)?;
        let n = count("immediate broadcast", buf.len())?;
        // SAFETY: `buf`, the receive buffer, holds the `n` elements a broadcast uses (the send
        // buffer is unused); `r` is a rank of the communicator (checked).
        Ok(unsafe { self.start_borrowed(Collective::Broadcast { root: r }, &[], buf, n) })
    }

    /// Starts scattering `send`, on `root`, in equal chunks of `recv.len()` elements into
    /// `recv`, rank `i` getting chunk `i` (`MPI_Iscatter`). Both stay borrowed to the end of the
    /// scope; [`Request::wait`] hands `recv` back holding this rank's chunk.
    ///
    /// Zero-overhead form, like [`Comm::scatter_into`]: every rank passes the same `recv.len()`;
    /// the root checks that `send` holds `size() * recv.len()` elements; `send` is ignored on the
    /// other ranks.
    pub fn scatter_into<T: Equivalence>(
        &'scope self,
        root: usize,
        send: Option<&'scope [T]>,
        recv: &'scope mut [T],
    ) -> Result<Request<'scope, T>> {
        const WHAT: &str = "immediate scatter";
        let r = self.comm.root_rank(root)?;
        let n = count(WHAT, recv.len())?;
        let send = if self.comm.rank == root {
            let send = send.ok_or(Error::MissingRootData { what: WHAT })?;
            check_len(
                "immediate scatter: the root's send buffer",
                recv.len() * self.comm.size,
                send.len(),
            )?;
            send
        } else {
            &[]
        };
        // SAFETY: on the root `send` holds size() chunks of `n` elements (checked above); the
        // other ranks' send buffers are ignored by MPI. `recv` holds `n`. `r` is a rank of the
        // communicator (checked).
        Ok(unsafe { self.start_borrowed(Collective::Scatter { root: r }, send, recv, n) })
    }

    /// Starts gathering every rank's `send`, all of the same length, into `recv` on `root` in
    /// rank order (`MPI_Igather`). Both stay borrowed to the end of the scope; [`Request::wait`]
    /// hands `recv` back: on the root holding every rank's data, elsewhere as it was passed (an
    /// empty slice for `None`).
    ///
    /// Zero-overhead form, like [`Comm::gather_into`]: the root passes `Some(recv)` of
    /// `size() * send.len()` elements (it checks), the others `None` (ignored); every rank must
    /// send the same length.
    pub fn gather_into<T: Equivalence>(
        &'scope self,
        root: usize,
        send: &'scope [T],
        recv: Option<&'scope mut [T]>,
    ) -> Result<Request<'scope, T>> {
        const WHAT: &str = "immediate gather";
        let r = self.comm.root_rank(root)?;
        let n = count(WHAT, send.len())?;
        let recv = if self.comm.rank == root {
            let recv = recv.ok_or(Error::MissingRootData { what: WHAT })?;
            check_len(
                "immediate gather: the root's receive buffer",
                send.len() * self.comm.size,
                recv.len(),
            )?;
            recv
        } else {
            recv.unwrap_or_default()
        };
        // SAFETY: `send` holds `n` elements; on the root `recv` holds size() chunks of `n`
        // (checked above), elsewhere MPI ignores it. `r` is a rank of the communicator
        // (checked).
        Ok(unsafe { self.start_borrowed(Collective::Gather { root: r }, send, recv, n) })
    }

    /// Starts gathering every rank's `send`, all of the same length, into `recv` on every rank
    /// in rank order (`MPI_Iallgather`). Both stay borrowed to the end of the scope;
    /// [`Request::wait`] hands `recv` back holding every rank's data.
    ///
    /// Zero-overhead form, like [`Comm::all_gather_into`]: `recv` must hold `size() * send.len()`
    /// elements (checked), and every rank must send the same length.
    pub fn all_gather_into<T: Equivalence>(
        &'scope self,
        send: &'scope [T],
        recv: &'scope mut [T],
    ) -> Result<Request<'scope, T>> {
        let n = count("immediate all_gather", send.len())?;
        check_len(
            "immediate all_gather: the receive buffer",
            send.len() * self.comm.size,
            recv.len(),
        )?;
        // SAFETY: `send` holds `n` elements and `recv` size() chunks of `n` (checked above).
        Ok(unsafe { self.start_borrowed(Collective::AllGather, send, recv, n) })
    }

    /// Starts `what` with `n` elements per rank on buffers borrowed for the scope.
    ///
    /// # Safety
    /// `send` and `recv` must hold as many elements as `what` uses with `n` per rank on this
    /// rank (see [`start`]), and `what`'s root must be a rank of the scope's communicator.
    unsafe fn start_borrowed<T: Equivalence>(
        &'scope self,
        what: Collective,
        send: &'scope [T],
        recv: &'scope mut [T],
        n: c_int,
    ) -> Request<'scope, T> {
        let datatype = T::equivalent_datatype();
        // SAFETY: the lengths and the root as the caller promises. `send` and `recv` are
        // borrowed for 'scope, to the end of `Comm::immediate_scope`, which waits for this
        // request before it returns (its slot stays taken until the request has completed, and
        // the scope waits for every taken slot). `recv` moves into the `Request`, which hands it
        // back only once the request has completed. The owner of the datatype handle moves into
        // the `Request` too, which drops it only after completing the request (or, leaked,
        // never). The communicator is borrowed for 'env, longer than the scope.
        let request = unsafe {
            start(
                self.comm,
                what,
                read_at(send),
                write_at(recv),
                n,
                datatype.as_raw(),
            )
        };
        let mut slots = self.slots.borrow_mut();
        let taken = Slot {
            request,
            taken: true,
        };
        let slot = match slots.iter().position(|s| !s.taken) {
            Some(i) => {
                slots[i] = taken;
                i
            }
            None => {
                slots.push(taken);
                slots.len() - 1
            }
        };
        Request {
            slots: &self.slots,
            slot,
            done: false,
            recv,
            _datatype: datatype,
        }
    }
}

/// A collective in flight that borrows its buffers: returned by
/// [`ImmediateScope::broadcast_into`], [`ImmediateScope::scatter_into`],
/// [`ImmediateScope::gather_into`], [`ImmediateScope::all_gather_into`] and
/// [`ImmediateScope::all_reduce_into`].
///
/// Dropping it before it completes waits for it. Not `Send`: it is completed on the thread that
/// started it.
///
/// ```compile_fail,E0277
/// fn on_another_thread<T: Send>() {}
/// on_another_thread::<halo::comm::Request<'static, f64>>(); // error: cannot be sent
/// ```
#[must_use = "a collective in flight gives its answer through wait()"]
pub struct Request<'scope, T: Equivalence> {
    slots: &'scope RefCell<Vec<Slot>>,
    slot: usize,
    /// Whether the request has completed; its slot is then free.
    done: bool,
    /// Written by MPI until the request completes; handed back by `wait`.
    recv: &'scope mut [T],
    /// Owns the datatype handle MPI uses until the request completes.
    _datatype: T::Out,
}

impl<'scope, T: Equivalence> Request<'scope, T> {
    /// Lets MPI move the collective along (`MPI_Test`); returns whether it has completed.
    pub fn test(&mut self) -> bool {
        if !self.done {
            let mut slots = self.slots.borrow_mut();
            let slot = &mut slots[self.slot];
            // SAFETY: the slot's request came from `start` and has not completed (completing it
            // sets `done`), and no other `Request` owns this slot (it is taken until then).
            if unsafe { test(&mut slot.request) } {
                slot.taken = false;
                self.done = true;
            }
        }
        self.done
    }

    /// Waits for the collective and hands back the receive buffer, holding the result.
    pub fn wait(mut self) -> &'scope mut [T] {
        self.complete();
        std::mem::take(&mut self.recv)
    }

    /// Waits if need be, and frees the slot.
    fn complete(&mut self) {
        if !self.done {
            let mut slots = self.slots.borrow_mut();
            let slot = &mut slots[self.slot];
            // SAFETY: as in `test`.
            unsafe { wait(&mut slot.request) };
            slot.taken = false;
            self.done = true;
        }
    }
}

impl<T: Equivalence> Drop for Request<'_, T> {
    fn drop(&mut self) {
        // Before the datatype (dropped after this) is freed, and the borrow of `recv` ends.
        self.complete();
    }
}

/// Waits, at the end of a scope, for every request a [`Request`] did not complete (one leaked
/// with `mem::forget`).
struct FinishScope<'a>(&'a RefCell<Vec<Slot>>);

impl Drop for FinishScope<'_> {
    fn drop(&mut self) {
        for slot in self.0.borrow_mut().iter_mut().filter(|s| s.taken) {
            // SAFETY: a taken slot holds a request from `start` whose `Request` never completed
            // it (completing frees the slot), so MPI has not freed it.
            unsafe { wait(&mut slot.request) };
            slot.taken = false;
        }
    }
}
