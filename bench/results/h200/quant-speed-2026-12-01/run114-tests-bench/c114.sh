#!/usr/bin/env bash
# Issue 9 session 16, run 114: the library of run 113's configs (fold2: fused_add_rms_norm_group_fp8
# h = 4096 bs8192 -> 512 threads staged, which shares the bs1 instance). test_gpu, memcheck
# (*EveryConfigSet*:*Programmatic*) and racecheck (*EveryConfigSet*) of that kind, at once; then
# kiln-bench new8 (run 109), fold (run 110) and fold2, alternating, that kind at T = 8192-65536.
set -u
S=build-stage/b114; F=build-stage/b110; O=build-stage/b109
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp $S/c114.sh $S/commit.txt $R/
for d in $S $F $O; do tar -C $d -xJf $d/bins.txz; done
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
k=fused_add_rms_norm_group_fp8
( KILN_TEST_KERNELS=$k timeout 330 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*:*Programmatic*' > $R/memcheck_$k.log 2>&1; echo "memcheck $k rc $? at $(at)" > $R/memcheck_$k.rc ) &
( KILN_TEST_KERNELS=$k timeout 330 compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*' > $R/racecheck_$k.log 2>&1; echo "racecheck $k rc $? at $(at)" > $R/racecheck_$k.rc ) &
( KILN_TEST_KERNELS=$k timeout 330 $S/test_gpu --gtest_output=json:$R/gpu_$k.json > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(at)" > $R/gpu_$k.rc ) &
wait
echo "tests done after $(at)"; cat $R/*.rc
for f in $R/gpu_*.log; do echo "$(basename $f): $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' $f | tr '\n' ' ')"; done
for f in $R/memcheck_*.log $R/racecheck_*.log; do echo "$(basename $f): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1)"; done
tar -C $OUT -czf $OUT/r.tgz r
bin() { case $1 in fold2) echo $S/kiln-bench;; fold) echo $F/kiln-bench;; *) echo $O/kiln-bench;; esac; }
for d in bf16 fp16; do
  for v in new8 fold fold2; do
    left=$(( 540 - ($(date +%s) - T0) )); [ $left -lt 30 ] && break 2
    timeout 30 $(bin $v) --kernel $k --dtype $d --tokens 8192,16384,32768,65536 --max-seconds 0.3 --csv $R/bench/dram_${d}_${v}_$k.csv > $R/bench/log_dram_${d}_${v}_$k.txt 2>&1 || echo "kiln-bench $v $d rc $?"
  done
  echo "dram $d at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
