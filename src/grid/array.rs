//! A distributed 2D array of `f64` with ghost cells.

use super::blocks::{gather_blocks, scatter_blocks};
use super::boundary::{Boundary, Side};
use super::layout::Layout;
use crate::comm::Comm;
use crate::error::Result;
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2};

/// One rank's part of a distributed `nx × ny` array: its block plus `ghost` layers of ghost cells
/// (the *local*, or ghosted, array), and the [`Layout`] that says where it lies.
#[derive(Debug)]
pub struct DistArray {
    layout: Layout,
    data: Array2<f64>,
}

/// `data` copied into memory from [`mapped`]: what `Vec::clone` does, without leaving the pages
/// to be faulted in later; `None` when the memory cannot be had.
fn mapped_copy(data: &[f64]) -> Option<Vec<f64>> {
    let mut v = mapped(data.len())?;
    v.copy_from_slice(data);
    Some(v)
}

/// `n` zeros in memory that is mapped now: every page is written here, so the first sweeps do not
/// stop to fault pages in (a freshly allocated array is backed only by the shared zero page until
/// written). On Linux the range is first offered to transparent huge pages, which cut the TLB
/// misses of sweeping arrays far larger than the cache; the kernel may decline. `None` when the
/// allocator refuses the memory (instead of aborting the process, as `Vec::with_capacity` does).
fn mapped(n: usize) -> Option<Vec<f64>> {
    let mut v: Vec<f64> = Vec::new();
    v.try_reserve_exact(n).ok()?;
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = v.as_ptr() as usize;
        let end = start + n * std::mem::size_of::<f64>();
        let first = start.next_multiple_of(PAGE);
        if end > first + PAGE {
            // SAFETY: the range lies inside `v`'s allocation and is page aligned; MADV_HUGEPAGE
            // only changes how the kernel backs it. A failure leaves ordinary pages.
            unsafe {
                libc::madvise(
                    first as *mut libc::c_void,
                    (end - first) / PAGE * PAGE,
                    libc::MADV_HUGEPAGE,
                );
            }
        }
    }
    v.resize(n, 0.0);
    Some(v)
}

/// The error for a ghosted array of `shape` that could not be allocated.
fn no_memory((rows, cols): (usize, usize)) -> crate::Error {
    let bytes = (rows as u64 * cols as u64).saturating_mul(8);
    crate::node::out_of_memory(bytes, &format!("a {cols}x{rows} ghosted array"))
}

impl Clone for DistArray {
    /// A copy; panics if the memory cannot be had ([`DistArray::try_clone`] returns an error).
    fn clone(&self) -> Self {
        self.try_clone().unwrap_or_else(|e| panic!("{e}"))
    }
}

impl DistArray {
    /// A zero array with the boundary conditions in its ghost cells, its memory mapped and
    /// written at once (and offered huge pages on Linux) so no sweep stops to fault pages in.
    /// Panics if the memory cannot be had; solvers use [`DistArray::try_zeros`].
    pub fn zeros(layout: Layout) -> Self {
        Self::try_zeros(layout).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`DistArray::zeros`], or an error naming the bytes when the allocator refuses them.
    /// Rank-local: agree on it ([`Comm::agree`]) before the next collective.
    pub fn try_zeros(layout: Layout) -> Result<Self> {
        let shape = layout.local_shape();
        let v = mapped(shape.0 * shape.1).ok_or_else(|| no_memory(shape))?;
        let mut a = DistArray {
            data: Array2::from_shape_vec(shape, v).expect("rows × cols cells"),
            layout,
        };
        a.apply_boundaries();
        Ok(a)
    }

    /// An array whose interior cell at global `(row, col)` is `f(row, col)`, with the boundary
    /// conditions in its ghost cells. Panics if the memory cannot be had.
    pub fn from_fn(layout: Layout, f: impl Fn(usize, usize) -> f64) -> Self {
        Self::try_from_fn(layout, f).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`DistArray::from_fn`], or an error when the allocator refuses the memory. Rank-local.
    pub fn try_from_fn(layout: Layout, f: impl Fn(usize, usize) -> f64) -> Result<Self> {
        let mut a = Self::try_zeros(layout)?;
        let (r0, c0) = (a.layout.block.rows.start, a.layout.block.cols.start);
        for ((i, j), v) in a.interior_mut().indexed_iter_mut() {
            *v = f(r0 + i, c0 + j);
        }
        a.apply_boundaries();
        Ok(a)
    }

    /// A copy, ghosts included, or an error when the allocator refuses the memory. Rank-local.
    pub fn try_clone(&self) -> Result<Self> {
        let data = match self.data.as_slice() {
            Some(s) => Array2::from_shape_vec(
                self.data.dim(),
                mapped_copy(s).ok_or_else(|| no_memory(self.data.dim()))?,
            )
            .expect("the shape of the array copied"),
            None => self.data.clone(),
        };
        Ok(DistArray {
            layout: self.layout.clone(),
            data,
        })
    }

    /// Where this array lies.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The whole ghosted array, shape [`Layout::local_shape`].
    pub fn local(&self) -> &Array2<f64> {
        &self.data
    }

    /// The whole ghosted array, mutable.
    pub fn local_mut(&mut self) -> &mut Array2<f64> {
        &mut self.data
    }

    /// The whole ghosted array as one row-major slice (`local_shape().1` values a row), as
    /// stencil kernels read it.
    pub fn as_slice(&self) -> &[f64] {
        self.data
            .as_slice()
            .expect("ghosted arrays are made contiguous")
    }

    /// The whole ghosted array as one mutable row-major slice.
    pub fn as_slice_mut(&mut self) -> &mut [f64] {
        self.data
            .as_slice_mut()
            .expect("ghosted arrays are made contiguous")
    }

    /// This rank's block, without ghosts.
    pub fn interior(&self) -> ArrayView2<'_, f64> {
        let r = self.layout.interior();
        self.data.slice(s![r.rows, r.cols])
    }

    /// This rank's block, without ghosts, mutable.
    pub fn interior_mut(&mut self) -> ArrayViewMut2<'_, f64> {
        let r = self.layout.interior();
        self.data.slice_mut(s![r.rows, r.cols])
    }

    /// Fills the ghost cells on the physical edges of the domain from the boundary conditions:
    /// Dirichlet values in every layer, or the mirror of the interior for Neumann. West and east
    /// strips span all rows, then north and south strips all columns, so Neumann corners mirror
    /// mirrored cells. Ghosts on periodic edges and towards neighbours are left alone: the halo
    /// exchange fills them.
    pub fn apply_boundaries(&mut self) {
        let w = self.layout.ghost;
        let (rows, cols) = self.layout.local_shape();
        let (ny, nx) = (rows - 2 * w, cols - 2 * w);
        for side in [Side::West, Side::East, Side::North, Side::South] {
            if !self.layout.is_physical(side) {
                continue;
            }
            let bc = self.layout.bc.side(side);
            for k in 0..w {
                // Ghost layer k counts outwards from the edge; its mirror is interior layer k.
                let (ghost, mirror) = match side {
                    Side::North => (w - 1 - k, w + k),
                    Side::South => (w + ny + k, w + ny - 1 - k),
                    Side::West => (w - 1 - k, w + k),
                    Side::East => (w + nx + k, w + nx - 1 - k),
                };
                let along_rows = matches!(side, Side::North | Side::South);
                match bc {
                    Boundary::Dirichlet(v) if along_rows => self.data.row_mut(ghost).fill(v),
                    Boundary::Dirichlet(v) => self.data.column_mut(ghost).fill(v),
                    Boundary::Neumann if along_rows => {
                        let src = self.data.row(mirror).to_owned();
                        self.data.row_mut(ghost).assign(&src);
                    }
                    Boundary::Neumann => {
                        let src = self.data.column(mirror).to_owned();
                        self.data.column_mut(ghost).assign(&src);
                    }
                    Boundary::Periodic => {}
                }
            }
        }
    }

    /// Gathers the interiors of every rank into the global `(ny, nx)` array on `root`: `Some`
    /// there, `None` elsewhere. Collective.
    pub fn gather(&self, comm: &Comm, root: usize) -> Result<Option<Array2<f64>>> {
        gather_blocks(comm, root, &self.interior(), &self.layout.decomp)
    }

    /// Scatters `root`'s global array into a new distributed array laid out as `layout` (the
    /// other ranks pass `None`), with the boundary conditions in its ghost cells. Collective; a
    /// rank that cannot allocate its array is an error on every rank.
    pub fn scatter(
        comm: &Comm,
        root: usize,
        global: Option<&Array2<f64>>,
        layout: Layout,
    ) -> Result<Self> {
        // Allocated, and agreed on, before the scatter: a rank without the memory must not leave
        // the others waiting in it.
        let mut a = comm.agree(Self::try_zeros(layout))?;
        let block = scatter_blocks(comm, root, global, &a.layout.decomp)?;
        a.interior_mut().assign(&block);
        a.apply_boundaries();
        Ok(a)
    }
}
