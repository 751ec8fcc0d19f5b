//! The cost of exact dot products (`cargo bench --bench exact`): 1M elements, in one process,
//! the plain loop a solver would otherwise use (`Σ a[i]·b[i]` summed left to right, as Rust
//! rounds it) against [`ExactSum::add_products`] and [`ExactSum::add_squares`], which keep the
//! sum exactly so that it does not depend on how the vector is split over ranks and threads.
//! Also 1K elements (a small block, where the fixed cost of rounding shows), and the plain loop
//! with four partial sums (what a compiler may not do on its own, for scale).
//!
//! Criterion prints the time per dot product and elements per second; the ratio exact / plain is
//! the price of decomposition-independent Krylov solvers' reductions, before communication.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use halo::solver::exact::ExactSum;
use std::hint::black_box;

/// Values with no pattern a predictor could learn, of mixed sign and a spread of magnitudes,
/// like a residual: exponents vary over a few binades.
fn vector(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2f64.powi((s >> 3 & 15) as i32 - 8)
        })
        .collect()
}

fn plain(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn plain_four(a: &[f64], b: &[f64]) -> f64 {
    let mut s = [0.0; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail = plain(ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            s[k] += x[k] * y[k];
        }
    }
    (s[0] + s[1]) + (s[2] + s[3]) + tail
}

fn exact(a: &[f64], b: &[f64]) -> f64 {
    let mut s = ExactSum::new();
    s.add_products(a, b);
    s.value()
}

fn squares(a: &[f64]) -> f64 {
    let mut s = ExactSum::new();
    s.add_squares(a);
    s.value()
}

fn dot(c: &mut Criterion) {
    for n in [1 << 20, 1 << 10] {
        let a = vector(n, 1);
        let b = vector(n, 2);
        let mut g = c.benchmark_group(format!("dot product, {n} elements"));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function("plain f64 loop", |bch| {
            bch.iter(|| plain(black_box(&a), black_box(&b)))
        });
        g.bench_function("plain f64, 4 partial sums", |bch| {
            bch.iter(|| plain_four(black_box(&a), black_box(&b)))
        });
        g.bench_function("exact add_products", |bch| {
            bch.iter(|| exact(black_box(&a), black_box(&b)))
        });
        g.bench_function("exact add_squares", |bch| {
            bch.iter(|| squares(black_box(&a)))
        });
        g.finish();
    }
}

criterion_group!(benches, dot);
criterion_main!(benches);
