#!/usr/bin/env bash
# Issue 9 session 9, run 54 (v29: the v28 template and runs 52-53's configs; clusters of 2-8 CTAs
# now in the T <= 32 buckets of fused_add_rms_norm{,_fp8,_group_fp8,_per_token_fp8}, rms_norm_group_fp8).
# 1. SASS: kernels with a global load before their first PDL wait.
# 2. test_gpu, all twelve one-GPU kernels, one process each; test_device_math.
# 3. memcheck and racecheck of the config instances of four kernels whose T <= 32 instances
#    now reduce over a cluster (pushed partials through distributed shared memory).
set -u
S=build-stage/v29
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R; cp $S/commit.txt build-stage/v28/c54.sh $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
cp bench/results/h200/quant-speed-2026-12-01/run41/sass_scan.py $R/
cuobjdump -sass $S/libkiln.so > /tmp/sass.txt 2>&1; python3 $R/sass_scan.py /tmp/sass.txt > $R/sass_scan.txt
grep -c "UCGABAR_ARV\|UCGABAR_WAIT" /tmp/sass.txt > $R/sass_cluster_barriers.txt; grep -c "REDUX" /tmp/sass.txt > $R/sass_redux.txt; rm -f /tmp/sass.txt
KALL="fused_add_rms_norm_group_fp8 fused_add_rms_norm_per_token_fp8 rms_norm_group_fp8 fused_add_rms_norm fused_add_rms_norm_fp8 rms_norm_per_token_fp8 per_token_fp8 per_token_group_fp8 silu_mul_group_fp8 rms_norm rms_norm_fp8 silu_mul_fp8"
F='*EveryConfigSet*:*Programmatic*:*Generic*:*Null*:*InOut*:*GroupQuantisers*'
timeout 90 $S/test_device_math > $R/device_math.log 2>&1; echo "test_device_math rc $?" > $R/device_math.rc
for k in $KALL; do
  ( KILN_TEST_KERNELS=$k timeout 420 $S/test_gpu --gtest_output=json:$R/gpu_$k.json > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(at)" > $R/gpu_$k.rc ) &
done
for k in fused_add_rms_norm_per_token_fp8 fused_add_rms_norm_group_fp8; do
  for tool in memcheck racecheck; do
    ( KILN_TEST_KERNELS=$k timeout 420 compute-sanitizer --tool $tool --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*' > $R/${tool}_$k.log 2>&1; echo "$tool $k rc $? at $(at)" > $R/${tool}_$k.rc ) &
  done
done
for k in rms_norm_group_fp8 fused_add_rms_norm; do
  ( KILN_TEST_KERNELS=$k timeout 420 compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*' > $R/racecheck_$k.log 2>&1; echo "racecheck $k rc $? at $(at)" > $R/racecheck_$k.rc ) &
done
( KILN_TEST_KERNELS=per_token_fp8 timeout 420 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter="$F" > $R/memcheck_per_token_fp8.log 2>&1; echo "memcheck per_token_fp8 rc $? at $(at)" > $R/memcheck_per_token_fp8.rc ) &
wait
echo "done after $(at)"; cat $R/*.rc; cat $R/sass_scan.txt | tail -3
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
