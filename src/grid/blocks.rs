//! A global 2D array and its blocks: choosing the decomposition for a communicator, and
//! scattering and gathering the blocks over it.

use crate::comm::{counts_and_displs, CheckResult, Comm, Equivalence};
use crate::decomp::{Decomposition, ProcGrid};
use crate::error::{Error, Result};
use mpi::datatype::{Partition, PartitionMut};
use mpi::traits::*;
use ndarray::{s, Array2, ArrayBase, ArrayView2, Data, Ix2};
use std::borrow::Cow;

/// Decomposes an `nx × ny` grid over `comm`'s ranks: over `procs` when given (its size must equal
/// the rank count), else over [`ProcGrid::auto`]'s choice.
///
/// Every rank computes the same answer from the same arguments, so no message is sent.
pub fn decompose(
    comm: &Comm,
    nx: usize,
    ny: usize,
    procs: Option<ProcGrid>,
) -> Result<Decomposition> {
    match procs {
        Some(g) if g.size() != comm.size() => Err(Error::Decomposition(format!(
            "process grid {g} has {} ranks but the job has {}",
            g.size(),
            comm.size()
        ))),
        Some(g) => Decomposition::new(nx, ny, g),
        None => Decomposition::auto(nx, ny, comm.size()),
    }
}

/// Splits `root`'s global array (shape `(ny, nx)` of `decomp`) into the blocks of `decomp` and
/// returns this rank's block; the other ranks pass `None`. Collective over `comm`.
///
/// Works for any rank count and uneven splits. The root packs the blocks in rank order and sends
/// them with one `MPI_Scatterv`. A root without an array, or with one of the wrong shape, is an
/// error on every rank. Example: `examples/scatter_gather_2d.rs`.
pub fn scatter_blocks<T: Equivalence + Clone + Default>(
    comm: &Comm,
    root: usize,
    global: Option<&Array2<T>>,
    decomp: &Decomposition,
) -> Result<Array2<T>> {
    const WHAT: &str = "scatter_blocks";
    let p = comm.root(root)?;
    check_decomp(comm, decomp)?;
    let is_root = comm.rank() == root;
    let global = global.filter(|_| is_root);
    let local = match (is_root, global) {
        (false, _) => Ok(0),
        (true, None) => Err(Error::MissingRootData { what: WHAT }),
        (true, Some(g)) => check_shape(WHAT, (decomp.ny, decomp.nx), g.dim()).map(|_| 0),
    };
    comm.root_decides(root, local)?;
    let lens: Vec<usize> = decomp.blocks().map(|b| b.cells()).collect();
    let (counts, displs) = counts_and_displs(WHAT, &lens)?;
    let mine = decomp.block(comm.rank());
    let mut recv = vec![T::default(); mine.cells()];
    match global {
        Some(g) => {
            let mut packed = Vec::with_capacity(lens.iter().sum());
            for b in decomp.blocks() {
                packed.extend(g.slice(s![b.rows.clone(), b.cols.clone()]).iter().cloned());
            }
            p.scatter_varcount_into_root(
                &Partition::new(&packed[..], counts, displs),
                &mut recv[..],
            );
        }
        None => p.scatter_varcount_into(&mut recv[..]),
    }
    Ok(Array2::from_shape_vec(mine.shape(), recv).expect("a block's cells fill its shape"))
}

/// Gathers every rank's block (shape of its block in `decomp`) into the global array on `root`:
/// `Some` there, `None` elsewhere. Collective over `comm`.
///
/// `local` may be any 2D array or view, such as the interior of a ghosted array; a non-contiguous
/// one is copied once before sending. A block of the wrong shape on any rank is an error on every
/// rank. Example: `examples/scatter_gather_2d.rs`.
pub fn gather_blocks<T, S>(
    comm: &Comm,
    root: usize,
    local: &ArrayBase<S, Ix2>,
    decomp: &Decomposition,
) -> Result<Option<Array2<T>>>
where
    T: Equivalence + Clone + Default,
    S: Data<Elem = T>,
{
    const WHAT: &str = "gather_blocks";
    let p = comm.root(root)?;
    check_decomp(comm, decomp)?;
    let mine = decomp.block(comm.rank());
    comm.agree(check_shape(WHAT, mine.shape(), local.dim()))?;
    let lens: Vec<usize> = decomp.blocks().map(|b| b.cells()).collect();
    let (counts, displs) = counts_and_displs(WHAT, &lens)?;
    let send: Cow<[T]> = match local.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(local.iter().cloned().collect()),
    };
    if comm.rank() != root {
        p.gather_varcount_into(&send[..]);
        return Ok(None);
    }
    let mut packed = vec![T::default(); lens.iter().sum()];
    let mut part = PartitionMut::new(&mut packed[..], counts, &displs[..]);
    p.gather_varcount_into_root(&send[..], &mut part);
    let mut global = Array2::default((decomp.ny, decomp.nx));
    for (b, &at) in decomp.blocks().zip(&displs) {
        let at = at as usize;
        let chunk = ArrayView2::from_shape(b.shape(), &packed[at..at + b.cells()])
            .expect("a block's cells fill its shape");
        global
            .slice_mut(s![b.rows.clone(), b.cols.clone()])
            .assign(&chunk);
    }
    Ok(Some(global))
}

/// `halo check`'s part for this module: scatters a global array of about `n` cells per rank
/// over the automatic process grid, changes every block, gathers it back and checks every cell on
/// the ranks that receive one. The verdict and the slowest rank's time are agreed on all ranks.
pub fn check_blocks(comm: &Comm, n: usize) -> Result<CheckResult> {
    let (rank, size) = (comm.rank(), comm.size());
    let side = (n as f64).sqrt().ceil().max(size as f64) as usize;
    let decomp = decompose(comm, side + 3, side, None)?;
    let global = Array2::from_shape_fn((decomp.ny, decomp.nx), |(i, j)| (i * decomp.nx + j) as f64);
    let t = Comm::wtime();
    let mut block = scatter_blocks(comm, 0, (rank == 0).then_some(&global), &decomp)?;
    let me = decomp.block(rank);
    let mut ok = block.dim() == me.shape();
    for ((i, j), v) in block.indexed_iter_mut() {
        ok &= *v == global[[me.rows.start + i, me.cols.start + j]];
        *v = -*v - rank as f64;
    }
    let back = gather_blocks(comm, 0, &block, &decomp)?;
    if let Some(back) = back {
        ok &= back
            .indexed_iter()
            .all(|((i, j), &v)| v == -global[[i, j]] - decomp.owner(i, j) as f64);
    }
    CheckResult::agreed(
        comm,
        "scatter_blocks+gather_blocks",
        8 * me.cells(),
        Comm::wtime() - t,
        ok,
    )
}

/// Checks that `decomp` spans exactly `comm`'s ranks (the same on every rank).
fn check_decomp(comm: &Comm, decomp: &Decomposition) -> Result<()> {
    if decomp.ranks() != comm.size() {
        return Err(Error::Decomposition(format!(
            "process grid {} has {} ranks but the communicator has {}",
            decomp.grid,
            decomp.ranks(),
            comm.size()
        )));
    }
    Ok(())
}

fn check_shape(what: &'static str, expected: (usize, usize), found: (usize, usize)) -> Result<()> {
    if expected != found {
        return Err(Error::ShapeMismatch {
            what,
            expected,
            found,
        });
    }
    Ok(())
}
