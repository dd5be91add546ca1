#!/usr/bin/env bash
# Issue 9 session 10, run 70 (v31: d97a5c6 + the template of run 69's L: the scale reciprocal
# without __frcp_rn's slow-path call, pad_packed_scales inlined, a barrier between the residual's
# loads and adds in the per-token fused kind, row_reduce taking the kernel's cluster rank).
# 1. SASS: kernels with a global load before their first PDL wait; CALL instructions.
# 2. test_gpu, all twelve one-GPU kernels, one process each; test_device_math.
# 3. memcheck of kernels whose scales go through the new reciprocal, racecheck of cluster kernels.
set -u
S=build-stage/v31
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R; cp $S/commit.txt build-stage/v30/c70.sh $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
cp bench/results/h200/quant-speed-2026-12-01/run41/sass_scan.py $R/
cuobjdump -sass $S/libkiln.so > /tmp/sass.txt 2>&1; python3 $R/sass_scan.py /tmp/sass.txt > $R/sass_scan.txt
grep -c "CALL.REL" /tmp/sass.txt > $R/sass_calls.txt; grep -c "MUFU.RCP" /tmp/sass.txt >> $R/sass_calls.txt; rm -f /tmp/sass.txt
KALL="fused_add_rms_norm_group_fp8 fused_add_rms_norm_per_token_fp8 rms_norm_group_fp8 rms_norm_per_token_fp8 per_token_fp8 per_token_group_fp8 silu_mul_group_fp8 fused_add_rms_norm fused_add_rms_norm_fp8 rms_norm rms_norm_fp8 silu_mul_fp8"
F='*EveryConfigSet*:*Programmatic*:*Generic*:*Null*:*InOut*:*GroupQuantisers*'
timeout 90 $S/test_device_math > $R/device_math.log 2>&1; echo "test_device_math rc $?" > $R/device_math.rc
for k in $KALL; do
  ( KILN_TEST_KERNELS=$k timeout 420 $S/test_gpu --gtest_output=json:$R/gpu_$k.json > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(at)" > $R/gpu_$k.rc ) &
done
for k in rms_norm_per_token_fp8 fused_add_rms_norm_per_token_fp8 rms_norm_group_fp8 per_token_group_fp8 silu_mul_group_fp8; do
  ( KILN_TEST_KERNELS=$k timeout 420 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter="$F" > $R/memcheck_$k.log 2>&1; echo "memcheck $k rc $? at $(at)" > $R/memcheck_$k.rc ) &
done
for k in fused_add_rms_norm_group_fp8 fused_add_rms_norm_per_token_fp8 fused_add_rms_norm; do
  ( KILN_TEST_KERNELS=$k timeout 420 compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*' > $R/racecheck_$k.log 2>&1; echo "racecheck $k rc $? at $(at)" > $R/racecheck_$k.rc ) &
done
wait
echo "done after $(at)"; cat $R/*.rc; cat $R/sass_scan.txt | tail -3; cat $R/sass_calls.txt
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
