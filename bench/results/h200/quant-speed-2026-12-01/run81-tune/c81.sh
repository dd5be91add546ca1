#!/usr/bin/env bash
# Issue 9 session 11, run 81: kiln-tune --quick --force of rms_norm_group_fp8's DRAM buckets
# (bs1024, bs8192; four hidden sizes) on this session's template, where the default options
# are constants in a kernel of their own (what kiln-tune times); the incumbents are main's.
set -u
S=build-stage/b81
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/configs; cp $S/c81.sh $S/commit.txt $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
k=rms_norm_group_fp8; cp -r configs/$k $R/configs/
for h in 5120 2048 4096 8192; do
  timeout 200 $S/kiln-tune --kernel $k --hidden $h --batch-sizes 1024,8192 --quick --force --arch sm90 \
    --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune_${k}_$h.log 2>&1
  echo "tune $k $h rc $? at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
  [ $(( $(date +%s) - T0 )) -gt 420 ] && { echo "stopping at $(at)"; break; }
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
