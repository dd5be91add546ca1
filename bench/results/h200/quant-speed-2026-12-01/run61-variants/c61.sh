#!/usr/bin/env bash
# Issue 9 session 10, run 61: template variants of the norm quantisers at their committed DRAM
# schedules (harness exp.cu, T = 65536; T = 1 and 32 in graphs). A = main (30d0877); B = a scale
# reciprocal without __frcp_rn's range check, each row's group-scale address resolved once
# (RowScales), per-row base pointers; C = B with the group-scale store through store_group_scale.
# A, B, C, A again, B again; then ncu instruction counts of each case's first launch (A and B).
set -u
D=build-stage/v30
export PATH=/usr/local/cuda/bin:$PATH
R=$OUT/r; mkdir -p $R; cp $D/c61.sh $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
timeout 60 $D/test_device_math > $R/test_device_math.log 2>&1; echo "test_device_math (B's reciprocal) rc $?"
for v in A B C A2 B2; do timeout 120 $D/exp${v:0:1} $v > $R/exp$v.log 2>&1; echo "$v rc $?"; done
for v in A B; do
  timeout 150 ncu --clock-control none --kernel-id ::regex:specialised:1 --metrics smsp__inst_executed.sum,smsp__thread_inst_executed.sum,launch__registers_per_thread,gpu__time_duration.sum \
    $D/exp$v $v > $R/ncu$v.log 2>&1; echo "ncu $v rc $?"
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
