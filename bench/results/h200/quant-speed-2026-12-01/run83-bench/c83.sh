#!/usr/bin/env bash
# Issue 9 session 11, run 83: kiln-bench at mid sizes (T = 128 .. 8192, L2-resident or mixed),
# main's library (v32) against the landed one (new2 = 03d49cf's kernels and configs),
# alternating per kernel, one pass, for the six kernels with a fixed kernel.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp build-stage/b83/c83.sh build-stage/b83/commit.txt $R/
tar -C build-stage/b82 -xJf build-stage/b82/bins.txz; tar -C build-stage/b80 -xJf build-stage/b80/bins.txz
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
for k in rms_norm_group_fp8 rms_norm_per_token_fp8 per_token_group_fp8 silu_mul_group_fp8 rms_norm rms_norm_fp8; do
  for v in v32 new2; do
    b=build-stage/b80/kiln-bench-$v; [ $v = new2 ] && b=build-stage/b82/kiln-bench-new2
    timeout 40 $b --kernel $k --tokens 128,256,512,1024,2048,4096,8192 --max-seconds 0.2 --csv $R/bench/mid_${v}_$k.csv > $R/bench/log_mid_${v}_$k.txt 2>&1 || echo "kiln-bench $v $k rc $?"
  done
done
echo "done at $(at)"
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
