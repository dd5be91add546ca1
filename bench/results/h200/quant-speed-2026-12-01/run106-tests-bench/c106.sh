#!/usr/bin/env bash
# Issue 9 session 15, run 106: the library of run 105's configs (new7: the DRAM buckets of
# fused_add_rms_norm_per_token_fp8 and fused_add_rms_norm_group_fp8 retuned under 300 ms warm-up).
# 1. test_gpu, memcheck (*EveryConfigSet*:*Programmatic*) and racecheck (*EveryConfigSet*) of the three
#    kinds whose configs run 105 wrote, nine processes at once;
# 2. kiln-bench, run 101's library (new6 = main at 529371a's device code) against new7, alternating,
#    bf16 and fp16, T = 8192-65536, the three kinds.
set -u
S=build-stage/b106; O=build-stage/b101
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp $S/c106.sh $S/commit.txt $R/
tar -C $S -xJf $S/bins.txz; tar -C $O -xJf $O/bins.txz
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
K="fused_add_rms_norm_per_token_fp8 fused_add_rms_norm_group_fp8 rms_norm_group_fp8"
for k in $K; do
  ( KILN_TEST_KERNELS=$k timeout 400 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*:*Programmatic*' > $R/memcheck_$k.log 2>&1; echo "memcheck $k rc $? at $(at)" > $R/memcheck_$k.rc ) &
  ( KILN_TEST_KERNELS=$k timeout 400 compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*' > $R/racecheck_$k.log 2>&1; echo "racecheck $k rc $? at $(at)" > $R/racecheck_$k.rc ) &
  ( KILN_TEST_KERNELS=$k timeout 400 $S/test_gpu --gtest_output=json:$R/gpu_$k.json > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(at)" > $R/gpu_$k.rc ) &
done
wait
echo "tests done after $(at)"; cat $R/*.rc
for f in $R/gpu_*.log; do echo "$(basename $f): $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' $f | tr '\n' ' ')"; done
for f in $R/memcheck_*.log $R/racecheck_*.log; do echo "$(basename $f): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1)"; done
tar -C $OUT -czf $OUT/r.tgz r
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv -lms 200 > $R/smi.csv 2>&1 &
SMI=$!
bin() { [ $1 = new7 ] && echo $S/kiln-bench || echo $O/kiln-bench; }
for d in bf16 fp16; do
  for k in $K; do
    left=$(( 560 - ($(date +%s) - T0) )); [ $left -lt 30 ] && break 2
    for v in new6 new7; do
      timeout 40 $(bin $v) --kernel $k --dtype $d --tokens 8192,16384,32768,65536 --max-seconds 0.3 --csv $R/bench/dram_${d}_${v}_$k.csv > $R/bench/log_dram_${d}_${v}_$k.txt 2>&1 || echo "kiln-bench $v $k $d rc $?"
    done
  done
  echo "dram $d at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
kill $SMI; gzip -f $R/smi.csv
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
