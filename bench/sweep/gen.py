import itertools
H = [2048, 4096, 5120, 8192]
rms, silu = [], []
for h in H:
    for t, r, c in itertools.product([32, 64, 128, 256, 512, 1024], [1, 2, 4, 8], [1, 2, 4, 8]):
        if h % (c * t * 8): continue
        it = h // (c * t * 8)
        if not (1 <= it <= 16) or t * r > 1024 or t * r < 64: continue
        if c > 1 and r > 1: continue
        rms.append((h, t, 8, r, c))
    for t, ci, r in itertools.product([64, 128, 256, 512], [1, 2, 4], [1, 2, 4]):
        if h % (t * 8 * ci) or r * ci > 8: continue
        silu.append((h, t, 8, ci, r))
print(len(rms), len(silu))
for h in H:
    with open(f"inst_{h}.cu", "w") as f:
        f.write('#include "common_sweep.h"\n')
        rr = [x for x in rms if x[0] == h]; ss = [x for x in silu if x[0] == h]
        f.write(f"extern const Cand cands_{h}[] = {{\n")
        for x in rr:
            f.write(f'  {{"rms_norm_fp8", {h}, "threads={x[1]} vec=8 rows_per_cta={x[3]} cluster={x[4]}", &kiln::rms_norm_fp8::launch<kiln::rms_norm_fp8::Schedule<{h},{x[1]},8,{x[3]},{x[4]}>>}},\n')
        for x in ss:
            f.write(f'  {{"silu_mul_fp8", {h}, "threads={x[1]} vec=8 col_iters={x[3]} rows_per_cta={x[4]}", &kiln::silu_mul_fp8::launch<kiln::silu_mul_fp8::Schedule<{h},{x[1]},8,{x[3]},{x[4]}>>}},\n')
        f.write("};\n")
        f.write(f"extern const int n_cands_{h} = {len(rr) + len(ss)};\n")
