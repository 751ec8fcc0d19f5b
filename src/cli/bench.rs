//! `halo bench`: memory bandwidth and collective latency, as MPI jobs that print figures.

use halo::bench::{self, Op};
use halo::comm::Comm;
use halo::Error;

/// `halo bench`'s subcommands.
#[derive(clap::Subcommand)]
pub enum BenchCmd {
    /// STREAM-style triad a[i] += b[i] + s*c[i] (32 bytes per element) on every rank at once:
    /// the memory bandwidth B, summed over ranks, and the stencil roofline B/16 cell updates/s.
    Triad {
        /// Doubles per array per rank (three arrays); far more than the caches hold.
        #[arg(long, default_value_t = 40_000_000)]
        elements: usize,
        /// Repetitions; the best and the median are reported.
        #[arg(long, default_value_t = 10)]
        reps: usize,
    },
    /// OSU-style latency of a collective per message size: warm-up, barrier, timed loop,
    /// per-call average, averaged over ranks.
    Collectives {
        /// bcast, scatter, gather, allgather, allreduce, or halo (a ghost update: a periodic
        /// column of ranks, each sending SIZE bytes to the ranks above and below).
        #[arg(long, value_parser = |s: &str| s.parse::<Op>().map_err(|e| e.to_string()))]
        op: Op,
        /// Message sizes MIN:MAX in bytes, doubling from MIN.
        #[arg(short = 'm', long = "message-size", default_value = "1:1048576", value_parser = sizes)]
        sizes: (usize, usize),
        /// Timed iterations per size.
        #[arg(short = 'i', long, default_value_t = 1000)]
        iters: usize,
        /// Warm-up iterations per size.
        #[arg(short = 'x', long, default_value_t = 100)]
        warmup: usize,
        /// Run the identical loop on plain rsmpi calls instead of halo's API.
        #[arg(long, conflicts_with = "compare")]
        raw: bool,
        /// Time halo's API and plain rsmpi alternately in the same job (three rounds each, the
        /// median of each), and print both with their ratio: the wrapper's cost, measured fairly
        /// on a noisy machine.
        #[arg(long)]
        compare: bool,
    },
}

fn sizes(s: &str) -> Result<(usize, usize), String> {
    let (a, b) = s
        .split_once(':')
        .ok_or_else(|| format!("'{s}' is not MIN:MAX, e.g. 1:1048576"))?;
    let n = |t: &str| {
        t.parse::<usize>()
            .map_err(|_| format!("'{s}': '{t}' is not a number of bytes"))
    };
    let (lo, hi) = (n(a)?, n(b)?);
    if lo == 0 || lo > hi {
        return Err(format!("'{s}': need 1 <= MIN <= MAX"));
    }
    Ok((lo, hi))
}

/// Runs `halo bench`; rank 0 prints.
pub fn run(world: &Comm, cmd: &BenchCmd) -> halo::Result<()> {
    run_named(world, cmd).map_err(|e| super::args::flag_names(e, None))
}

fn run_named(world: &Comm, cmd: &BenchCmd) -> halo::Result<()> {
    match *cmd {
        BenchCmd::Triad { elements, reps } => {
            let t = bench::triad(world, elements, reps)?;
            if world.rank() == 0 {
                println!(
                    "triad: {} ranks x {} elements: best {:.2} GB/s, median {:.2} GB/s (32 bytes per element, summed over ranks)",
                    t.ranks,
                    t.elements,
                    t.bytes_per_s / 1e9,
                    t.median_bytes_per_s / 1e9
                );
                println!(
                    "roofline for a 5-point sweep moving 16 bytes per cell: {:.1} Mcells/s",
                    t.bytes_per_s / 16.0 / 1e6
                );
                println!("{}", serde_json::to_string(&t).expect("serialisable"));
            }
        }
        BenchCmd::Collectives {
            op,
            sizes: (lo, hi),
            iters,
            warmup,
            raw,
            compare,
        } => {
            if iters == 0 {
                return Err(Error::Config("--iters must be at least 1".into()));
            }
            // Every size fits MPI's counts and the node's memory, or nothing runs.
            let sizes = bench::message_sizes(lo, hi);
            bench::check_latency_sizes(world, op, &sizes, &format!("{lo}:{hi}"))?;
            if compare {
                if world.rank() == 0 {
                    println!(
                        "# halo OSU-style {op:?} latency, halo API against plain rsmpi, alternating, ranks: {}",
                        world.size()
                    );
                    println!("# Size        halo(us)       raw(us)   halo/raw");
                }
                for &size in &sizes {
                    let (mut h, mut r) = (Vec::new(), Vec::new());
                    for _ in 0..3 {
                        h.push(bench::collective_latency(
                            world, op, size, iters, warmup, false,
                        )?);
                        r.push(bench::collective_latency(
                            world, op, size, iters, warmup, true,
                        )?);
                    }
                    let median = |v: &[f64]| bench::median(v).unwrap_or(0.0);
                    let (h, r) = (median(&h), median(&r));
                    if world.rank() == 0 {
                        println!("{size:<10}{h:>14.2}{r:>14.2}{:>11.3}", h / r);
                    }
                }
                return Ok(());
            }
            if world.rank() == 0 {
                let how = if raw { "plain rsmpi" } else { "halo API" };
                println!(
                    "# halo OSU-style {op:?} latency ({how}), ranks: {}",
                    world.size()
                );
                println!("# Size       Avg Latency(us)");
            }
            for &size in &sizes {
                let us = bench::collective_latency(world, op, size, iters, warmup, raw)?;
                if world.rank() == 0 {
                    println!("{size:<10}{us:>18.2}");
                }
            }
        }
    }
    Ok(())
}
