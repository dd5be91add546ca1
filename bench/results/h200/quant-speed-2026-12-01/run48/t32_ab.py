#!/usr/bin/env python3
"""Run 48's kiln-bench at T <= 32: v22 (old, 520c291's library) against v27 (new: clusters, run 47's
configs), in the order old new new old, three kernels. Per kernel: the speedup (old / new, medians
of each side's two runs), the time over the launch floor and how many of the 24 shapes are within
0.6 µs of it; per shape for per_token_group_fp8, whose T <= 32 buckets changed most."""
import collections, csv, glob, os, statistics
here = os.path.dirname(os.path.abspath(__file__))
d = collections.defaultdict(lambda: collections.defaultdict(list))
for f in glob.glob(os.path.join(here, "bench", "*.csv")):
    side = os.path.basename(f).split("_")[0]
    for r in csv.DictReader(open(f)):
        d[(r["kernel"], int(r["hidden"]), int(r["tokens"]))][side].append(
            (float(r["kiln_us"]), float(r["kiln_us_over_floor"]), r["schedule"]))
byk = collections.defaultdict(list)
for (k, h, t), v in sorted(d.items()):
    med = lambda side, j: statistics.median(x[j] for x in v[side])
    byk[k].append((h, t, med("old", 0), med("new", 0), med("old", 1), med("new", 1), v["new"][0][2]))
for k, l in byk.items():
    sp = [x[2] / x[3] for x in l]
    print(f"{k}: old/new geomean {statistics.geometric_mean(sp):.3f}, {min(sp):.3f}..{max(sp):.3f}; over the floor"
          f" old {min(x[4] for x in l):.2f}-{max(x[4] for x in l):.2f} µs, new {min(x[5] for x in l):.2f}-{max(x[5] for x in l):.2f};"
          f" within 0.6 µs: old {sum(x[4] <= 0.6 for x in l)}/{len(l)}, new {sum(x[5] <= 0.6 for x in l)}/{len(l)}")
    if k == "per_token_group_fp8":
        for h, t, o, n, of, nf, s in l:
            print(f"  h={h:5d} T={t:2d}  {o:.3f} -> {n:.3f} µs  x{o / n:.3f}  over floor {of:.2f} -> {nf:.2f}  {s}")
