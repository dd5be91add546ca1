#!/usr/bin/env bash
# Issue 9 session 4, run 29: the group kinds with F's template (the weight read where it is used)
# against P (F with the fused group kind paired too, and odd vector counts paired but the last),
# schedules swept at T = 65536, T = 1 and 32 in graphs. F, then P, then F again.
set -u
D=build-stage/exp
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $OUT/device.txt
timeout 150 $D/expgF F > $OUT/expF.log 2>&1; echo "F rc $?"
timeout 150 $D/expgP P > $OUT/expP.log 2>&1; echo "P rc $?"
timeout 150 $D/expgF F2 > $OUT/expF2.log 2>&1; echo "F2 rc $?"
