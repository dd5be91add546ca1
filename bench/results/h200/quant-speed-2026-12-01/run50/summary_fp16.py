#!/usr/bin/env python3
"""fp16 over the full grid, all seven quantisers: run 46 (fused_add_rms_norm_per_token_fp8, run 41's
library) and runs 49-50 (the other six, run 48's library). kiln over torch.compile per kernel and
over all 532 shapes, and how many shapes pass the check against eager."""
import csv, glob, os, statistics
here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
rows = {}
for run in ("run46", "run49", "run50"):
    for f in sorted(glob.glob(os.path.join(here, run, "torch", "compare_torch_*_fp16.csv"))):
        rows[f.split("compare_torch_")[1][:-len("_fp16.csv")]] = (run, list(csv.DictReader(open(f))))
allr = []
print(f"{'kernel':34s} run    shapes  geomean  lowest (shape)            pass")
for k, (run, rs) in sorted(rows.items()):
    s = [float(r["speedup_vs_compile"]) for r in rs]
    allr += s
    lo = min(rs, key=lambda r: float(r["speedup_vs_compile"]))
    ok = sum(r["correct"] in ("1", "true", "True", "ok") for r in rs)
    print(f"{k:34s} {run}  {len(rs):6d}  {statistics.geometric_mean(s):6.2f}x  {min(s):5.3f}x (h={lo['hidden']}, T={lo['tokens']})   {ok}/{len(rs)}")
print(f"{'all':34s}        {len(allr):6d}  {statistics.geometric_mean(allr):6.2f}x  {min(allr):5.3f}x")
