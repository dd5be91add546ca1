#!/usr/bin/env bash
# Issue 9 session 10, run 62: which of run 61's three changes does what. The harness of run 61
# (exp.cu), variants: A = main (30d0877); D = A + the reciprocal without __frcp_rn's range check;
# E = A + per-row base pointers; F = A + the reciprocal + RowScales; B = all three (run 61).
# A, D, E, F, B, then A, D, E, F, B again.
set -u
D=build-stage/v30
R=$OUT/r; mkdir -p $R; cp $D/c62.sh $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
for v in A D E F B A2 D2 E2 F2 B2; do timeout 100 $D/exp${v:0:1} $v > $R/exp$v.log 2>&1; echo "$v rc $?"; done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
