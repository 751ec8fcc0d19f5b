//! `halo decomp`: how a grid splits over ranks, and what each split costs. No MPI needed.

use super::args;
use halo::decomp::{compare, cost, DecompCost, Decomposition, ProcGrid, Stencil, LISTED_RANKS};
use halo::grid::{Boundaries, Boundary, Layout};
use halo::Error;
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
    /// Ghost width W (halo depth). As in `halo solve`, W > 1 also exchanges corners.
    #[arg(long, default_value_t = 1, value_name = "W")]
    pub ghost: usize,
    /// Compare every process grid for this rank count, cheapest first.
    #[arg(long)]
    pub compare: bool,
    /// Draw the blocks, rank numbers and ghost regions into this PNG file.
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
    if a.ghost == 0 {
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
    let stencil = if a.ghost > 1 {
        Stencil::Box
    } else {
        Stencil::Star
    };
    // The ghost width must fit every block, as the solver requires.
    Layout::new(
        decomp,
        0,
        a.ghost,
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
    let how = if a.procs.is_some() {
        "chosen"
    } else {
        "automatic"
    };
    if let Some(path) = &a.png {
        let title = format!(
            "{nx}x{ny} cells over {} ranks as {} ({how}), ghost {}",
            a.ranks, decomp.grid, a.ghost
        );
        halo::io::write_atomic(
            path,
            &halo::io::decomposition_map_png(&decomp, a.ghost, &title)?,
        )?;
    }
    if a.compare {
        let all = compare(nx, ny, a.ranks, a.ghost, stencil)?;
        if a.json {
            println!("{}", serde_json::to_string(&all).expect("serialisable"));
        } else {
            print_compare(nx, ny, a.ranks, &all);
        }
    } else {
        let c = cost(&decomp, a.ghost, stencil);
        if a.json {
            println!("{}", serde_json::to_string(&c).expect("serialisable"));
        } else {
            print_blocks(&decomp, &c, how, a.ghost, stencil);
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
