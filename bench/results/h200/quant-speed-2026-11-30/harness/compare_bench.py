#!/usr/bin/env python3
"""Compare two kiln-bench output folders of one run shape by shape: % of the copy ceiling, us over the
launch floor, schedule, and the new/old speed ratio; per kernel the geomean and minimum ratio.
Usage: compare_bench.py OLD_DIR NEW_DIR"""
import csv, glob, math, os, sys

old_dir, new_dir = sys.argv[1], sys.argv[2]
for f in sorted(glob.glob(os.path.join(new_dir, '*.csv'))):
    kernel = os.path.basename(f)[:-len('_bf16.csv')]
    a = {(r['hidden'], r['tokens']): r for r in csv.DictReader(open(os.path.join(old_dir, os.path.basename(f))))}
    b = {(r['hidden'], r['tokens']): r for r in csv.DictReader(open(f))}
    print(kernel)
    ratios = []
    for key in sorted(a, key=lambda k: (int(k[0]), int(k[1]))):
        x, y = a[key], b[key]
        ratio = float(x['kiln_us']) / float(y['kiln_us'])
        ratios.append(ratio)
        dram = int(x['working_set_bytes']) >= 4 * int(x['l2_bytes'])
        sched = lambda r: r['schedule'].replace(' cluster=1', '').replace(' vec=8', '')
        print('  h=%-5s T=%-6s old %6.2f %% %7.2f us over floor (%s) | new %6.2f %% %7.2f us (%s) | new/old speed %.3f%s' % (
            key[0], key[1], float(x['kiln_pct_ceiling']), float(x['kiln_us_over_floor']), sched(x),
            float(y['kiln_pct_ceiling']), float(y['kiln_us_over_floor']), sched(y), ratio, '  (>= 4 x L2)' if dram else ''))
    print('  geomean %.3f, min %.3f' % (math.exp(sum(map(math.log, ratios)) / len(ratios)), min(ratios)))
