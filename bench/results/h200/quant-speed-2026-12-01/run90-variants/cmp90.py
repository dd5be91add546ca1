import sys, re
# cmp90.py TIME.txt BASE (runs 88 and 90; run 88's lines have no st=, which reads as 0): per case, each run's T = 65536 time over the mean of BASE's runs, dT1/dT32 (µs), regs; hash against BASE's first
runs = []
for line in open(sys.argv[1]):
    m = re.match(r"variant (\S+)", line)
    if m: runs.append((m.group(1), {})); continue
    m = re.match(r"(\S+)\s+h=\s*(\d+) threads=\s*(\d+) rows=(\d) wau=(\d)(?: st=(\d))? regs=\s*(\d+)\s+([\d.]+) us.*?([\d.]+) %  hash=(\w+) h2=(\w+).*T1 ([\d.]+) T32 ([\d.]+)", line)
    if m: runs[-1][1][(m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(5)), int(m.group(6) or 0))] = dict(regs=int(m.group(7)), us=float(m.group(8)), pct=float(m.group(9)), h=m.group(10)+m.group(11), t1=float(m.group(12)), t32=float(m.group(13)))
bn = sys.argv[2]
base = [r for n, r in runs if n == bn]
others = [(n, r) for n, r in runs if n != bn]
print("case".ljust(40), f"{bn} us %ceil T1 T32 regs |", " | ".join(f"{n}: x regs dT1 dT32" for n, _ in others))
for key in base[0]:
    b = sum(r[key]["us"] for r in base) / len(base); t1 = sum(r[key]["t1"] for r in base) / len(base); t32 = sum(r[key]["t32"] for r in base) / len(base)
    cells = []
    for n, r in others:
        c = r[key]; same = "" if c["h"] == base[0][key]["h"] else "!"
        cells.append(f"{c['us']/b:.3f}{same} {c['regs']:3d} {c['t1']-t1:+.2f} {c['t32']-t32:+.2f}")
    print(f"{key[0].replace('fused_add_','fa_'):>26} h{key[1]} t{key[2]} w{key[3]} s{key[4]}".ljust(40), f"{b:7.1f} {base[0][key]['pct']:5.1f} {t1:.2f} {t32:.2f} r{base[0][key]['regs']} |", " | ".join(cells))
