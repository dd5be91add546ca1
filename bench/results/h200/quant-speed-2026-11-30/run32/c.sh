#!/usr/bin/env bash
# Issue 9 session 4, run 32: v18 (ea09b60: the norm quantisers read the weight where they use it
# at 32 or more values a thread and keep per-token values only up to 32; runs 30 and 31's configs).
# kiln-bench of the seven quantisers and of rms_norm / fused_add_rms_norm on v17 (b679021) and
# v18, alone on the GPU; then every test_gpu test of the twelve one-GPU kernels,
# test_device_math, memcheck and racecheck of the quantisers, the Python suite.
set -u
S=build-stage/v18
export PATH=/usr/local/cuda/bin:$PATH PYTHONDONTWRITEBYTECODE=1
T0=$(date +%s); left() { local l=$(( 490 - ($(date +%s) - T0) )); [ $l -lt 5 ] && l=5; [ $l -gt $1 ] && l=$1; echo $l; }
R=$OUT/r; mkdir -p $R; cp $S/commit.txt $S/c.sh $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
K7=per_token_fp8,rms_norm_per_token_fp8,fused_add_rms_norm_per_token_fp8,per_token_group_fp8,rms_norm_group_fp8,fused_add_rms_norm_group_fp8,silu_mul_group_fp8
KO=rms_norm,rms_norm_fp8,fused_add_rms_norm,fused_add_rms_norm_fp8,silu_mul_fp8
TOK=1,32,1024,16384,65536
for k in ${K7//,/ } rms_norm fused_add_rms_norm; do
  for b in v17 v18; do
    timeout $(left 20) build-stage/$b/kiln-bench --kernel $k --tokens $TOK --out-dir $R/bench-$b > $R/bench_${b}_$k.log 2>&1; echo "kiln-bench $b $k rc $? at $(( $(date +%s) - T0 )) s"
  done
done
timeout 60 $S/test_device_math > $R/device_math.log 2>&1; echo "test_device_math rc $?" > $R/device_math.rc
( KILN_TEST_KERNELS=$K7 timeout $(left 330) $S/test_gpu --gtest_output=json:$R/gpu7.json > $R/gpu7.log 2>&1; echo "test_gpu (the seven) rc $?" > $R/gpu7.rc ) &
( KILN_TEST_KERNELS=$KO timeout $(left 330) $S/test_gpu --gtest_output=json:$R/gpuo.json > $R/gpuo.log 2>&1; echo "test_gpu (the other five) rc $?" > $R/gpuo.rc ) &
( KILN_TEST_KERNELS=$K7 timeout $(left 240) compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*GroupQuantisers*:*Null*:*InOut*:*EveryConfigSet*' > $R/memcheck.log 2>&1; echo "memcheck rc $?" > $R/memcheck.rc
  KILN_TEST_KERNELS=$K7 timeout $(left 80) compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*GroupQuantisersMatchTheReferenceThroughTheGenericKernel*' > $R/racecheck.log 2>&1; echo "racecheck rc $?" > $R/racecheck.rc ) &
( KILN_LIBRARY=$PWD/$S/libkiln.so PYTHONPATH=$PWD/python timeout $(left 200) python3 -m pytest python/tests -q -p no:cacheprovider > $R/python.log 2>&1; echo "pytest rc $?" > $R/python.rc ) &
wait
echo "tests done after $(( $(date +%s) - T0 )) s"
cat $R/*.rc; tail -n 4 $R/device_math.log; grep -E "^\[ *(FAILED|SKIPPED) |^\[  PASSED|tests ran" $R/gpu7.log $R/gpuo.log | head -30; grep -B2 -A12 "Failure" $R/gpu7.log $R/gpuo.log $R/device_math.log | head -40
grep -E "ERROR SUMMARY|RACECHECK SUMMARY|^\[  (PASSED|FAILED) " $R/memcheck.log $R/racecheck.log | head; tail -n 3 $R/python.log
for b in v17 v18; do echo "== $b"; grep -hE "^== Summary|reach >=|launch-bound|slower than its generic" $R/bench-$b/summary_*.txt; done
echo "all done after $(( $(date +%s) - T0 )) s"
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
