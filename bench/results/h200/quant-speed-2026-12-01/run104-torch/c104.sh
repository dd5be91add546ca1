#!/usr/bin/env bash
# Issue 9 session 11, run 104 (session 14; run 86's script): compare_torch of fused_add_rms_norm_per_token_fp8, the kernel
# closest to the 1.1x floor over torch.compile (runs 43 and 46: 1.13x bf16, 1.106x fp16, at
# h = 8192 and DRAM sizes), on the current library: session 10 made it 0.2-1.4 % slower there.
# Session 14: on new6 (run 101's library: the unstaged per-token fused schedules now take the fixed kernel).
set -u
S=build-stage/b101
export PATH=/usr/local/cuda/bin:$PATH PYTHONDONTWRITEBYTECODE=1
T0=$(date +%s)
R=$OUT/r; mkdir -p $R; tar -C $S -xJf $S/bins.txz; cp $S/commit.txt build-stage/b104/c104.sh $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
for d in fp16 bf16; do
  timeout 90 python3 bench/compare_torch.py --lib $S/libkiln.so --kernel fused_add_rms_norm_per_token_fp8 --dtype $d --hidden 4096,8192 --tokens 16384,32768,65536 --max-seconds 0.5 --out $R/torch_$d --time-limit 85 > $R/torch_$d.log 2>&1
  echo "$d rc $? after $(( $(date +%s) - T0 )) s"
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
