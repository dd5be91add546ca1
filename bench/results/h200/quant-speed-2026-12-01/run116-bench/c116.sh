#!/usr/bin/env bash
# Issue 9 session 16, run 116: kiln-bench new8 (run 109) against fold2 (run 114, the landed kernels
# and configs of the six kinds), alternating, rms_norm_group_fp8 and rms_norm_per_token_fp8 at
# T = 8192-65536 (run 111 timed T >= 16384 only), bf16 and fp16.
set -u
S=build-stage/b114; O=build-stage/b109
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp build-stage/b116/c116.sh build-stage/b116/commit.txt $R/
for d in $S $O; do tar -C $d -xJf $d/bins.txz; done
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
bin() { [ $1 = fold2 ] && echo $S/kiln-bench || echo $O/kiln-bench; }
for d in bf16 fp16; do
  for k in rms_norm_group_fp8 rms_norm_per_token_fp8; do
    for v in new8 fold2; do
      left=$(( 270 - ($(date +%s) - T0) )); [ $left -lt 25 ] && break 3
      timeout 30 $(bin $v) --kernel $k --dtype $d --tokens 8192,16384,32768,65536 --max-seconds 0.3 --csv $R/bench/dram_${d}_${v}_$k.csv > $R/bench/log_dram_${d}_${v}_$k.txt 2>&1 || echo "kiln-bench $v $k $d rc $?"
    done
  done
  echo "dram $d at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
