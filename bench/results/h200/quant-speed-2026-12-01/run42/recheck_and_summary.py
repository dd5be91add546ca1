#!/usr/bin/env python3
"""Runs 41-44: kiln against torch.compile over the full grid for the seven quantisers (bf16,
4 hidden sizes x 19 token counts), and runs 42-43's check against eager re-applied with the
rule compare_torch has after them (the fp32 scales of the norm and activation kinds within
8 ulps in any number; other near differences, the per_token kinds' scales included, in at most
0.1 % of the outputs; no larger difference), from each CSV's
per-tensor `differences` column (run 41 predates that column; run 44 reran its kernel with the
new rule). The totals take each kernel's latest run."""
import csv, glob, math, os, re
here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCALE_ULPS, FRACTION = 8, 1e-3
latest = {}
print(f"{'kernel':34s} run  shapes  vs torch.compile: geomean  min (shape)             check (new rule)")
for f in sorted(glob.glob(os.path.join(here, "run4[1234]", "torch", "*.csv"))):
    rows = list(csv.DictReader(open(f)))
    s = [(float(r["speedup_vs_compile"]), r["hidden"], r["tokens"]) for r in rows]
    latest[rows[0]["kernel"]] = [x[0] for x in s]  # files sort by run
    g = math.exp(sum(math.log(x[0]) for x in s) / len(s))
    lo = min(s)
    check = "(no per-tensor column)"
    if "differences" in rows[0]:
        ok = 0
        worst_scale = 0
        for r in rows:
            rare = larger = 0
            for part in r["differences"].split("; "):
                role, near, worse, largest = re.match(r"(\w+) (\d+)/(\d+)/(-?\d+)", part).groups()
                near, worse, largest = int(near), int(worse), int(largest)
                if role == "scales":
                    worst_scale = max(worst_scale, largest)
                if role == "scales" and not rows[0]["kernel"].startswith("per_token"):
                    larger += largest < 0 or largest > SCALE_ULPS
                else:
                    larger += worse
                    rare += near
            ok += larger == 0 and rare <= FRACTION * int(r["outputs"])
        check = f"{ok}/{len(rows)} pass; scales at most {worst_scale} ulps from eager"
    run = os.path.basename(os.path.dirname(os.path.dirname(f)))
    print(f"{rows[0]['kernel']:34s} {run[3:]:4s} {len(s):6d}  {g:22.2f}x  {lo[0]:.2f}x (h={lo[1]} T={lo[2]}){'':6s} {check}")
every = [v for k in latest.values() for v in k]
print(f"all {len(latest)} kernels (latest run each): {len(every)} shapes, geomean {math.exp(sum(map(math.log, every)) / len(every)):.2f}x, "
      f"min {min(every):.2f}x")
