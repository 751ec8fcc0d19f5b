//! Nonblocking collectives: start one, compute while it travels, then wait for its answer.
//!
//! A pipelined Krylov solver hides the latency of its reductions behind its operator: it starts
//! an allreduce (`MPI_Iallreduce`), applies the stencil, and only then waits for the sum. MPI
//! writes the answer into the receive buffer at some point before the wait returns, so that
//! buffer must stay put, and untouched, until then. Two forms keep that promise in safe code:
//!
//! - [`Comm::immediate_all_reduce`] takes its send buffer by value and owns both buffers until
//!   [`AllReduce::wait`] hands the answer back. Nothing else can touch them meanwhile, and even
//!   a request leaked with [`std::mem::forget`] leaks its buffers with it, so MPI never writes
//!   into freed memory.
//! - [`Comm::immediate_scope`] lends borrowed buffers for the length of a scope, as
//!   [`std::thread::scope`] lends them to threads: inside it, [`ImmediateScope::all_reduce_into`]
//!   starts a reduction from `&[T]` into `&mut [T]`, and [`Request::wait`] gives the receive
//!   buffer back with the answer in it. The scope waits for every request still in flight
//!   before it returns (also one leaked with `mem::forget`, also when a panic unwinds through
//!   it), so the borrows outlive every write MPI makes.
//!
//! Either way, dropping a request that has not completed waits for it. Requests are neither
//! `Send` nor `Sync`: they are completed on the thread that started them, like every MPI call
//! of a [`Comm`].
//!
//! Some transports (OpenMPI's own collectives among them) progress a nonblocking collective only
//! while the program is inside MPI: a computation that overlaps one should call `test` now and
//! then (every few thousand cells) to let it move.

use super::{count, Comm, ReduceOp, Reducible};
use crate::error::{Error, Result};
use mpi::ffi;
use mpi::raw::AsRaw;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::os::raw::{c_int, c_void};

impl Comm {
    /// Starts reducing every rank's `send` element-wise with `op` (`MPI_Iallreduce`); the
    /// returned [`AllReduce`] owns the buffers until [`AllReduce::wait`] returns the result,
    /// the same on every rank.
    ///
    /// Zero-overhead form, like [`Comm::all_reduce_into`]: all ranks must pass the same length
    /// and start their nonblocking collectives on this communicator in the same order.
    ///
    /// ```no_run
    /// use halo::comm::ReduceOp;
    ///
    /// # fn main() -> halo::Result<()> {
    /// let mpi = halo::comm::init()?;
    /// let world = mpi.world();
    /// let partial = vec![world.rank() as f64, 1.0];
    /// let mut pending = world.immediate_all_reduce(partial, ReduceOp::Sum)?;
    /// let mut local = 0.0;
    /// for i in 0..1_000_000 {
    ///     local += (i as f64).sqrt(); // work that needs no sum
    ///     if i % 10_000 == 0 {
    ///         pending.test(); // let MPI move the reduction along
    ///     }
    /// }
    /// let sums = pending.wait();
    /// assert_eq!(sums[1], world.size() as f64);
    /// # let _ = local;
    /// # Ok(())
    /// # }
    /// ```
    pub fn immediate_all_reduce<T: Reducible>(
        &self,
        send: Vec<T>,
        op: ReduceOp,
    ) -> Result<AllReduce<'_, T>> {
        let n = count("immediate_all_reduce", send.len())?;
        let mut recv = vec![T::default(); send.len()];
        // A predefined MPI type (`Reducible` is sealed to the numeric types), never freed.
        let t = T::equivalent_datatype();
        // SAFETY: `send` and `recv` hold `n` elements of `t` each. Both vectors move into the
        // returned `AllReduce`, which neither reads `recv` nor frees either until the request
        // has completed (`wait`, or `Drop`); moving a `Vec` does not move its heap buffer, and
        // leaking the `AllReduce` leaks the buffers with it, so MPI never writes to freed memory.
        // `self` is borrowed for the request's lifetime.
        let request = unsafe {
            start_all_reduce(
                self,
                send.as_ptr() as *const c_void,
                recv.as_mut_ptr() as *mut c_void,
                n,
                t.as_raw(),
                op,
            )
        };
        Ok(AllReduce {
            request,
            done: false,
            _send: send,
            recv,
            _comm: PhantomData,
            _one_thread: PhantomData,
        })
    }

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

/// Starts `MPI_Iallreduce` of `n` elements of datatype `t` from `send` into `recv`.
///
/// # Safety
/// `send` and `recv` must point to `n` elements of `t` each, and stay valid, `recv` unread and
/// unwritten, until the returned request completes; `t` must stay valid as long (a predefined
/// type always does).
unsafe fn start_all_reduce(
    comm: &Comm,
    send: *const c_void,
    recv: *mut c_void,
    n: c_int,
    t: ffi::MPI_Datatype,
    op: ReduceOp,
) -> ffi::MPI_Request {
    // SAFETY: reading the extern static that holds MPI_REQUEST_NULL; MPI overwrites it below.
    let mut request = unsafe { ffi::RSMPI_REQUEST_NULL };
    let o = op.system();
    // SAFETY: the buffers as the caller promises; `o` is a predefined operation, never freed;
    // the communicator handle belongs to `comm`, which the caller's request borrows.
    unsafe {
        ffi::MPI_Iallreduce(
            send,
            recv,
            n,
            t,
            o.as_raw(),
            comm.raw.as_raw(),
            &mut request,
        );
    }
    request
}

/// Waits for `request` (`MPI_Wait`); it becomes `MPI_REQUEST_NULL`.
///
/// # Safety
/// `request` must be a request MPI returned and has not freed, or `MPI_REQUEST_NULL`.
unsafe fn wait(request: &mut ffi::MPI_Request) {
    // SAFETY: as the caller promises; the status is ignored.
    unsafe {
        ffi::MPI_Wait(request, ffi::RSMPI_STATUS_IGNORE);
    }
}

/// Whether `request` has completed (`MPI_Test`); once it has, it is `MPI_REQUEST_NULL`.
///
/// # Safety
/// As for [`wait`].
unsafe fn test(request: &mut ffi::MPI_Request) -> bool {
    let mut flag: c_int = 0;
    // SAFETY: as the caller promises; `flag` lives across the call; the status is ignored.
    unsafe {
        ffi::MPI_Test(request, &mut flag, ffi::RSMPI_STATUS_IGNORE);
    }
    flag != 0
}

/// A reduction in flight that owns its buffers: returned by [`Comm::immediate_all_reduce`].
///
/// Dropping it before it completes waits for it. Not `Send`: it is completed on the thread that
/// started it.
///
/// ```compile_fail,E0277
/// fn on_another_thread<T: Send>() {}
/// on_another_thread::<halo::comm::AllReduce<'static, f64>>(); // error: cannot be sent
/// ```
#[must_use = "a reduction in flight gives its answer through wait()"]
pub struct AllReduce<'a, T> {
    request: ffi::MPI_Request,
    done: bool,
    /// Read by MPI until the request completes.
    _send: Vec<T>,
    /// Written by MPI until the request completes.
    recv: Vec<T>,
    _comm: PhantomData<&'a Comm>,
    /// Keeps `AllReduce` `!Send` and `!Sync` whatever the MPI library's request handle is.
    _one_thread: PhantomData<*const ()>,
}

impl<T> AllReduce<'_, T> {
    /// Lets MPI move the reduction along (`MPI_Test`); returns whether it has completed.
    pub fn test(&mut self) -> bool {
        if !self.done {
            // SAFETY: `request` came from MPI_Iallreduce and has not completed, so MPI has not
            // freed it.
            self.done = unsafe { test(&mut self.request) };
        }
        self.done
    }

    /// Waits for the reduction and returns its result.
    pub fn wait(mut self) -> Vec<T> {
        self.complete();
        std::mem::take(&mut self.recv)
    }

    fn complete(&mut self) {
        if !self.done {
            // SAFETY: as in `test`.
            unsafe { wait(&mut self.request) };
            self.done = true;
        }
    }
}

impl<T> Drop for AllReduce<'_, T> {
    fn drop(&mut self) {
        // Before the buffers (dropped after this) are freed.
        self.complete();
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
    /// Every request started in the scope; a slot is reused once its [`Request`] is gone.
    slots: RefCell<Vec<Slot>>,
    /// Invariant in `'scope`, as in `std::thread::Scope`, so borrows lent to it last as long.
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl<'scope> ImmediateScope<'scope, '_> {
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
        if recv.len() != send.len() {
            return Err(Error::LengthMismatch {
                what: "immediate all_reduce: the receive buffer",
                expected: send.len(),
                found: recv.len(),
            });
        }
        // A predefined MPI type (`Reducible` is sealed to the numeric types), never freed.
        let t = T::equivalent_datatype();
        // SAFETY: `send` and `recv` hold `n` elements of `t` each and are borrowed for 'scope,
        // to the end of `Comm::immediate_scope`, which waits for this request before it returns
        // (the slot stays taken until a `Request` completes it, and the scope waits for every
        // taken slot). `recv` moves into the `Request`, which hands it back only once the
        // request has completed. The communicator is borrowed for 'env, longer than the scope.
        let request = unsafe {
            start_all_reduce(
                self.comm,
                send.as_ptr() as *const c_void,
                recv.as_mut_ptr() as *mut c_void,
                n,
                t.as_raw(),
                op,
            )
        };
        let mut slots = self.slots.borrow_mut();
        let slot = match slots.iter().position(|s| !s.taken) {
            Some(i) => {
                slots[i] = Slot {
                    request,
                    taken: true,
                };
                i
            }
            None => {
                slots.push(Slot {
                    request,
                    taken: true,
                });
                slots.len() - 1
            }
        };
        Ok(Request {
            slots: &self.slots,
            slot,
            done: false,
            recv: Some(recv),
        })
    }
}

/// A reduction in flight that borrows its buffers: returned by
/// [`ImmediateScope::all_reduce_into`].
///
/// Dropping it before it completes waits for it. Not `Send`: it is completed on the thread that
/// started it.
///
/// ```compile_fail,E0277
/// fn on_another_thread<T: Send>() {}
/// on_another_thread::<halo::comm::Request<'static, f64>>(); // error: cannot be sent
/// ```
#[must_use = "a reduction in flight gives its answer through wait()"]
pub struct Request<'scope, T> {
    slots: &'scope RefCell<Vec<Slot>>,
    slot: usize,
    done: bool,
    recv: Option<&'scope mut [T]>,
}

impl<'scope, T> Request<'scope, T> {
    /// Lets MPI move the reduction along (`MPI_Test`); returns whether it has completed.
    pub fn test(&mut self) -> bool {
        if !self.done {
            let mut slots = self.slots.borrow_mut();
            // SAFETY: the slot's request came from MPI_Iallreduce and has not completed (or is
            // MPI_REQUEST_NULL after completing), and no other `Request` owns this slot.
            self.done = unsafe { test(&mut slots[self.slot].request) };
        }
        self.done
    }

    /// Waits for the reduction and hands back the receive buffer, holding the result.
    pub fn wait(mut self) -> &'scope mut [T] {
        self.complete();
        self.recv
            .take()
            .expect("the receive buffer is handed back once")
    }

    /// Waits if need be, and frees the slot.
    fn complete(&mut self) {
        let mut slots = self.slots.borrow_mut();
        if !self.done {
            // SAFETY: as in `test`.
            unsafe { wait(&mut slots[self.slot].request) };
            self.done = true;
        }
        slots[self.slot].taken = false;
    }
}

impl<T> Drop for Request<'_, T> {
    fn drop(&mut self) {
        if self.recv.is_some() {
            self.complete();
        }
    }
}

/// Waits, at the end of a scope, for every request a [`Request`] did not complete (one leaked
/// with `mem::forget`).
struct FinishScope<'a>(&'a RefCell<Vec<Slot>>);

impl Drop for FinishScope<'_> {
    fn drop(&mut self) {
        for slot in self.0.borrow_mut().iter_mut().filter(|s| s.taken) {
            // SAFETY: a taken slot holds a request from MPI_Iallreduce whose `Request` never
            // completed it (completing frees the slot), so MPI has not freed it, or
            // MPI_REQUEST_NULL if a `test` completed it before the `Request` was leaked.
            unsafe { wait(&mut slot.request) };
            slot.taken = false;
        }
    }
}
