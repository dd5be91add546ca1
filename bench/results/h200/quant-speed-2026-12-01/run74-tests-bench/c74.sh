#!/usr/bin/env bash
# Issue 9 session 10, run 74 (v32 = v31's template + the configs kiln-tune chose on it in runs 71-72:
# per_token_group_fp8's T <= 32 buckets, fused_add_rms_norm_per_token_fp8 h = 2048 bs2).
# 1. test_gpu of the two kernels; memcheck of per_token_group_fp8's config instances.
# 2. kiln-bench at T <= 32 of the two, v29 (main) against v32, alternating, two passes.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
S=build-stage/b74/v32
R=$OUT/r; mkdir -p $R/bench; cp $S/commit.txt build-stage/b74/c74.sh $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
for k in per_token_group_fp8 fused_add_rms_norm_per_token_fp8; do
  ( KILN_TEST_KERNELS=$k timeout 300 $S/test_gpu --gtest_output=json:$R/gpu_$k.json > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(at)" > $R/gpu_$k.rc ) &
done
( KILN_TEST_KERNELS=per_token_group_fp8 timeout 300 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*' > $R/memcheck_per_token_group_fp8.log 2>&1; echo "memcheck per_token_group_fp8 rc $? at $(at)" > $R/memcheck.rc ) &
wait; cat $R/*.rc; tar -C $OUT -czf $OUT/r.tgz r
for i in 1 2; do for k in per_token_group_fp8 fused_add_rms_norm_per_token_fp8; do for v in v29 v32; do
  timeout 40 build-stage/b74/$v/kiln-bench --kernel $k --tokens 1,2,4,8,16,32 --max-seconds 0.2 --ceiling-gib 1 --csv $R/bench/t32_${i}_${v}_$k.csv > $R/bench/log_t32_${i}_${v}_$k.txt 2>&1 || echo "kiln-bench $v $k rc $?"
done; done; done
echo "done at $(at)"; tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
