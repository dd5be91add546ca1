#!/usr/bin/env bash
# Issue 9 session 16, run 112: compare_torch of fused_add_rms_norm_per_token_fp8 (the kernel closest
# to the 1.1x floor over torch.compile, run 104) on fold, h = 4096 and 8192, T = 16384-65536; then
# kiln-bench new8 against fold at DRAM sizes for per_token_fp8 and per_token_group_fp8 (no Product;
# their PTX is not byte-identical to main's). First test_device_math again: the Product test with the
# scales taken as the kernels take them (run 110 drew pre and s apart, so pre / s was subnormal).
set -u
S=build-stage/b110; O=build-stage/b109
export PATH=/usr/local/cuda/bin:$PATH PYTHONDONTWRITEBYTECODE=1
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp $S/c112.sh $S/commit.txt $R/
tar -C $S -xJf $S/bins.txz; tar -C $O -xJf $O/bins.txz
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
timeout 120 $S/test_device_math --gtest_output=json:$R/device_math.json > $R/device_math.log 2>&1; echo "test_device_math rc $? after $(at)"
grep -E "^\[  (PASSED|FAILED|SKIPPED)|^Product|  OK|FAILED  \]|Failure|first:" $R/device_math.log
for d in fp16 bf16; do
  timeout 90 python3 bench/compare_torch.py --lib $S/libkiln.so --kernel fused_add_rms_norm_per_token_fp8 --dtype $d --hidden 4096,8192 --tokens 16384,32768,65536 --max-seconds 0.5 --out $R/torch_$d --time-limit 85 > $R/torch_$d.log 2>&1
  echo "torch $d rc $? after $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
bin() { [ $1 = fold ] && echo $S/kiln-bench || echo $O/kiln-bench; }
for d in bf16 fp16; do
  for k in per_token_fp8 per_token_group_fp8; do
    left=$(( 560 - ($(date +%s) - T0) )); [ $left -lt 30 ] && break 2
    for v in new8 fold; do
      timeout 30 $(bin $v) --kernel $k --dtype $d --tokens 16384,32768,65536 --max-seconds 0.3 --csv $R/bench/dram_${d}_${v}_$k.csv > $R/bench/log_dram_${d}_${v}_$k.txt 2>&1 || echo "kiln-bench $v $k $d rc $?"
    done
  done
  echo "dram $d at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
