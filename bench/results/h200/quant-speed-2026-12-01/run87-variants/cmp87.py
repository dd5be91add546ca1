import sys, re, collections
# cmp87.py TIME.txt: per case, each variant's T = 65536 time relative to the mean of the two T0 runs, and T = 1 / 32 deltas (µs); hash agreement
runs = []; cur = None
for line in open(sys.argv[1]):
    m = re.match(r"variant (\S+)", line)
    if m: cur = m.group(1); runs.append((cur, {})); continue
    m = re.match(r"(\S+)\s+h=\s*(\d+) threads=\s*(\d+) rows=(\d) wau=(\d) regs=\s*(\d+)\s+([\d.]+) us.*?([\d.]+) %  hash=(\w+) h2=(\w+).*T1 ([\d.]+) T32 ([\d.]+)", line)
    if m: runs[-1][1][(m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(5)))] = dict(regs=int(m.group(6)), us=float(m.group(7)), pct=float(m.group(8)), h=m.group(9)+m.group(10), t1=float(m.group(11)), t32=float(m.group(12)))
base = [r for n, r in runs if n.rstrip("h") == "T0"]
names = [n for n, _ in runs]
print("case".ljust(44), "T0 us  %ceil  T0a/T0b |", " | ".join(f"{n}: x regs dT1 dT32" for n, _ in runs if n.rstrip('h') != 'T0'))
for key in base[0]:
    b = sum(r[key]["us"] for r in base) / 2; t1 = sum(r[key]["t1"] for r in base) / 2; t32 = sum(r[key]["t32"] for r in base) / 2
    cells = []
    for n, r in runs:
        if n.rstrip("h") == "T0": continue
        c = r[key]; same = "" if c["h"] == base[0][key]["h"] else " HASH!"
        cells.append(f"{c['us']/b:.3f} {c['regs']:3d} {c['t1']-t1:+.2f} {c['t32']-t32:+.2f}{same}")
    print(f"{key[0][10:]:>24} h{key[1]} t{key[2]} w{key[3]}".ljust(44), f"{b:7.1f} {base[0][key]['pct']:5.1f} {base[0][key]['us']/base[1][key]['us']:.3f} r{base[0][key]['regs']} |", " | ".join(cells))
