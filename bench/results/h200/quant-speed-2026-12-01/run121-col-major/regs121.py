# Registers of each col_major kernel (Fixed = 2) against its defaults kernel (Fixed = 1) and
# its run-time one (Fixed = 0), from cuobjdump --dump-resource-usage of the new library.
import re, sys, collections
d, fn = {}, None
for line in open(sys.argv[1]):
    m = re.search(r'Function (\S+):', line)
    if m: fn = m.group(1); continue
    m = re.search(r'REG:(\d+)', line)
    if m and fn: d[fn] = int(m.group(1)); fn = None
diffs = collections.Counter(); n = 0
for f, r in d.items():
    if 'LNS_5FixedE2E' not in f: continue
    n += 1
    base, run = d.get(f.replace('LNS_5FixedE2E', 'LNS_5FixedE1E')), d.get(f.replace('LNS_5FixedE2E', 'LNS_5FixedE0E'))
    diffs[(r - base if base else None, r - run if run else None)] += 1
print(n, 'col_major kernels; (registers over defaults, over run-time): count')
for k, v in sorted(diffs.items(), key=lambda x: str(x[0])): print(k, v)
