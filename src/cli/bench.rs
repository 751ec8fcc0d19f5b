//! `halo bench`: memory bandwidth, collective latency and checkpoint throughput, as MPI jobs
//! that print figures.

use halo::bench::{self, CheckpointBench, CheckpointOptions, LatencyLoop, Op, Timing};
use halo::comm::Comm;
use halo::decomp::{ExchangeKind, ProcGrid};
use halo::Error;
use std::path::PathBuf;

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
    /// Latency of a collective per message size, as the OSU Micro-Benchmarks (osu_bcast, ...)
    /// measure it by default: every call timed alone with a barrier after it (not timed), the
    /// timed calls' average, averaged over ranks.
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
        /// How the calls are timed. Back to back, a rank may start its next call while others
        /// still finish the last, which reads differently (higher for large gathers) from the
        /// osu_* tools.
        #[arg(long, value_enum, default_value_t = TimingArg::Osu)]
        timing: TimingArg,
        /// With --op halo: compare these exchange methods (comma-separated: p2p, persistent,
        /// neighbor, two-phase, or all) on square blocks per rank of --blocks, every rank with
        /// neighbours on all sides, the methods alternating round by round.
        #[arg(
            long,
            value_delimiter = ',',
            value_name = "METHODS",
            value_parser = exchange_kinds,
            conflicts_with = "sizes"
        )]
        exchange: Option<Vec<Vec<ExchangeKind>>>,
        /// With --exchange: the block sides MIN:MAX per rank, doubling from MIN.
        #[arg(long, default_value = "8:4096", value_parser = sides, requires = "exchange")]
        blocks: (usize, usize),
        /// With --exchange: the ghost width (2 or more makes a box stencil, corners included).
        #[arg(long, default_value_t = 1, requires = "exchange")]
        ghost: usize,
        /// With --exchange: rounds of every method; the medians are printed.
        #[arg(long, default_value_t = 5, requires = "exchange")]
        rounds: usize,
        /// With --exchange: the process grid PXxPY [default: the squarest for the rank count].
        #[arg(long, requires = "exchange")]
        procs: Option<ProcGrid>,
    },
    /// Checkpoint write and read throughput: every rank writes its share of a field into one
    /// checkpoint file (halo's checkpoints: MPI-IO, checksums, sync and rename) and reads it back,
    /// every value checked; MB/s of file bytes, medians over rounds, to compare with `dd`.
    Checkpoint {
        /// The field's cells NXxNY (8 bytes each: 11585x11585 makes a file of about 1 GiB).
        #[arg(long, default_value = "11585x11585", value_parser = super::args::grid)]
        grid: (usize, usize),
        /// Rounds of a write then a read.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Rounds run first and not timed (the first use of memory the process has not touched
        /// costs as much as the disk, under a virtual machine above all).
        #[arg(long, default_value_t = 1)]
        warmup: usize,
        /// Where to write: the benchmark makes a directory of its own in it, removed at the end.
        /// On a tmpfs (often /tmp) the figures are the memory's, not a disk's.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Also print the figures as one JSON line.
        #[arg(long)]
        json: bool,
    },
}

/// The choices of `--timing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TimingArg {
    /// Each call timed alone, a barrier after each, warm-up calls too (the OSU Micro-Benchmarks'
    /// loop).
    Osu,
    /// The timed calls in a row after one barrier.
    BackToBack,
}

impl TimingArg {
    /// The library's timing.
    pub fn timing(self) -> Timing {
        match self {
            TimingArg::Osu => Timing::Osu,
            TimingArg::BackToBack => Timing::BackToBack,
        }
    }
}

/// One `--exchange` item: a method, or `all` of them.
fn exchange_kinds(s: &str) -> Result<Vec<ExchangeKind>, String> {
    if s == "all" {
        return Ok(ExchangeKind::ALL.to_vec());
    }
    Ok(vec![s.parse::<ExchangeKind>()?])
}

/// `--blocks MIN:MAX`, in cells a side.
fn sides(s: &str) -> Result<(usize, usize), String> {
    sizes(s).map_err(|e| e.replace("number of bytes", "number of cells"))
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
            timing,
            ref exchange,
            blocks,
            ghost,
            rounds,
            procs,
        } => {
            if iters == 0 {
                return Err(Error::Config("--iters must be at least 1".into()));
            }
            if let Some(kinds) = exchange {
                let how = LatencyLoop {
                    iters,
                    warmup,
                    raw: false,
                    timing: timing.timing(),
                };
                let kinds: Vec<ExchangeKind> = kinds.iter().flatten().copied().collect();
                let sweep = ExchangeSweep {
                    op,
                    blocks,
                    ghost,
                    rounds,
                    procs,
                    compare: compare || raw,
                };
                return exchange_sweep(world, &kinds, &sweep, &how);
            }
            // Every size fits MPI's counts and the node's memory, or nothing runs.
            let sizes = bench::message_sizes(lo, hi);
            bench::check_latency_sizes(world, op, &sizes, &format!("{lo}:{hi}"))?;
            let how = LatencyLoop {
                iters,
                warmup,
                raw,
                timing: timing.timing(),
            };
            let method = how.timing.label();
            if compare {
                if world.rank() == 0 {
                    println!(
                        "# halo {op:?} latency, halo API against plain rsmpi, alternating, {method}, ranks: {}",
                        world.size()
                    );
                    println!("# Size        halo(us)       raw(us)   halo/raw");
                }
                let (api, plain) = (
                    LatencyLoop { raw: false, ..how },
                    LatencyLoop { raw: true, ..how },
                );
                for &size in &sizes {
                    let (mut h, mut r) = (Vec::new(), Vec::new());
                    for _ in 0..3 {
                        h.push(bench::collective_latency(world, op, size, &api)?);
                        r.push(bench::collective_latency(world, op, size, &plain)?);
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
                let path = if raw { "plain rsmpi" } else { "halo API" };
                println!(
                    "# halo {op:?} latency ({path}), {method}, ranks: {}",
                    world.size()
                );
                println!("# Size       Avg Latency(us)");
            }
            for &size in &sizes {
                let us = bench::collective_latency(world, op, size, &how)?;
                if world.rank() == 0 {
                    println!("{size:<10}{us:>18.2}");
                }
            }
        }
        BenchCmd::Checkpoint {
            grid: (nx, ny),
            rounds,
            warmup,
            ref dir,
            json,
        } => {
            let opts = CheckpointOptions {
                nx,
                ny,
                rounds,
                warmup,
                dir: dir.clone(),
            };
            let c = bench::checkpoint(world, &opts)?;
            if world.rank() == 0 {
                print_checkpoint(&c);
                if json {
                    println!("{}", serde_json::to_string(&c).expect("serialisable"));
                }
            }
        }
    }
    Ok(())
}

/// The settings of `halo bench collectives --op halo --exchange`.
struct ExchangeSweep {
    op: Op,
    blocks: (usize, usize),
    ghost: usize,
    rounds: usize,
    procs: Option<ProcGrid>,
    compare: bool,
}

/// `--exchange`: every method on every block size, a table of medians from rank 0.
fn exchange_sweep(
    world: &Comm,
    kinds: &[ExchangeKind],
    s: &ExchangeSweep,
    how: &LatencyLoop,
) -> halo::Result<()> {
    if s.op != Op::Halo {
        return Err(Error::Config(format!(
            "--exchange compares ghost updates: it goes with --op halo, not --op {}",
            format!("{:?}", s.op).to_lowercase()
        )));
    }
    if s.compare {
        return Err(Error::Config(
            "--exchange compares halo's methods with each other: leave out --raw and --compare"
                .into(),
        ));
    }
    if s.rounds == 0 || s.ghost == 0 {
        return Err(Error::Config(
            "--rounds and --ghost must be at least 1".into(),
        ));
    }
    let grid = match s.procs {
        Some(g) if g.size() != world.size() => {
            return Err(Error::Config(format!(
                "--procs {g} has {} ranks, the job {}",
                g.size(),
                world.size()
            )))
        }
        Some(g) => g,
        None => ProcGrid::auto(world.size(), 1 << 20, 1 << 20)?,
    };
    let (lo, hi) = s.blocks;
    // Every side checked (the largest for memory) before the table starts.
    bench::check_blocks(world, grid, lo, s.ghost, kinds.len())?;
    bench::check_blocks(world, grid, hi, s.ghost, kinds.len())?;
    let sides = bench::message_sizes(lo, hi);
    let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    if world.rank() == 0 {
        println!(
            "# halo exchange latency by method, {} ranks on a {grid} process grid (periodic), ghost {} ({}), {}, {} alternating rounds, medians",
            world.size(),
            s.ghost,
            if s.ghost > 1 { "box stencil" } else { "star stencil" },
            how.timing.label(),
            s.rounds
        );
        let mut head = format!("# {:<11}{:>12}{:>7}", "Block", "bytes/rank", "iters");
        for n in &names {
            head += &format!("{:>16}", format!("{n}(us)"));
        }
        head += &format!("{:>12}{:>8}", "best/first", "msgs");
        println!("{head}");
    }
    for &b in &sides {
        let at = LatencyLoop {
            iters: bench::iters_for(b, how.iters),
            warmup: bench::iters_for(b, how.warmup.max(1)).min(how.warmup),
            ..*how
        };
        let r = bench::exchange_latency(world, grid, b, s.ghost, kinds, s.rounds, &at)?;
        if world.rank() == 0 {
            let mut line = format!(
                "{:<13}{:>12}{:>7}",
                format!("{b}x{b}"),
                r.bytes_per_rank,
                r.iters
            );
            for us in &r.median_us {
                line += &format!("{us:>16.2}");
            }
            let best = r.median_us.iter().copied().fold(f64::INFINITY, f64::min);
            let msgs: Vec<String> = r.messages.iter().map(u64::to_string).collect();
            line += &format!("{:>12.3}{:>8}", best / r.median_us[0], msgs.join("/"));
            println!("{line}");
        }
    }
    Ok(())
}

/// The checkpoint benchmark's figures: the rate line, then where and how the reads were made.
fn print_checkpoint(c: &CheckpointBench) {
    let spread = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(0.0, f64::max);
        format!("min {lo:.1}, max {hi:.1}")
    };
    println!(
        "checkpoint: {} ranks, {}x{}, {:.1} MB a file, {} rounds after {} untimed: write median {:.1} MB/s ({}), read median {:.1} MB/s ({})",
        c.ranks,
        c.nx,
        c.ny,
        c.file_bytes as f64 / 1e6,
        c.rounds,
        c.warmup,
        c.write_median_mb_per_s,
        spread(&c.write_mb_per_s),
        c.read_median_mb_per_s,
        spread(&c.read_mb_per_s)
    );
    let fs = c
        .mount
        .as_ref()
        .map_or("an unknown file system".to_string(), |m| {
            format!("{} ({} mounted at {})", m.fstype, m.source, m.target)
        });
    println!(
        "written in {} on {fs}; writes timed through MPI_File_sync, rename and directory sync",
        c.dir
    );
    match &c.cache_note {
        None => println!("page cache dropped before every read: the reads come from the disk"),
        Some(why) => println!("read figures may come from the page cache: {why}"),
    }
}
