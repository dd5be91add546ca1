import csv, glob, sys, collections, math
# cmp96.py DIR OLD NEW: kiln-bench CSVs DIR/{t32,dram}_{dtype}_{OLD,NEW}_{kernel}.csv (runs 91-92's
# cmp91.py and cmp92.py in one, the two libraries named on the command line).
#  t32:  per kernel and dtype, mean change (us), shapes within 0.6 us of the launch floor;
#  dram: per shape NEW/OLD time, % of the copy ceiling, against the generic kernel; then per kernel
#        and dtype the lowest % at DRAM shapes and the lowest speedup over the generic kernel.
d_, old, new = sys.argv[1:4]
def load(prefix):
    rows = collections.defaultdict(dict)
    for f in glob.glob(f"{d_}/{prefix}_*.csv"):
        _, d, v, k = f.split("/")[-1][:-4].split("_", 3)
        for r in csv.DictReader(open(f)):
            rows[(k, d)].setdefault(v, {})[(int(r["hidden"]), int(r["tokens"]))] = r
    return rows
print("T <= 32")
for (k, d), vs in sorted(load("t32").items()):
    a, b = vs[old], vs[new]
    keys = sorted(set(a) & set(b))
    us = lambda r: float(r["kiln_us"]); over = lambda r: float(r["kiln_us_over_floor"])
    dm = sum(us(b[x]) - us(a[x]) for x in keys) / len(keys)
    print(f"{k:34s} {d}: mean {dm:+.3f} us, {sum(us(b[x]) < us(a[x]) for x in keys)} of {len(keys)} faster, "
          f"within 0.6 us of the floor {sum(over(a[x]) <= 0.6 for x in keys)} -> {sum(over(b[x]) <= 0.6 for x in keys)}, "
          f"over the floor {min(over(b[x]) for x in keys):.2f}-{max(over(b[x]) for x in keys):.2f}")
print("\nDRAM sizes")
summary = []
for (k, d), vs in sorted(load("dram").items()):
    a, b = vs[old], vs[new]
    lo = [999, 999, 0, 0, [], 999]
    for key in sorted(set(a) & set(b)):
        x = float(b[key]["kiln_us"]) / float(a[key]["kiln_us"])
        pa, pb, gen = float(a[key]["kiln_pct_ceiling"]), float(b[key]["kiln_pct_ceiling"]), float(b[key]["speedup"])
        res = b[key].get("residency", "")
        print(f"{k:34s} {d} h{key[0]:5d} T{key[1]:6d} {x:.3f}  {pa:5.1f} -> {pb:5.1f}  {a[key]['schedule']:45s} -> {b[key]['schedule']:45s} gen {gen:.3f}x {res}")
        if res == "DRAM":
            lo[0] = min(lo[0], pa); lo[1] = min(lo[1], pb); lo[2] += pa >= 97; lo[3] += pb >= 97; lo[4].append(x); lo[5] = min(lo[5], gen)
    if lo[4]:
        g = math.exp(sum(map(math.log, lo[4])) / len(lo[4]))
        summary.append(f"{k:34s} {d} lowest {lo[0]:.1f} -> {lo[1]:.1f} %, >= 97 %: {lo[2]} -> {lo[3]} of {len(lo[4])}; "
                       f"time {new}/{old} {min(lo[4]):.3f}-{max(lo[4]):.3f}, geomean {g:.3f}; lowest vs generic {lo[5]:.3f}x")
print("\n" + "\n".join(summary))
