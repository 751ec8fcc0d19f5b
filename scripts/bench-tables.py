#!/usr/bin/env python3
"""Tables and verdicts for scripts/benchmarks, from the JSON the halo commands print.

  bench-tables.py rounds N [VARIANT=PERCENT ...] < tagged runs   # roofline table and verdicts
  bench-tables.py compare < a `halo bench collectives --compare` table
  bench-tables.py waits < tagged runs                            # overlap wait table
Tagged runs are lines `TAG<TAB>JSON`: `triad` for `halo bench triad --json`-style lines, and
`solve` plus the extra arguments (`solve --time-block 4`) for `halo solve --json` lines.
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


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "rounds":
        rounds(sys.argv[2], sys.argv[3:])
    elif what == "compare":
        compare()
    elif what == "waits":
        waits()
    else:
        sys.exit(__doc__)
