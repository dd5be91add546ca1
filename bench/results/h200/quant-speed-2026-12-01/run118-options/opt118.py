# Run 118: each option's time over the defaults' (the mean of the two default runs of the same
# kernel), per kernel and shape, and the range per kernel and option.
import csv, glob, os, sys, collections
D = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
rows = collections.defaultdict(dict)
for f in sorted(glob.glob(D + '/bench/opt_*.csv')):
    k, v = os.path.basename(f)[4:-4].rsplit('_', 1)
    for r in csv.DictReader(open(f)):
        rows[(k, int(r['hidden']), int(r['tokens']))][v] = (float(r['kiln_us']), float(r['kiln_pct_ceiling']))
rng = collections.defaultdict(list)
for key in sorted(rows):
    d = rows[key]
    base = (d['default'][0] + d['default2'][0]) / 2
    print(*key, f"default {d['default'][1]:.1f} / {d['default2'][1]:.1f} %",
          ' '.join(f"{v} {d[v][0] / base:.3f}" for v in d if not v.startswith('default')))
    for v in d:
        if not v.startswith('default'): rng[(key[0], v)].append(d[v][0] / base)
print('\nrange over the 12 shapes (h = 2048-8192, T = 8192, 16384, 65536), time over the defaults:')
for (k, v), x in sorted(rng.items()):
    print(f'{k:34s} {v:7s} {min(x):.3f}-{max(x):.3f}')
