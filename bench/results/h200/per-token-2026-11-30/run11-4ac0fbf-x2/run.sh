#!/usr/bin/env bash
# On 2 x H200: the all-reduce smoke harness first (correctness, late rank, replays, latency), then issue 9's verification at its commit: every GPU test (two GPUs: the wrong-device test runs too), memcheck and racecheck of the per-token kernels.
set -u
export PATH=/usr/local/cuda/bin:$PATH NCCL_NVLS_ENABLE=0
S=build-stage/v08
R=$OUT/r; mkdir -p $R; cp $S/commit.txt $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nvidia-smi topo -m; date -u; } > $R/device.txt
timeout 240 build-stage/smoke/smoke > $R/smoke.log 2>&1; echo "smoke rc $?" > $R/smoke.rc
cat $R/smoke.rc; tail -n 60 $R/smoke.log
( timeout 300 $S/test_gpu --gtest_output=json:$R/gpu.json > $R/gpu.log 2>&1; echo "test_gpu rc $?" > $R/gpu.rc ) &
( CUDA_VISIBLE_DEVICES=1 KILN_TEST_KERNELS=per_token_fp8,rms_norm_per_token_fp8,fused_add_rms_norm_per_token_fp8 timeout 300 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*:*Generic*:*InOut*:*Graph*' > $R/memcheck.log 2>&1; echo "memcheck rc $?" > $R/memcheck.rc ) &
wait
( CUDA_VISIBLE_DEVICES=1 KILN_TEST_KERNELS=per_token_fp8,rms_norm_per_token_fp8,fused_add_rms_norm_per_token_fp8 timeout 120 compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*Generic*:*Graph*' > $R/racecheck.log 2>&1; echo "racecheck rc $?" > $R/racecheck.rc )
cat $R/*.rc; grep -E "^\[  (PASSED|FAILED|SKIPPED) " $R/gpu.log | head; grep -A3 "Failure" $R/gpu.log | head -20; tail -n 3 $R/memcheck.log $R/racecheck.log
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
