#!/usr/bin/env bash
# Issue 9 session 9, run 55 (v29): kiln-bench at T <= 32 of the nine RMSNorm-template kernels
# whose code or T <= 32 configs changed, two passes; fused_add_rms_norm{,_fp8} at T >= 1024
# against their generic kernel (runs 39 and 51); ncu of rms_norm_per_token_fp8 at T = 1.
set -u
S=build-stage/v29
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp $S/commit.txt build-stage/v28/c55.sh $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
KB="rms_norm_per_token_fp8 fused_add_rms_norm_per_token_fp8 rms_norm_group_fp8 fused_add_rms_norm_group_fp8 per_token_fp8 rms_norm rms_norm_fp8 fused_add_rms_norm fused_add_rms_norm_fp8"
for i in 1 2; do
  for k in $KB; do
    timeout 40 $S/kiln-bench --kernel $k --tokens 1,2,4,8,16,32 --max-seconds 0.2 --ceiling-gib 1 --csv $R/bench/t32_${i}_$k.csv > $R/bench/log_t32_${i}_$k.txt 2>&1 || echo "kiln-bench $k rc $?"
  done
  echo "pass $i at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
for k in fused_add_rms_norm fused_add_rms_norm_fp8; do
  timeout 60 $S/kiln-bench --kernel $k --tokens 1024,2048,2896,4096,8192,65536 --max-seconds 0.25 --ceiling-gib 1 --csv $R/bench/large_$k.csv > $R/bench/log_large_$k.txt 2>&1 || echo "kiln-bench $k rc $?"
done
echo "large at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
for h in 4096 8192; do
  timeout 90 ncu --kernel-name regex:specialised -c 1 --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section LaunchStats --section InstructionStats \
    $S/kiln-bench --kernel rms_norm_per_token_fp8 --hidden $h --tokens 1 --launches 1 --replays 1 --min-replays 1 --warmup-ms 0 --ceiling-gib 0.1 > $R/ncu_rms_norm_per_token_fp8_h${h}_t1.log 2>&1; echo "ncu $h rc $?"
done
echo "done at $(at)"; tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
