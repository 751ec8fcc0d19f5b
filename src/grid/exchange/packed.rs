//! Packed messages: each round's cells copied into one buffer per neighbour and sent with
//! point-to-point requests, fresh every exchange (`p2p`, `two-phase`) or persistent.

use super::{pack, unpack, Message};
use crate::comm::Comm;
use crate::decomp::Rect;
use crate::grid::DistArray;
use mpi::ffi;
use mpi::raw::AsRaw;
use ndarray::Array2;
use std::os::raw::{c_int, c_void};

/// One neighbour link of a round: what goes out, what comes in, and their buffers, which hold
/// the cells of every field one after the other.
struct Link {
    peer: c_int,
    send_tag: c_int,
    recv_tag: c_int,
    send: Rect,
    recv: Rect,
    send_buf: Vec<f64>,
    recv_buf: Vec<f64>,
}

/// The messages of one round and their requests: the receives, then the sends.
struct Round {
    links: Vec<Link>,
    requests: Vec<ffi::MPI_Request>,
}

/// The packed transport of a [`super::HaloExchange`].
pub(super) struct Packed {
    comm: Comm,
    fields: usize,
    rounds: Vec<Round>,
    persistent: bool,
    /// The round whose requests are active, if any.
    active: Option<usize>,
}

impl Packed {
    /// Buffers (and, if `persistent`, requests bound to them) for the rounds of `plan`.
    pub(super) fn new(comm: Comm, fields: usize, plan: &[Vec<Message>], persistent: bool) -> Self {
        let rounds = plan
            .iter()
            .map(|msgs| {
                let links: Vec<Link> = msgs
                    .iter()
                    .map(|m| Link {
                        peer: m.peer as c_int,
                        send_tag: m.dir.index() as c_int,
                        // The message from the neighbour in direction `dir` travels the opposite way.
                        recv_tag: m.dir.opposite().index() as c_int,
                        send_buf: vec![0.0; fields * m.send.cells()],
                        recv_buf: vec![0.0; fields * m.recv.cells()],
                        send: m.send.clone(),
                        recv: m.recv.clone(),
                    })
                    .collect();
                Round {
                    requests: Vec::with_capacity(2 * links.len()),
                    links,
                }
            })
            .collect();
        let mut p = Packed {
            comm,
            fields,
            rounds,
            persistent,
            active: None,
        };
        if persistent {
            let comm = p.comm.raw().as_raw();
            for round in &mut p.rounds {
                // SAFETY: the buffers' heap blocks belong to the links, which live in `self` and
                // are never resized; the requests are freed in `Drop` (after any active use has
                // completed) before the buffers and the communicator are dropped.
                unsafe { make_requests(round, comm, ffi::MPI_Recv_init, ffi::MPI_Send_init) };
            }
        }
        p
    }

    /// Packs round `r`'s cells of the fields (`local(f)` is field `f`'s ghosted array) and starts
    /// its messages; returns the bytes and messages sent.
    pub(super) fn post<'a>(
        &mut self,
        r: usize,
        local: impl Fn(usize) -> &'a Array2<f64>,
    ) -> (u64, u64) {
        self.wait();
        let Some(round) = self.rounds.get_mut(r) else {
            return (0, 0);
        };
        for link in &mut round.links {
            let n = link.send.cells();
            for f in 0..self.fields {
                pack(local(f), &link.send, &mut link.send_buf[f * n..(f + 1) * n]);
            }
        }
        let comm = self.comm.raw().as_raw();
        if self.persistent {
            // SAFETY: the requests were made by MPI_Recv_init/MPI_Send_init in `new` and are
            // inactive (`wait` above completed any earlier use); their buffers live in `self`.
            unsafe {
                ffi::MPI_Startall(round.requests.len() as c_int, round.requests.as_mut_ptr());
            }
        } else {
            // SAFETY: the buffers live in `self` and are not touched until `wait` has completed
            // these requests; `Drop` waits too, so MPI never reads or writes freed or aliased
            // memory. The communicator is `self.comm`, dropped after the wait.
            unsafe { make_requests(round, comm, ffi::MPI_Irecv, ffi::MPI_Isend) };
        }
        self.active = Some(r);
        let bytes = round.links.iter().map(|l| 8 * l.send_buf.len() as u64);
        (bytes.sum(), round.links.len() as u64)
    }

    /// Lets MPI progress the active round; whether it has completed.
    pub(super) fn test(&mut self) -> bool {
        let Some(r) = self.active else {
            return true;
        };
        let round = &mut self.rounds[r];
        let mut done: c_int = 0;
        // SAFETY: the round's requests are active (or, fresh ones completed by an earlier test,
        // MPI_REQUEST_NULL; persistent ones inactive), all of which MPI_Testall accepts.
        unsafe {
            ffi::MPI_Testall(
                round.requests.len() as c_int,
                round.requests.as_mut_ptr(),
                &mut done,
                ffi::RSMPI_STATUSES_IGNORE,
            );
        }
        done != 0
    }

    /// Waits for the active round, if any.
    pub(super) fn wait(&mut self) {
        let Some(r) = self.active.take() else {
            return;
        };
        let round = &mut self.rounds[r];
        // SAFETY: as in `test`.
        unsafe {
            ffi::MPI_Waitall(
                round.requests.len() as c_int,
                round.requests.as_mut_ptr(),
                ffi::RSMPI_STATUSES_IGNORE,
            );
        }
        if !self.persistent {
            round.requests.clear();
        }
    }

    /// Finishes the exchange begun by `post(0, …)`: waits, unpacks, and runs the later rounds
    /// (which send ghost cells the earlier ones filled); returns the later rounds' bytes and
    /// messages.
    pub(super) fn finish(&mut self, data: &mut [&mut DistArray]) -> (u64, u64) {
        debug_assert!(data.len() == self.fields);
        let mut sent = (0, 0);
        for r in 0..self.rounds.len() {
            if r > 0 {
                let (b, m) = self.post(r, |f| data[f].local());
                sent = (sent.0 + b, sent.1 + m);
            }
            self.wait();
            for link in &self.rounds[r].links {
                let n = link.recv.cells();
                for (f, field) in data.iter_mut().enumerate() {
                    unpack(
                        &link.recv_buf[f * n..(f + 1) * n],
                        &link.recv,
                        field.local_mut(),
                    );
                }
            }
        }
        sent
    }
}

/// `MPI_Irecv`'s signature, which `MPI_Recv_init` shares.
type RecvFn = unsafe extern "C" fn(
    *mut c_void,
    c_int,
    ffi::MPI_Datatype,
    c_int,
    c_int,
    ffi::MPI_Comm,
    *mut ffi::MPI_Request,
) -> c_int;

/// `MPI_Isend`'s signature, which `MPI_Send_init` shares.
type SendFn = unsafe extern "C" fn(
    *const c_void,
    c_int,
    ffi::MPI_Datatype,
    c_int,
    c_int,
    ffi::MPI_Comm,
    *mut ffi::MPI_Request,
) -> c_int;

/// Makes a request for every message of `round` on `comm` with `recv` and `send` (every receive
/// first, then every send), appended to its requests: fresh ones (`MPI_Irecv`, `MPI_Isend`) or
/// persistent ones (`MPI_Recv_init`, `MPI_Send_init`).
///
/// # Safety
/// `recv` and `send` must be one of those pairs, and `comm` a live communicator. The round's
/// buffers must stay where they are, and untouched, until its requests complete (and persistent
/// ones until they are freed); `comm` must outlive the requests.
unsafe fn make_requests(round: &mut Round, comm: ffi::MPI_Comm, recv: RecvFn, send: SendFn) {
    for link in &mut round.links {
        // SAFETY: reads a predefined MPI handle, set by the MPI library and never written.
        let mut req = unsafe { ffi::RSMPI_REQUEST_NULL };
        // SAFETY: the buffer holds `len` doubles and, by the caller's promise, stays put and
        // untouched while MPI may write it.
        unsafe {
            recv(
                link.recv_buf.as_mut_ptr() as *mut c_void,
                link.recv_buf.len() as c_int,
                ffi::RSMPI_DOUBLE,
                link.peer,
                link.recv_tag,
                comm,
                &mut req,
            );
        }
        round.requests.push(req);
    }
    for link in &round.links {
        // SAFETY: as above.
        let mut req = unsafe { ffi::RSMPI_REQUEST_NULL };
        // SAFETY: as above, for the send buffer, which MPI only reads.
        unsafe {
            send(
                link.send_buf.as_ptr() as *const c_void,
                link.send_buf.len() as c_int,
                ffi::RSMPI_DOUBLE,
                link.peer,
                link.send_tag,
                comm,
                &mut req,
            );
        }
        round.requests.push(req);
    }
}

impl Drop for Packed {
    fn drop(&mut self) {
        self.wait();
        if self.persistent {
            for round in &mut self.rounds {
                for req in &mut round.requests {
                    // SAFETY: the persistent request is inactive (waited for above) and freed
                    // once; its buffers and communicator are dropped after this.
                    unsafe { ffi::MPI_Request_free(req) };
                }
            }
        }
    }
}
