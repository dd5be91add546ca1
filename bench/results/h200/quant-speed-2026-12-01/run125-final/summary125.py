#!/usr/bin/env python3
"""Run 125: per kernel and dtype, against the issue's targets, from kiln-bench's CSVs (one process each):
shapes >= 4 x L2 at >= 97 % of the copy ceiling (lowest), T <= 32 within 0.6 us of the launch floor
(range over the floor), and the lowest speedup over the generic kernel."""
import csv, glob, os, sys
d = sys.argv[1] if len(sys.argv) > 1 else "bench"
L2 = 60 * 2**20
for f in sorted(glob.glob(os.path.join(d, "*.csv"))):
    rows = list(csv.DictReader(open(f)))
    big = [r for r in rows if int(r["working_set_bytes"] or r["bytes"]) >= 4 * L2]
    small = [r for r in rows if int(r["tokens"]) <= 32]
    low = min(big, key=lambda r: float(r["kiln_pct_ceiling"]))
    ok = sum(float(r["kiln_pct_ceiling"]) >= 97.0 for r in big)
    over = [float(r["kiln_us_over_floor"]) for r in small]
    within = sum(o <= 0.6 for o in over)
    gen = min(rows, key=lambda r: float(r["speedup"]))
    print(f"{rows[0]['kernel']:<34} {rows[0]['dtype']}: DRAM {ok:>2} of {len(big)} >= 97 %, lowest "
          f"{float(low['kiln_pct_ceiling']):5.1f} % (h {low['hidden']} T {low['tokens']}); T <= 32 {within:>2} of {len(small)} "
          f"within 0.6 us, {min(over):.2f}-{max(over):.2f} over; vs generic min {float(gen['speedup']):.3f}x "
          f"(h {gen['hidden']} T {gen['tokens']})")
