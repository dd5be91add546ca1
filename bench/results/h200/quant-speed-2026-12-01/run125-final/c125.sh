#!/usr/bin/env bash
# Issue 9 session 18, run 125: the landed library (b124, main + run 123's configs), one run:
# kiln-bench of the seven quantisers, bf16 and fp16, T = 1-32 and 8192-65536 (kiln, its generic
# kernel, the copy ceiling and the launch floor of each process); then compare_torch of the kernel
# closest to torch.compile's 1.1x floor (fused_add_rms_norm_per_token_fp8, h = 4096 and 8192,
# T = 16384-65536, both dtypes). SM clock and power every 200 ms.
set -u
X=build-stage/b124
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp build-stage/b125/c125.sh $X/commit.txt $R/
tar -C $X -xJf $X/bins.txz; tar -C $X -xJf build-stage/b125/lib.txz
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv -lms 200 > $R/smi.csv 2>&1 &
SMI=$!
for d in bf16 fp16; do
  for k in per_token_fp8 per_token_group_fp8 rms_norm_per_token_fp8 fused_add_rms_norm_per_token_fp8 rms_norm_group_fp8 \
           fused_add_rms_norm_group_fp8 silu_mul_group_fp8; do
    left=$(( 330 - ($(date +%s) - T0) )); [ $left -lt 20 ] && break 2
    timeout 60 $X/kiln-bench --kernel $k --dtype $d --tokens 1,2,4,8,16,32,8192,16384,32768,65536 --max-seconds 0.3 \
      --csv $R/bench/${k}_$d.csv > $R/bench/log_${k}_$d.txt 2>&1 || echo "kiln-bench $k $d rc $?"
  done
  echo "kiln-bench $d at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
for d in fp16 bf16; do
  left=$(( 540 - ($(date +%s) - T0) )); [ $left -lt 40 ] && break
  timeout $left python3 bench/compare_torch.py --lib $X/libkiln.so --kernel fused_add_rms_norm_per_token_fp8 --dtype $d \
    --hidden 4096,8192 --tokens 16384,32768,65536 --max-seconds 0.5 --out $R/torch_$d --time-limit $((left - 5)) > $R/torch_$d.log 2>&1
  echo "compare_torch $d rc $? at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
kill $SMI; gzip -f $R/smi.csv
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
