//! Block scatter and gather of a global 2D array over a process grid.

use super::{counts_and_displs, Comm};
use crate::decomp::Decomposition;
use crate::error::{Error, Result};
use mpi::datatype::{Partition, PartitionMut};
use mpi::traits::*;
use ndarray::{s, Array2, ArrayBase, ArrayView2, Data, Ix2};
use std::borrow::Cow;

impl Comm {
    /// Splits `root`'s global array (shape `(ny, nx)` of `decomp`) into the blocks of `decomp`
    /// and returns this rank's block; the other ranks pass `None`.
    ///
    /// Works for any rank count and uneven splits. The root packs the blocks in rank order and
    /// sends them with one `MPI_Scatterv`. A root without an array, or with one of the wrong
    /// shape, is an error on every rank. Example: `examples/scatter_gather_2d.rs`.
    pub fn scatter_blocks<T: Equivalence + Clone + Default>(
        &self,
        root: usize,
        global: Option<&Array2<T>>,
        decomp: &Decomposition,
    ) -> Result<Array2<T>> {
        const WHAT: &str = "scatter_blocks";
        let p = self.root(root)?;
        self.check_decomp(decomp)?;
        let global = global.filter(|_| self.rank == root);
        let local = match (self.rank == root, global) {
            (false, _) => Ok(0),
            (true, None) => Err(Error::MissingRootData { what: WHAT }),
            (true, Some(g)) => check_shape(WHAT, (decomp.ny, decomp.nx), g.dim()).map(|_| 0),
        };
        self.root_decides(root, local)?;
        let lens: Vec<usize> = decomp.blocks().map(|b| b.cells()).collect();
        let (counts, displs) = counts_and_displs(WHAT, &lens)?;
        let mine = decomp.block(self.rank);
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

    /// Gathers every rank's block (shape of its block in `decomp`) into the global array on
    /// `root`: `Some` there, `None` elsewhere.
    ///
    /// `local` may be any 2D array or view, such as the interior of a ghosted array; a
    /// non-contiguous one is copied once before sending. A block of the wrong shape on any rank
    /// is an error on every rank. Example: `examples/scatter_gather_2d.rs`.
    pub fn gather_blocks<T, S>(
        &self,
        root: usize,
        local: &ArrayBase<S, Ix2>,
        decomp: &Decomposition,
    ) -> Result<Option<Array2<T>>>
    where
        T: Equivalence + Clone + Default,
        S: Data<Elem = T>,
    {
        const WHAT: &str = "gather_blocks";
        let p = self.root(root)?;
        self.check_decomp(decomp)?;
        let mine = decomp.block(self.rank);
        self.agree(check_shape(WHAT, mine.shape(), local.dim()))?;
        let lens: Vec<usize> = decomp.blocks().map(|b| b.cells()).collect();
        let (counts, displs) = counts_and_displs(WHAT, &lens)?;
        let send: Cow<[T]> = match local.as_slice() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(local.iter().cloned().collect()),
        };
        if self.rank != root {
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

    /// Checks that `decomp` spans exactly this communicator's ranks (the same on every rank).
    fn check_decomp(&self, decomp: &Decomposition) -> Result<()> {
        if decomp.ranks() != self.size {
            return Err(Error::Decomposition(format!(
                "process grid {} has {} ranks but the communicator has {}",
                decomp.grid,
                decomp.ranks(),
                self.size
            )));
        }
        Ok(())
    }
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
