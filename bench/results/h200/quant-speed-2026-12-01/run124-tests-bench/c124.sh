#!/usr/bin/env bash
# Issue 9 session 18, run 124: the library of run 123's configs (b124: fused_add_rms_norm_group_fp8
# h = 5120 bs8192 staged, so it shares bs32's instance and has the fixed kernels) against main's
# (b122), kiln-bench alternating at h = 5120, T = 8192-65536 (bf16 and fp16 with the defaults, bf16
# with column-major scales); then test_gpu of the seven quantisers on b124, memcheck and racecheck of
# the kind whose dispatch changed.
set -u
X=build-stage/b124; M=build-stage/b122
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp $X/c124.sh $X/commit.txt $R/
for d in $X $M; do tar -C $d -xJf $d/bins.txz; done
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
k=fused_add_rms_norm_group_fp8
for dv in bf16:row_major fp16:row_major bf16:col_major_tma; do
  d=${dv%:*}; l=${dv#*:}
  for lib in main new main new; do
    left=$(( 200 - ($(date +%s) - T0) )); [ $left -lt 10 ] && break 2
    b=$X; [ $lib = main ] && b=$M
    n=$(ls $R/bench | grep -c "^${lib}_${d}_$l") || true
    timeout 40 $b/kiln-bench --kernel $k --dtype $d --hidden 5120 --tokens 8192,16384,32768,65536 --max-seconds 0.3 \
      --scale-layout $l --csv $R/bench/${lib}_${d}_${l}_$n.csv > $R/bench/log_${lib}_${d}_${l}_$n.txt 2>&1 || echo "kiln-bench $lib $d $l rc $?"
  done
done
echo "bench done at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
for q in per_token_fp8 per_token_group_fp8 rms_norm_per_token_fp8 fused_add_rms_norm_per_token_fp8 rms_norm_group_fp8 \
         fused_add_rms_norm_group_fp8 silu_mul_group_fp8; do
  ( KILN_TEST_KERNELS=$q timeout 330 $X/test_gpu > $R/gpu_$q.log 2>&1; echo "test_gpu $q rc $? at $(at)" > $R/gpu_$q.rc ) &
done
( KILN_TEST_KERNELS=$k timeout 330 compute-sanitizer --tool memcheck --error-exitcode 99 $X/test_gpu --gtest_filter='*EveryConfigSet*:*Programmatic*' > $R/memcheck_$k.log 2>&1; echo "memcheck $k rc $? at $(at)" > $R/memcheck_$k.rc ) &
( KILN_TEST_KERNELS=$k timeout 330 compute-sanitizer --tool racecheck --error-exitcode 99 $X/test_gpu --gtest_filter='*EveryConfigSet*' > $R/racecheck_$k.log 2>&1; echo "racecheck $k rc $? at $(at)" > $R/racecheck_$k.rc ) &
wait; echo "tests done after $(at)"; cat $R/*.rc
for f in $R/gpu_*.log; do echo "$(basename $f): $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' $f | tr '\n' ' ')"; done
for f in $R/memcheck_*.log $R/racecheck_*.log; do echo "$(basename $f): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1)"; done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
