import csv, glob, sys, collections
# cmp92.py DIR: kiln-bench T <= 32 CSVs t32_{dtype}_{new3,new4}_{kernel}.csv: per kernel and dtype, mean change (µs),
# shapes within 0.6 µs of the launch floor before and after
rows = collections.defaultdict(dict)
for f in glob.glob(f"{sys.argv[1]}/t32_*.csv"):
    _, d, v, k = f.split("/")[-1][:-4].split("_", 3)
    for r in csv.DictReader(open(f)):
        rows[(k, d)].setdefault(v, {})[(int(r["hidden"]), int(r["tokens"]))] = (float(r["kiln_us"]), float(r["kiln_us_over_floor"]))
for (k, d), vs in sorted(rows.items()):
    a, b = vs["new3"], vs["new4"]
    keys = sorted(set(a) & set(b))
    dm = sum(b[x][0] - a[x][0] for x in keys) / len(keys)
    faster = sum(b[x][0] < a[x][0] for x in keys)
    print(f"{k:34s} {d}: mean {dm:+.3f} us, {faster} of {len(keys)} faster, within 0.6 us of the floor {sum(a[x][1] <= 0.6 for x in keys)} -> {sum(b[x][1] <= 0.6 for x in keys)}, over floor {min(b[x][1] for x in keys):.2f}-{max(b[x][1] for x in keys):.2f}")
