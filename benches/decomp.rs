//! Decomposition math: choosing a process grid and computing every rank's block.
//!
//! These run once per job, so they must stay negligible next to a single halo exchange even for
//! rank counts of large machines. `cargo bench --bench decomp`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use halo::decomp::{Decomposition, ProcGrid};
use std::hint::black_box;

fn auto_grid(c: &mut Criterion) {
    let mut g = c.benchmark_group("ProcGrid::auto");
    for ranks in [4usize, 96, 4096, 65521] {
        g.bench_with_input(BenchmarkId::from_parameter(ranks), &ranks, |b, &r| {
            b.iter(|| ProcGrid::auto(black_box(r), 1 << 20, 1 << 19))
        });
    }
    g.finish();
}

fn all_blocks(c: &mut Criterion) {
    let mut g = c.benchmark_group("Decomposition::blocks");
    for ranks in [4usize, 96, 4096] {
        let d = Decomposition::auto(1 << 16, 1 << 15, ranks).unwrap();
        g.bench_with_input(BenchmarkId::from_parameter(ranks), &d, |b, d| {
            b.iter(|| black_box(d).blocks().map(|blk| blk.cells()).sum::<usize>())
        });
    }
    g.finish();
}

criterion_group!(benches, auto_grid, all_blocks);
criterion_main!(benches);
