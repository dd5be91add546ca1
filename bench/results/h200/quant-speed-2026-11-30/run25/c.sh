#!/usr/bin/env bash
# Issue 9, run 25: v17 = v16 with the fused group kind unpaired again (the pairing cost it
# occupancy at h = 8192 in run 24), and the -Dkernels= dispatch guards. Every test_gpu test of
# every one-GPU kernel, test_device_math, memcheck and racecheck of the quantisers, the Python
# suite; then kiln-bench of the seven quantisers on v14 (615a9a8) and v17, alone on the GPU.
set -u
S=build-stage/v17
export PATH=/usr/local/cuda/bin:$PATH PYTHONDONTWRITEBYTECODE=1
T0=$(date +%s); left() { local l=$(( 420 - ($(date +%s) - T0) )); [ $l -lt 5 ] && l=5; [ $l -gt $1 ] && l=$1; echo $l; }
R=$OUT/r; mkdir -p $R; cp $S/commit.txt $S/c.sh $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
K7=per_token_fp8,rms_norm_per_token_fp8,fused_add_rms_norm_per_token_fp8,per_token_group_fp8,rms_norm_group_fp8,fused_add_rms_norm_group_fp8,silu_mul_group_fp8
KO=rms_norm,rms_norm_fp8,fused_add_rms_norm,fused_add_rms_norm_fp8,silu_mul_fp8
timeout 90 $S/test_device_math > $R/device_math.log 2>&1; echo "test_device_math rc $?" > $R/device_math.rc
( KILN_TEST_KERNELS=$K7 timeout 330 $S/test_gpu --gtest_output=json:$R/gpu7.json > $R/gpu7.log 2>&1; echo "test_gpu (the seven) rc $?" > $R/gpu7.rc ) &
( KILN_TEST_KERNELS=$KO timeout 330 $S/test_gpu --gtest_output=json:$R/gpuo.json > $R/gpuo.log 2>&1; echo "test_gpu (the other five) rc $?" > $R/gpuo.rc ) &
( KILN_TEST_KERNELS=$K7 timeout 240 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*GroupQuantisers*:*Null*:*InOut*:*EveryConfigSet*' > $R/memcheck.log 2>&1; echo "memcheck rc $?" > $R/memcheck.rc
  KILN_TEST_KERNELS=$K7 timeout 80 compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*GroupQuantisersMatchTheReferenceThroughTheGenericKernel*' > $R/racecheck.log 2>&1; echo "racecheck rc $?" > $R/racecheck.rc ) &
( KILN_LIBRARY=$PWD/$S/libkiln.so PYTHONPATH=$PWD/python timeout 200 python3 -m pytest python/tests -q -p no:cacheprovider > $R/python.log 2>&1; echo "pytest rc $?" > $R/python.rc ) &
wait
echo "tests done after $(( $(date +%s) - T0 )) s"
cat $R/*.rc; tail -n 4 $R/device_math.log; grep -E "^\[ *(FAILED|SKIPPED) |^\[  PASSED|tests ran" $R/gpu7.log $R/gpuo.log | head -30; grep -B2 -A12 "Failure" $R/gpu7.log $R/gpuo.log $R/device_math.log | head -40
grep -E "ERROR SUMMARY|RACECHECK SUMMARY|^\[  (PASSED|FAILED) " $R/memcheck.log $R/racecheck.log | head; tail -n 3 $R/python.log
TOK=1,32,1024,16384,65536
for k in ${K7//,/ }; do
  for b in v14 v17; do
    timeout $(left 30) build-stage/$b/kiln-bench --kernel $k --tokens $TOK --out-dir $R/bench-$b > $R/bench_${b}_$k.log 2>&1; echo "kiln-bench $b $k rc $? at $(( $(date +%s) - T0 )) s"
  done
done
for b in v14 v17; do echo "== $b"; grep -hE "^== Summary|reach >=|launch-bound|slower than its generic" $R/bench-$b/summary_*.txt; done
echo "all done after $(( $(date +%s) - T0 )) s"
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
