#!/usr/bin/env bash
# Issue 9 session 8, runs 49-50: compare_torch in fp16 over the full grid (4 hidden sizes x 19
# token counts, torch.compile per shape), the library of run 48 (v27). Usage: c49.sh <kernels>
set -u
S=build-stage/v27
export PATH=/usr/local/cuda/bin:$PATH PYTHONDONTWRITEBYTECODE=1
R=$OUT/r; mkdir -p $R; cp $S/commit.txt $S/c49.sh $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
T0=$(date +%s)
for k in "$@"; do
  left=$(( 575 - ($(date +%s) - T0) )); [ $left -gt 190 ] && left=190; [ $left -lt 30 ] && { echo "no time for $k"; continue; }
  timeout $left python3 bench/compare_torch.py --lib $S/libkiln.so --kernel $k --dtype fp16 --max-seconds 0.5 --out $R/torch --time-limit $((left - 15)) > $R/torch_$k.log 2>&1
  echo "$k rc $? after $(( $(date +%s) - T0 )) s"
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
