#!/usr/bin/env bash
# Issue 9 session 8, run 48 (v27: clusters in the RMSNorm template's quantisers; run 47's configs,
# per_token_group_fp8's T <= 32 buckets split a row over 2-8 CTAs).
# 1. SASS: kernels with a global load before their first PDL wait.
# 2. test_gpu, all twelve one-GPU kernels, one process each; test_device_math; memcheck and
#    racecheck of per_token_group_fp8 (cluster instances), memcheck of rms_norm_per_token_fp8.
# 3. kiln-bench T <= 32, v22 (before, 520c291's library) against v27, A B B A, three kernels.
set -u
S=build-stage/v27; OLD=build-stage/v22
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp $S/commit.txt $S/c48.sh $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
cp bench/results/h200/quant-speed-2026-12-01/run41/sass_scan.py $R/
cuobjdump -sass $S/libkiln.so > $R/sass.txt 2>&1; python3 $R/sass_scan.py $R/sass.txt > $R/sass_scan.txt; rm -f $R/sass.txt; cat $R/sass_scan.txt
KALL="rms_norm_per_token_fp8 rms_norm_group_fp8 fused_add_rms_norm_per_token_fp8 fused_add_rms_norm_group_fp8 per_token_fp8 per_token_group_fp8 silu_mul_group_fp8 rms_norm rms_norm_fp8 fused_add_rms_norm fused_add_rms_norm_fp8 silu_mul_fp8"
F='*EveryConfigSet*:*Programmatic*:*Generic*:*Null*:*InOut*:*GroupQuantisers*'
timeout 90 $S/test_device_math > $R/device_math.log 2>&1; echo "test_device_math rc $?" > $R/device_math.rc
for k in $KALL; do
  ( KILN_TEST_KERNELS=$k timeout 340 $S/test_gpu --gtest_output=json:$R/gpu_$k.json > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(at)" > $R/gpu_$k.rc ) &
done
for tool in memcheck racecheck; do
  ( KILN_TEST_KERNELS=per_token_group_fp8 timeout 340 compute-sanitizer --tool $tool --error-exitcode 99 $S/test_gpu --gtest_filter="$F" > $R/${tool}_per_token_group_fp8.log 2>&1; echo "$tool per_token_group_fp8 rc $? at $(at)" > $R/${tool}_per_token_group_fp8.rc ) &
done
( KILN_TEST_KERNELS=rms_norm_per_token_fp8 timeout 340 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter="$F" > $R/memcheck_rms_norm_per_token_fp8.log 2>&1; echo "memcheck rms_norm_per_token_fp8 rc $? at $(at)" > $R/memcheck_rms_norm_per_token_fp8.rc ) &
wait
echo "tests done after $(at)"; cat $R/*.rc
i=0
for v in old new new old; do
  i=$((i+1)); B=$S/kiln-bench; [ $v = old ] && B=$OLD/kiln-bench
  for k in per_token_group_fp8 rms_norm_group_fp8 rms_norm_per_token_fp8; do
    timeout 60 $B --kernel $k --tokens 1,2,4,8,16,32 --max-seconds 0.25 --csv $R/bench/${v}_${i}_$k.csv > $R/bench/log_${v}_${i}_$k.txt 2>&1 || echo "kiln-bench $v $k rc $?"
  done
done
echo "bench done after $(at)"
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
