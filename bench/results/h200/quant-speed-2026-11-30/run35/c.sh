#!/usr/bin/env bash
# Issue 9 session 5, run 35: v19 = weight_at_use as a schedule switch, the four norm quantisers'
# last two buckets retuned (runs 33/34, with a new bs8192). Every test_gpu test of every one-GPU
# kernel (one process per kernel, so the CPU references of the 8192-row buckets run side by
# side), test_device_math, memcheck of the four, racecheck; then kiln-bench of the four on v17
# (b679021, main's kernels before) and v19, alone on the GPU.
set -u
S=build-stage/v19
export PATH=/usr/local/cuda/bin:$PATH PYTHONDONTWRITEBYTECODE=1
T0=$(date +%s); left() { local l=$(( 540 - ($(date +%s) - T0) )); [ $l -lt 5 ] && l=5; [ $l -gt $1 ] && l=$1; echo $l; }
R=$OUT/r; mkdir -p $R; cp $S/commit.txt $S/c.sh $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
K4="rms_norm_per_token_fp8 fused_add_rms_norm_per_token_fp8 rms_norm_group_fp8 fused_add_rms_norm_group_fp8"
KO="per_token_fp8 per_token_group_fp8 silu_mul_group_fp8 rms_norm rms_norm_fp8 fused_add_rms_norm fused_add_rms_norm_fp8 silu_mul_fp8"
timeout 90 $S/test_device_math > $R/device_math.log 2>&1; echo "test_device_math rc $?" > $R/device_math.rc
for k in $K4 $KO; do
  ( KILN_TEST_KERNELS=$k timeout 330 $S/test_gpu --gtest_output=json:$R/gpu_$k.json > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $?" > $R/gpu_$k.rc ) &
done
for k in $K4; do
  ( KILN_TEST_KERNELS=$k timeout 330 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*GroupQuantisers*:*Null*:*InOut*:*EveryConfigSet*' > $R/memcheck_$k.log 2>&1; echo "memcheck $k rc $?" > $R/memcheck_$k.rc ) &
done
( KILN_TEST_KERNELS=${K4// /,} timeout 150 compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*GroupQuantisersMatchTheReferenceThroughTheGenericKernel*' > $R/racecheck.log 2>&1; echo "racecheck rc $?" > $R/racecheck.rc
  KILN_TEST_KERNELS=rms_norm_per_token_fp8 timeout 150 compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*' > $R/racecheck_sets.log 2>&1; echo "racecheck (rms_norm_per_token_fp8's sets) rc $?" > $R/racecheck_sets.rc ) &
wait
echo "tests done after $(( $(date +%s) - T0 )) s"
cat $R/*.rc; tail -n 3 $R/device_math.log; grep -hE "^\[ *(FAILED|SKIPPED) |^\[  PASSED" $R/gpu_*.log | sort | uniq -c | head -30; grep -B2 -A12 "Failure" $R/gpu_*.log $R/device_math.log | head -40
grep -E "ERROR SUMMARY|RACECHECK SUMMARY|^\[  (PASSED|FAILED) " $R/memcheck_*.log $R/racecheck*.log | head -20
TOK=1,32,1024,4096,16384,65536
for k in $K4; do
  for b in v17 v19; do
    timeout $(left 40) build-stage/$b/kiln-bench --kernel $k --tokens $TOK --out-dir $R/bench-$b > $R/bench_${b}_$k.log 2>&1; echo "kiln-bench $b $k rc $? at $(( $(date +%s) - T0 )) s"
  done
done
for b in v17 v19; do echo "== $b"; grep -hE "^== Summary|reach >=|launch-bound|slower than its generic" $R/bench-$b/summary_*.txt; done
echo "all done after $(( $(date +%s) - T0 )) s"
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
