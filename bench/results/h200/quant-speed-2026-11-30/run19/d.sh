#!/usr/bin/env bash
# Issue 9, run 19: the rest of test_gpu for the seven quantisers (run 18's test_gpu stopped at
# its 250 s limit after the four longest tests, with memcheck and pytest beside it), then
# compare_torch at h = 8192 and 5120 (run 18 reached only h = 2048 in its time limit).
set -u
S=build-stage/v14
export PATH=/usr/local/cuda/bin:$PATH PYTHONDONTWRITEBYTECODE=1
T0=$(date +%s); left() { local l=$(( 300 - ($(date +%s) - T0) )); [ $l -lt 5 ] && l=5; [ $l -gt $1 ] && l=$1; echo $l; }
R=$OUT/r; mkdir -p $R; cp $S/commit.txt $S/d.sh $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
K=per_token_fp8,rms_norm_per_token_fp8,fused_add_rms_norm_per_token_fp8,per_token_group_fp8,rms_norm_group_fp8,fused_add_rms_norm_group_fp8,silu_mul_group_fp8
KILN_TEST_KERNELS=$K timeout 90 $S/test_gpu --gtest_filter='-*EveryConfigSetMatchesTheReference*:*GenericKernelAtOddSizesAndAlignments*:*GenericByRequest*' > $R/gpu_rest.log 2>&1; echo "test_gpu rest rc $?"
grep -E "^\[ *(OK|FAILED|SKIPPED|PASSED) " $R/gpu_rest.log | head -30
for k in ${K//,/ }; do
  PYTHONPATH=$PWD/python timeout $(left 30) python3 bench/compare_torch.py --lib $S/libkiln.so --kernel $k --hidden 8192,5120 --tokens 1,32,1024,16384 --time-limit 15 --out $R/torch > $R/torch_$k.log 2>&1; echo "compare_torch $k rc $?"
done
grep -hE "torch.compile|geomean" $R/torch/*summary*.txt | head -40
echo "all done after $(( $(date +%s) - T0 )) s"
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
