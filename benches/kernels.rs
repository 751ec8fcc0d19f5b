//! The 5-point Laplace row kernel three ways on a 1024 x 1024 grid (two 8 MB arrays): naive
//! 2D indexing of an ndarray, halo's slice kernel on one thread, and the same on rayon rows.
//! `cargo bench --bench kernels`; criterion prints the time per sweep and cells per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use halo::solver::kernels::{sweep, Kernel};
use ndarray::Array2;
use std::hint::black_box;

const N: usize = 1024;

fn naive(u: &Array2<f64>, v: &mut Array2<f64>) {
    for i in 1..=N {
        for j in 1..=N {
            v[[i, j]] = 0.25 * (u[[i - 1, j]] + u[[i + 1, j]] + u[[i, j - 1]] + u[[i, j + 1]]);
        }
    }
}

fn kernels(c: &mut Criterion) {
    let u = Array2::from_shape_fn((N + 2, N + 2), |(i, j)| ((i * 7 + j * 13) % 17) as f64);
    let mut v = u.clone();
    let mut g = c.benchmark_group("laplace sweep 1024x1024");
    g.throughput(Throughput::Elements((N * N) as u64));
    g.bench_function("naive ndarray indexing", |b| {
        b.iter(|| naive(black_box(&u), &mut v))
    });
    let us = u.as_slice().unwrap();
    let mut vs = v.as_slice().unwrap().to_vec();
    g.bench_function("slice kernel, 1 thread", |b| {
        b.iter(|| {
            sweep(
                Kernel::Laplace,
                black_box(us),
                &mut vs,
                &[],
                N + 2,
                1..N + 1,
                1..N + 1,
                false,
            )
        })
    });
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    g.bench_function("slice kernel, rayon rows (2 threads)", |b| {
        b.iter(|| {
            pool.install(|| {
                sweep(
                    Kernel::Laplace,
                    black_box(us),
                    &mut vs,
                    &[],
                    N + 2,
                    1..N + 1,
                    1..N + 1,
                    true,
                )
            })
        })
    });
    g.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
