#!/usr/bin/env bash
# Issue 9 session 17, run 119: variant X1 (b119: the group kinds' fixed kernel keeps the scale
# layout and UE8M0 as run-time flags, only the group size is a constant) against main (b114 for
# three kinds, b109 for silu_mul_group_fp8, whose code main has unchanged since). kiln-bench
# alternating, bf16, T = 8192, 16384, 65536, options default / col_major_tma / ue8m0 / packed;
# registers of both libraries; then test_gpu of the four group kinds on X1.
set -u
X=build-stage/b119; M=build-stage/b114; O=build-stage/b109
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp $X/c119.sh $X/commit.txt $R/
for d in $X $M $O; do tar -C $d -xJf $d/bins.txz; done
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
for d in $X $M $O; do cuobjdump --dump-resource-usage $d/libkiln.so > $R/regs_$(basename $d).txt 2>&1; done
declare -A OPT=([default]="" [col]="--scale-layout col_major_tma" [ue8m0]="--ue8m0" [packed]="--scale-layout packed_ue8m0 --ue8m0")
for k in rms_norm_group_fp8 per_token_group_fp8 fused_add_rms_norm_group_fp8 silu_mul_group_fp8; do
  main=$M; [ $k = silu_mul_group_fp8 ] && main=$O
  for v in default col ue8m0 packed; do
    for lib in main x1; do
      left=$(( 330 - ($(date +%s) - T0) )); [ $left -lt 15 ] && break 3
      b=$X; [ $lib = main ] && b=$main
      timeout 30 $b/kiln-bench --kernel $k --dtype bf16 --tokens 8192,16384,65536 --max-seconds 0.25 ${OPT[$v]} --csv $R/bench/${lib}_${k}_$v.csv > $R/bench/log_${lib}_${k}_$v.txt 2>&1 || echo "kiln-bench $lib $k $v rc $?"
    done
  done
  echo "$k at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
for k in rms_norm_group_fp8 per_token_group_fp8 fused_add_rms_norm_group_fp8 silu_mul_group_fp8; do
  ( KILN_TEST_KERNELS=$k timeout 240 $X/test_gpu > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(at)" > $R/gpu_$k.rc ) &
done
wait; cat $R/*.rc
for f in $R/gpu_*.log; do echo "$(basename $f): $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' $f | tr '\n' ' ')"; done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
