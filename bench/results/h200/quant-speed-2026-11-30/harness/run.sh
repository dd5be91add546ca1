#!/usr/bin/env bash
# Issue 9 session 4, run 28: A (main's template) against F (the weight read where it is used, no
# prefetch; per-token values kept up to 32 a thread), schedules swept at T = 65536, plus T = 1
# and 32 in CUDA graphs of 20 launches with static_weight off and on. A, then F, then A again.
set -u
D=build-stage/exp
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $OUT/device.txt
timeout 150 $D/expA A > $OUT/expA.log 2>&1; echo "A rc $?"
timeout 150 $D/expF F > $OUT/expF.log 2>&1; echo "F rc $?"
timeout 150 $D/expA A2 > $OUT/expA2.log 2>&1; echo "A2 rc $?"
echo "F hash differs from A: $(diff <(awk '{print $1,$2,$3,$4,$5,$13}' $OUT/expA.log | tail -n +2) <(awk '{print $1,$2,$3,$4,$5,$13}' $OUT/expF.log | tail -n +2) | grep -c '^<')"
