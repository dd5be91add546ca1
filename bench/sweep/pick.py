import csv, collections, sys, json
rows = list(csv.DictReader(open(sys.argv[1])))
ceiling = float(sys.argv[2]) if len(sys.argv) > 2 else 3027
t = collections.defaultdict(dict)  # (kernel,h) -> sched -> {T: us}
for r in rows:
    t[(r['kernel'], int(r['hidden']))].setdefault(r['schedule'], {})[int(r['tokens'])] = float(r['us'])
buckets = {1: [1], 2: [2], 4: [4], 8: [8, 16], 32: [32, 64], 128: [128], 256: [256, 512], 1024: [1024, 2048, 4096, 16384, 65536]}
def nbytes(k, h, T): return T * h * (5 if k == 'silu_mul_fp8' else 3) + (h * 2 if k != 'silu_mul_fp8' else 0)
choice = {}
for (k, h), sc in sorted(t.items()):
    Ts = sorted(next(iter(sc.values())).keys())
    best = {T: min(s[T] for s in sc.values()) for T in Ts}
    line = []
    for T in Ts:
        b = min(sc, key=lambda s: sc[s][T])
        line.append(f"T={T}:{best[T]:.2f}us" + (f"({nbytes(k,h,T)/best[T]/1e3/ceiling*100:.0f}%)" if T >= 16384 else ""))
    print(k, h, ' '.join(line))
    for bs, tl in buckets.items():
        s = min(sc, key=lambda s: sum(sc[s][T] / best[T] for T in tl) / len(tl))
        score = sum(sc[s][T] / best[T] for T in tl) / len(tl)
        choice[(k, h, bs)] = s
        print(f"   bs{bs:<5} {s:45s} worst-case-in-bucket {max(sc[s][T]/best[T] for T in tl):.3f}  " + ' '.join(f"{sc[s][T]:.2f}" for T in tl))
json.dump({f"{k}|{h}|{bs}": s for (k, h, bs), s in choice.items()}, open('choice.json', 'w'), indent=1)
