//! `halo decomp`: how a grid splits over ranks, and what each split costs; with `--levels`, the
//! same for every level of the multigrid hierarchy. No MPI needed.

use super::args;
use halo::decomp::{
    compare, cost, Block, DecompCost, Decomposition, Dir, ProcGrid, Stencil, LISTED_RANKS,
};
use halo::grid::{Boundaries, Boundary, Layout};
use halo::solver::multigrid::{plan, LevelPlan, AGGLOMERATE_BELOW, GHOST};
use halo::Error;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// `halo decomp`'s options.
#[derive(clap::Args)]
pub struct DecompArgs {
    /// Interior cells NXxNY.
    #[arg(long, value_name = "NXxNY", value_parser = args::grid, allow_hyphen_values = true)]
    pub grid: (usize, usize),
    /// Ranks to split over.
    #[arg(long)]
    pub ranks: usize,
    /// Process grid PXxPY; by default the one that cuts least, as `halo solve` chooses.
    #[arg(long, value_name = "PXxPY", value_parser = args::procs, allow_hyphen_values = true)]
    pub procs: Option<ProcGrid>,
    /// Ghost width W (halo depth) [default: 1]. As in `halo solve`, W > 1 also exchanges corners.
    #[arg(long, value_name = "W")]
    pub ghost: Option<usize>,
    /// Compare every process grid for this rank count, cheapest first.
    #[arg(long)]
    pub compare: bool,
    /// Show the multigrid hierarchy instead (`halo solve --solver mg`, mgcg, fmg, pipecg): every
    /// level's nodes and blocks, its halo traffic, and where the levels move onto rank 0.
    #[arg(long)]
    pub levels: bool,
    /// Draw the blocks, rank numbers and ghost regions into this PNG file; with --levels, every
    /// level's blocks.
    #[arg(long, value_name = "FILE")]
    pub png: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Runs `halo decomp`.
pub fn run(a: &DecompArgs) -> halo::Result<()> {
    let (nx, ny) = a.grid;
    if a.ranks == 0 {
        return Err(Error::Config("--ranks must be at least 1".into()));
    }
    if a.levels && a.compare {
        return Err(Error::Config(
            "--levels shows one process grid's multigrid levels and --compare compares process grids: ask for one at a time".into(),
        ));
    }
    if a.levels && a.ghost.is_some() {
        return Err(Error::Config(format!(
            "--levels: every multigrid level has {GHOST} ghost layers, whatever --ghost says; leave --ghost out"
        )));
    }
    let ghost = a.ghost.unwrap_or(1);
    if ghost == 0 {
        return Err(Error::Config("--ghost must be at least 1".into()));
    }
    let decomp = match a.procs {
        Some(g) if g.size() != a.ranks => {
            return Err(Error::Config(format!(
                "--procs {g} has {} ranks, not --ranks {}",
                g.size(),
                a.ranks
            )))
        }
        Some(g) => Decomposition::new(nx, ny, g)?,
        None => Decomposition::auto(nx, ny, a.ranks)?,
    };
    let how = if a.procs.is_some() {
        "chosen"
    } else {
        "automatic"
    };
    if a.levels {
        return levels(a, &decomp, how);
    }
    let stencil = if ghost > 1 {
        Stencil::Box
    } else {
        Stencil::Star
    };
    // The ghost width must fit every block, as the solver requires.
    Layout::new(
        decomp,
        0,
        ghost,
        stencil,
        Boundaries::all(Boundary::Dirichlet(0.0)),
    )
    .map_err(|e| super::args::flag_names(e, None))?;
    // A block a pixel wide, numbered, shows nothing, and drawing millions takes minutes.
    if a.png.is_some() && a.ranks > LISTED_RANKS {
        return Err(Error::Config(format!(
            "--png: {} blocks are too many to draw (at most {LISTED_RANKS}, on a picture 900 \
             pixels wide)",
            a.ranks
        )));
    }
    if let Some(path) = &a.png {
        let title = format!(
            "{nx}x{ny} cells over {} ranks as {} ({how}), ghost {ghost}",
            a.ranks, decomp.grid
        );
        halo::io::write_atomic(
            path,
            &halo::io::decomposition_map_png(&decomp, ghost, &title)?,
        )?;
    }
    if a.compare {
        let all = compare(nx, ny, a.ranks, ghost, stencil)?;
        if a.json {
            println!("{}", serde_json::to_string(&all).expect("serialisable"));
        } else {
            print_compare(nx, ny, a.ranks, &all);
        }
    } else {
        let c = cost(&decomp, ghost, stencil);
        if a.json {
            println!("{}", serde_json::to_string(&c).expect("serialisable"));
        } else {
            print_blocks(&decomp, &c, how, ghost, stencil);
        }
    }
    if let Some(path) = &a.png {
        if !a.json {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

fn print_blocks(d: &Decomposition, c: &DecompCost, how: &str, ghost: usize, stencil: Stencil) {
    println!(
        "{}x{} cells over {} ranks as {} ({how}), ghost {ghost}, {} stencil",
        d.nx,
        d.ny,
        d.ranks(),
        d.grid,
        if stencil == Stencil::Box {
            "box"
        } else {
            "star"
        }
    );
    let Some(ranks) = &c.ranks else {
        println!(
            "({} ranks: too many to list one by one, at most {LISTED_RANKS} are; the totals cover them all)",
            d.ranks()
        );
        print_totals(c);
        return;
    };
    println!(
        "{:>5} {:>8} {:>13} {:>13} {:>10}  {:<28} {:>4} {:>11} {:>11}",
        "rank",
        "coords",
        "offset x,y",
        "size nx x ny",
        "cells",
        "neighbours",
        "msgs",
        "halo cells",
        "halo bytes"
    );
    for r in ranks {
        let nb: Vec<String> = r
            .neighbors
            .iter()
            .map(|(d, n)| format!("{d}:{n}"))
            .collect();
        println!(
            "{:>5} {:>8} {:>13} {:>13} {:>10}  {:<28} {:>4} {:>11} {:>11}",
            r.rank,
            format!("({},{})", r.coords.0, r.coords.1),
            format!("{},{}", r.offset.0, r.offset.1),
            format!("{}x{}", r.size.0, r.size.1),
            r.size.0 * r.size.1,
            nb.join(" "),
            r.messages,
            r.halo_cells,
            r.halo_bytes
        );
    }
    print_totals(c);
}

fn print_totals(c: &DecompCost) {
    println!(
        "per exchange: {} bytes in all, {} from the busiest rank; surface-to-volume {:.6}; load imbalance (largest/mean block) {:.4}",
        c.total_bytes, c.max_bytes, c.surface_to_volume, c.imbalance
    );
}

fn print_compare(nx: usize, ny: usize, ranks: usize, all: &[DecompCost]) {
    let auto = ProcGrid::auto(ranks, nx, ny).ok();
    println!("{nx}x{ny} cells over {ranks} ranks: every process grid, least halo traffic first");
    println!(
        "{:>4} {:>9} {:>14} {:>15} {:>15} {:>10}  note",
        "#", "grid", "bytes/exchange", "busiest rank", "surface/volume", "imbalance"
    );
    for (k, c) in all.iter().enumerate() {
        let mut notes = Vec::new();
        if auto.is_some_and(|g| (g.px, g.py) == (c.px, c.py)) {
            notes.push("automatic");
        }
        if c.py == 1 && ranks > 1 {
            notes.push("1D strips of columns");
        }
        if c.px == 1 && ranks > 1 {
            notes.push("1D strips of rows");
        }
        println!(
            "{:>4} {:>9} {:>14} {:>15} {:>15.6} {:>10.4}  {}",
            k + 1,
            format!("{}x{}", c.px, c.py),
            c.total_bytes,
            c.max_bytes,
            c.surface_to_volume,
            c.imbalance,
            notes.join(", ")
        );
    }
}

/// The multigrid hierarchy of a grid on a process grid, as `--levels` reports it.
#[derive(Debug, serde::Serialize)]
struct Hierarchy {
    nx: usize,
    ny: usize,
    ranks: usize,
    px: usize,
    py: usize,
    /// Ghost layers of every level (faces and corners are exchanged).
    ghost: usize,
    /// A level whose blocks would be narrower than this many nodes runs on rank 0 alone.
    agglomerate_below: usize,
    /// The first level on rank 0 alone, if any.
    agglomerated_at: Option<usize>,
    /// How many levels run on rank 0 alone.
    levels_on_rank0: usize,
    /// Their nodes together: rank 0's work on each visit, while the other ranks wait.
    rank0_nodes: usize,
    levels: Vec<LevelRow>,
}

/// One level of a [`Hierarchy`].
#[derive(Debug, serde::Serialize)]
struct LevelRow {
    level: usize,
    /// Nodes along x and y.
    nx: usize,
    ny: usize,
    /// Whether the level is split over the ranks (else it runs on rank 0 alone).
    split: bool,
    /// The ranks it runs on.
    ranks: usize,
    /// The smallest and the largest block `(nx, ny)` in nodes, and the narrowest side of any:
    /// for a level on rank 0, the blocks it would have had split, which say why it is not.
    smallest: (usize, usize),
    largest: (usize, usize),
    narrowest: usize,
    /// Nodes on the busiest rank: the largest block, or the whole level on rank 0.
    busiest_cells: usize,
    /// The most messages and bytes a rank sends per exchange of the level's ghost layers.
    halo_messages: usize,
    halo_bytes: usize,
    /// The messages and bytes all ranks together send per exchange.
    total_halo_messages: usize,
    total_halo_bytes: usize,
    /// The busiest rank's nodes per halo cell sent by the busiest sender: the work one exchange
    /// pays for; `None` where nothing is exchanged.
    cells_per_halo_cell: Option<f64>,
}

/// The ranks along one axis that are alike for the halo, and how many of each: their part's
/// width, and whether they have a neighbour before and after (at most six kinds, however many
/// ranks).
fn alike(cuts: &[usize]) -> BTreeMap<(usize, bool, bool), usize> {
    let parts = cuts.len() - 1;
    let mut kinds = BTreeMap::new();
    for k in 0..parts {
        *kinds
            .entry((cuts[k + 1] - cuts[k], k > 0, k + 1 < parts))
            .or_insert(0) += 1;
    }
    kinds
}

/// One level's row: its blocks and what the busiest rank holds and sends per exchange.
fn level_row(level: usize, p: &LevelPlan, ranks: usize) -> LevelRow {
    let exchanges = p.split && ranks > 1;
    let (mut smallest, mut largest) = ((usize::MAX, 0, 0), (0, 0, 0));
    let (mut halo_cells, mut messages) = (0usize, 0usize);
    let (mut total_cells, mut total_messages) = (0usize, 0usize);
    for (&(w, west, east), &columns) in &alike(&p.xcuts) {
        for (&(h, north, south), &rows) in &alike(&p.ycuts) {
            let key = (w * h, w, h);
            smallest = smallest.min(key);
            largest = largest.max(key);
            if !exchanges {
                continue;
            }
            let has = |step: i8, before: bool, after: bool| match step {
                -1 => before,
                1 => after,
                _ => true,
            };
            let sends: Vec<Dir> = Dir::of(Stencil::Box)
                .iter()
                .copied()
                .filter(|d| has(d.dx, west, east) && has(d.dy, north, south))
                .collect();
            let cells: usize = sends
                .iter()
                .map(|&d| halo::decomp::send_rect(w, h, GHOST, d).cells())
                .sum();
            halo_cells = halo_cells.max(cells);
            messages = messages.max(sends.len());
            total_cells += cells * columns * rows;
            total_messages += sends.len() * columns * rows;
        }
    }
    let busiest_cells = if p.split { largest.0 } else { p.n.0 * p.n.1 };
    LevelRow {
        level,
        nx: p.n.0,
        ny: p.n.1,
        split: p.split,
        ranks: if p.split { ranks } else { 1 },
        smallest: (smallest.1, smallest.2),
        largest: (largest.1, largest.2),
        narrowest: p.narrowest(),
        busiest_cells,
        halo_messages: messages,
        halo_bytes: halo_cells * 8,
        total_halo_messages: total_messages,
        total_halo_bytes: total_cells * 8,
        cells_per_halo_cell: (halo_cells > 0).then(|| busiest_cells as f64 / halo_cells as f64),
    }
}

/// The hierarchy of `decomp`'s grid on its process grid.
fn hierarchy(decomp: &Decomposition) -> Hierarchy {
    let ranks = decomp.ranks();
    let levels: Vec<LevelRow> = plan(decomp.nx, decomp.ny, decomp.grid)
        .iter()
        .enumerate()
        .map(|(l, p)| level_row(l, p, ranks))
        .collect();
    let agglomerated_at = levels.iter().position(|l| !l.split);
    Hierarchy {
        nx: decomp.nx,
        ny: decomp.ny,
        ranks,
        px: decomp.grid.px,
        py: decomp.grid.py,
        ghost: GHOST,
        agglomerate_below: AGGLOMERATE_BELOW,
        agglomerated_at,
        levels_on_rank0: levels.iter().filter(|l| !l.split).count(),
        rank0_nodes: levels
            .iter()
            .filter(|l| !l.split)
            .map(|l| l.busiest_cells)
            .sum(),
        levels,
    }
}

/// The longest axis `--levels` plans: its node positions take about 1 GiB.
const MAX_PLANNED_AXIS: usize = 1 << 26;

/// `halo decomp --levels`: the multigrid hierarchy of `decomp`'s grid, as a table or JSON, and
/// with `--png` a picture of every level's blocks.
fn levels(a: &DecompArgs, decomp: &Decomposition, how: &str) -> halo::Result<()> {
    let (px, py) = (decomp.grid.px, decomp.grid.py);
    // The plan lists every level's node positions: about 16 bytes per node of an axis.
    let longest = decomp.nx.max(decomp.ny);
    if longest > MAX_PLANNED_AXIS {
        return Err(Error::Config(format!(
            "--levels: an axis of {longest} nodes is longer than the {MAX_PLANNED_AXIS} this command plans (it lists every level's nodes, about 16 bytes each)"
        )));
    }
    // The solver's own condition (`Multigrid::new`): the finest blocks hold both ghost layers.
    if (px > 1 && decomp.nx / px < GHOST) || (py > 1 && decomp.ny / py < GHOST) {
        return Err(Error::Config(format!(
            "--grid {}x{} is too small for multigrid on the {} process grid: every block needs at least {GHOST} nodes along each axis; use fewer ranks",
            decomp.nx, decomp.ny, decomp.grid
        )));
    }
    if a.png.is_some() && a.ranks > LISTED_RANKS {
        return Err(Error::Config(format!(
            "--png: {} blocks a level are too many to draw (at most {LISTED_RANKS})",
            a.ranks
        )));
    }
    let h = hierarchy(decomp);
    if let Some(path) = &a.png {
        halo::io::write_atomic(path, &levels_png(decomp, &h, how)?)?;
    }
    if a.json {
        println!("{}", serde_json::to_string(&h).expect("serialisable"));
    } else {
        print_levels(decomp, &h, how);
        if let Some(path) = &a.png {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// `1 rank`, `4 ranks`.
fn ranks(n: usize) -> String {
    format!("{n} rank{}", if n == 1 { "" } else { "s" })
}

/// `nx x ny`.
fn size((nx, ny): (usize, usize)) -> String {
    format!("{nx}x{ny}")
}

fn print_levels(d: &Decomposition, h: &Hierarchy, how: &str) {
    println!(
        "multigrid levels of {}x{} nodes over {} as {} ({how}): {} levels, {} ghost layers (faces and corners)",
        h.nx,
        h.ny,
        ranks(h.ranks),
        d.grid,
        h.levels.len(),
        h.ghost
    );
    println!(
        "{:>5} {:>11}  {:<10} {:>10} {:>10} {:>10} {:>5} {:>11} {:>11}",
        "level",
        "nodes",
        "runs on",
        "smallest",
        "largest",
        "cells",
        "msgs",
        "halo bytes",
        "cells/halo"
    );
    for l in &h.levels {
        let on = if l.split {
            ranks(l.ranks)
        } else {
            "rank 0".into()
        };
        let block = |b| {
            if l.split {
                size(b)
            } else {
                format!("({})", size(b))
            }
        };
        let (msgs, bytes, ratio) = match l.cells_per_halo_cell {
            Some(r) => (
                l.halo_messages.to_string(),
                l.halo_bytes.to_string(),
                format!("{r:.1}"),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        println!(
            "{:>5} {:>11}  {:<10} {:>10} {:>10} {:>10} {:>5} {:>11} {:>11}",
            l.level,
            size((l.nx, l.ny)),
            on,
            block(l.smallest),
            block(l.largest),
            l.busiest_cells,
            msgs,
            bytes,
            ratio
        );
    }
    println!(
        "blocks in nodes; cells, msgs and halo bytes: the busiest rank's, per exchange; cells/halo: its cells per halo cell sent, the work one exchange pays for"
    );
    if h.levels_on_rank0 > 0 {
        println!("(…): the blocks a level on rank 0 would have had, split");
    }
    println!("{}", agglomeration_line(h));
}

/// Where the hierarchy moves onto rank 0, and why, in a line or two.
fn agglomeration_line(h: &Hierarchy) -> String {
    let below = h.agglomerate_below;
    if h.ranks == 1 {
        return "agglomeration: none needed, one rank runs every level whole, with no halo exchange"
            .into();
    }
    let Some(k) = h.agglomerated_at else {
        let narrowest = h.levels.iter().map(|l| l.narrowest).min().unwrap_or(0);
        return format!(
            "agglomeration: none, every level's blocks are at least {narrowest} nodes wide, not narrower than {below} (AGGLOMERATE_BELOW)"
        );
    };
    let first = &h.levels[k];
    let last = h.levels.len() - 1;
    let ratio = h.rank0_nodes as f64 / h.levels[0].busiest_cells.max(1) as f64;
    let share = if ratio >= 1.0 {
        format!("{ratio:.1} times")
    } else {
        format!("{:.2}% of", 100.0 * ratio)
    };
    let which = if k == last {
        format!("level {k}")
    } else {
        format!("levels {k}-{last}")
    };
    format!(
        "agglomeration: from level {k} ({} nodes) the blocks would be {} nodes wide, narrower than {below} (AGGLOMERATE_BELOW), so {which} ({} of {}) run on rank 0 alone\nrank 0 gathers level {}'s residual and scatters the correction back, once per visit, in place of halo exchanges on every sweep of those levels; their {} nodes are {share} the largest finest-level block",
        size((first.nx, first.ny)),
        first.narrowest,
        h.levels_on_rank0,
        h.levels.len(),
        k - 1,
        h.rank0_nodes,
    )
}

/// The most levels drawn; deeper hierarchies show the first ones, the last split level, the
/// first on rank 0 and the coarsest.
const DRAWN_LEVELS: usize = 9;

/// The levels `--levels --png` draws.
fn drawn(h: &Hierarchy) -> Vec<usize> {
    let n = h.levels.len();
    if n <= DRAWN_LEVELS {
        return (0..n).collect();
    }
    let mut keep: BTreeSet<usize> = [n - 1].into();
    if let Some(k) = h.agglomerated_at {
        keep.extend([k - 1, k]);
    }
    let mut l = 0;
    while keep.len() < DRAWN_LEVELS {
        keep.insert(l);
        l += 1;
    }
    keep.into_iter().collect()
}

/// The picture of every drawn level's blocks.
fn levels_png(d: &Decomposition, h: &Hierarchy, how: &str) -> halo::Result<Vec<u8>> {
    let plans = plan(d.nx, d.ny, d.grid);
    let chosen = drawn(h);
    let sets: Vec<halo::io::BlockSet> = chosen
        .iter()
        .map(|&l| {
            let (p, row) = (&plans[l], &h.levels[l]);
            let span = |a: (usize, usize), b: (usize, usize)| {
                if a == b {
                    size(a)
                } else {
                    format!("{} to {}", size(a), size(b))
                }
            };
            let (second, blocks) = if p.split {
                let blocks: Vec<Block> = (0..h.ranks).map(|r| p.block(r, d.grid)).collect();
                let each = if h.ranks == 1 {
                    ranks(1)
                } else {
                    format!(
                        "{}, blocks {}",
                        ranks(h.ranks),
                        span(row.smallest, row.largest)
                    )
                };
                (each, blocks)
            } else {
                let whole = Block {
                    rank: 0,
                    coords: (0, 0),
                    cols: 0..p.n.0,
                    rows: 0..p.n.1,
                };
                let would = span(row.smallest, row.largest);
                (format!("on rank 0: blocks would be {would}"), vec![whole])
            };
            halo::io::BlockSet {
                caption: format!("level {l}: {} nodes\n{second}", size(p.n)),
                n: p.n,
                blocks,
            }
        })
        .collect();
    let shown = if chosen.len() < h.levels.len() {
        format!(", {} of its {} levels", chosen.len(), h.levels.len())
    } else {
        String::new()
    };
    let title = format!(
        "multigrid levels of {}x{} nodes over {} as {} ({how}){shown}",
        d.nx,
        d.ny,
        ranks(h.ranks),
        d.grid
    );
    let note = format!(
        "each level on the unit square, coloured by rank; thin lines between nodes where 4 pixels apart; blocks narrower than {} nodes move to rank 0",
        h.agglomerate_below
    );
    halo::io::block_sets_png(&title, &note, (1.0, 1.0), &sets)
}
