#!/usr/bin/env bash
# Issue 9 session 16, run 115: kiln-tune (--quick --force --warmup-ms 300, 3 s pre-heat) on the
# Product templates of fused_add_rms_norm_group_fp8 h = 5120 bs8192 (unstaged, so without the fixed
# kernel and Product; 95.2 % of the ceiling at T = 8192 in run 114), staged or not, main's configs
# (with run 113's) as incumbents. SM clock and power every 100 ms.
set -u
S=build-stage/b115
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/configs; cp $S/c115.sh $S/commit.txt $R/
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
cp -r configs/fused_add_rms_norm_group_fp8 $R/configs/
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
tune C_fused_group_h5120 200 fused_add_rms_norm_group_fp8 5120 \
  --grid threads=128,160,320,640 --grid rows_per_cta=1 --grid cluster=1 --grid weight_at_use=0 --grid stage=0,1 --grid vec=8
kill $SMI
gzip -f $R/smi.csv
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
