#!/usr/bin/env python3
"""Tables and verdicts for scripts/benchmarks, from the JSON the halo commands print.

  bench-tables.py rounds N [VARIANT=PERCENT ...] < tagged runs   # roofline table and verdicts
  bench-tables.py compare < a `halo bench collectives --compare` table
  bench-tables.py waits < tagged runs                            # overlap wait table
  bench-tables.py versus N [TAG=SECONDS ...] < tagged runs       # time to solution, PETSc vs halo
  bench-tables.py textbook < tagged runs                         # multigrid's cycle counts and work
  bench-tables.py dots < tagged runs                             # exact against plain dot products
  bench-tables.py levels < one `halo solve --json` line             # its multigrid levels
  bench-tables.py io < tagged runs                               # checkpoints against dd
  bench-tables.py osu < tagged table rows                        # plain C against halo --raw
  bench-tables.py exchange < a `halo bench collectives --exchange` table  # methods' verdicts
  bench-tables.py solves < tagged runs                           # whole runs by exchange method
  bench-tables.py splice FILE HEADING [BEFORE] < section         # put a section into FILE
Tagged runs are lines `TAG<TAB>JSON`: `triad` for `halo bench triad --json`-style lines, and
`solve` plus the extra arguments (`solve --time-block 4`) for `halo solve --json` lines.
For `io` the tags are `dd write` and `dd read` (bodies {"bytes": N, "seconds": S} from dd's
report) and `halo` (`halo bench checkpoint --json`, one round each).
For `osu` the tags are `c OP` (benches/osu_c/osu_style) and `halo OP` (`halo bench collectives
--raw`), each body one row `SIZE MICROSECONDS` of their tables, one row per size and round.
`splice` replaces FILE's section that starts with the line HEADING, up to the next `## ` heading
outside a code block, with the section on stdin; where FILE has no such section, the new one goes
before the heading BEFORE, or at the end.
For `versus` the tag is `SIDE VARIANT NXxNY` (`petsc cg+mg 1023x1023`, `halo fmg 4095x4095`), SIDE
being petsc (benches/petsc/poisson) or halo (`halo solve --json`); a run that printed no JSON has
an empty body and is counted as failed. TAG=SECONDS asks for a verdict: median under SECONDS.
"""
import json
import statistics as st
import sys


def tagged():
    for line in sys.stdin:
        tag, _, body = line.rstrip("\n").partition("\t")
        if body:
            yield tag, json.loads(body)


def rounds(n, targets):
    runs, tri = {}, []
    for tag, d in tagged():
        if tag == "triad":
            tri.append(d["median_bytes_per_s"])
        else:
            runs.setdefault(tag[len("solve"):].strip(), []).append(d)
    b = st.median(tri)
    roof = b / 16e6
    print(f"Triad median over {len(tri)} rounds: B = {b / 1e9:.2f} GB/s on {n} rank(s), "
          f"so the one-sweep roofline B/16 is {roof:.0f} Mcells/s.")
    print()
    print("| `halo solve --grid 4096x4096 --iters 100` with | stores | Mcells/s (median) | runs | share of B/16 |")
    print("|---|---|---|---|---|")
    med = {}
    for v, rs in runs.items():
        m = st.median(r["mcells_per_s"] for r in rs)
        med[v] = m
        each = ", ".join(f"{r['mcells_per_s']:.0f}" for r in rs)
        label = f"`{v}`" if v else "(defaults)"
        print(f"| {label} | {rs[0]['stores']} | {m:.0f} | {each} | {100 * m / roof:.0f} % |")
    shas = sorted({r["field_sha256"][:16] for rs in runs.values() for r in rs})
    print()
    same = " (one field: bitwise identical)" if len(shas) == 1 else " (fields differ!)"
    print(f"Field SHA-256 of every run above, first 16 digits: {', '.join(shas)}{same}")
    print()
    for t in targets:
        v, want = t.rsplit("=", 1)
        share = 100 * med[v] / roof
        label = f"`{v}`" if v else "the defaults"
        verdict = "met." if share >= float(want) else f"missed by {float(want) - share:.1f} points."
        print(f"- {n} rank(s), {label}: {share:.1f} % of the roofline against a target of {want} %: {verdict}")


def compare():
    rows = [l.split() for l in sys.stdin if l[:1].isdigit()]
    off = [(r[0], float(r[1]), float(r[2])) for r in rows
           if float(r[1]) > 1.05 * float(r[2]) and float(r[1]) - float(r[2]) > 0.05]
    if off:
        print("Sizes where halo is more than 5 % and more than 0.05 us slower than raw: "
              + ", ".join(f"{s} B ({h:.2f} against {w:.2f} us)" for s, h, w in off) + ".")
    else:
        print(f"At all {len(rows)} sizes halo is within 5 % of raw rsmpi, or within 0.05 us.")


def waits():
    runs = {}
    for tag, d in tagged():
        runs.setdefault(tag, []).append(d)
    print("| mode | runs | wait (s) | loop (s) | wait share |")
    print("|---|---|---|---|---|")
    for mode in ["overlap", "no-overlap"]:
        rs = runs.get(mode, [])
        if not rs:
            print(f"| {mode} | 0 | | | |")
            continue
        w = st.median(r["wait_seconds"] for r in rs)
        t = st.median(r["seconds"] for r in rs)
        print(f"| {mode} | {len(rs)} | {w:.4f} | {t:.4f} | {100 * w / t:.0f} % |")


def versus(n, targets):
    runs, failed = {}, {}
    for line in sys.stdin:
        tag, _, body = line.rstrip("\n").partition("\t")
        runs.setdefault(tag, [])
        if body.strip():
            runs[tag].append(json.loads(body))
        else:
            failed[tag] = failed.get(tag, 0) + 1
    print(f"| solver, {n} rank(s) | grid | runs | iterations | setup (s) | time to solution (s) | each (s) "
          "| ns per unknown | work units | max-norm error | relative residual |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    per = {}  # tag -> median seconds per unknown
    for tag, rs in runs.items():
        side, variant, grid = tag.split()
        nx, ny = (int(v) for v in grid.split("x"))
        label = f"{'PETSc' if side == 'petsc' else 'halo'} {variant}"
        count = f"{len(rs)}" + (f" ({failed[tag]} failed)" if tag in failed else "")
        if not rs:
            print(f"| {label} | {grid} | {count} | | | | | | | | |")
            continue
        t = st.median(r["seconds"] for r in rs)
        per[tag] = t / (nx * ny)
        lo, hi = min(r["iters"] for r in rs), max(r["iters"] for r in rs)
        iters = f"{lo}" if lo == hi else f"{lo}-{hi}"
        setup = st.median(r["setup_seconds"] for r in rs)
        each = ", ".join(f"{r['seconds']:.3f}" for r in rs)
        wu = f"{st.median(r['work_units'] for r in rs):.1f}" if "work_units" in rs[0] else ""
        err = max(r["error"] for r in rs)
        res = max(r["relative_residual"] for r in rs)
        print(f"| {label} | {grid} | {count} | {iters} | {setup:.3f} | {t:.3f} | {each} "
              f"| {1e9 * per[tag]:.0f} | {wu} | {err:.3e} | {res:.1e} |")
    petsc = [t for t in per if t.startswith("petsc ")]
    halo = [t for t in per if t.startswith("halo ")]
    if petsc and halo:
        print()
        print("Seconds per unknown, PETSc's over halo's (above 1: halo is faster), from the medians:")
        print()
        print("| halo | " + " | ".join(f"PETSc {p.split()[1]}, {p.split()[2]}" for p in petsc) + " |")
        print("|---|" + "---|" * len(petsc))
        for h in halo:
            ratios = " | ".join(f"{per[p] / per[h]:.2f}" for p in petsc)
            print(f"| {h.split()[1]}, {h.split()[2]} | {ratios} |")
    if targets:
        print()
    for t in targets:
        tag, want = t.rsplit("=", 1)
        side, variant, grid = tag.split()
        nx, ny = (int(v) for v in grid.split("x"))
        if tag not in per:
            print(f"- {n} rank(s), {side} {variant} on {grid}: no run finished; target under {want} s: missed.")
            continue
        got = per[tag] * nx * ny
        verdict = "met." if got < float(want) else f"missed by {got - float(want):.2f} s."
        print(f"- {n} rank(s), {side} {variant} on {grid}: {got:.3f} s (median) against a target of "
              f"under {want} s: {verdict}")


def textbook():
    """Tags `mg NXxNY`, `fmg NXxNY` (one FMG pass, --iters 1) and `exact NXxNY` (mgcg to 1e-13,
    whose error is the discretisation's)."""
    runs = {}
    for tag, d in tagged():
        runs[tag] = d
    grids = [t.split()[1] for t in runs if t.startswith("mg ")]
    print("| grid | `mg` V(2,2) cycles to 1e-8 | their work units | one `fmg` pass: work units "
          "| its error / discretisation error | discretisation error |")
    print("|---|---|---|---|---|---|")
    counts = []
    for g in grids:
        mg, fmg, ex = runs[f"mg {g}"], runs.get(f"fmg {g}"), runs.get(f"exact {g}")
        counts.append(mg["iters"])
        ratio = f"{fmg['error'] / ex['error']:.3f}" if fmg and ex else ""
        fwu = f"{fmg['work_units']:.1f}" if fmg else ""
        disc = f"{ex['error']:.3e}" if ex else ""
        print(f"| {g} | {mg['iters']} | {mg['work_units']:.1f} | {fwu} | {ratio} | {disc} |")
    print()
    spread = max(counts) - min(counts)
    verdict = "met" if spread <= 2 else "missed"
    print(f"- V-cycle counts range over {min(counts)}-{max(counts)} across the grids: the same count "
          f"within ±2 is the target: {verdict}.")
    def square(g):
        nx, ny = g.split("x")
        return nx == ny

    for label, pick in (("square", square), ("stretched", lambda g: not square(g))):
        gs = [g for g in grids if pick(g) and f"fmg {g}" in runs and f"exact {g}" in runs]
        if not gs:
            continue
        wus = [runs[f"fmg {g}"]["work_units"] for g in gs]
        worst = max(runs[f"fmg {g}"]["error"] / runs[f"exact {g}"]["error"] for g in gs)
        # The first residual and the final check are one work unit each.
        fmg = max(wus) - 2
        if label == "square":
            verdict = "met" if fmg <= 10 and worst <= 1.1 else "missed"
            print(f"- One full-multigrid pass on the square grids: at most {fmg:.1f} work units beside the "
                  f"first residual and the final check ({max(wus):.1f} with them), error at most "
                  f"{worst:.3f} times the discretisation error; the target (the discretisation error "
                  f"in at most 10 work units) is {verdict}.")
        else:
            print(f"- On stretched cells ({', '.join(gs)}) the pass takes {fmg:.1f} work units: "
                  f"semi-coarsening halves a level's cells rather than quartering them, so the "
                  f"coarse levels weigh more; error at most {worst:.3f} times the discretisation error.")


def dots():
    """Tags `exact SOLVER N` and `plain SOLVER N` (`--plain-dots`): alternating rounds."""
    runs = {}
    for tag, d in tagged():
        runs.setdefault(tag, []).append(d["seconds"] - d["setup_seconds"])
    print("| solver | ranks | exact dots: solve (s) | plain allreduce: solve (s) | cost of exactness |")
    print("|---|---|---|---|---|")
    for tag in runs:
        kind, solver, n = tag.split()
        if kind != "exact" or f"plain {solver} {n}" not in runs:
            continue
        e, p = st.median(runs[tag]), st.median(runs[f"plain {solver} {n}"])
        print(f"| {solver} | {n} | {e:.4f} | {p:.4f} | {100 * (e / p - 1):+.1f} % |")


def steady():
    """Tags `ACCEL GRID` (`none` or `anderson`): alternating runs of the cavity to a steady
    state; steps are deterministic, seconds the median."""
    runs = {}
    for tag, d in tagged():
        runs.setdefault(tag, []).append(d)
    print("| grid | plain: steps | plain: s | Anderson: steps | Anderson: s | fewer steps | less time |")
    print("|---|---|---|---|---|---|---|")
    for tag in runs:
        accel, grid = tag.split()
        if accel != "none" or f"anderson {grid}" not in runs:
            continue
        p, a = runs[tag], runs[f"anderson {grid}"]
        ps, as_ = p[0]["steps"], a[0]["steps"]
        pt, at = st.median(d["seconds"] for d in p), st.median(d["seconds"] for d in a)
        print(f"| {grid} | {ps} | {pt:.2f} | {as_} | {at:.2f} | {ps / as_:.2f}x | {pt / at:.2f}x |")


def levels():
    d = json.loads(sys.stdin.read())
    print("level       nodes  ranks  seconds")
    for k, lv in enumerate(d["levels"]):
        print(f"{k:>5} {lv['nx']:>6}x{lv['ny']:<6} {lv['ranks']:>4} {lv['seconds']:>8.4f}")


def io():
    """dd against `halo bench checkpoint`: MB/s medians, the ratios, the verdicts."""
    dd = {"write": [], "read": []}
    halo = {"write": [], "read": []}
    failed, last = 0, None
    for line in sys.stdin:
        tag, _, body = line.rstrip("\n").partition("\t")
        if not body.strip():
            failed += tag == "halo"
            continue
        d = json.loads(body)
        if tag.startswith("dd "):
            dd[tag[3:]].append(d["bytes"] / d["seconds"] / 1e6)
        elif tag == "halo":
            last = d
            halo["write"] += d["write_mb_per_s"]
            halo["read"] += d["read_mb_per_s"]
    if last is None:
        print(f"(No `halo bench checkpoint` run finished: {failed} failed.)")
        return
    each = lambda v: ", ".join(f"{x:.0f}" for x in v)
    med = {k: {s: st.median(v[s]) for s in v} for k, v in (("dd", dd), ("halo", halo))}
    print("| | write MB/s (median) | each | read MB/s (median) | each |")
    print("|---|---|---|---|---|")
    print(f"| dd, bs=4M | {med['dd']['write']:.0f} | {each(dd['write'])} | {med['dd']['read']:.0f} "
          f"| {each(dd['read'])} |")
    print(f"| halo, 2 ranks | {med['halo']['write']:.0f} | {each(halo['write'])} "
          f"| {med['halo']['read']:.0f} | {each(halo['read'])} |")
    ratio = {s: med["halo"][s] / med["dd"][s] for s in ("write", "read")}
    print(f"| halo / dd | {ratio['write']:.2f} | | {ratio['read']:.2f} | |")
    print()
    m = last.get("mount") or {}
    fs = f"{m.get('fstype', '?')} ({m.get('source', '?')})"
    cache = ("the page cache dropped before every read" if last["cache_dropped"]
             else f"reads possibly from the page cache ({last.get('cache_note')})")
    lost = f"; {failed} halo run(s) failed" if failed else ""
    print(f"File: {last['file_bytes']} bytes ({last['nx']}x{last['ny']} doubles and the header), "
          f"on {fs}, {cache}{lost}.")
    print()
    for s in ("write", "read"):
        verdict = "met." if ratio[s] >= 0.5 else f"missed ({ratio[s]:.2f} of dd's)."
        print(f"- {s}: halo {med['halo'][s]:.0f} MB/s against dd's {med['dd'][s]:.0f} MB/s, "
              f"{ratio[s]:.2f}; the target is at least 0.5: {verdict}")


def osu():
    """Plain C against `halo bench collectives --raw`, both timed the OSU way: per size the
    medians over rounds, their ratio, and the sizes where they differ by more than the noise."""
    runs = {}  # side -> size -> latencies
    op = None
    for line in sys.stdin:
        tag, _, body = line.rstrip("\n").partition("\t")
        f = body.split()
        if len(f) != 2:
            continue
        side, op = tag.split()
        runs.setdefault(side, {}).setdefault(int(f[0]), []).append(float(f[1]))
    c, h = runs.get("c", {}), runs.get("halo", {})
    sizes = sorted(set(c) & set(h))
    if not sizes:
        print(f"(No size finished on both sides: C {len(c)} sizes, halo {len(h)}.)")
        return
    rounds = min(min(len(c[s]), len(h[s])) for s in sizes)
    print(f"| {op}: size (B) | C (us) | halo --raw (us) | halo / C | C's rounds (us) |")
    print("|---|---|---|---|---|")
    ratios, off = [], []
    for s in sizes:
        mc, mh = st.median(c[s]), st.median(h[s])
        r = mh / mc if mc > 0 else float("nan")
        ratios.append(r)
        print(f"| {s} | {mc:.2f} | {mh:.2f} | {r:.3f} | {min(c[s]):.2f}-{max(c[s]):.2f} |")
        noisy = min(c[s]) <= mh <= max(c[s])
        if abs(mh - mc) > 0.1 * mc and abs(mh - mc) > 0.05 and not noisy:
            off.append(f"{s} B ({mh:.2f} against {mc:.2f} us)")
    print()
    print(f"Median of halo / C over the {len(sizes)} sizes: {st.median(ratios):.3f} "
          f"(at least {rounds} rounds each side).")
    if off:
        print(f"Sizes beyond the noise: {', '.join(off)}.")
    else:
        print(f"At all {len(sizes)} sizes halo --raw is within 10 % of plain C, within 0.05 us, "
              "or within the range of C's own rounds.")


def exchange():
    """The table as printed, then the issue's two verdicts: on blocks up to 64x64 the best
    method's median at most 0.8 of p2p's (the first column), and from 512x512 on no method more
    than 5 % slower than p2p."""
    text = sys.stdin.read().rstrip("\n")
    head = [l for l in text.split("\n") if l.startswith("# Block")]
    rows = [l.split() for l in text.split("\n") if l and not l.startswith("#")]
    if not head or not rows:
        print("(No table: the run failed.)")
        return
    names = [h[: -len("(us)")] for h in head[0].split()[4:-2]]
    print("```text")
    print(text)
    print("```")
    print()
    small, large = [], []
    for r in rows:
        b = int(r[0].split("x")[0])
        us = [float(x) for x in r[3 : 3 + len(names)]]
        best = min(range(len(us)), key=lambda i: us[i])
        if b <= 64:
            small.append((r[0], names[best], us[best] / us[0]))
        if b >= 512:
            worst = max(range(len(us)), key=lambda i: us[i])
            large.append((r[0], names[worst], us[worst] / us[0]))
    if small:
        ok = all(x <= 0.8 for _, _, x in small)
        each = ", ".join(f"{b}: {n} {x:.2f}" for b, n, x in small)
        print(f"- Small blocks, best method against {names[0]} (target at most 0.8): {each}. "
              f"**{'met' if ok else 'not met'}**.")
    if large:
        ok = all(x <= 1.05 for _, _, x in large)
        each = ", ".join(f"{b}: {n} {x:.2f}" for b, n, x in large)
        print(f"- Large blocks, slowest method against {names[0]} (target at most 1.05): {each}. "
              f"**{'met' if ok else 'not met'}**.")


def solves():
    """Whole `halo solve` runs by exchange method: tags `CASE|METHOD`, bodies their JSON lines.
    Per case the median seconds of each method, its ratio to p2p's, and whether every run ended
    with the same field."""
    runs, hashes = {}, {}
    for tag, r in tagged():
        case, _, method = tag.partition("|")
        runs.setdefault(case, {}).setdefault(method, []).append(r["seconds"])
        hashes.setdefault(case, set()).add(r["field_sha256"])
    print("| run | " + " | ".join(["p2p", "persistent", "neighbor", "two-phase"]) + " | same field |")
    print("|---|---|---|---|---|---|")
    for case, by in runs.items():
        base = st.median(by["p2p"]) if "p2p" in by else None
        cells = []
        for m in ["p2p", "persistent", "neighbor", "two-phase"]:
            if m not in by:
                cells.append("failed")
                continue
            t = st.median(by[m])
            cells.append(f"{t * 1e3:.1f} ms" + (f" ({t / base:.2f})" if base else ""))
        same = "yes" if len(hashes[case]) == 1 else f"NO ({len(hashes[case])} hashes)"
        print(f"| {case} | " + " | ".join(cells) + f" | {same} |")


def splice(path, heading, before=None):
    """Replaces the section of `path` that starts with the line `heading` by stdin."""
    new = sys.stdin.read().rstrip("\n").split("\n")
    lines = open(path).read().rstrip("\n").split("\n")
    fence, starts = False, []  # the `## ` headings outside code blocks
    for k, line in enumerate(lines):
        if line.startswith("```"):
            fence = not fence
        elif not fence and line.startswith("## "):
            starts.append(k)
    at = next((k for k in starts if lines[k] == heading), None)
    if at is not None:
        end = next((k for k in starts if k > at), len(lines))
        tail = lines[end:]
        lines = lines[:at] + new + ([""] if tail else []) + tail
    else:
        at = next((k for k in starts if lines[k] == before), None) if before else None
        if at is None:
            lines = lines + [""] + new
        else:
            lines = lines[:at] + new + [""] + lines[at:]
    open(path, "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "rounds":
        rounds(sys.argv[2], sys.argv[3:])
    elif what == "compare":
        compare()
    elif what == "exchange":
        exchange()
    elif what == "solves":
        solves()
    elif what == "waits":
        waits()
    elif what == "versus":
        versus(sys.argv[2], sys.argv[3:])
    elif what == "textbook":
        textbook()
    elif what == "dots":
        dots()
    elif what == "levels":
        levels()
    elif what == "steady":
        steady()
    elif what == "io":
        io()
    elif what == "osu":
        osu()
    elif what == "splice":
        splice(*sys.argv[2:5])
    else:
        sys.exit(__doc__)
