#!/usr/bin/env bash
# Issue 9 session 9, run 53: (1) kiln-tune the four RMSNorm kernels (not quantisers) at T <= 32
# with clusters 1, 2, 4, 8 under the v28 template (pushed cluster partials), as run 52 did for
# the quantisers; (2) run 51 again: fused_add_rms_norm and fused_add_rms_norm_fp8 bs1024 with a
# new bs8192 (they were slower than their generic kernel at T = 1024). Packs after each step.
set -u
S=build-stage/v28
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/configs; cp $S/c53.sh $R/; git rev-parse HEAD > $R/commit.txt; git diff --stat >> $R/commit.txt
{ nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader; date -u; } > $R/device.txt
KS="rms_norm rms_norm_fp8 fused_add_rms_norm fused_add_rms_norm_fp8"
for k in $KS; do cp -r configs/$k $R/configs/; done
for k in $KS; do
  timeout 60 $S/kiln-tune --kernel $k --batch-sizes 1,2,4,8,32 --quick --force --arch sm90 \
    --grid cluster=1,2,4,8 --grid rows_per_cta=1 --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune_small_$k.log 2>&1
  echo "$k small rc $? at $(at)"
  tar -C $OUT -czf $OUT/r.tgz r
done
for k in fused_add_rms_norm fused_add_rms_norm_fp8; do
  left=$(( 570 - ($(date +%s) - T0) )); [ $left -gt 200 ] && left=200; [ $left -lt 30 ] && { echo "no time for $k"; continue; }
  timeout $left $S/kiln-tune --kernel $k --batch-sizes 1024,8192 --quick --force --arch sm90 \
    --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune_large_$k.log 2>&1
  echo "$k large rc $? at $(at)"
  tar -C $OUT -czf $OUT/r.tgz r
done
