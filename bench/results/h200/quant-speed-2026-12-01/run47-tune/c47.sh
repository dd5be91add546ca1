#!/usr/bin/env bash
# Issue 9 session 8, run 47: kiln-tune the six quantisers on the RMSNorm template at T <= 32
# (bs1..bs32) with thread-block clusters splitting a row (cluster 1, 2, 4, 8; rows_per_cta 1;
# the norm kinds' weight held in registers), racing the committed configs (incumbents).
set -u
S=build-stage/v26
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/configs; cp $S/commit.txt $S/c47.sh $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
KS="${KS:-per_token_fp8 rms_norm_per_token_fp8 fused_add_rms_norm_per_token_fp8 per_token_group_fp8 rms_norm_group_fp8 fused_add_rms_norm_group_fp8}"
for k in $KS; do cp -r configs/$k $R/configs/; done
for k in $KS; do
  left=$(( 570 - ($(date +%s) - T0) )); [ $left -lt 20 ] && { echo "no time for $k"; continue; }
  w=""; case $k in *rms_norm*) w="--grid weight_at_use=0";; esac
  timeout $left $S/kiln-tune --kernel $k --batch-sizes 1,2,4,8,32 --quick --force --arch sm90 \
    --grid cluster=1,2,4,8 --grid rows_per_cta=1 $w --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune_$k.log 2>&1
  echo "$k rc $? at $(at)"
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
