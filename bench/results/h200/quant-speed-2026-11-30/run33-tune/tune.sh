#!/usr/bin/env bash
# Issue 9 session 5, runs 33/34: kiln-tune --quick --force of the four norm quantisers' last two
# buckets (bs1024 for T in (256, 1024], a new bs8192 for T > 1024, timed where its tensors take
# 256 MiB), racing both forms of the weight_at_use switch; alone on the GPU.
# Usage: tune.sh <kernels>   (run 33: the per-token pair, run 34: the group pair)
set -u
S=build-stage/tune33
export PATH=/usr/local/cuda/bin:$PATH
R=$OUT/r; mkdir -p $R/configs; cp bench/results/h200/quant-speed-2026-11-30/run33-tune/tune.sh $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; git rev-parse HEAD 2>/dev/null; } > $R/device.txt
t0=$(date +%s)
timeout 540 $S/kiln-tune --kernel "$1" --batch-sizes 1024,8192 --quick --force --arch sm90 --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune.log 2>&1
echo "kiln-tune rc $? in $(( $(date +%s) - t0 )) s"; tail -n 5 $R/tune.log; find $R/configs -name "*.json" | wc -l
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
