#!/usr/bin/env python3
"""Run 57: per quantiser, kiln-bench's % of the copy ceiling at the shapes whose working set is
at least 4x L2 (median replay; the fastest replay in brackets), and the lowest speedup over the
generic kernel."""
import csv, glob, os
here = os.path.dirname(os.path.abspath(__file__))
print("kernel                             lowest % (fastest replay)  shape        all DRAM shapes >= 97 %   lowest vs generic")
for f in sorted(glob.glob(os.path.join(here, "bench", "*.csv"))):
    rows = list(csv.DictReader(open(f)))
    dram = [r for r in rows if int(r["working_set_bytes"]) >= 4 * int(r["l2_bytes"])]
    lo = min(dram, key=lambda r: float(r["kiln_pct_ceiling"]))
    best = float(lo["kiln_pct_ceiling"]) * float(lo["kiln_us"]) / float(lo["kiln_us_min"])
    ok = sum(float(r["kiln_pct_ceiling"]) >= 97.0 for r in dram)
    print(f"{rows[0]['kernel']:34s} {float(lo['kiln_pct_ceiling']):5.1f} ({best:5.1f})            h={lo['hidden']} T={lo['tokens']:5s}  "
          f"{ok:2d} of {len(dram):2d}                  {min(float(r['speedup']) for r in rows):.3f}x")
