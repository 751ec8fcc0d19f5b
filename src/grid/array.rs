//! A distributed 2D array of `f64` with ghost cells.

use super::blocks::{gather_blocks, scatter_blocks};
use super::boundary::{Boundary, Side};
use super::layout::Layout;
use crate::comm::{Comm, ReduceOp};
use crate::error::{Error, Result};
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2};
use std::ops::Range;

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

    /// A picture's worth of the array on `root`: the `h × w` array whose `(y, x)` is the global
    /// cell `(y·ny/h, x·nx/w)` (rounded down; [`crate::io::picture_cell`]), the cell a picture
    /// `h × w` pixels large shows at pixel `(y, x)`. With `(h, w)` from
    /// [`crate::io::picture_shape`], it draws the picture of the whole field (given the whole
    /// field's range, [`DistArray::finite_range`]). `Some` on `root`, `None` elsewhere.
    /// Collective; memory per rank O(h·w), whatever the grid.
    pub fn sample(
        &self,
        comm: &Comm,
        root: usize,
        (h, w): (usize, usize),
    ) -> Result<Option<Array2<f64>>> {
        let d = &self.layout.decomp;
        let (nx, ny) = (d.nx, d.ny);
        let pick = |n: usize, of: usize| -> Vec<usize> {
            (0..n)
                .map(|k| ((k as u64 * of as u64) / n as u64) as usize)
                .collect()
        };
        if h == 0 || w == 0 {
            return Err(Error::Invalid {
                quantity: "sample shape",
                value: format!("{w}x{h}"),
                why: "a sample needs at least one row and one column".into(),
            });
        }
        self.gather_cells(comm, root, &pick(h, ny), &pick(w, nx))
    }

    /// The global cells `rows × cols` (a rectangle of the grid) on `root`, shape
    /// `(rows.len(), cols.len())`: a strip of the field without gathering the rest. `Some` on
    /// `root`, `None` elsewhere. Collective; a rectangle outside the grid is an error on every
    /// rank.
    pub fn gather_rect(
        &self,
        comm: &Comm,
        root: usize,
        rows: Range<usize>,
        cols: Range<usize>,
    ) -> Result<Option<Array2<f64>>> {
        let rows: Vec<usize> = rows.collect();
        let cols: Vec<usize> = cols.collect();
        self.gather_cells(comm, root, &rows, &cols)
    }

    /// The finite minimum and maximum of the whole array (interiors only), `None` when no value
    /// is finite, on every rank: the colour scale of its pictures ([`crate::io::Sampled`]).
    /// Collective.
    pub fn finite_range(&self, comm: &Comm) -> Result<Option<(f64, f64)>> {
        let (lo, hi) = crate::io::finite_range(self.interior().iter().copied())
            .unwrap_or((f64::INFINITY, f64::NEG_INFINITY));
        let lo = comm.all_reduce_value(lo, ReduceOp::Min)?;
        let hi = comm.all_reduce_value(hi, ReduceOp::Max)?;
        Ok((lo <= hi).then_some((lo, hi)))
    }

    /// The array at global rows `rows` and columns `cols` on `root`: `(a, b)` is the cell
    /// `(rows[a], cols[b])`. Each rank sends the cells of its block, in order; the root places
    /// every rank's from the same lists. Collective.
    fn gather_cells(
        &self,
        comm: &Comm,
        root: usize,
        rows: &[usize],
        cols: &[usize],
    ) -> Result<Option<Array2<f64>>> {
        let d = &self.layout.decomp;
        // Every rank checks the same lists: no need to agree.
        if d.grid.size() != comm.size() {
            return Err(Error::Decomposition(format!(
                "the array is split over {} ranks but the communicator has {}",
                d.grid.size(),
                comm.size()
            )));
        }
        if let Some(&i) = rows.iter().find(|&&i| i >= d.ny) {
            return Err(Error::Invalid {
                quantity: "row",
                value: i.to_string(),
                why: format!("outside the grid of {} rows", d.ny),
            });
        }
        if let Some(&j) = cols.iter().find(|&&j| j >= d.nx) {
            return Err(Error::Invalid {
                quantity: "column",
                value: j.to_string(),
                why: format!("outside the grid of {} columns", d.nx),
            });
        }
        // The places in `rows` and `cols` that fall in `rank`'s block.
        let mine = |rank: usize| {
            let b = d.block(rank);
            let a: Vec<usize> = (0..rows.len())
                .filter(|&a| b.rows.contains(&rows[a]))
                .collect();
            let c: Vec<usize> = (0..cols.len())
                .filter(|&c| b.cols.contains(&cols[c]))
                .collect();
            (a, c)
        };
        let (my_rows, my_cols) = mine(comm.rank());
        let block = self.interior();
        let (r0, c0) = (self.layout.block.rows.start, self.layout.block.cols.start);
        let send: Vec<f64> = my_rows
            .iter()
            .flat_map(|&a| my_cols.iter().map(move |&c| (a, c)))
            .map(|(a, c)| block[[rows[a] - r0, cols[c] - c0]])
            .collect();
        let Some(chunks) = comm.gather_varcount(root, &send)? else {
            return Ok(None);
        };
        drop(send);
        let mut out = Array2::zeros((rows.len(), cols.len()));
        for rank in 0..comm.size() {
            let (ra, ca) = mine(rank);
            let chunk = chunks.chunk(rank);
            // The same lists as that rank took its cells from.
            debug_assert_eq!(chunk.len(), ra.len() * ca.len());
            let mut k = 0;
            for &a in &ra {
                for &c in &ca {
                    out[[a, c]] = chunk[k];
                    k += 1;
                }
            }
        }
        Ok(Some(out))
    }
}
