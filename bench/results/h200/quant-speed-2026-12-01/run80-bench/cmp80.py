#!/usr/bin/env python3
"""Run 80: kiln-bench CSVs of two libraries (v32 = main, new), DRAM shapes (two passes) and T <= 32.
    cmp80.py BENCH_DIR"""
import csv, glob, os, statistics, sys
from collections import defaultdict
d = sys.argv[1]
def rows(pattern):
    out = defaultdict(list)
    for p in sorted(glob.glob(os.path.join(d, pattern))):
        for r in csv.DictReader(open(p)):
            out[(r["kernel"], int(r["hidden"]), int(r["tokens"]))].append(r)
    return out
kernels = sorted({os.path.basename(p).split("_", 3)[3][:-4] for p in glob.glob(os.path.join(d, "dram_1_new_*.csv"))})
print("DRAM shapes (working set >= 4x L2): kiln_us new/v32 (mean of passes); % of ceiling v32 -> new; lowest per kernel")
for k in kernels:
    a = rows(f"dram_*_v32_{k}.csv"); b = rows(f"dram_*_new_{k}.csv")
    lines = []; lo_a = lo_b = 1e9; ge_a = ge_b = n = 0; ratios = []; gen = 1e9
    for key in sorted(b):
        ra, rb = a[key], b[key]
        if int(rb[0]["working_set_bytes"]) < 4 * int(rb[0]["l2_bytes"]):
            continue
        ua = statistics.mean(float(r["kiln_us"]) for r in ra); ub = statistics.mean(float(r["kiln_us"]) for r in rb)
        pa = statistics.mean(float(r["kiln_pct_ceiling"]) for r in ra); pb = statistics.mean(float(r["kiln_pct_ceiling"]) for r in rb)
        g = statistics.mean(float(r["speedup"]) for r in rb)
        ratios.append(ub / ua); lo_a = min(lo_a, pa); lo_b = min(lo_b, pb); ge_a += pa >= 97; ge_b += pb >= 97; n += 1; gen = min(gen, g)
        lines.append(f"    h={key[1]:5d} T={key[2]:6d}  {ub/ua:.3f}  {pa:6.1f} -> {pb:6.1f}   vs generic {g:.2f}x")
    gm = statistics.geometric_mean(ratios)
    print(f"{k:34s} ratio {min(ratios):.3f}-{max(ratios):.3f} (geomean {gm:.3f}); lowest %ceil {lo_a:.1f} -> {lo_b:.1f}; >=97%: {ge_a} -> {ge_b} of {n}; lowest vs generic {gen:.2f}x")
    print("\n".join(lines))
print()
print("T <= 32: us over the launch floor v32 -> new (one pass); shapes within 0.6 us")
for k in kernels:
    a = rows(f"t32_v32_{k}.csv"); b = rows(f"t32_new_{k}.csv")
    if not b: continue
    da = []; db = []; worst_a = worst_b = 0
    for key in sorted(b):
        oa = float(a[key][0]["kiln_us_over_floor"]); ob = float(b[key][0]["kiln_us_over_floor"])
        da.append(oa); db.append(ob)
    diff = statistics.mean(y - x for x, y in zip(da, db))
    print(f"{k:34s} mean change {diff:+.3f} us; within 0.6 us: {sum(x <= 0.6 for x in da)} -> {sum(x <= 0.6 for x in db)} of {len(db)}; worst {max(da):.2f} -> {max(db):.2f}; best {min(da):.2f} -> {min(db):.2f}")
