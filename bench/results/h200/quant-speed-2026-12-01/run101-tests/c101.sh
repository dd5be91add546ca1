#!/usr/bin/env bash
# Issue 9 session 14, run 101: the library of this tree (new6: the per-token norm kinds' maximum
# taken with the sum of squares in their fixed kernels, the single-rounding value as (v*w)*rinv in
# every norm kind, a fixed kernel for the unstaged per-token fused kind, run 100's configs).
# test_gpu of the nine kinds of templates/rms_norm.cuh; memcheck (*EveryConfigSet*:*Programmatic*)
# and racecheck (*EveryConfigSet*) of the two per-token norm kinds (their reduction changed); the
# SASS scan (PDL wait before the first global load). Thirteen processes at once.
set -u
S=build-stage/b101
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R; cp $S/c101.sh $S/commit.txt $R/
tar -C $S -xJf $S/bins.txz
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
( cuobjdump -sass $S/libkiln.so > /tmp/sass.txt 2>&1; python3 bench/results/h200/quant-speed-2026-12-01/run41/sass_scan.py /tmp/sass.txt > $R/sass_scan.txt
  grep -c "Function :" /tmp/sass.txt > $R/sass_functions.txt; rm -f /tmp/sass.txt ) &
PT="rms_norm_per_token_fp8 fused_add_rms_norm_per_token_fp8"
for k in $PT; do
  ( KILN_TEST_KERNELS=$k timeout 540 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*:*Programmatic*' > $R/memcheck_$k.log 2>&1; echo "memcheck $k rc $? at $(at)" > $R/memcheck_$k.rc ) &
  ( KILN_TEST_KERNELS=$k timeout 540 compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*' > $R/racecheck_$k.log 2>&1; echo "racecheck $k rc $? at $(at)" > $R/racecheck_$k.rc ) &
done
for k in $PT rms_norm rms_norm_fp8 fused_add_rms_norm fused_add_rms_norm_fp8 rms_norm_group_fp8 fused_add_rms_norm_group_fp8 per_token_fp8; do
  ( KILN_TEST_KERNELS=$k timeout 540 $S/test_gpu --gtest_output=json:$R/gpu_$k.json > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(at)" > $R/gpu_$k.rc ) &
done
wait
echo "tests done after $(at)"; cat $R/*.rc; cat $R/sass_scan.txt | head -3; cat $R/sass_functions.txt
for f in $R/gpu_*.log; do echo "$(basename $f): $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' $f | tr '\n' ' ')"; done
for f in $R/memcheck_*.log $R/racecheck_*.log; do echo "$(basename $f): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1)"; done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
