#!/usr/bin/env bash
# Issue 9 session 13, run 95: the library of main's templates (5d7e3db) with runs 93-94's configs
# (new5). test_gpu of the four add kinds; memcheck (*EveryConfigSet*:*Programmatic*) of all four
# (the staged small-bucket instances and fixed kernels are new); racecheck (*EveryConfigSet*) of the
# per-token fused kind and fused_add_rms_norm_fp8 (not run on new4). Ten processes at once.
set -u
S=build-stage/b95
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R; cp $S/c95.sh $S/commit.txt $R/
tar -C $S -xJf $S/bins.txz
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
( cuobjdump -sass $S/libkiln.so > /tmp/sass.txt 2>&1; python3 bench/results/h200/quant-speed-2026-12-01/run41/sass_scan.py /tmp/sass.txt > $R/sass_scan.txt
  grep -c "Function :" /tmp/sass.txt > $R/sass_functions.txt; rm -f /tmp/sass.txt ) &
ADD="fused_add_rms_norm_group_fp8 fused_add_rms_norm_per_token_fp8 fused_add_rms_norm fused_add_rms_norm_fp8"
for k in $ADD; do
  ( KILN_TEST_KERNELS=$k timeout 480 $S/test_gpu --gtest_output=json:$R/gpu_$k.json > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(at)" > $R/gpu_$k.rc ) &
  ( KILN_TEST_KERNELS=$k timeout 480 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*:*Programmatic*' > $R/memcheck_$k.log 2>&1; echo "memcheck $k rc $? at $(at)" > $R/memcheck_$k.rc ) &
done
for k in fused_add_rms_norm_per_token_fp8 fused_add_rms_norm_fp8; do
  ( KILN_TEST_KERNELS=$k timeout 480 compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*' > $R/racecheck_$k.log 2>&1; echo "racecheck $k rc $? at $(at)" > $R/racecheck_$k.rc ) &
done
wait
echo "tests done after $(at)"; cat $R/*.rc; cat $R/sass_scan.txt | head -3; cat $R/sass_functions.txt
for f in $R/gpu_*.log; do echo "$(basename $f): $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' $f | tr '\n' ' ')"; done
for f in $R/memcheck_*.log $R/racecheck_*.log; do echo "$(basename $f): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1)"; done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
