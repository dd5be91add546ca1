#!/usr/bin/env bash
# Issue 9 session 12, run 91: the library of this session's template (the add kinds' stage switch
# and their residual add two elements at a time) and run 89's configs (new4).
# 1. test_gpu, all twelve one-GPU kernels, one process each; memcheck and racecheck of the four
#    add kinds (the staged ones read shared memory); SASS: loads before the PDL wait.
# 2. kiln-bench of the four add kinds at DRAM sizes, main's library (new3, 28abcd2's device code)
#    against new4, alternating, bf16 and fp16.
set -u
S=build-stage/b91
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp $S/c91.sh $S/commit.txt $R/
tar -C $S -xJf $S/bins.txz; tar -C build-stage/b85 -xJf build-stage/b85/bins.txz
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
( cuobjdump -sass $S/libkiln.so > /tmp/sass.txt 2>&1; python3 bench/results/h200/quant-speed-2026-12-01/run41/sass_scan.py /tmp/sass.txt > $R/sass_scan.txt
  grep -c "Function :" /tmp/sass.txt > $R/sass_functions.txt; grep "Function :" /tmp/sass.txt | grep -c "Lb1E" >> $R/sass_functions.txt; rm -f /tmp/sass.txt ) &
ADD="fused_add_rms_norm_group_fp8 fused_add_rms_norm_per_token_fp8 fused_add_rms_norm fused_add_rms_norm_fp8"
KALL="$ADD rms_norm_group_fp8 rms_norm_per_token_fp8 per_token_fp8 per_token_group_fp8 silu_mul_group_fp8 rms_norm rms_norm_fp8 silu_mul_fp8"
F='*EveryConfigSet*:*Programmatic*:*Generic*:*Null*:*InOut*:*GroupQuantisers*'
for k in $KALL; do
  ( KILN_TEST_KERNELS=$k timeout 330 $S/test_gpu --gtest_output=json:$R/gpu_$k.json > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(at)" > $R/gpu_$k.rc ) &
done
for k in $ADD; do
  ( KILN_TEST_KERNELS=$k timeout 330 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter="$F" > $R/memcheck_$k.log 2>&1; echo "memcheck $k rc $? at $(at)" > $R/memcheck_$k.rc ) &
  ( KILN_TEST_KERNELS=$k timeout 330 compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*' > $R/racecheck_$k.log 2>&1; echo "racecheck $k rc $? at $(at)" > $R/racecheck_$k.rc ) &
done
wait
echo "tests done after $(at)"; cat $R/*.rc; cat $R/sass_scan.txt | head -3; cat $R/sass_functions.txt
for f in $R/gpu_*.log; do echo "$(basename $f): $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' $f | tr '\n' ' ')"; done
for f in $R/memcheck_*.log $R/racecheck_*.log; do echo "$(basename $f): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1)"; done
tar -C $OUT -czf $OUT/r.tgz r
for d in bf16 fp16; do
  for k in $ADD; do
    for v in new3 new4; do
      b=build-stage/b85/kiln-bench-new3; [ $v = new4 ] && b=$S/kiln-bench
      left=$(( 585 - ($(date +%s) - T0) )); [ $left -lt 20 ] && break 3
      timeout 30 $b --kernel $k --dtype $d --tokens 16384,32768,65536 --max-seconds 0.3 --csv $R/bench/dram_${d}_${v}_$k.csv > $R/bench/log_dram_${d}_${v}_$k.txt 2>&1 || echo "kiln-bench $v $k $d rc $?"
    done
  done
  echo "dram $d at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
