#!/usr/bin/env bash
# Issue 9, run 16: the dynamic quantisers divide with one reciprocal per scale and a Markstein
# correction (bit-equal to IEEE: test_device_math), the per-token norm kinds keep their values
# in registers, group scales are stored inline (packed padding out of line) and the group
# index is a shift. Correctness of the seven quantisers on this build (test_device_math, every
# GPU test of them, memcheck and racecheck), then kiln-bench of main's build (v10, run 13's)
# and this one (v12) in the same run, alone on the GPU.
set -u
S=build-stage/v12; OLD=build-stage/v10
export PATH=/usr/local/cuda/bin:$PATH PYTHONDONTWRITEBYTECODE=1
T0=$(date +%s); left() { local l=$(( 570 - ($(date +%s) - T0) )); [ $l -lt 5 ] && l=5; [ $l -gt $1 ] && l=$1; echo $l; }
R=$OUT/r; mkdir -p $R; cp $S/commit.txt $S/c.sh $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
K=per_token_fp8,rms_norm_per_token_fp8,fused_add_rms_norm_per_token_fp8,per_token_group_fp8,rms_norm_group_fp8,fused_add_rms_norm_group_fp8,silu_mul_group_fp8
timeout 120 $S/test_device_math > $R/device_math.log 2>&1; echo "test_device_math rc $?" > $R/device_math.rc
( KILN_TEST_KERNELS=$K timeout $(left 250) $S/test_gpu --gtest_output=json:$R/gpu.json > $R/gpu.log 2>&1; echo "test_gpu rc $?" > $R/gpu.rc ) &
( KILN_TEST_KERNELS=$K timeout $(left 240) compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*GroupQuantisers*:*Null*:*InOut*' > $R/memcheck.log 2>&1; echo "memcheck rc $?" > $R/memcheck.rc
  KILN_TEST_KERNELS=$K timeout $(left 100) compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*GroupQuantisersMatchTheReferenceThroughTheGenericKernel*' > $R/racecheck.log 2>&1; echo "racecheck rc $?" > $R/racecheck.rc ) &
wait
echo "tests done after $(( $(date +%s) - T0 )) s"
cat $R/*.rc; tail -n 5 $R/device_math.log; grep -E "^\[ *(OK|FAILED|SKIPPED) " $R/gpu.log | head -30; grep -B2 -A12 "Failure" $R/gpu.log $R/device_math.log | head -40
grep -E "ERROR SUMMARY|RACECHECK SUMMARY|^\[  (PASSED|FAILED) " $R/memcheck.log $R/racecheck.log | head
TOK=1,32,1024,16384,65536
for k in ${K//,/ }; do
  for b in v10 v12; do
    timeout $(left 40) build-stage/$b/kiln-bench --kernel $k --tokens $TOK --out-dir $R/bench-$b > $R/bench_${b}_$k.log 2>&1; echo "kiln-bench $b $k rc $?"
  done
done
for b in v10 v12; do echo "== $b"; grep -hE "^== Summary|reach >=|launch-bound|slower than its generic" $R/bench-$b/summary_*.txt; done
echo "all done after $(( $(date +%s) - T0 )) s"
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
