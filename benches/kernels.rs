//! The 5-point Laplace sweep, one process, measured by criterion (`cargo bench --bench kernels`;
//! criterion prints the time per sweep and cells per second):
//!
//! - in cache, 1024 x 1024 (two 8 MB arrays): naive 2D indexing of an ndarray, halo's slice
//!   kernel on one thread, and the same on rayon rows (serial and parallel side by side);
//! - beyond cache, 4096 x 4096 (two 134 MB arrays): ordinary stores against streaming
//!   (non-temporal) stores, which skip reading each line before overwriting it;
//! - halo pack and unpack of one 4096-cell ghost strip: a row (one contiguous copy) against a
//!   column (one cell per row, a row's length apart).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use halo::decomp::Rect;
use halo::grid::{pack, unpack};
use halo::solver::kernels::{sweep, Kernel, Stores};
use ndarray::Array2;
use std::hint::black_box;

fn naive(u: &Array2<f64>, v: &mut Array2<f64>, n: usize) {
    for i in 1..=n {
        for j in 1..=n {
            v[[i, j]] = 0.25 * (u[[i - 1, j]] + u[[i + 1, j]] + u[[i, j - 1]] + u[[i, j + 1]]);
        }
    }
}

/// A ghosted `(n+2)²` field with no pattern a kernel could get right by luck.
fn field(n: usize) -> Array2<f64> {
    Array2::from_shape_fn((n + 2, n + 2), |(i, j)| ((i * 7 + j * 13) % 17) as f64)
}

/// One Laplace sweep of the `n × n` interior of `u` into `v`.
fn laplace(stores: Stores, u: &[f64], v: &mut [f64], n: usize, parallel: bool) {
    let k = Kernel::Laplace;
    sweep(
        k,
        stores,
        black_box(u),
        v,
        &[],
        n + 2,
        1..n + 1,
        1..n + 1,
        parallel,
    );
}

fn in_cache(c: &mut Criterion) {
    const N: usize = 1024;
    let u = field(N);
    let mut v = u.clone();
    let mut g = c.benchmark_group("laplace sweep 1024x1024 (in cache)");
    g.throughput(Throughput::Elements((N * N) as u64));
    g.bench_function("naive ndarray indexing", |b| {
        b.iter(|| naive(black_box(&u), &mut v, N))
    });
    let us = u.as_slice().unwrap();
    let mut vs = us.to_vec();
    g.bench_function("slice kernel, 1 thread", |b| {
        b.iter(|| laplace(Stores::Cached, us, &mut vs, N, false))
    });
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    g.bench_function("slice kernel, rayon rows (2 threads)", |b| {
        b.iter(|| pool.install(|| laplace(Stores::Cached, us, &mut vs, N, true)))
    });
    g.finish();
}

fn beyond_cache(c: &mut Criterion) {
    const N: usize = 4096;
    let u = field(N);
    let us = u.as_slice().unwrap();
    let mut vs = us.to_vec();
    let mut g = c.benchmark_group("laplace sweep 4096x4096 (beyond cache)");
    g.throughput(Throughput::Elements((N * N) as u64));
    g.sample_size(20);
    for stores in [Stores::Cached, Stores::Streaming] {
        g.bench_function(format!("{stores} stores, 1 thread"), |b| {
            b.iter(|| laplace(stores, us, &mut vs, N, false))
        });
    }
    g.finish();
}

fn pack_unpack(c: &mut Criterion) {
    const N: usize = 4096;
    let mut a = field(N);
    let mut buf = vec![0.0; N];
    let mut g = c.benchmark_group("halo pack/unpack of a 4096-cell strip");
    g.throughput(Throughput::Elements(N as u64));
    let strips = [
        (
            "row",
            Rect {
                rows: 1..2,
                cols: 1..N + 1,
            },
        ),
        (
            "column",
            Rect {
                rows: 1..N + 1,
                cols: 1..2,
            },
        ),
    ];
    for (name, r) in strips {
        g.bench_function(format!("pack a {name}"), |b| {
            b.iter(|| pack(black_box(&a), &r, &mut buf))
        });
        g.bench_function(format!("unpack a {name}"), |b| {
            b.iter(|| unpack(black_box(&buf), &r, &mut a))
        });
    }
    g.finish();
}

criterion_group!(benches, in_cache, beyond_cache, pack_unpack);
criterion_main!(benches);
