#!/usr/bin/env bash
# Issue 9, run 21: kiln-tune --quick --force of the seven quantisers, alone on the GPU, on the
# templates of the working tree (divide<true> without the clamp where the scale bounds the quotient, bf16 pairs unpacked by shift and mask), with the last bucket timed at 16384 tokens (79cc563).
set -u
S=build-stage/tune18
export PATH=/usr/local/cuda/bin:$PATH
R=$OUT/r; mkdir -p $R/configs; cp $S/tune.sh $R/; git log -1 --format=%h > $R/commit.txt 2>/dev/null; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
t0=$(date +%s)
timeout 570 $S/kiln-tune --kernel per_token_fp8,rms_norm_per_token_fp8,fused_add_rms_norm_per_token_fp8,per_token_group_fp8,rms_norm_group_fp8,fused_add_rms_norm_group_fp8,silu_mul_group_fp8 --quick --force --arch sm90 --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune.log 2>&1
echo "kiln-tune rc $? in $(( $(date +%s) - t0 )) s"; tail -n 15 $R/tune.log; find $R/configs -name "*.json" | wc -l
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
