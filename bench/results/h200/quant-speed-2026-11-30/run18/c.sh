#!/usr/bin/env bash
# Issue 9, run 18: the retuned sets (run 17) on the templates of c4c17a7. Correctness of the seven
# quantisers on this build (test_device_math, every GPU test of them, memcheck, racecheck, the
# Python suite), then kiln-bench of main before this session (v10, run 13's build) and this
# build (v14) in the same run, then compare_torch (--quick) of this build, alone on the GPU.
set -u
S=build-stage/v14; OLD=build-stage/v10
export PATH=/usr/local/cuda/bin:$PATH PYTHONDONTWRITEBYTECODE=1
T0=$(date +%s); left() { local l=$(( 575 - ($(date +%s) - T0) )); [ $l -lt 5 ] && l=5; [ $l -gt $1 ] && l=$1; echo $l; }
R=$OUT/r; mkdir -p $R; cp $S/commit.txt $S/c.sh $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
K=per_token_fp8,rms_norm_per_token_fp8,fused_add_rms_norm_per_token_fp8,per_token_group_fp8,rms_norm_group_fp8,fused_add_rms_norm_group_fp8,silu_mul_group_fp8
timeout 60 $S/test_device_math > $R/device_math.log 2>&1; echo "test_device_math rc $?" > $R/device_math.rc
( KILN_TEST_KERNELS=$K timeout $(left 250) $S/test_gpu --gtest_output=json:$R/gpu.json > $R/gpu.log 2>&1; echo "test_gpu rc $?" > $R/gpu.rc ) &
( KILN_TEST_KERNELS=$K timeout $(left 200) compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*GroupQuantisers*:*Null*:*InOut*:*EveryConfigSet*' > $R/memcheck.log 2>&1; echo "memcheck rc $?" > $R/memcheck.rc
  KILN_TEST_KERNELS=$K timeout $(left 60) compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*GroupQuantisersMatchTheReferenceThroughTheGenericKernel*' > $R/racecheck.log 2>&1; echo "racecheck rc $?" > $R/racecheck.rc ) &
( KILN_LIBRARY=$PWD/$S/libkiln.so PYTHONPATH=$PWD/python timeout $(left 220) python3 -m pytest python/tests -q -p no:cacheprovider > $R/python.log 2>&1; echo "pytest rc $?" > $R/python.rc ) &
wait
echo "tests done after $(( $(date +%s) - T0 )) s"
cat $R/*.rc; tail -n 3 $R/device_math.log; grep -E "^\[ *(OK|FAILED|SKIPPED) " $R/gpu.log | head -30; grep -B2 -A12 "Failure" $R/gpu.log $R/device_math.log | head -40
grep -E "ERROR SUMMARY|RACECHECK SUMMARY|^\[  (PASSED|FAILED) " $R/memcheck.log $R/racecheck.log | head; tail -n 4 $R/python.log
TOK=1,32,1024,16384,65536
for k in ${K//,/ }; do
  for b in v10 v14; do
    timeout $(left 40) build-stage/$b/kiln-bench --kernel $k --tokens $TOK --out-dir $R/bench-$b > $R/bench_${b}_$k.log 2>&1; echo "kiln-bench $b $k rc $?"
  done
done
for b in v10 v14; do echo "== $b"; grep -hE "^== Summary|reach >=|launch-bound|slower than its generic" $R/bench-$b/summary_*.txt; done
echo "bench done after $(( $(date +%s) - T0 )) s"
for k in ${K//,/ }; do
  PYTHONPATH=$PWD/python timeout $(left 30) python3 bench/compare_torch.py --lib $S/libkiln.so --kernel $k --quick --time-limit 18 --out $R/torch > $R/torch_$k.log 2>&1; echo "compare_torch $k rc $?"
done
grep -hE "geomean|minimum|min " $R/torch/*summary*.txt | head -40
echo "all done after $(( $(date +%s) - T0 )) s"
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
