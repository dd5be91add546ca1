#!/usr/bin/env bash
# Issue 9 session 16, run 110: the library of the Product quotient (the norm quantisers' fixed
# kernels form y / s as (v * w) * (rinv / s)), a -Dkernels= build (fold) of the four norm
# quantisers and of per_token_fp8 and per_token_group_fp8 (same float operations, PTX not
# byte-identical). test_gpu, memcheck (*EveryConfigSet*:*Programmatic*) and racecheck
# (*EveryConfigSet*) of the six, and test_device_math (with the new Product test), all at once.
set -u
S=build-stage/b110; O=build-stage/b109
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp $S/c110.sh $S/commit.txt $R/
tar -C $S -xJf $S/bins.txz; tar -C $O -xJf $O/bins.txz
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
K="rms_norm_per_token_fp8 fused_add_rms_norm_per_token_fp8 rms_norm_group_fp8 fused_add_rms_norm_group_fp8 per_token_fp8 per_token_group_fp8"
for k in $K; do
  ( KILN_TEST_KERNELS=$k timeout 480 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*:*Programmatic*' > $R/memcheck_$k.log 2>&1; echo "memcheck $k rc $? at $(at)" > $R/memcheck_$k.rc ) &
  ( KILN_TEST_KERNELS=$k timeout 480 compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*' > $R/racecheck_$k.log 2>&1; echo "racecheck $k rc $? at $(at)" > $R/racecheck_$k.rc ) &
  ( KILN_TEST_KERNELS=$k timeout 480 $S/test_gpu --gtest_output=json:$R/gpu_$k.json > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(at)" > $R/gpu_$k.rc ) &
done
( timeout 300 $S/test_device_math --gtest_output=json:$R/device_math.json > $R/device_math.log 2>&1; echo "test_device_math rc $? at $(at)" > $R/device_math.rc ) &
wait
echo "tests done after $(at)"; cat $R/*.rc
grep -E "^\[  (PASSED|FAILED|SKIPPED)|^Product|  OK|FAILED  \]" $R/device_math.log
for f in $R/gpu_*.log; do echo "$(basename $f): $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' $f | tr '\n' ' ')"; done
for f in $R/memcheck_*.log $R/racecheck_*.log; do echo "$(basename $f): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1)"; done
tar -C $OUT -czf $OUT/r.tgz r
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
