#!/usr/bin/env bash
# Issue 9 session 17, run 120: variant X2 (b120: the group kinds' fixed kernel takes g = 128 as a
# constant, UE8M0 and the two fp32 layouts as run-time flags; the packed layout goes to the
# run-time kernel) against main (b114 for three kinds, b109 for silu_mul_group_fp8). kiln-bench
# alternating, T = 8192, 16384, 65536: default and col_major_tma in bf16 and fp16, ue8m0 in
# bf16; registers; then test_gpu, memcheck and racecheck of the four group kinds on X2.
set -u
X=build-stage/b120; M=build-stage/b114; O=build-stage/b109
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp $X/c120.sh $X/commit.txt $R/
for d in $X $M $O; do tar -C $d -xJf $d/bins.txz; done
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
for d in $X $M $O; do cuobjdump --dump-resource-usage $d/libkiln.so > $R/regs_$(basename $d).txt 2>&1; done
declare -A OPT=([default]="" [col]="--scale-layout col_major_tma" [ue8m0]="--ue8m0")
kinds="rms_norm_group_fp8 per_token_group_fp8 fused_add_rms_norm_group_fp8 silu_mul_group_fp8"
for k in $kinds; do
  main=$M; [ $k = silu_mul_group_fp8 ] && main=$O
  for dv in bf16:default fp16:default bf16:col fp16:col bf16:ue8m0; do
    d=${dv%:*}; v=${dv#*:}
    for lib in main x2; do
      left=$(( 220 - ($(date +%s) - T0) )); [ $left -lt 10 ] && break 3
      b=$X; [ $lib = main ] && b=$main
      timeout 30 $b/kiln-bench --kernel $k --dtype $d --tokens 8192,16384,65536 --max-seconds 0.25 ${OPT[$v]} --csv $R/bench/${lib}_${k}_${d}_$v.csv > $R/bench/log_${lib}_${k}_${d}_$v.txt 2>&1 || echo "kiln-bench $lib $k $d $v rc $?"
    done
  done
  echo "$k at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
for k in $kinds; do
  ( KILN_TEST_KERNELS=$k timeout 345 compute-sanitizer --tool memcheck --error-exitcode 99 $X/test_gpu --gtest_filter='*EveryConfigSet*:*Programmatic*' > $R/memcheck_$k.log 2>&1; echo "memcheck $k rc $? at $(at)" > $R/memcheck_$k.rc ) &
  ( KILN_TEST_KERNELS=$k timeout 345 compute-sanitizer --tool racecheck --error-exitcode 99 $X/test_gpu --gtest_filter='*EveryConfigSet*' > $R/racecheck_$k.log 2>&1; echo "racecheck $k rc $? at $(at)" > $R/racecheck_$k.rc ) &
  ( KILN_TEST_KERNELS=$k timeout 345 $X/test_gpu > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(at)" > $R/gpu_$k.rc ) &
done
wait; echo "tests done after $(at)"; cat $R/*.rc
for f in $R/gpu_*.log; do echo "$(basename $f): $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' $f | tr '\n' ' ')"; done
for f in $R/memcheck_*.log $R/racecheck_*.log; do echo "$(basename $f): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1)"; done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
