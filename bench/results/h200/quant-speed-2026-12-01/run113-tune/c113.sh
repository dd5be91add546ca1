#!/usr/bin/env bash
# Issue 9 session 16, run 113: kiln-tune (--quick --force --warmup-ms 300, 3 s pre-heat) on the
# Product templates (ee90cd0) of the two fused DRAM buckets that stay under 97 % or tie the generic
# kernel in run 111: fused_add_rms_norm_per_token_fp8 h = 8192 bs8192 (also the torch.compile
# minimum's instance) and fused_add_rms_norm_group_fp8 h = 4096 bs8192 (unstaged, so without the
# fixed kernel and Product), main's configs as incumbents. SM clock and power every 100 ms.
set -u
S=build-stage/b113
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/configs; cp $S/c113.sh $S/commit.txt $R/
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
cp -r configs/fused_add_rms_norm_per_token_fp8 configs/fused_add_rms_norm_group_fp8 $R/configs/
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,clocks_throttle_reasons.active --format=csv -lms 100 > $R/smi.csv 2>&1 &
SMI=$!
tune() {  # name limit kernel hidden args...
  local name=$1 limit=$2 k=$3 h=$4; shift 4
  local left=$(( 330 - ($(date +%s) - T0) )); [ $left -gt $limit ] && left=$limit
  [ $left -lt 40 ] && { echo "stopping before $name at $(at)" | tee -a $R/rc.txt; return; }
  echo "$name starts at $(date -u +%H:%M:%S.%N)" >> $R/rc.txt
  timeout $left $S/kiln-tune --kernel $k --hidden $h --batch-sizes 8192 --quick --force --arch sm90 \
    --warmup-ms 300 "$@" --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune_$name.log 2>&1
  echo "tune $name rc $? at $(at), $(date -u +%H:%M:%S)" | tee -a $R/rc.txt; tar -C $OUT -czf $OUT/r.tgz r
}
tune A_fused_per_token_h8192 160 fused_add_rms_norm_per_token_fp8 8192 \
  --grid threads=128,256,320,512 --grid rows_per_cta=1 --grid cluster=1 --grid weight_at_use=0 --grid stage=0,1 --grid vec=8
tune B_fused_group_h4096 160 fused_add_rms_norm_group_fp8 4096 \
  --grid threads=128,256,512 --grid rows_per_cta=1 --grid cluster=1 --grid weight_at_use=0 --grid stage=0,1 --grid vec=8
kill $SMI
gzip -f $R/smi.csv
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
