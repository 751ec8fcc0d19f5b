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
use std::marker::PhantomData;
use std::os::raw::{c_int, c_void};

mod scope;

pub use scope::{ImmediateScope, Request};

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
