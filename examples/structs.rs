//! Broadcast, scatter and gather your own structs: one with a derived MPI datatype, one with a
//! datatype built by hand.
//!
//! `#[derive(Equivalence)]` (re-exported as `halo::comm::Equivalence`) describes a struct's
//! fields to MPI, whatever order and padding Rust gives them. A program that does not depend on
//! the `mpi` crate itself names halo's copy with `#[mpi(crate = "halo::comm::mpi")]`.
//!
//! ```text
//! mpirun -n 4 target/debug/examples/structs
//! ```

use halo::comm::mpi::datatype::UserDatatype;
use halo::comm::Equivalence;

/// Fields of three sizes, so Rust reorders them and pads the end: every value checked below
/// shows that MPI's idea of the layout matches Rust's.
#[derive(Equivalence, Debug, Clone, Copy, Default, PartialEq)]
#[mpi(crate = "halo::comm::mpi")]
struct Particle {
    id: u32,
    position: [f64; 2],
    charge: i8,
}

impl Particle {
    /// The `k`-th particle: every rank can compute it, so every rank can check what it received.
    fn nth(k: usize) -> Self {
        Particle {
            id: 1000 + k as u32,
            position: [0.5 * k as f64, -(k as f64) - 0.25],
            charge: (k % 7) as i8 - 3,
        }
    }
}

/// A colour whose MPI datatype is built anew for every call (rsmpi's `UserDatatype`, freed when
/// dropped), unlike a derived one that lives for the whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[repr(C)]
struct Rgb([u16; 3]);

// SAFETY: `Rgb` is three contiguous `u16`s with no padding (`repr(C)` over `[u16; 3]`), exactly
// the datatype below.
unsafe impl Equivalence for Rgb {
    type Out = UserDatatype;
    fn equivalent_datatype() -> UserDatatype {
        UserDatatype::contiguous(3, &u16::equivalent_datatype())
    }
}

impl Rgb {
    fn nth(k: usize) -> Self {
        let k = k as u16;
        Rgb([k, 3 * k + 1, u16::MAX - k])
    }
}

/// Broadcast, scatter and gather `T`s made by `nth`, checking every element on every rank that
/// receives one. `per` is the number of elements per rank.
fn round_trip<T>(world: &halo::comm::Comm, nth: fn(usize) -> T, per: usize) -> halo::Result<()>
where
    T: Equivalence + Copy + Default + PartialEq + std::fmt::Debug,
{
    let (rank, size) = (world.rank(), world.size());
    let root = size - 1; // any rank may be the root
    let all: Vec<T> = (0..per * size).map(nth).collect();

    // One value, and a vector whose length only the root knows.
    let one = world.broadcast(root, if rank == root { nth(7) } else { T::default() })?;
    assert_eq!(one, nth(7));
    let got = world.broadcast_vec(root, (rank == root).then(|| all.clone()))?;
    assert_eq!(got, all);

    // Into a slice every rank sized.
    let mut buf = vec![T::default(); per];
    if rank == root {
        buf.copy_from_slice(&all[..per]);
    }
    world.broadcast_into(root, &mut buf)?;
    assert_eq!(buf, all[..per]);

    // Scatter: rank r gets elements r*per .. (r+1)*per, checked and zero-overhead forms.
    let mine = world.scatter(root, (rank == root).then_some(&all[..]))?;
    assert_eq!(mine, all[rank * per..(rank + 1) * per]);
    let mut mine_too = vec![T::default(); per];
    world.scatter_into(root, (rank == root).then_some(&all[..]), &mut mine_too)?;
    assert_eq!(mine_too, mine);

    // Gather them back on rank 0, in rank order, both forms.
    match world.gather(0, &mine)? {
        Some(back) => assert_eq!(back, all),
        None => assert_ne!(rank, 0),
    }
    let mut back = vec![T::default(); per * size];
    world.gather_into(0, &mine, (rank == 0).then_some(&mut back[..]))?;
    if rank == 0 {
        assert_eq!(back, all);
    }

    // Chunks of different lengths: rank r sends r + 1 elements.
    let chunk: Vec<T> = (0..=rank).map(|k| nth(100 * rank + k)).collect();
    if let Some(chunks) = world.gather_varcount(0, &chunk)? {
        for r in 0..size {
            let want: Vec<T> = (0..=r).map(|k| nth(100 * r + k)).collect();
            assert_eq!(chunks.chunk(r), want);
        }
    }
    Ok(())
}

fn main() -> halo::Result<()> {
    let mpi = halo::comm::init()?;
    let world = mpi.world();
    for per in [1, 5] {
        round_trip(&world, Particle::nth, per)?;
        round_trip(&world, Rgb::nth, per)?;
    }
    if world.rank() == 0 {
        println!(
            "structs: ok, ranks: {}, Particle of {} bytes, Rgb of {} bytes",
            world.size(),
            std::mem::size_of::<Particle>(),
            std::mem::size_of::<Rgb>()
        );
    }
    Ok(())
}
