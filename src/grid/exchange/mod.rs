//! Halo exchange: nonblocking, split into begin and end.

use super::array::DistArray;
use super::layout::Layout;
use crate::comm::Comm;
use crate::decomp::{recv_rect, send_rect, Dir, Rect};
use mpi::ffi;
use mpi::raw::AsRaw;
use std::marker::PhantomData;
use std::os::raw::{c_int, c_void};

/// One neighbour link: what goes out towards `dir`, what comes in from there.
struct Link {
    dir: Dir,
    peer: c_int,
    send: Rect,
    recv: Rect,
    send_buf: Vec<f64>,
    recv_buf: Vec<f64>,
}

/// A planned ghost update for arrays of one [`Layout`]: the neighbours, the regions, and the
/// message buffers, allocated once and reused every step.
///
/// Uses its own duplicate of the communicator, so its messages never match the caller's. Each
/// message travelling in direction `d` carries tag `d.index()`, which keeps apart two messages
/// between the same pair of ranks (a periodic grid two ranks wide, a rank its own neighbour).
///
/// Not `Send`, like its [`Comm`]: an exchange is begun and ended on the thread that calls MPI,
/// with every MPI library (also where requests are plain integers, as in MPICH).
///
/// ```compile_fail,E0277
/// fn on_another_thread<T: Send>() {}
/// on_another_thread::<halo::grid::HaloExchange>(); // error: cannot be sent between threads
/// ```
pub struct HaloExchange {
    comm: Comm,
    shape: (usize, usize),
    links: Vec<Link>,
    requests: Vec<ffi::MPI_Request>,
    in_flight: bool,
    bytes_sent: u64,
    messages_sent: u64,
    /// Keeps `HaloExchange` `!Send` and `!Sync` on its own, not only through its `Comm`.
    _one_thread: PhantomData<*const ()>,
}

/// A ghost update in flight: returned by [`HaloExchange::begin`], finished by [`Exchange::end`].
///
/// While it lives, the array may be read (to update cells that need no ghost) but the exchange's
/// buffers are locked. Dropping it without `end` waits for the messages and discards them.
///
/// Not `Send`: it must be ended on the thread that began it.
///
/// ```compile_fail,E0277
/// fn on_another_thread<T: Send>() {}
/// on_another_thread::<halo::grid::Exchange<'static>>(); // error: cannot be sent between threads
/// ```
#[must_use = "an exchange in flight must be finished with end()"]
pub struct Exchange<'a> {
    ex: &'a mut HaloExchange,
    /// Keeps `Exchange` `!Send` and `!Sync` on its own, not only through its `HaloExchange`.
    _one_thread: PhantomData<*const ()>,
}

impl HaloExchange {
    /// Plans the exchange for `layout` on `comm`'s ranks (collective: duplicates `comm`).
    pub fn new(comm: &Comm, layout: &Layout) -> Self {
        let (nx, ny, w) = (layout.block.nx(), layout.block.ny(), layout.ghost);
        let links: Vec<Link> = Dir::of(layout.stencil)
            .iter()
            .filter_map(|&dir| {
                let peer = layout.neighbor(dir)?;
                let send = send_rect(nx, ny, w, dir);
                let recv = recv_rect(nx, ny, w, dir);
                Some(Link {
                    dir,
                    peer: peer as c_int,
                    send_buf: vec![0.0; send.cells()],
                    recv_buf: vec![0.0; recv.cells()],
                    send,
                    recv,
                })
            })
            .collect();
        HaloExchange {
            comm: comm.duplicate(),
            shape: layout.local_shape(),
            requests: Vec::with_capacity(2 * links.len()),
            links,
            in_flight: false,
            bytes_sent: 0,
            messages_sent: 0,
            _one_thread: PhantomData,
        }
    }

    /// Packs the cells `field`'s neighbours need and posts every receive and send; returns at
    /// once. Finish with [`Exchange::end`].
    pub fn begin(&mut self, field: &DistArray) -> Exchange<'_> {
        assert_eq!(
            field.local().dim(),
            self.shape,
            "the array's layout differs from the exchange's"
        );
        self.wait();
        let data = field.local();
        // The raw handle is owned by `self.comm`, which outlives every request posted with it:
        // `HaloExchange`'s `Drop` waits for them before its fields (the communicator among them)
        // are dropped. The datatype, `MPI_DOUBLE`, is predefined and never freed.
        let comm = self.comm.raw().as_raw();
        for link in &mut self.links {
            pack(data, &link.send, &mut link.send_buf);
        }
        for link in &mut self.links {
            let mut req = unsafe { ffi::RSMPI_REQUEST_NULL };
            // The message from the neighbour in direction `dir` travels the opposite way.
            let tag = link.dir.opposite().index() as c_int;
            // SAFETY: the buffer lives in `self`, is not touched until `wait` has completed this
            // request, and `Drop` waits too, so MPI never writes to freed or aliased memory.
            unsafe {
                ffi::MPI_Irecv(
                    link.recv_buf.as_mut_ptr() as *mut c_void,
                    link.recv_buf.len() as c_int,
                    ffi::RSMPI_DOUBLE,
                    link.peer,
                    tag,
                    comm,
                    &mut req,
                );
            }
            self.requests.push(req);
        }
        for link in &self.links {
            let mut req = unsafe { ffi::RSMPI_REQUEST_NULL };
            // SAFETY: as above; the send buffer is not written until the request completes.
            unsafe {
                ffi::MPI_Isend(
                    link.send_buf.as_ptr() as *const c_void,
                    link.send_buf.len() as c_int,
                    ffi::RSMPI_DOUBLE,
                    link.peer,
                    link.dir.index() as c_int,
                    comm,
                    &mut req,
                );
            }
            self.requests.push(req);
            self.bytes_sent += 8 * link.send_buf.len() as u64;
            self.messages_sent += 1;
        }
        self.in_flight = true;
        Exchange {
            ex: self,
            _one_thread: PhantomData,
        }
    }

    /// A whole ghost update: [`HaloExchange::begin`] then [`Exchange::end`].
    pub fn exchange(&mut self, field: &mut DistArray) {
        self.begin(field).end(field);
    }

    /// Bytes this rank has sent in all exchanges so far.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent
    }

    /// Messages this rank has sent in all exchanges so far.
    pub fn messages_sent(&self) -> u64 {
        self.messages_sent
    }

    /// Waits for the requests in flight, if any.
    fn wait(&mut self) {
        if !self.in_flight {
            return;
        }
        // SAFETY: the requests were created by MPI_Irecv/MPI_Isend above and not yet completed.
        unsafe {
            ffi::MPI_Waitall(
                self.requests.len() as c_int,
                self.requests.as_mut_ptr(),
                ffi::RSMPI_STATUSES_IGNORE,
            );
        }
        self.requests.clear();
        self.in_flight = false;
    }
}

impl Drop for HaloExchange {
    fn drop(&mut self) {
        self.wait();
    }
}

impl Exchange<'_> {
    /// Lets MPI move the messages along without waiting for them (`MPI_Testall`); returns whether
    /// all have completed. Some transports (OpenMPI's TCP without its progress thread, for one)
    /// move data only while the program is inside MPI, so a solver that computes while an
    /// exchange is in flight calls this now and then to let the messages travel meanwhile.
    pub fn progress(&mut self) -> bool {
        let mut done: c_int = 0;
        // SAFETY: the requests are this exchange's, created by begin and not yet freed; completed
        // ones become MPI_REQUEST_NULL, which the final MPI_Waitall accepts.
        unsafe {
            ffi::MPI_Testall(
                self.ex.requests.len() as c_int,
                self.ex.requests.as_mut_ptr(),
                &mut done,
                ffi::RSMPI_STATUSES_IGNORE,
            );
        }
        done != 0
    }

    /// Waits for every message and writes the received cells into `field`'s ghost cells.
    pub fn end(self, field: &mut DistArray) {
        assert_eq!(
            field.local().dim(),
            self.ex.shape,
            "the array's layout differs from the exchange's"
        );
        self.ex.wait();
        let data = field.local_mut();
        for link in &self.ex.links {
            unpack(&link.recv_buf, &link.recv, data);
        }
    }
}

impl Drop for Exchange<'_> {
    fn drop(&mut self) {
        self.ex.wait();
    }
}

/// Copies the cells of `r` row by row into `buf` (which holds exactly `r.cells()`): what
/// [`HaloExchange::begin`] does for each message. A row of cells is one copy; a column is one
/// cell per row, `data.ncols()` apart.
pub fn pack(data: &ndarray::Array2<f64>, r: &Rect, buf: &mut [f64]) {
    let width = r.cols.len();
    let src = data.as_slice().expect("ghosted arrays are contiguous");
    let stride = data.ncols();
    for (k, i) in r.rows.clone().enumerate() {
        let at = i * stride + r.cols.start;
        buf[k * width..(k + 1) * width].copy_from_slice(&src[at..at + width]);
    }
}

/// Copies `buf` row by row into the cells of `r`: what [`Exchange::end`] does for each message.
pub fn unpack(buf: &[f64], r: &Rect, data: &mut ndarray::Array2<f64>) {
    let width = r.cols.len();
    let stride = data.ncols();
    let dst = data.as_slice_mut().expect("ghosted arrays are contiguous");
    for (k, i) in r.rows.clone().enumerate() {
        let at = i * stride + r.cols.start;
        dst[at..at + width].copy_from_slice(&buf[k * width..(k + 1) * width]);
    }
}
