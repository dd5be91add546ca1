# Ratios new / main of run 121 (kiln_us, same process order), and % of the copy ceiling of each.
import csv, glob, os, sys, collections
D = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
rows = collections.defaultdict(dict)
for f in sorted(glob.glob(D + '/bench/*_*.csv')):
    lib, rest = os.path.basename(f)[:-4].split('_', 1)
    k, dt, opt = rest.rsplit('_', 2)
    opt = dt + ' ' + opt
    for r in csv.DictReader(open(f)):
        rows[(k, opt, int(r['hidden']), int(r['tokens']))][lib] = (float(r['kiln_us']), float(r['kiln_pct_ceiling']), int(r['working_set_bytes']), int(r['l2_bytes']))
print('kernel option hidden tokens: new/main time, % of ceiling main -> new (* = working set >= 4x L2)')
for key in sorted(rows):
    d = rows[key]
    if 'main' not in d or 'new' not in d: continue
    big = '*' if d['main'][2] >= 4 * d['main'][3] else ' '
    print(f"{key[0]:30s} {key[1]:12s} {key[2]:5d} {key[3]:6d}{big} {d['new'][0]/d['main'][0]:.3f}  {d['main'][1]:6.1f} -> {d['new'][1]:6.1f}")
