import csv, glob, sys, collections
# cmp91.py DIR PREFIX: kiln-bench CSVs PREFIX_{dtype}_{new3,new4}_{kernel}.csv; per shape new4/new3 time and % of ceiling, DRAM shapes only
rows = collections.defaultdict(dict)
for f in glob.glob(f"{sys.argv[1]}/{sys.argv[2]}_*.csv"):
    parts = f.split("/")[-1][:-4].split("_", 3); d, v, k = parts[1], parts[2], parts[3]
    for r in csv.DictReader(open(f)):
        rows[(k, d, int(r["hidden"]), int(r["tokens"]))][v] = r
lowest = collections.defaultdict(lambda: [999, 999, 0, 0, []])
for key in sorted(rows):
    r = rows[key]
    if "new3" not in r or "new4" not in r: continue
    a, b = r["new3"], r["new4"]
    x = float(b["kiln_us"]) / float(a["kiln_us"])
    pa, pb = float(a["kiln_pct_ceiling"]), float(b["kiln_pct_ceiling"])
    print(f"{key[0]:34s} {key[1]} h{key[2]:5d} T{key[3]:6d} {x:.3f}  {pa:5.1f} -> {pb:5.1f}  {a['schedule']:45s} -> {b['schedule']}  gen {float(b['speedup']):.2f}x {b.get('residency','')}")
    if b.get("residency", "DRAM") == "DRAM":
        l = lowest[(key[0], key[1])]; l[0] = min(l[0], pa); l[1] = min(l[1], pb); l[2] += pa >= 97; l[3] += pb >= 97; l[4].append(x)
print()
import math
for k, l in sorted(lowest.items()):
    g = math.exp(sum(math.log(v) for v in l[4]) / len(l[4]))
    print(f"{k[0]:34s} {k[1]} lowest {l[0]:.1f} -> {l[1]:.1f} %, >=97 %: {l[2]} -> {l[3]} of {len(l[4])}; time new4/new3 {min(l[4]):.3f}-{max(l[4]):.3f}, geomean {g:.3f}")
