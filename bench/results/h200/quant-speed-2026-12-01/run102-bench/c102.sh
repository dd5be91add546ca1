#!/usr/bin/env bash
# Issue 9 session 14, run 102: kiln-bench, run 95's library (new5: main at 378b3df) against run 101's
# (new6), alternating, bf16 and fp16: the two per-token norm kinds at T = 1-32, mid sizes (T = 64-2048)
# and DRAM sizes (T = 16384-65536); the other six norm kinds (only the order of the single-rounding
# value's products changed) at T = 1-32 and DRAM sizes.
set -u
S=build-stage/b101
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp build-stage/b102/c102.sh $S/commit.txt $R/
tar -C $S -xJf $S/bins.txz; tar -C build-stage/b95 -xJf build-stage/b95/bins.txz
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv -lms 200 > $R/smi.csv 2>&1 &
SMI=$!
bin() { [ $1 = new6 ] && echo $S/kiln-bench || echo build-stage/b95/kiln-bench; }
PT="rms_norm_per_token_fp8 fused_add_rms_norm_per_token_fp8"
OTHER="rms_norm_group_fp8 fused_add_rms_norm_group_fp8 rms_norm rms_norm_fp8 fused_add_rms_norm fused_add_rms_norm_fp8"
run() {  # what tokens seconds limit kernel dtype
  local ceil="--ceiling-gib 1"; [ $1 = dram ] && ceil=""  # DRAM shapes: the default 4 GiB copy ceiling
  for v in new5 new6; do
    timeout $4 $(bin $v) --kernel $5 --dtype $6 --tokens $2 --max-seconds $3 $ceil --csv $R/bench/$1_$6_${v}_$5.csv > $R/bench/log_$1_$6_${v}_$5.txt 2>&1 || echo "kiln-bench $1 $v $5 $6 rc $?"
  done
}
for d in bf16 fp16; do
  for k in $PT $OTHER; do run t32 1,2,4,8,16,32 0.2 20 $k $d; done
  for k in $PT; do run mid 64,128,181,256,512,1024,2048 0.2 25 $k $d; done
  echo "t32, mid $d at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
for d in bf16 fp16; do
  for k in $PT $OTHER; do
    left=$(( 540 - ($(date +%s) - T0) )); [ $left -lt 30 ] && break 2
    run dram 16384,32768,65536 0.3 30 $k $d
  done
  echo "dram $d at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
kill $SMI
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
