#!/usr/bin/env bash
# Issue 9 session 12, run 92: run 91's library (new4) again, fewer processes at once (run 91's
# twenty ran past their 330 s limit on the add kinds, slowed by the CPU references).
# 1. test_gpu of the four add kinds and rms_norm_group_fp8 (all tests); memcheck of the staged
#    kinds' tuned sets (per-token and group fused) and racecheck of the group fused kind's.
# 2. In what time is left: kiln-bench T <= 32 of the four add kinds (new3 against new4, bf16 and
#    fp16), then compare_torch of fused_add_rms_norm_per_token_fp8 fp16 at h = 8192.
set -u
S=build-stage/b91
export PATH=/usr/local/cuda/bin:$PATH PYTHONDONTWRITEBYTECODE=1
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp build-stage/b92/c92.sh $S/commit.txt $R/
tar -C $S -xJf $S/bins.txz; tar -C build-stage/b85 -xJf build-stage/b85/bins.txz
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
for k in fused_add_rms_norm_group_fp8 fused_add_rms_norm_per_token_fp8 fused_add_rms_norm fused_add_rms_norm_fp8 rms_norm_group_fp8; do
  ( KILN_TEST_KERNELS=$k timeout 330 $S/test_gpu --gtest_output=json:$R/gpu_$k.json > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(at)" > $R/gpu_$k.rc ) &
done
for k in fused_add_rms_norm_group_fp8 fused_add_rms_norm_per_token_fp8; do
  ( KILN_TEST_KERNELS=$k timeout 330 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*:*Programmatic*' > $R/memcheck_$k.log 2>&1; echo "memcheck $k rc $? at $(at)" > $R/memcheck_$k.rc ) &
done
( k=fused_add_rms_norm_group_fp8; KILN_TEST_KERNELS=$k timeout 330 compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*' > $R/racecheck_$k.log 2>&1; echo "racecheck $k rc $? at $(at)" > $R/racecheck_$k.rc ) &
wait
echo "tests done after $(at)"; cat $R/*.rc
for f in $R/gpu_*.log; do echo "$(basename $f): $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' $f | tr '\n' ' ')"; done
for f in $R/memcheck_*.log $R/racecheck_*.log; do echo "$(basename $f): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1)"; done
tar -C $OUT -czf $OUT/r.tgz r
for d in bf16 fp16; do
  for k in fused_add_rms_norm_group_fp8 fused_add_rms_norm_per_token_fp8 fused_add_rms_norm fused_add_rms_norm_fp8; do
    for v in new3 new4; do
      b=build-stage/b85/kiln-bench-new3; [ $v = new4 ] && b=$S/kiln-bench
      [ $(( $(date +%s) - T0 )) -gt 360 ] && break 3
      timeout 20 $b --kernel $k --dtype $d --tokens 1,2,4,8,16,32 --max-seconds 0.2 --ceiling-gib 1 --csv $R/bench/t32_${d}_${v}_$k.csv > $R/bench/log_t32_${d}_${v}_$k.txt 2>&1 || echo "kiln-bench $v $k $d rc $?"
    done
  done
  echo "t32 $d at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
left=$(( 405 - ($(date +%s) - T0) ))
if [ $left -gt 45 ]; then
  timeout $left python3 bench/compare_torch.py --lib $S/libkiln.so --kernel fused_add_rms_norm_per_token_fp8 --dtype fp16 --hidden 8192 --tokens 16384,32768,65536 --max-seconds 0.5 --out $R/torch_fp16 --time-limit $(( left - 8 )) > $R/torch_fp16.log 2>&1
  echo "torch rc $? at $(at)"
fi
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
