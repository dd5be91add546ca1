import csv, sys, collections
f = sys.argv[1]; unit = float(sys.argv[2]); show = len(sys.argv) > 3
rows = list(csv.reader(open(f)))
hdr = rows[1]; data = rows[2:]
ia = hdr.index("Address"); isrc = hdr.index("Source"); iex = hdr.index("Instructions Executed"); ist = hdr.index("Warp Stall Sampling (All Samples)")
tot = 0; ops = collections.Counter(); samples = 0
for r in data:
    if len(r) <= iex: continue
    n = float(r[iex].replace(',', '') or 0); s = float(r[ist].replace(',', '') or 0)
    tot += n; samples += s
    op = r[isrc].split()[0] if r[isrc].split() else '?'
    if op.startswith('@'): op = r[isrc].split()[1]
    ops[op.split('.')[0]] += n
    if show and n > 0: print(f"{r[ia]:>6} {n/unit:7.2f} {int(s):6d}  {r[isrc][:90]}")
print(f"total per unit {tot/unit:.1f}")
print(' '.join(f"{k}:{v/unit:.1f}" for k, v in ops.most_common(30)))
