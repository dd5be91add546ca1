import re, sys, glob, collections
# cmp97.py DIR: the harness lines of each variant h_{V}_{dtype}.txt against B (main's templates):
# time at T = 65536 over B's, % of the ceiling, generic kernel's %, T = 1 and 32 differences, hashes equal or not
pat = re.compile(r"^(\S+)\s+h=\s*(\d+) threads=\s*(\d+) rows=(\d) wau=(\d) st=(\d) regs=\s*(\d+)\s+([\d.]+) us\s+([\d.]+) GB/s\s+([\d.]+) %\s+hash=(\S+) h2=(\S+) h3=(\S+)\s+T1 ([\d.]+) T32 ([\d.]+) T1sw ([\d.]+) T32sw ([\d.]+)\s+gen ([\d.]+) us ([\d.]+) %")
d = sys.argv[1]
runs = collections.defaultdict(dict)
for f in sorted(glob.glob(f"{d}/h_*.txt")):
    _, v, dt = f.split("/")[-1][:-4].split("_")
    for line in open(f):
        m = pat.match(line)
        if m: runs[dt].setdefault(v, {})[(m[1], int(m[2]))] = m
for dt in ("bf16", "fp16"):
    base = runs[dt]["B"]
    vs = [v for v in ("A0", "CS", "PF", "NA") if v in runs[dt]]
    print(f"\n{dt}: T = 65536 time over B's (and % of the ceiling), then the generic kernel's % in B; '!' = a hash differs from B's")
    print(f"{'kernel':34s} {'h':>5s}  {'B %':>6s}  " + "  ".join(f"{v:>14s}" for v in vs) + "   gen %")
    geo = collections.defaultdict(list)
    for key, b in base.items():
        cells = []
        for v in vs:
            m = runs[dt][v][key]
            r = float(m[8]) / float(b[8]); geo[v].append(r)
            same = (m[11], m[12], m[13]) == (b[11], b[12], b[13])
            cells.append(f"{r:6.3f} ({float(m[10]):5.1f}){'' if same else '!'}")
        print(f"{key[0]:34s} {key[1]:5d}  {float(b[10]):6.1f}  " + "  ".join(f"{c:>14s}" for c in cells) + f"   {float(b[19]):5.1f}")
    import math
    print("geomean " + "  ".join(f"{v} {math.exp(sum(map(math.log, g)) / len(g)):.4f} (min {min(g):.3f}, max {max(g):.3f})" for v, g in geo.items()))
