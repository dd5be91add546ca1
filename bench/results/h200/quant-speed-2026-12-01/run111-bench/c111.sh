#!/usr/bin/env bash
# Issue 9 session 16, run 111: kiln-bench, new8 (main's library, run 109) against fold (run 110's
# library), alternating, bf16 and fp16: the four norm quantisers at T = 1-32 and at DRAM sizes
# (T = 16384-65536).
set -u
S=build-stage/b110; O=build-stage/b109
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp $S/c111.sh $S/commit.txt $R/
tar -C $S -xJf $S/bins.txz; tar -C $O -xJf $O/bins.txz
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv -lms 200 > $R/smi.csv 2>&1 &
SMI=$!
bin() { [ $1 = fold ] && echo $S/kiln-bench || echo $O/kiln-bench; }
K="rms_norm_group_fp8 rms_norm_per_token_fp8 fused_add_rms_norm_per_token_fp8 fused_add_rms_norm_group_fp8"
run() {  # what tokens seconds limit kernel dtype
  local ceil="--ceiling-gib 1"; [ $1 = dram ] && ceil=""  # DRAM shapes: the default 4 GiB copy ceiling
  for v in new8 fold; do
    timeout $4 $(bin $v) --kernel $5 --dtype $6 --tokens $2 --max-seconds $3 $ceil --csv $R/bench/$1_$6_${v}_$5.csv > $R/bench/log_$1_$6_${v}_$5.txt 2>&1 || echo "kiln-bench $1 $v $5 $6 rc $?"
  done
}
for d in bf16 fp16; do
  for k in $K; do
    left=$(( 560 - ($(date +%s) - T0) )); [ $left -lt 30 ] && break 2
    run dram 16384,32768,65536 0.3 30 $k $d
  done
  echo "dram $d at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
for d in bf16 fp16; do
  for k in $K; do
    left=$(( 560 - ($(date +%s) - T0) )); [ $left -lt 25 ] && break 2
    run t32 1,2,4,8,16,32 0.2 20 $k $d
  done
  echo "t32 $d at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
kill $SMI
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
