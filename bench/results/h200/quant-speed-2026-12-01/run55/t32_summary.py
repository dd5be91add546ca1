#!/usr/bin/env python3
"""Run 55: per kernel, µs over the launch floor at T <= 32 (median of the two passes, each
measured against its own run's floor), how many of the 24 shapes are within 0.6 µs of it, and
the lowest speedup over the generic kernel; then the T >= 1024 runs against the generic kernel."""
import collections, csv, glob, os, statistics
here = os.path.dirname(os.path.abspath(__file__))
d = collections.defaultdict(list)
for f in glob.glob(os.path.join(here, "bench", "t32_*_*.csv")):
    for r in csv.DictReader(open(f)):
        d[(r["kernel"], int(r["hidden"]), int(r["tokens"]))].append(
            (float(r["kiln_us_over_floor"]), float(r["speedup"]), r["schedule"]))
byk = collections.defaultdict(list)
for (k, h, t), v in sorted(d.items()):
    byk[k].append((h, t, statistics.median(x[0] for x in v), statistics.median(x[1] for x in v), v[0][2]))
print("T <= 32: µs over the launch floor, T = 1 2 4 8 16 32 (median of 2 passes)")
for k, l in byk.items():
    print(f"{k:34s} {min(x[2] for x in l):.2f}-{max(x[2] for x in l):.2f} µs, within 0.6 µs: "
          f"{sum(x[2] <= 0.6 for x in l)}/{len(l)}, vs generic: lowest {min(x[3] for x in l):.2f}x")
    for h in sorted({x[0] for x in l}):
        cl = sorted({x[4].split("cluster=")[-1] for x in l if x[0] == h})
        print(f"    h={h:5d} " + " ".join(f"{x[2]:.2f}" for x in l if x[0] == h) + f"   cluster {','.join(cl)}")
print("\nT >= 1024 against the generic kernel (speedup = generic µs / kiln µs)")
for f in sorted(glob.glob(os.path.join(here, "bench", "large_*.csv"))):
    rows = list(csv.DictReader(open(f)))
    slower = [r for r in rows if float(r["speedup"]) < 1.0]
    print(f"{rows[0]['kernel']:24s} lowest {min(float(r['speedup']) for r in rows):.3f}x; slower than generic: " +
          (", ".join(f"h={r['hidden']} T={r['tokens']} {float(r['speedup']):.3f}x" for r in slower) or "none"))
