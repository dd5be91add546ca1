#!/usr/bin/env bash
# Issue 9 session 14, run 100: kiln-tune --quick --force of the per-token norm kinds on this tree's
# templates (one reduction in their fixed kernels; the unstaged fused kind has a fixed kernel now),
# main's configs as incumbents, bf16 and fp16 timed (the mean):
#   A. rms_norm_per_token_fp8, every h, bs1-bs256: threads 128-512, clusters 1, 2, 4, weight in registers;
#   B. fused_add_rms_norm_per_token_fp8, every h, bs1-bs256: the same, staged or not;
#   C. rms_norm_per_token_fp8, every h, bs1024 and bs8192, 300 ms warm-up before each timing (the SM
#      clock under the power cap, as a sustained load runs), threads 128-320, rows 1-2, weight either way.
# SM clock and power logged every 100 ms.
set -u
S=build-stage/b100
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/configs; cp $S/c100.sh $S/commit.txt $R/
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
cp -r configs/rms_norm_per_token_fp8 configs/fused_add_rms_norm_per_token_fp8 $R/configs/
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,clocks_throttle_reasons.active --format=csv -lms 100 > $R/smi.csv 2>&1 &
SMI=$!
tune() {  # name limit kernel batch-sizes args...
  local name=$1 limit=$2 k=$3 b=$4; shift 4
  local left=$(( 570 - ($(date +%s) - T0) )); [ $left -gt $limit ] && left=$limit
  [ $left -lt 40 ] && { echo "stopping before $name at $(at)" | tee -a $R/rc.txt; return; }
  timeout $left $S/kiln-tune --kernel $k --hidden 2048,4096,5120,8192 --batch-sizes $b --quick --force --arch sm90 "$@" \
    --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune_$name.log 2>&1
  echo "tune $name rc $? at $(at)" | tee -a $R/rc.txt; tar -C $OUT -czf $OUT/r.tgz r
}
tune A_small_norm 120 rms_norm_per_token_fp8 1,2,4,8,32,128,256 \
  --grid threads=128,160,256,320,512 --grid rows_per_cta=1 --grid cluster=1,2,4 --grid weight_at_use=0 --grid vec=8
tune B_small_fused 120 fused_add_rms_norm_per_token_fp8 1,2,4,8,32,128,256 \
  --grid threads=128,160,256,320,512 --grid rows_per_cta=1 --grid cluster=1,2,4 --grid weight_at_use=0 --grid stage=0,1 --grid vec=8
tune C_large_norm 380 rms_norm_per_token_fp8 1024,8192 --warmup-ms 300 \
  --grid threads=128,160,256,320 --grid rows_per_cta=1,2 --grid cluster=1 --grid weight_at_use=0,1 --grid vec=8
kill $SMI
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
