//! Nonblocking collectives: start one, compute while it travels, then wait for its answer.
//!
//! A pipelined Krylov solver hides the latency of its reductions behind its operator: it starts
//! an allreduce (`MPI_Iallreduce`), applies the stencil, and only then waits for the sum. A
//! program that broadcasts its input can likewise build what does not depend on it while the
//! broadcast travels (`MPI_Ibcast`). MPI reads the send buffer and writes the receive buffer at
//! some point before the wait returns, so both must stay put, and the receive buffer untouched,
//! until then. Two forms keep that promise in safe code:
//!
//! | MPI | owns its buffers | borrows them for a scope |
//! |---|---|---|
//! | `MPI_Ibcast` | [`Comm::immediate_broadcast`] | [`ImmediateScope::broadcast_into`] |
//! | `MPI_Iscatter` | [`Comm::immediate_scatter`] | [`ImmediateScope::scatter_into`] |
//! | `MPI_Igather` | [`Comm::immediate_gather`] | [`ImmediateScope::gather_into`] |
//! | `MPI_Iallgather` | [`Comm::immediate_all_gather`] | [`ImmediateScope::all_gather_into`] |
//! | `MPI_Iallreduce` | [`Comm::immediate_all_reduce`] | [`ImmediateScope::all_reduce_into`] |
//!
//! - The owning forms take their send buffers by value and own every buffer until
//!   [`Immediate::wait`] (or [`Gather::wait`]) hands the answer back. Nothing else can touch
//!   them meanwhile, and even a request leaked with [`std::mem::forget`] leaks its buffers with
//!   it, so MPI never writes into freed memory.
//! - [`Comm::immediate_scope`] lends borrowed buffers for the length of a scope, as
//!   [`std::thread::scope`] lends them to threads: inside it, [`ImmediateScope::all_reduce_into`]
//!   and its siblings start a collective from `&[T]` into `&mut [T]`, and [`Request::wait`] gives
//!   the receive buffer back with the answer in it. The scope waits for every request still in
//!   flight before it returns (also one leaked with `mem::forget`, also when a panic unwinds
//!   through it), so the borrows outlive every write MPI makes.
//!
//! Either way, dropping a request that has not completed waits for it, and a request keeps the
//! MPI datatype it was started with alive until it completes (a hand-built one, rsmpi's
//! `UserDatatype`, frees itself when dropped). Requests are neither `Send` nor `Sync`: they are
//! completed on the thread that started them, like every MPI call of a [`Comm`].
//!
//! Like the blocking zero-overhead forms (`*_into`), these check what the calling rank can see
//! (the root in range, counts within MPI's `int`, its own buffers' lengths) and return an `Err`
//! before starting anything; all ranks must pass matching lengths and start their nonblocking
//! collectives on a communicator in the same order. A mistake only the root can see (a send
//! buffer of the wrong length) leaves the other ranks waiting: agree on such inputs first.
//!
//! Some transports (OpenMPI's own collectives among them) progress a nonblocking collective only
//! while the program is inside MPI: a computation that overlaps one should call `test` now and
//! then (every few thousand cells) to let it move.
//!
//! Examples: `examples/nonblocking.rs` (reductions overlapped with work, in both forms) and
//! `examples/overlap_bcast.rs` (a broadcast overlapped with work, each part timed).

use super::{count, Comm, ReduceOp, Reducible};
use crate::error::{Error, Result};
use mpi::ffi;
use mpi::raw::AsRaw;
use mpi::traits::Equivalence;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::os::raw::{c_int, c_void};

impl Comm {
    /// Starts reducing every rank's `send` element-wise with `op` (`MPI_Iallreduce`); the
    /// returned [`AllReduce`] owns the buffers until [`Immediate::wait`] returns the result,
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
        let recv = vec![T::default(); send.len()];
        // SAFETY: `send` and `recv` hold the `n` elements each that an allreduce of `n` uses.
        Ok(unsafe { self.start_owned(Collective::AllReduce(op), send, recv, n) })
    }

    /// Starts broadcasting `root`'s `buf` into every rank's (`MPI_Ibcast`); the returned
    /// [`Immediate`] owns the buffer until [`Immediate::wait`] returns it holding `root`'s data.
    ///
    /// Zero-overhead form, like [`Comm::broadcast_into`]: every rank passes a buffer of the same
    /// length (the others' contents are overwritten).
    ///
    /// ```no_run
    /// # fn main() -> halo::Result<()> {
    /// let mpi = halo::comm::init()?;
    /// let world = mpi.world();
    /// let mut params = vec![0.0f64; 3];
    /// if world.rank() == 0 {
    ///     params.copy_from_slice(&[0.5, 1e-8, 200.0]);
    /// }
    /// let mut pending = world.immediate_broadcast(0, params)?;
    /// let grid: Vec<f64> = (0..10_000).map(|i| i as f64).collect(); // needs no parameter
    /// pending.test();
    /// let params = pending.wait();
    /// assert_eq!(params[2], 200.0);
    /// # let _ = grid;
    /// # Ok(())
    /// # }
    /// ```
    pub fn immediate_broadcast<T: Equivalence>(
        &self,
        root: usize,
        buf: Vec<T>,
    ) -> Result<Immediate<'_, T>> {
        let r = self.root_rank(root)?;
        let n = count("immediate_broadcast", buf.len())?;
        // SAFETY: `buf`, the receive buffer, holds the `n` elements a broadcast of `n` uses (the
        // send buffer is unused); `r` is a rank of `self` (checked).
        Ok(unsafe { self.start_owned(Collective::Broadcast { root: r }, Vec::new(), buf, n) })
    }

    /// Starts scattering `root`'s `send` in equal chunks of `chunk` elements, rank `i` getting
    /// chunk `i` (`MPI_Iscatter`); [`Immediate::wait`] returns this rank's chunk.
    ///
    /// Zero-overhead form, like [`Comm::scatter_into`]: every rank passes the same `chunk`; the
    /// root passes `Some(send)` of `size() * chunk` elements (it checks), the others `None`
    /// (ignored).
    pub fn immediate_scatter<T: Equivalence + Clone + Default>(
        &self,
        root: usize,
        send: Option<Vec<T>>,
        chunk: usize,
    ) -> Result<Immediate<'_, T>> {
        const WHAT: &str = "immediate_scatter";
        let r = self.root_rank(root)?;
        let n = count(WHAT, chunk)?;
        let send = if self.rank == root {
            let send = send.ok_or(Error::MissingRootData { what: WHAT })?;
            check_len(
                "immediate_scatter: the root's send buffer",
                chunk * self.size,
                send.len(),
            )?;
            send
        } else {
            Vec::new()
        };
        let recv = vec![T::default(); chunk];
        // SAFETY: on the root `send` holds size() chunks of `n` elements (checked above); the
        // other ranks' send buffers are ignored by MPI. `recv` holds `n`. `r` is a rank of
        // `self` (checked).
        Ok(unsafe { self.start_owned(Collective::Scatter { root: r }, send, recv, n) })
    }

    /// Starts gathering every rank's `send`, all of the same length, on `root` in rank order
    /// (`MPI_Igather`); [`Gather::wait`] returns `Some` of them all on the root, `None`
    /// elsewhere.
    ///
    /// Zero-overhead form, like [`Comm::gather_into`]: every rank must send the same length.
    pub fn immediate_gather<T: Equivalence + Clone + Default>(
        &self,
        root: usize,
        send: Vec<T>,
    ) -> Result<Gather<'_, T>> {
        let r = self.root_rank(root)?;
        let n = count("immediate_gather", send.len())?;
        let is_root = self.rank == root;
        let recv = if is_root {
            vec![T::default(); send.len() * self.size]
        } else {
            Vec::new()
        };
        // SAFETY: `send` holds `n` elements; on the root `recv` holds size() chunks of `n` (made
        // so above), elsewhere MPI ignores it. `r` is a rank of `self` (checked).
        let inner = unsafe { self.start_owned(Collective::Gather { root: r }, send, recv, n) };
        Ok(Gather {
            inner,
            root: is_root,
        })
    }

    /// Starts gathering every rank's `send`, all of the same length, on every rank in rank order
    /// (`MPI_Iallgather`); [`Immediate::wait`] returns them all, concatenated.
    ///
    /// Zero-overhead form, like [`Comm::all_gather_into`]: every rank must send the same length.
    pub fn immediate_all_gather<T: Equivalence + Clone + Default>(
        &self,
        send: Vec<T>,
    ) -> Result<Immediate<'_, T>> {
        let n = count("immediate_all_gather", send.len())?;
        let recv = vec![T::default(); send.len() * self.size];
        // SAFETY: `send` holds `n` elements and `recv` size() chunks of `n` (made so above).
        Ok(unsafe { self.start_owned(Collective::AllGather, send, recv, n) })
    }

    /// Starts `what` with `n` elements per rank on buffers the returned [`Immediate`] owns.
    ///
    /// # Safety
    /// `send` and `recv` must hold as many elements as `what` uses with `n` per rank on this
    /// rank (see [`start`]), and `what`'s root must be a rank of `self`.
    unsafe fn start_owned<T: Equivalence>(
        &self,
        what: Collective,
        send: Vec<T>,
        mut recv: Vec<T>,
        n: c_int,
    ) -> Immediate<'_, T> {
        let datatype = T::equivalent_datatype();
        // SAFETY: the lengths and the root as the caller promises. The buffers and the owner of
        // the datatype handle move into the returned `Immediate`, which neither reads `recv` nor
        // drops any of them until the request has completed (`wait`, or `Drop`, which runs
        // before the fields are dropped); moving a `Vec` does not move its heap buffer, and
        // leaking the `Immediate` leaks them all with it, so MPI never touches freed memory.
        // `self` is borrowed for the request's lifetime.
        let request = unsafe {
            start(
                self,
                what,
                read_at(&send),
                write_at(&mut recv),
                n,
                datatype.as_raw(),
            )
        };
        Immediate {
            request,
            done: false,
            _send: send,
            recv,
            _datatype: datatype,
            _comm: PhantomData,
            _one_thread: PhantomData,
        }
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

/// A nonblocking collective to start, with what it needs besides its buffers.
#[derive(Clone, Copy)]
enum Collective {
    /// `MPI_Ibcast` from `root`, in the receive buffer.
    Broadcast { root: c_int },
    /// `MPI_Iscatter` from `root`.
    Scatter { root: c_int },
    /// `MPI_Igather` to `root`.
    Gather { root: c_int },
    /// `MPI_Iallgather`.
    AllGather,
    /// `MPI_Iallreduce` with this operation.
    AllReduce(ReduceOp),
}

/// Starts `what` with `n` elements of datatype `t` per rank, from `send` into `recv`.
///
/// # Safety
/// Until the returned request completes, `send` must stay valid for reading and `recv` for
/// writing (and unread, unwritten by anything else) over as many elements of `t` as `what` uses
/// on this rank:
/// - `Broadcast`: `recv` holds `n` (the root's is sent, the others' received); `send` is unused;
/// - `Scatter`: on the root `send` holds `n` times the communicator's size (elsewhere it is
///   ignored); `recv` holds `n`;
/// - `Gather`: `send` holds `n`; on the root `recv` holds `n` times the size (elsewhere it is
///   ignored);
/// - `AllGather`: `send` holds `n`, `recv` `n` times the size;
/// - `AllReduce`: `send` and `recv` hold `n` each.
///
/// `t` must stay valid as long (its owner must outlive the request), and the root must be a rank
/// of `comm`, which the request must borrow.
unsafe fn start(
    comm: &Comm,
    what: Collective,
    send: *const c_void,
    recv: *mut c_void,
    n: c_int,
    t: ffi::MPI_Datatype,
) -> ffi::MPI_Request {
    // SAFETY: reading the extern static that holds MPI_REQUEST_NULL; MPI overwrites it below.
    let mut request = unsafe { ffi::RSMPI_REQUEST_NULL };
    let c = comm.raw.as_raw();
    // SAFETY: the buffers, datatype and root as the caller promises; `request` lives across the
    // call. The reduction's operation is predefined, never freed.
    unsafe {
        match what {
            Collective::Broadcast { root } => {
                ffi::MPI_Ibcast(recv, n, t, root, c, &mut request);
            }
            Collective::Scatter { root } => {
                ffi::MPI_Iscatter(send, n, t, recv, n, t, root, c, &mut request);
            }
            Collective::Gather { root } => {
                ffi::MPI_Igather(send, n, t, recv, n, t, root, c, &mut request);
            }
            Collective::AllGather => {
                ffi::MPI_Iallgather(send, n, t, recv, n, t, c, &mut request);
            }
            Collective::AllReduce(op) => {
                let o = op.system();
                ffi::MPI_Iallreduce(send, recv, n, t, o.as_raw(), c, &mut request);
            }
        }
    }
    request
}

/// A real address for empty buffers: see [`read_at`].
static NOWHERE: u64 = 0;

/// Where MPI is to read `s`: its first element, or for an empty slice a real address (MPI
/// reads nothing at a count of 0), never an empty slice's dangling pointer, which for a
/// one-byte type is `1`, OpenMPI's `MPI_IN_PLACE` (see `comm::placed`).
fn read_at<T>(s: &[T]) -> *const c_void {
    if s.is_empty() {
        std::ptr::addr_of!(NOWHERE) as *const c_void
    } else {
        s.as_ptr() as *const c_void
    }
}

/// Where MPI is to write `s`: as [`read_at`] (MPI writes nothing at a count of 0).
fn write_at<T>(s: &mut [T]) -> *mut c_void {
    if s.is_empty() {
        read_at(s) as *mut c_void
    } else {
        s.as_mut_ptr() as *mut c_void
    }
}

/// Checks that a buffer holds `expected` elements.
fn check_len(what: &'static str, expected: usize, found: usize) -> Result<()> {
    if found != expected {
        return Err(Error::LengthMismatch {
            what,
            expected,
            found,
        });
    }
    Ok(())
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

/// A collective in flight that owns its buffers: returned by [`Comm::immediate_broadcast`],
/// [`Comm::immediate_scatter`], [`Comm::immediate_all_gather`] and
/// [`Comm::immediate_all_reduce`] (and inside a [`Gather`]).
///
/// Dropping it before it completes waits for it. Not `Send`: it is completed on the thread that
/// started it.
///
/// ```compile_fail,E0277
/// fn on_another_thread<T: Send>() {}
/// on_another_thread::<halo::comm::Immediate<'static, f64>>(); // error: cannot be sent
/// ```
#[must_use = "a collective in flight gives its answer through wait()"]
pub struct Immediate<'a, T: Equivalence> {
    request: ffi::MPI_Request,
    done: bool,
    /// Read by MPI until the request completes.
    _send: Vec<T>,
    /// Written by MPI until the request completes.
    recv: Vec<T>,
    /// Owns the datatype handle MPI uses until the request completes.
    _datatype: T::Out,
    _comm: PhantomData<&'a Comm>,
    /// Keeps `Immediate` `!Send` and `!Sync` whatever the MPI library's request handle is.
    _one_thread: PhantomData<*const ()>,
}

/// A reduction in flight that owns its buffers: returned by [`Comm::immediate_all_reduce`].
///
/// ```compile_fail,E0277
/// fn on_another_thread<T: Send>() {}
/// on_another_thread::<halo::comm::AllReduce<'static, f64>>(); // error: cannot be sent
/// ```
pub type AllReduce<'a, T> = Immediate<'a, T>;

impl<T: Equivalence> Immediate<'_, T> {
    /// Lets MPI move the collective along (`MPI_Test`); returns whether it has completed.
    pub fn test(&mut self) -> bool {
        if !self.done {
            // SAFETY: `request` came from `start` and has not completed, so MPI has not freed it.
            self.done = unsafe { test(&mut self.request) };
        }
        self.done
    }

    /// Waits for the collective and returns its receive buffer: the reduction, `root`'s
    /// broadcast data, this rank's chunk of a scatter, or every rank's data of an allgather.
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

impl<T: Equivalence> Drop for Immediate<'_, T> {
    fn drop(&mut self) {
        // Before the buffers and the datatype (dropped after this) are freed.
        self.complete();
    }
}

/// A gather in flight that owns its buffers: returned by [`Comm::immediate_gather`].
///
/// Dropping it before it completes waits for it. Not `Send`.
///
/// ```compile_fail,E0277
/// fn on_another_thread<T: Send>() {}
/// on_another_thread::<halo::comm::Gather<'static, f64>>(); // error: cannot be sent
/// ```
#[must_use = "a gather in flight gives its answer through wait()"]
pub struct Gather<'a, T: Equivalence> {
    inner: Immediate<'a, T>,
    /// Whether this rank is the root, which receives.
    root: bool,
}

impl<T: Equivalence> Gather<'_, T> {
    /// Lets MPI move the gather along (`MPI_Test`); returns whether it has completed.
    pub fn test(&mut self) -> bool {
        self.inner.test()
    }

    /// Waits for the gather; returns every rank's data in rank order on the root, `None`
    /// elsewhere.
    pub fn wait(self) -> Option<Vec<T>> {
        let all = self.inner.wait();
        self.root.then_some(all)
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
