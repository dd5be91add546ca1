#!/usr/bin/env bash
# Issue 9, run 23: correctness of v16 = v15 + the paired columns of the group kinds (only their
# code differs from v15's, whose every test ran in run 22): every test_gpu test of the three
# rms_norm.cuh group kernels and of silu_mul_group_fp8, test_device_math, memcheck and racecheck of
# the group quantisers, the Python suite on this library.
set -u
S=build-stage/v16
export PATH=/usr/local/cuda/bin:$PATH PYTHONDONTWRITEBYTECODE=1
T0=$(date +%s)
R=$OUT/r; mkdir -p $R; cp $S/commit.txt $S/c.sh $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
KG=per_token_group_fp8,rms_norm_group_fp8,fused_add_rms_norm_group_fp8,silu_mul_group_fp8
timeout 90 $S/test_device_math > $R/device_math.log 2>&1; echo "test_device_math rc $?" > $R/device_math.rc
( KILN_TEST_KERNELS=$KG timeout 400 $S/test_gpu --gtest_output=json:$R/gpu.json > $R/gpu.log 2>&1; echo "test_gpu (group kernels) rc $?" > $R/gpu.rc ) &
( KILN_TEST_KERNELS=$KG timeout 300 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*GroupQuantisers*:*Null*:*InOut*:*EveryConfigSet*' > $R/memcheck.log 2>&1; echo "memcheck rc $?" > $R/memcheck.rc
  KILN_TEST_KERNELS=$KG timeout 90 compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSetMatchesTheReference*' > $R/racecheck.log 2>&1; echo "racecheck rc $?" > $R/racecheck.rc ) &
( KILN_LIBRARY=$PWD/$S/libkiln.so PYTHONPATH=$PWD/python timeout 300 python3 -m pytest python/tests -q -p no:cacheprovider > $R/python.log 2>&1; echo "pytest rc $?" > $R/python.rc ) &
wait
echo "tests done after $(( $(date +%s) - T0 )) s"
cat $R/*.rc; tail -n 4 $R/device_math.log; grep -E "^\[ *(FAILED|SKIPPED) |^\[  PASSED|tests ran" $R/gpu.log | head -30; grep -B2 -A12 "Failure" $R/gpu.log $R/device_math.log | head -40
grep -E "ERROR SUMMARY|RACECHECK SUMMARY|^\[  (PASSED|FAILED) " $R/memcheck.log $R/racecheck.log | head; tail -n 3 $R/python.log
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
