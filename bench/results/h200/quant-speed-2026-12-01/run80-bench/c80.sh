#!/usr/bin/env bash
# Issue 9 session 11, run 80: kiln-bench of main's library (v32, 1278b73) against this session's
# (new: the default options as constants in a second kernel), alternating per kernel, one run:
# (1) DRAM sizes (T = 16384, 32768, 65536), two passes, of the six kernels with a fixed kernel and
# fused_add_rms_norm_group_fp8 (unchanged code, the control); (2) T <= 32 of the same seven.
set -u
export PATH=/usr/local/cuda/bin:$PATH
S=build-stage/b80
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp $S/c80.sh $S/commit.txt $R/
tar -C $S -xJf $S/bins.txz
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,clocks_throttle_reasons.active --format=csv -lms 200 > $R/smi.csv 2>&1 &
SMI=$!
K="rms_norm_group_fp8 rms_norm_per_token_fp8 per_token_group_fp8 silu_mul_group_fp8 rms_norm rms_norm_fp8 fused_add_rms_norm_group_fp8"
for i in 1 2; do
  for k in $K; do
    for v in v32 new; do
      timeout 40 $S/kiln-bench-$v --kernel $k --tokens 16384,32768,65536 --max-seconds 0.3 --csv $R/bench/dram_${i}_${v}_$k.csv > $R/bench/log_dram_${i}_${v}_$k.txt 2>&1 || echo "kiln-bench $v $k rc $?"
    done
  done
  echo "dram pass $i at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
for k in $K; do
  for v in v32 new; do
    timeout 40 $S/kiln-bench-$v --kernel $k --tokens 1,2,4,8,16,32 --max-seconds 0.2 --ceiling-gib 1 --csv $R/bench/t32_${v}_$k.csv > $R/bench/log_t32_${v}_$k.txt 2>&1 || echo "kiln-bench $v $k rc $?"
  done
done
echo "t32 at $(at)"; kill $SMI
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
