#!/usr/bin/env bash
# Issue 9 session 18, run 128: the column-major kernel split in two (b128: Fixed::col_major with fp32
# scales and Fixed::col_major_ue8m0, every group option a constant; a -Dkernels= build of the four
# group kinds) against main's (b124: one col_major kernel, UE8M0 a flag). kiln-bench alternating,
# T = 16384 and 65536: column-major fp32 (bf16, fp16), column-major UE8M0 and the defaults (bf16);
# then test_gpu and memcheck of the four group kinds, racecheck of the fused one.
set -u
X=build-stage/b128; M=build-stage/b124
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp $X/c128.sh $X/commit.txt $R/
for d in $X $M; do tar -C $d -xJf $d/bins.txz; done
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
declare -A OPT=([default]="" [col]="--scale-layout col_major_tma" [colue]="--scale-layout col_major_tma --ue8m0")
kinds="rms_norm_group_fp8 per_token_group_fp8 fused_add_rms_norm_group_fp8 silu_mul_group_fp8"
for k in $kinds; do
  for dv in bf16:col fp16:col bf16:colue bf16:default; do
    d=${dv%:*}; v=${dv#*:}
    for lib in main new; do
      left=$(( 150 - ($(date +%s) - T0) )); [ $left -lt 10 ] && break 3
      b=$X; [ $lib = main ] && b=$M
      timeout 30 $b/kiln-bench --kernel $k --dtype $d --tokens 16384,65536 --max-seconds 0.25 ${OPT[$v]} --csv $R/bench/${lib}_${k}_${d}_$v.csv > $R/bench/log_${lib}_${k}_${d}_$v.txt 2>&1 || echo "kiln-bench $lib $k $d $v rc $?"
    done
  done
  echo "$k at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
for k in $kinds; do
  ( KILN_TEST_KERNELS=$k timeout 300 compute-sanitizer --tool memcheck --error-exitcode 99 $X/test_gpu --gtest_filter='*EveryConfigSet*:*Programmatic*' > $R/memcheck_$k.log 2>&1; echo "memcheck $k rc $? at $(at)" > $R/memcheck_$k.rc ) &
  [ $k = fused_add_rms_norm_group_fp8 ] && ( KILN_TEST_KERNELS=$k timeout 300 compute-sanitizer --tool racecheck --error-exitcode 99 $X/test_gpu --gtest_filter='*EveryConfigSet*' > $R/racecheck_$k.log 2>&1; echo "racecheck $k rc $? at $(at)" > $R/racecheck_$k.rc ) &
  ( KILN_TEST_KERNELS=$k timeout 300 $X/test_gpu > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(at)" > $R/gpu_$k.rc ) &
done
wait; echo "tests done after $(at)"; cat $R/*.rc
for f in $R/gpu_*.log; do echo "$(basename $f): $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' $f | tr '\n' ' ')"; done
for f in $R/memcheck_*.log $R/racecheck_*.log; do echo "$(basename $f): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1)"; done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
