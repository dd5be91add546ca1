#!/usr/bin/env python3
"""Compare two kiln libraries shape by shape from kiln-bench CSVs.

    bench/compare_runs.py --before A1.csv [A2.csv ...] --after B1.csv [B2.csv ...] [--out FILE]

Each side may have several CSVs of the same grid (repeats, ideally interleaved in one
session: before, after, before, after). A shape's time on a side is the median of its
repeats. The ratio is before/after: above 1 the new library is faster.

Shapes whose schedule did not change (same `schedule` column on both sides) measure
the noise between the runs; their spread is printed beside the shapes that changed, so a
ratio below 1 can be read against it.
"""
import argparse
import csv
import math
import statistics
import sys
from collections import defaultdict


def load(paths):
    """{(kernel, dtype, hidden, tokens): {"us": [..], "schedule": str, "variant": str}}"""
    rows = {}
    for path in paths:
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                key = (r["kernel"], r["dtype"], int(r["hidden"]), int(r["tokens"]))
                # The plan options the shape ran with (columns an older kiln-bench lacks read "").
                options = tuple(f"{o}={r.get(o, '')}" for o in ("rounding", "gemma", "static_weight"))
                entry = rows.setdefault(key, {"us": [], "schedule": r.get("schedule"), "variant": r["variant"],
                                              "options": options})
                if entry["schedule"] != r.get("schedule"):
                    sys.exit(f"{path}: {key} ran schedule '{r.get('schedule')}' here but "
                             f"'{entry['schedule']}' in an earlier CSV of the same side")
                if entry["options"] != options:
                    sys.exit(f"{path}: {key} ran with {' '.join(options)} here but "
                             f"{' '.join(entry['options'])} in an earlier CSV of the same side")
                entry["us"].append(float(r["kiln_us"]))
    return rows


def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def summarise(label, ratios):
    if not ratios:
        return f"{label}: none"
    lo = min(ratios, key=lambda x: x[0])
    return (f"{label}: {len(ratios)} shapes, geomean {geomean([r for r, _ in ratios]):.3f}x, "
            f"min {lo[0]:.3f}x ({lo[1]}), max {max(r for r, _ in ratios):.3f}x, "
            f"below 0.99x: {sum(r < 0.99 for r, _ in ratios)}, below 0.98x: {sum(r < 0.98 for r, _ in ratios)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", nargs="+", required=True, help="kiln-bench CSVs of the old library")
    ap.add_argument("--after", nargs="+", required=True, help="kiln-bench CSVs of the new library")
    ap.add_argument("--out", help="also write the report here")
    a = ap.parse_args()

    before, after = load(a.before), load(a.after)
    shared = sorted(set(before) & set(after))
    if not shared:
        sys.exit("the two sides have no shape in common")
    lines = [f"before: {' '.join(a.before)}", f"after:  {' '.join(a.after)}",
             "ratio = before µs / after µs (median of each side's repeats); > 1: the new library is faster", ""]
    lines.append(f"{'kernel':<14}{'dtype':<6}{'hidden':>7}{'tokens':>8}{'before µs':>11}{'after µs':>10}"
                 f"{'ratio':>8}  schedule")
    changed, same = defaultdict(list), defaultdict(list)
    for key in shared:
        b, n = before[key], after[key]
        ratio = statistics.median(b["us"]) / statistics.median(n["us"])
        kernel, dtype, hidden, tokens = key
        # CSVs older than the schedule column cannot tell: count the shape as changed.
        moved = b["schedule"] is None or b["schedule"] != n["schedule"]
        where = f"{kernel} h={hidden} T={tokens}"
        (changed if moved else same)[kernel].append((ratio, where))
        text = (f"{b['schedule'] or '?'} -> {n['schedule'] or '?'}" if moved
                else f"(unchanged) {n['schedule']}")
        flag = "  << slower" if ratio < 0.99 else ""
        lines.append(f"{kernel:<14}{dtype:<6}{hidden:>7}{tokens:>8}{statistics.median(b['us']):>11.3f}"
                     f"{statistics.median(n['us']):>10.3f}{ratio:>8.3f}  {text}{flag}")
    lines.append("")
    everything = []
    for kernel in sorted(set(changed) | set(same)):
        lines.append(summarise(f"{kernel}, all", changed[kernel] + same[kernel]))
        lines.append(summarise(f"{kernel}, schedule changed", changed[kernel]))
        lines.append(summarise(f"{kernel}, schedule unchanged (noise)", same[kernel]))
        everything += changed[kernel] + same[kernel]
    lines.append(summarise("all kernels", everything))
    lines.append(summarise("all kernels, schedule changed", [r for k in changed for r in changed[k]]))
    lines.append(summarise("all kernels, schedule unchanged (noise)", [r for k in same for r in same[k]]))
    missing = sorted(set(before) ^ set(after))
    if missing:
        lines.append(f"{len(missing)} shapes on one side only, not compared: {missing[:5]}...")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
