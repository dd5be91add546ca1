#!/usr/bin/env bash
# Issue 9 session 10, run 71: kiln-bench of main's library (v29, the code of 2c469c8 = d97a5c6's)
# against v31 (run 70's), alternating per kernel, in one run: (1) the seven quantisers at DRAM
# sizes (T = 16384, 32768, 65536), two passes, and the two plain fused kernels (their add path
# was restructured), one pass; (2) T <= 32 of the nine; (3) kiln-tune of
# fused_add_rms_norm_per_token_fp8's T <= 32 buckets on the new template (configs in r/configs).
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench $R/configs; cp build-stage/b71/v31/commit.txt build-stage/b71/c71.sh $R/
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,clocks_throttle_reasons.active --format=csv -lms 100 > $R/smi.csv 2>&1 &
SMI=$!
K7="per_token_fp8 rms_norm_per_token_fp8 fused_add_rms_norm_per_token_fp8 per_token_group_fp8 rms_norm_group_fp8 fused_add_rms_norm_group_fp8 silu_mul_group_fp8"
K2="fused_add_rms_norm fused_add_rms_norm_fp8"
for i in 1 2; do
  KS="$K7"; [ $i = 1 ] && KS="$K7 $K2"
  for k in $KS; do
    for v in v29 v31; do
      timeout 40 build-stage/b71/$v/kiln-bench --kernel $k --tokens 16384,32768,65536 --max-seconds 0.3 --csv $R/bench/dram_${i}_${v}_$k.csv > $R/bench/log_dram_${i}_${v}_$k.txt 2>&1 || echo "kiln-bench $v $k rc $?"
    done
  done
  echo "dram pass $i at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
for k in $K7 $K2; do
  for v in v29 v31; do
    timeout 40 build-stage/b71/$v/kiln-bench --kernel $k --tokens 1,2,4,8,16,32 --max-seconds 0.2 --ceiling-gib 1 --csv $R/bench/t32_${v}_$k.csv > $R/bench/log_t32_${v}_$k.txt 2>&1 || echo "kiln-bench $v $k rc $?"
  done
done
echo "t32 at $(at)"; kill $SMI; tar -C $OUT -czf $OUT/r.tgz r
k=fused_add_rms_norm_per_token_fp8; cp -r configs/$k $R/configs/
left=$(( 560 - ($(date +%s) - T0) )); [ $left -gt 120 ] && left=120
if [ $left -gt 40 ]; then
  timeout $left build-stage/b71/kiln-tune --kernel $k --batch-sizes 1,2,4,8,32 --quick --force --arch sm90 \
    --grid cluster=1,2,4,8 --grid rows_per_cta=1 --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune_small_$k.log 2>&1
  echo "tune $k rc $? at $(at)"
else echo "no time for the tune"; fi
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
