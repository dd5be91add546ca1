#!/usr/bin/env bash
# Issue 9 session 9, run 52: kiln-tune the five RMSNorm-template quantisers that reduce over a
# row at T <= 32 (bs1..bs32), clusters 1, 2, 4, 8, rows_per_cta 1, weight in registers, with the
# v28 template: a cluster's partials are pushed into every peer's shared memory before one
# barrier (no DSMEM reads after it, no exit barrier), and the per-token maximum is one
# redux.sync. Racing the committed configs. Packs after each kernel.
set -u
S=build-stage/v28
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/configs; cp $S/c52.sh $R/; git rev-parse HEAD > $R/commit.txt; git diff --stat >> $R/commit.txt
{ nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader; date -u; } > $R/device.txt
KS="${KS:-rms_norm_per_token_fp8 rms_norm_group_fp8 per_token_fp8 fused_add_rms_norm_per_token_fp8 fused_add_rms_norm_group_fp8}"
for k in $KS; do cp -r configs/$k $R/configs/; done
for k in $KS; do
  left=$(( 560 - ($(date +%s) - T0) )); [ $left -lt 30 ] && { echo "no time for $k"; continue; }
  w=""; case $k in *rms_norm*) w="--grid weight_at_use=0";; esac
  timeout $left $S/kiln-tune --kernel $k --batch-sizes 1,2,4,8,32 --quick --force --arch sm90 \
    --grid cluster=1,2,4,8 --grid rows_per_cta=1 $w --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune_$k.log 2>&1
  echo "$k rc $? at $(at)"
  tar -C $OUT -czf $OUT/r.tgz r
done
