#!/usr/bin/env bash
# Issue 9 session 11, run 82: the library with run 81's rms_norm_group_fp8 configs (new2).
# 1. test_gpu, memcheck and racecheck of rms_norm_group_fp8.
# 2. kiln-bench of rms_norm_group_fp8: v32 (main), new (run 80's) and new2, alternating, DRAM sizes
#    two passes, then T <= 32 (new2's small buckets are new's).
set -u
S=build-stage/b82
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp $S/c82.sh $S/commit.txt $R/
tar -C $S -xJf $S/bins.txz; tar -C $S -xJf build-stage/b80/bins.txz
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
k=rms_norm_group_fp8
F='*EveryConfigSet*:*Programmatic*:*Generic*:*Null*:*InOut*:*GroupQuantisers*'
( KILN_TEST_KERNELS=$k timeout 400 $S/test_gpu --gtest_output=json:$R/gpu_$k.json > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(at)" > $R/gpu.rc ) &
( KILN_TEST_KERNELS=$k timeout 400 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter="$F" > $R/memcheck_$k.log 2>&1; echo "memcheck $k rc $? at $(at)" > $R/memcheck.rc ) &
( KILN_TEST_KERNELS=$k timeout 400 compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*' > $R/racecheck_$k.log 2>&1; echo "racecheck $k rc $? at $(at)" > $R/racecheck.rc ) &
wait; cat $R/*.rc; grep -E '^\[  (PASSED|FAILED)' $R/gpu_$k.log; grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $R/memcheck_$k.log $R/racecheck_$k.log | tail -2
tar -C $OUT -czf $OUT/r.tgz r
for i in 1 2; do for v in v32 new new2; do
  timeout 40 $S/kiln-bench-$v --kernel $k --tokens 16384,32768,65536 --max-seconds 0.3 --csv $R/bench/dram_${i}_${v}_$k.csv > $R/bench/log_dram_${i}_${v}_$k.txt 2>&1 || echo "kiln-bench $v rc $?"
done; done
for v in v32 new2; do
  timeout 40 $S/kiln-bench-$v --kernel $k --tokens 1,2,4,8,16,32,1024,2048,4096 --max-seconds 0.2 --ceiling-gib 1 --csv $R/bench/t32_${v}_$k.csv > $R/bench/log_t32_${v}_$k.txt 2>&1 || echo "kiln-bench $v rc $?"
done
echo "done at $(at)"
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
