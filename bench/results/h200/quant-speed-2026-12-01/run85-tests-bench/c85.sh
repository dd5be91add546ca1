#!/usr/bin/env bash
# Issue 9 session 11, run 85: the library with run 84's configs (new3).
# 1. test_gpu of per_token_group_fp8 and silu_mul_group_fp8; memcheck of their config instances.
# 2. kiln-bench of the two, main (v32) against new3: T = 128..8192 and the DRAM sizes, one pass.
set -u
S=build-stage/b85
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp $S/c85.sh $S/commit.txt $R/
tar -C $S -xJf $S/bins.txz; tar -C build-stage/b80 -xJf build-stage/b80/bins.txz
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
for k in per_token_group_fp8 silu_mul_group_fp8; do
  ( KILN_TEST_KERNELS=$k timeout 200 $S/test_gpu --gtest_output=json:$R/gpu_$k.json > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(at)" > $R/gpu_$k.rc ) &
  ( KILN_TEST_KERNELS=$k timeout 200 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*:*GroupQuantisersMatchTheReferenceOnEveryTunedSet*' > $R/memcheck_$k.log 2>&1; echo "memcheck $k rc $? at $(at)" > $R/memcheck_$k.rc ) &
done
wait; cat $R/*.rc; grep -h -E '^\[  (PASSED|FAILED)' $R/gpu_*.log; grep -h -E 'ERROR SUMMARY' $R/memcheck_*.log
tar -C $OUT -czf $OUT/r.tgz r
for k in per_token_group_fp8 silu_mul_group_fp8; do
  for v in v32 new3; do
    b=build-stage/b80/kiln-bench-$v; [ $v = new3 ] && b=$S/kiln-bench-new3
    timeout 40 $b --kernel $k --tokens 128,256,512,1024,2048,4096,8192,16384,32768,65536 --max-seconds 0.2 --csv $R/bench/all_${v}_$k.csv > $R/bench/log_all_${v}_$k.txt 2>&1 || echo "kiln-bench $v $k rc $?"
  done
done
echo "done at $(at)"
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
