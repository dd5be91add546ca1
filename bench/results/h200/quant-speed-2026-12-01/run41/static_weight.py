#!/usr/bin/env python3
"""Run 41's kiln-bench at T <= 32 without (plain_1, plain_4) and with --static-weight
(static_2, static_3): per kernel, the gain (plain - static µs, median of each side's two runs)
and the time over the launch floor, and how many of the 24 shapes are within 0.6 µs of it."""
import collections, csv, os, statistics
here = os.path.dirname(os.path.abspath(__file__))
d = collections.defaultdict(lambda: collections.defaultdict(list))
for v, i in [("plain", 1), ("static", 2), ("static", 3), ("plain", 4)]:
    for r in csv.DictReader(open(os.path.join(here, "bench", f"{v}_{i}.csv"))):
        d[(r["kernel"], int(r["hidden"]), int(r["tokens"]))][v].append(
            (float(r["kiln_us"]), float(r["kiln_us_over_floor"]), r["static_weight"]))
byk = collections.defaultdict(list)
for k, vv in sorted(d.items()):
    med = lambda side, j: statistics.median(x[j] for x in vv[side])
    byk[k[0]].append((med("plain", 0) - med("static", 0), med("plain", 1), med("static", 1), vv["static"][0][2]))
print(f"{'kernel':34s} option  gain µs (plain - static)  µs over floor: plain   static   within 0.6 µs: plain static")
for k, l in byk.items():
    print(f"{k:34s} {'yes' if l[0][3] else 'no ':6s}  {min(x[0] for x in l):+.3f} .. {max(x[0] for x in l):+.3f}"
          f"          {min(x[1] for x in l):.2f}-{max(x[1] for x in l):.2f}  {min(x[2] for x in l):.2f}-{max(x[2] for x in l):.2f}"
          f"          {sum(x[1] <= 0.6 for x in l):2d}/{len(l)}  {sum(x[2] <= 0.6 for x in l):2d}/{len(l)}")
