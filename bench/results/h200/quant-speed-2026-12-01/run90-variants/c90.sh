#!/usr/bin/env bash
# Issue 9 session 12, run 90: the add kinds in the harness (exp.cu, cases.inc: their DRAM
# schedules, unstaged and staged), M (this session's template with the stage switch) against
# T7 (M with x + r rounded two elements at a time, HADD2, instead of through fp32), bf16 and
# fp16 (suffix h), alternating.
set -u
B=build-stage/b90; R=$OUT/r; mkdir -p $R; cp $B/c90.sh $B/commit.txt $B/*.patch $R/
{ nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader; date -u; } > $R/device.txt
mkdir -p /tmp/h && tar -C /tmp/h -xJf $B/bins.txz
for d in "" h; do
  for v in M T7 M T7; do
    timeout 120 /tmp/h/bin/exp$v$d $v$d >> $R/time$d.txt 2>&1; echo "$v$d rc $?" >> $R/rc.txt
  done
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
