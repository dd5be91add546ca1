#!/usr/bin/env bash
# Issue 9 session 11, run 79 (the library of this session's template: the default options as
# constants in a second specialised kernel for rms_norm, rms_norm_fp8, rms_norm_per_token_fp8,
# per_token_group_fp8, rms_norm_group_fp8 and silu_mul_group_fp8).
# 1. SASS: kernels with a global load before their first PDL wait; the kernel count.
# 2. test_gpu, all twelve one-GPU kernels, one process each.
# 3. memcheck of the six kernels with a fixed kernel, racecheck of the three that split rows over clusters.
set -u
S=build-stage/b79
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R; cp $S/c79.sh $S/commit.txt $R/
tar -C $S -xJf $S/bins.txz
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
( cuobjdump -sass $S/libkiln.so > /tmp/sass.txt 2>&1; python3 bench/results/h200/quant-speed-2026-12-01/run41/sass_scan.py /tmp/sass.txt > $R/sass_scan.txt
  grep -c "Function :" /tmp/sass.txt > $R/sass_functions.txt; grep "Function :" /tmp/sass.txt | grep -c "Lb1E" >> $R/sass_functions.txt; rm -f /tmp/sass.txt ) &
KALL="fused_add_rms_norm_group_fp8 fused_add_rms_norm_per_token_fp8 rms_norm_group_fp8 rms_norm_per_token_fp8 per_token_fp8 per_token_group_fp8 silu_mul_group_fp8 fused_add_rms_norm fused_add_rms_norm_fp8 rms_norm rms_norm_fp8 silu_mul_fp8"
F='*EveryConfigSet*:*Programmatic*:*Generic*:*Null*:*InOut*:*GroupQuantisers*'
for k in $KALL; do
  ( KILN_TEST_KERNELS=$k timeout 480 $S/test_gpu --gtest_output=json:$R/gpu_$k.json > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(at)" > $R/gpu_$k.rc ) &
done
for k in rms_norm rms_norm_fp8 rms_norm_per_token_fp8 per_token_group_fp8 rms_norm_group_fp8 silu_mul_group_fp8; do
  ( KILN_TEST_KERNELS=$k timeout 480 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter="$F" > $R/memcheck_$k.log 2>&1; echo "memcheck $k rc $? at $(at)" > $R/memcheck_$k.rc ) &
done
for k in rms_norm_per_token_fp8 per_token_group_fp8 rms_norm_group_fp8; do
  ( KILN_TEST_KERNELS=$k timeout 480 compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*' > $R/racecheck_$k.log 2>&1; echo "racecheck $k rc $? at $(at)" > $R/racecheck_$k.rc ) &
done
wait
echo "done after $(at)"; cat $R/*.rc; cat $R/sass_scan.txt | head -3; cat $R/sass_functions.txt
for f in $R/gpu_*.log; do echo "$(basename $f): $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' $f | tr '\n' ' ')"; done
for f in $R/memcheck_*.log $R/racecheck_*.log; do echo "$(basename $f): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1)"; done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
