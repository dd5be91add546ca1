#!/usr/bin/env bash
# Issue 9 session 7, run 46: compare_torch in fp16 over the full grid for the kernel with the
# lowest bf16 ratio to torch.compile (fused_add_rms_norm_per_token_fp8, 1.13x in run 43).
set -u
S=build-stage/v24
export PATH=/usr/local/cuda/bin:$PATH PYTHONDONTWRITEBYTECODE=1
R=$OUT/r; mkdir -p $R; cp $S/commit.txt $S/c46.sh $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
T0=$(date +%s)
timeout 200 python3 bench/compare_torch.py --lib $S/libkiln.so --kernel fused_add_rms_norm_per_token_fp8 --dtype fp16 --max-seconds 0.5 --out $R/torch --time-limit 175 > $R/torch.log 2>&1
echo "rc $? after $(( $(date +%s) - T0 )) s"
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
