//! Halo exchange: nonblocking, split into begin and end, by any of four methods.
//!
//! A [`HaloExchange`] is planned once for a [`Layout`] (its neighbours, regions, buffers and
//! requests) and run every step. How its messages travel is the layout's [`ExchangeKind`]:
//!
//! | method | messages (star / box) | what MPI sees |
//! |---|---|---|
//! | `p2p` | 4 / 8, one round | fresh `MPI_Irecv`/`MPI_Isend` per message, packed by hand |
//! | `persistent` | 4 / 8, one round | `MPI_Recv_init`/`MPI_Send_init` once, `MPI_Startall` per exchange |
//! | `neighbor` | one per neighbouring rank (4 / 8), one round | `MPI_Neighbor_alltoallw` on a graph of the neighbours, derived datatypes, nothing packed |
//! | `two-phase` | 4 / 4, one / two rounds | as `p2p`, with a box stencil's corners in the rows of a second round |
//!
//! All four fill the same ghost cells with the same values ([`crate::decomp::row_rect`] says why
//! the two-round forms do), so a solver's field is the same to the last bit with any of them.
//! Several fields exchanged at the same point of a solver go in the same messages
//! ([`HaloExchange::for_fields`], [`HaloExchange::begin_all`]).
//!
//! When the communicator has a Cartesian topology ([`Comm::cartesian`]), the neighbours are
//! asked of MPI (`MPI_Cart_rank`, from `MPI_Cart_coords`) and checked against the layout's.
//!
//! Example: `examples/halo_exchange.rs` (ghosts filled with the neighbours' ranks by every
//! method, checked).

mod neighbor;
mod packed;

use super::array::DistArray;
use super::layout::Layout;
use crate::comm::Comm;
use crate::decomp::{recv_rect, rounds, row_rect, send_rect, Dir, ExchangeKind, Rect};
use neighbor::Neighborhood;
use packed::Packed;
use std::marker::PhantomData;

/// One message of a round: to and from the neighbour in direction `dir`.
#[derive(Debug, Clone)]
struct Message {
    dir: Dir,
    peer: usize,
    send: Rect,
    recv: Rect,
}

/// How the messages travel.
enum Transport {
    /// Packed buffers, fresh or persistent requests.
    Packed(Packed),
    /// Neighbourhood collectives with derived datatypes.
    Neighbor(Neighborhood),
}

/// A planned ghost update for arrays of one [`Layout`]: the neighbours, the regions, and the
/// message buffers or datatypes, set up once and reused every step.
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
    shape: (usize, usize),
    fields: usize,
    kind: ExchangeKind,
    transport: Transport,
    bytes_sent: u64,
    messages_sent: u64,
    /// The arrays the update in flight began with, which it must end with.
    begun: Vec<*const f64>,
    /// Keeps `HaloExchange` `!Send` and `!Sync` on its own, not only through its `Comm`.
    _one_thread: PhantomData<*const ()>,
}

/// A ghost update in flight: returned by [`HaloExchange::begin`], finished by [`Exchange::end`]
/// with the same array.
///
/// While it lives, the array may be read (to update cells that need no ghost, into another array)
/// but not changed: the methods read the cells they send at different moments (`p2p` and
/// `persistent` at `begin`, `neighbor` at `end`, `two-phase` its rows at `end`), so a change
/// in between would reach some neighbours and not others. The exchange's buffers are locked.
/// Dropping it without `end` waits for the messages and discards them.
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
    /// Plans the exchange of one field for `layout` on `comm`'s ranks, by `layout.exchange`
    /// (collective: duplicates `comm`, or builds a graph communicator for `neighbor`).
    pub fn new(comm: &Comm, layout: &Layout) -> Self {
        Self::for_fields(comm, layout, 1)
    }

    /// Plans the exchange of `fields` arrays of `layout` at once, their cells in the same
    /// messages (collective). Run it with [`HaloExchange::begin_all`] or
    /// [`HaloExchange::exchange_all`], always with `fields` arrays.
    ///
    /// Panics when `comm`'s rank is not `layout.rank`, or when `comm` has a Cartesian topology
    /// whose neighbours differ from the layout's: both are mistakes in the calling code.
    pub fn for_fields(comm: &Comm, layout: &Layout, fields: usize) -> Self {
        assert!(fields >= 1, "an exchange moves at least one field");
        assert_eq!(
            comm.rank(),
            layout.rank,
            "the layout belongs to another rank of this communicator"
        );
        let peer = neighbors(comm, layout);
        let (nx, ny, w) = (layout.block.nx(), layout.block.ny(), layout.ghost);
        let west = peer[Dir::ALL[2].index()].is_some();
        let east = peer[Dir::ALL[3].index()].is_some();
        let plan: Vec<Vec<Message>> = rounds(layout.stencil, layout.exchange)
            .into_iter()
            .enumerate()
            .map(|(round, dirs)| {
                dirs.into_iter()
                    .filter_map(|dir| {
                        let rect = |send| {
                            if round == 1 {
                                row_rect(nx, ny, w, dir, send, west, east)
                            } else if send {
                                send_rect(nx, ny, w, dir)
                            } else {
                                recv_rect(nx, ny, w, dir)
                            }
                        };
                        Some(Message {
                            dir,
                            peer: peer[dir.index()]?,
                            send: rect(true),
                            recv: rect(false),
                        })
                    })
                    .collect()
            })
            .collect();
        let shape = layout.local_shape();
        let transport = match layout.exchange {
            ExchangeKind::Neighbor => {
                Transport::Neighbor(Neighborhood::new(comm, shape, fields, &plan))
            }
            kind => Transport::Packed(Packed::new(
                comm.duplicate(),
                fields,
                &plan,
                kind == ExchangeKind::Persistent,
            )),
        };
        HaloExchange {
            shape,
            fields,
            kind: layout.exchange,
            transport,
            bytes_sent: 0,
            messages_sent: 0,
            begun: Vec::with_capacity(fields),
            _one_thread: PhantomData,
        }
    }

    /// The method this exchange uses.
    pub fn kind(&self) -> ExchangeKind {
        self.kind
    }

    /// Packs the cells `field`'s neighbours need and posts the first round of messages; returns
    /// at once. Finish with [`Exchange::end`]. (`neighbor` moves everything in `end`: MPI writes
    /// straight into the ghost cells there, which `begin`'s shared borrow must not allow.)
    pub fn begin(&mut self, field: &DistArray) -> Exchange<'_> {
        self.begin_all(&[field])
    }

    /// [`HaloExchange::begin`] for the fields this exchange was planned for, in the order
    /// [`Exchange::end_all`] will be given them.
    pub fn begin_all(&mut self, fields: &[&DistArray]) -> Exchange<'_> {
        self.check(fields.iter().map(|f| f.local().dim()));
        self.begun.clear();
        self.begun.extend(fields.iter().map(|f| f.local().as_ptr()));
        if let Transport::Packed(p) = &mut self.transport {
            let (bytes, messages) = p.post(0, |f| fields[f].local());
            self.bytes_sent += bytes;
            self.messages_sent += messages;
        }
        Exchange {
            ex: self,
            _one_thread: PhantomData,
        }
    }

    /// A whole ghost update: [`HaloExchange::begin`] then [`Exchange::end`].
    pub fn exchange(&mut self, field: &mut DistArray) {
        self.exchange_all(&mut [field]);
    }

    /// A whole ghost update of the fields this exchange was planned for.
    pub fn exchange_all(&mut self, fields: &mut [&mut DistArray]) {
        let shared: Vec<&DistArray> = fields.iter().map(|f| &**f).collect();
        // The shared borrows end before `end_all` takes the arrays mutably: `begin_all` keeps
        // no reference to them.
        let pending = self.begin_all(&shared);
        drop(shared);
        pending.end_all(fields);
    }

    /// Bytes this rank has sent in all exchanges so far.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent
    }

    /// Messages this rank has sent in all exchanges so far.
    pub fn messages_sent(&self) -> u64 {
        self.messages_sent
    }

    /// Panics unless `shapes` are this exchange's fields' shapes.
    fn check(&self, shapes: impl ExactSizeIterator<Item = (usize, usize)>) {
        assert_eq!(
            shapes.len(),
            self.fields,
            "the exchange was planned for {} field(s)",
            self.fields
        );
        for s in shapes {
            assert_eq!(
                s, self.shape,
                "the array's layout differs from the exchange's"
            );
        }
    }
}

impl Exchange<'_> {
    /// Lets MPI move the messages along without waiting for them (`MPI_Testall`); returns whether
    /// all have completed. Some transports (OpenMPI's TCP without its progress thread, for one)
    /// move data only while the program is inside MPI, so a solver that computes while an
    /// exchange is in flight calls this now and then to let the messages travel meanwhile.
    pub fn progress(&mut self) -> bool {
        match &mut self.ex.transport {
            Transport::Packed(p) => p.test(),
            Transport::Neighbor(_) => true,
        }
    }

    /// Waits for every message and writes the received cells into `field`'s ghost cells.
    /// `field` must be the array the exchange began with (checked).
    pub fn end(self, field: &mut DistArray) {
        self.end_all(&mut [field]);
    }

    /// [`Exchange::end`] for every field, in the order [`HaloExchange::begin_all`] was given them.
    pub fn end_all(self, fields: &mut [&mut DistArray]) {
        let ex = &mut *self.ex;
        ex.check(fields.iter().map(|f| f.local().dim()));
        assert!(
            fields
                .iter()
                .map(|f| f.local().as_ptr())
                .eq(ex.begun.iter().copied()),
            "an exchange must end with the arrays it began with"
        );
        let (bytes, messages) = match &mut ex.transport {
            Transport::Packed(p) => p.finish(fields),
            Transport::Neighbor(n) => n.run(fields),
        };
        ex.bytes_sent += bytes;
        ex.messages_sent += messages;
        // Everything has completed: nothing for `Drop` to wait for.
        std::mem::forget(self);
    }
}

impl Drop for Exchange<'_> {
    fn drop(&mut self) {
        if let Transport::Packed(p) = &mut self.ex.transport {
            p.wait();
        }
    }
}

/// The neighbour in each direction (indexed by [`Dir::index`]): the layout's, or, on a
/// communicator with a Cartesian topology, MPI's, which must agree with it.
fn neighbors(comm: &Comm, layout: &Layout) -> [Option<usize>; 8] {
    let mut peer = [None; 8];
    for d in Dir::ALL {
        peer[d.index()] = layout.neighbor(d);
    }
    if let Some((dims, periodic)) = comm.cart_dims() {
        let g = layout.decomp.grid;
        let bc = &layout.bc;
        assert!(
            dims == [g.py, g.px] && periodic == [bc.periodic_y(), bc.periodic_x()],
            "the communicator's Cartesian grid {dims:?} (periodic {periodic:?}) is not the layout's {}x{} process grid",
            g.px,
            g.py
        );
        let me = comm.cart_coords(comm.rank());
        for d in Dir::ALL {
            let mpi = comm.cart_rank(&me, &[d.dy as isize, d.dx as isize]);
            assert_eq!(
                mpi,
                peer[d.index()],
                "MPI's neighbour in direction {d:?} differs from the layout's"
            );
            peer[d.index()] = mpi;
        }
    }
    peer
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
