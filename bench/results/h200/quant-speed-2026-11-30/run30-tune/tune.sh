#!/usr/bin/env bash
# Issue 9 session 4, run 30: kiln-tune --quick --force of the seven quantisers, alone on the GPU,
# on the working tree's templates (the norm quantisers read the weight where they use it when a
# thread holds 32 or more values, and keep their per-token values only up to 32), with the last
# bucket timed where its tensors take 256 MiB or more.
set -u
S=build-stage/tune26
export PATH=/usr/local/cuda/bin:$PATH
R=$OUT/r; mkdir -p $R/configs; cp $S/tune.sh $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
t0=$(date +%s)
timeout 560 $S/kiln-tune --kernel per_token_fp8,rms_norm_per_token_fp8,fused_add_rms_norm_per_token_fp8,per_token_group_fp8,rms_norm_group_fp8,fused_add_rms_norm_group_fp8,silu_mul_group_fp8 --quick --force --arch sm90 --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune.log 2>&1
echo "kiln-tune rc $? in $(( $(date +%s) - t0 )) s"; tail -n 5 $R/tune.log; find $R/configs -name "*.json" | wc -l
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
