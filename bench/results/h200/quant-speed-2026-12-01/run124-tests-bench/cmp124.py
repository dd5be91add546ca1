#!/usr/bin/env python3
"""Run 124: new / main time per shape (mean of the two alternations of each library), % of the ceiling."""
import csv, glob, os, statistics, sys
d = sys.argv[1] if len(sys.argv) > 1 else "bench"
rows = {}
for f in glob.glob(os.path.join(d, "*.csv")):
    lib, dtype, *layout, _n = os.path.basename(f)[:-4].split("_")
    for r in csv.DictReader(open(f)):
        key = (dtype, "_".join(layout), int(r["hidden"]), int(r["tokens"]))
        rows.setdefault(key, {}).setdefault(lib, []).append((float(r["kiln_us"]), float(r["kiln_pct_ceiling"]), r["variant"]))
for key in sorted(rows):
    m, n = rows[key]["main"], rows[key]["new"]
    tm, tn = statistics.mean(x[0] for x in m), statistics.mean(x[0] for x in n)
    pm, pn = statistics.mean(x[1] for x in m), statistics.mean(x[1] for x in n)
    print(f"{key[0]} {key[1]:<13} h {key[2]} T {key[3]:>6}  new/main {tn / tm:.3f}  {pm:5.1f} -> {pn:5.1f} %  "
          f"({m[0][2]} -> {n[0][2]})")
