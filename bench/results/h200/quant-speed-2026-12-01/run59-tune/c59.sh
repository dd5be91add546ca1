#!/usr/bin/env bash
# Session 9, run 59: the cluster paths no committed config uses, checked by kiln-tune's CPU
# reference (every candidate, bf16 and fp16, outputs poisoned): the maximum as the first
# reduction with a cluster (per_token_fp8), and rows_per_cta > 1 with a cluster (all three).
# Scratch configs folder, no incumbents: nothing here is meant to land.
set -u
S=build-stage/v28
export PATH=/usr/local/cuda/bin:$PATH
R=$OUT/r; mkdir -p $R/configs; cp $S/c59.sh $R/; git rev-parse HEAD > $R/commit.txt
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
for k in per_token_fp8 rms_norm_per_token_fp8 fused_add_rms_norm_group_fp8; do
  timeout 100 $S/kiln-tune --kernel $k --hidden 2048,5120 --batch-sizes 8,32 --quick --force --no-incumbents --arch sm90 \
    --grid cluster=2,4,8 --grid rows_per_cta=1,2,4 --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune_$k.log 2>&1
  echo "$k rc $?"
  tar -C $OUT -czf $OUT/r.tgz r
done
