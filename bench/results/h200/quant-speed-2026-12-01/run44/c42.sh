#!/usr/bin/env bash
# Issue 9 session 7, runs 42-44: compare_torch over the full grid (hidden 2048, 4096, 5120,
# 8192 x 19 token counts, bf16, torch.compile per shape) for the quantisers run 41 did not
# cover, three kernels a run, each given an equal share of the run's time. Per-tensor
# differences against eager are recorded (compare_torch's `differences` columns).
#   bash c42.sh KERNEL KERNEL KERNEL
set -u
S=build-stage/v24
export PATH=/usr/local/cuda/bin:$PATH PYTHONDONTWRITEBYTECODE=1
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R; cp $S/commit.txt $S/c42.sh $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
n=$#; i=0
for k in "$@"; do
  i=$((i+1))
  share=$(( (565 - ($(date +%s) - T0)) / (n - i + 1) ))
  timeout $((share + 20)) python3 bench/compare_torch.py --lib $S/libkiln.so --kernel $k --max-seconds 0.5 --out $R/torch --time-limit $share > $R/torch_$k.log 2>&1
  echo "$k rc $? after $(at)"
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
