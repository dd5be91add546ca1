#!/usr/bin/env bash
# Issue 9 session 9, run 57 (v29 = the library of 2c469c8): the seven quantisers at DRAM sizes
# (T = 16384, 32768, 65536, four hidden sizes), kiln-bench's % of the copy ceiling and speedup
# over the generic kernel, with the SM clock, power and throttle reasons sampled every 50 ms.
set -u
S=build-stage/v29
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp $S/commit.txt build-stage/v28/c57.sh $R/
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,clocks_throttle_reasons.active --format=csv -lms 50 > $R/smi.csv 2>&1 &
SMI=$!
for k in per_token_fp8 rms_norm_per_token_fp8 fused_add_rms_norm_per_token_fp8 per_token_group_fp8 rms_norm_group_fp8 fused_add_rms_norm_group_fp8 silu_mul_group_fp8; do
  echo "$k start $(date -u +%H:%M:%S.%N)" >> $R/phases.txt
  timeout 60 $S/kiln-bench --kernel $k --tokens 16384,32768,65536 --max-seconds 0.5 --csv $R/bench/$k.csv > $R/bench/log_$k.txt 2>&1 || echo "kiln-bench $k rc $?"
  echo "$k end $(date -u +%H:%M:%S.%N)" >> $R/phases.txt
  echo "$k at $(at)"
done
kill $SMI
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
