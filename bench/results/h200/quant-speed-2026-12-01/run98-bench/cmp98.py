import csv, glob, sys, collections, math
# cmp98.py DIR OLD NEW: kiln-bench CSVs DIR/mid_{dtype}_{OLD,NEW}_{kernel}.csv: per shape NEW/OLD time;
# per kernel and dtype the range and geomean, and the shapes slower by more than 2 %
d_, old, new = sys.argv[1:4]
rows = collections.defaultdict(dict)
for f in glob.glob(f"{d_}/mid_*.csv"):
    _, d, v, k = f.split("/")[-1][:-4].split("_", 3)
    for r in csv.DictReader(open(f)):
        rows[(k, d)].setdefault(v, {})[(int(r["hidden"]), int(r["tokens"]))] = r
for (k, d), vs in sorted(rows.items()):
    a, b = vs[old], vs[new]
    xs = {key: float(b[key]["kiln_us"]) / float(a[key]["kiln_us"]) for key in sorted(set(a) & set(b))}
    g = math.exp(sum(map(math.log, xs.values())) / len(xs))
    gen = min(float(b[key]["speedup"]) for key in xs)
    slow = ", ".join(f"h{h} T{t} {x:.3f} ({b[(h, t)]['kiln_us']} us)" for (h, t), x in xs.items() if x > 1.02)
    print(f"{k:34s} {d}: {new}/{old} {min(xs.values()):.3f}-{max(xs.values()):.3f}, geomean {g:.3f}, "
          f"{sum(x < 1 for x in xs.values())} of {len(xs)} faster; lowest vs generic {gen:.2f}x" + (f"; slower > 2 %: {slow}" if slow else ""))
