#!/usr/bin/env bash
# Issue 9 session 11, run 84: kiln-tune --quick --force of the bs256 and bs1024 buckets of
# per_token_group_fp8 (four hidden sizes) and silu_mul_group_fp8 (h = 4096, 5120) on the fixed
# kernels (run 83: 1.16-1.33x slower than main at T = 512 or 1024 there); main's configs as
# incumbents. Time-boxed: what finished is kept.
set -u
S=build-stage/b81
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/configs; cp build-stage/b84/c84.sh build-stage/b84/commit.txt $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
cp -r configs/per_token_group_fp8 configs/silu_mul_group_fp8 $R/configs/
for kh in per_token_group_fp8:5120 silu_mul_group_fp8:5120 per_token_group_fp8:8192 silu_mul_group_fp8:4096 per_token_group_fp8:4096 per_token_group_fp8:2048; do
  k=${kh%:*}; h=${kh#*:}
  left=$(( 225 - ($(date +%s) - T0) )); [ $left -lt 30 ] && { echo "stopping before $kh at $(at)"; break; }
  timeout $left $S/kiln-tune --kernel $k --hidden $h --batch-sizes 256,1024 --quick --force --arch sm90 \
    --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune_${k}_$h.log 2>&1
  echo "tune $k $h rc $? at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
