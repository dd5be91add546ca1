#!/usr/bin/env bash
# Issue 9, run 22: correctness of v15 (divide<true> without the clamp where the scale bounds the
# quotient, bf16 pairs unpacked by shift and mask, the sets retuned by run 21). Every test_gpu test
# of every one-GPU kernel (the templates shared by all changed), test_device_math, memcheck and
# racecheck of the quantisers, the Python suite.
set -u
S=build-stage/v15
export PATH=/usr/local/cuda/bin:$PATH PYTHONDONTWRITEBYTECODE=1
T0=$(date +%s)
R=$OUT/r; mkdir -p $R; cp $S/commit.txt $S/c.sh $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
K7=per_token_fp8,rms_norm_per_token_fp8,fused_add_rms_norm_per_token_fp8,per_token_group_fp8,rms_norm_group_fp8,fused_add_rms_norm_group_fp8,silu_mul_group_fp8
KO=rms_norm,rms_norm_fp8,fused_add_rms_norm,fused_add_rms_norm_fp8,silu_mul_fp8
timeout 90 $S/test_device_math > $R/device_math.log 2>&1; echo "test_device_math rc $?" > $R/device_math.rc
( KILN_TEST_KERNELS=$K7 timeout 470 $S/test_gpu --gtest_output=json:$R/gpu7.json > $R/gpu7.log 2>&1; echo "test_gpu (the seven) rc $?" > $R/gpu7.rc ) &
( KILN_TEST_KERNELS=$KO timeout 470 $S/test_gpu --gtest_output=json:$R/gpuo.json > $R/gpuo.log 2>&1; echo "test_gpu (the other five) rc $?" > $R/gpuo.rc ) &
( KILN_TEST_KERNELS=$K7 timeout 330 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*GroupQuantisers*:*Null*:*InOut*:*EveryConfigSet*' > $R/memcheck.log 2>&1; echo "memcheck rc $?" > $R/memcheck.rc
  KILN_TEST_KERNELS=$K7 timeout 100 compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*GroupQuantisersMatchTheReferenceThroughTheGenericKernel*' > $R/racecheck.log 2>&1; echo "racecheck rc $?" > $R/racecheck.rc ) &
( KILN_LIBRARY=$PWD/$S/libkiln.so PYTHONPATH=$PWD/python timeout 300 python3 -m pytest python/tests -q -p no:cacheprovider > $R/python.log 2>&1; echo "pytest rc $?" > $R/python.rc ) &
wait
echo "tests done after $(( $(date +%s) - T0 )) s"
cat $R/*.rc; tail -n 4 $R/device_math.log; grep -E "^\[ *(FAILED|SKIPPED) |^\[  PASSED|tests ran" $R/gpu7.log $R/gpuo.log | head -30; grep -B2 -A12 "Failure" $R/gpu7.log $R/gpuo.log $R/device_math.log | head -40
grep -E "ERROR SUMMARY|RACECHECK SUMMARY|^\[  (PASSED|FAILED) " $R/memcheck.log $R/racecheck.log | head; tail -n 3 $R/python.log
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
