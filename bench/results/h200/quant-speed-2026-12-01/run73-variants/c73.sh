#!/usr/bin/env bash
# Issue 9 session 10, run 73: P = L with the packed layout's padding moved out of the per-vector
# scale store (pad_packed_row, once per row by one thread). Harness at the DRAM schedules
# (run 61's cases: A, L, P) and at per_token_group_fp8's T <= 32 schedules (run 72's: A, L, P),
# two passes each.
set -u
R=$OUT/r; mkdir -p $R; cp build-stage/b73/c73.sh $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
for p in 1 2; do for c in 61 72; do for v in A L P; do
  timeout 60 build-stage/b73/exp$v$c $v > $R/exp${v}${p}_$c.log 2>&1; echo "exp $v $c $p rc $?"
done; done; done
tar -C $OUT -czf $OUT/r.tgz r
