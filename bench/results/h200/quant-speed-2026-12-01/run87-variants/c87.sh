#!/usr/bin/env bash
# Issue 9 session 12, run 87: the add kinds' load order. The harness (exp.cu, cases.inc) at their
# DRAM buckets under five template variants, bf16 and fp16 (suffix h):
#   T0 main (the per-token fused kind's __syncthreads), T1 no barrier, T2 a per-warp named barrier
#   (barrier.sync id, 32) in every add kind, T3 T2 plus the fixed kernels for the add kinds,
#   T4 __threadfence_block in every add kind. Then the SASS of two kernels for the load order.
set -u
B=build-stage/b87; R=$OUT/r; mkdir -p $R; cp $B/c87.sh $B/commit.txt $B/*.patch $R/
{ nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader; date -u; } > $R/device.txt
mkdir -p /tmp/h && tar -C /tmp/h -xJf $B/bins.txz
for d in "" h; do
  for v in T0 T1 T2 T3 T4 T0; do
    timeout 120 /tmp/h/bin/exp$v$d $v$d >> $R/time$d.txt 2>&1; echo "$v$d rc $?" >> $R/rc.txt
  done
done
export PATH=/usr/local/cuda/bin:$PATH
for v in T0h T1h T2h T4h; do
  cuobjdump -sass /tmp/h/bin/exp$v > /tmp/h/$v.sass 2>&1
  python3 - /tmp/h/$v.sass > $R/sass_$v.txt <<'PY'
import sys, re
# the per-token fused kind (Kind 6) at h = 8192, 256 threads, weight in registers: loads, barriers, adds up to the first shuffle
text = open(sys.argv[1]).read().split("Function : ")
for f in text:
    if re.match(r"_ZN4kiln4norm11specialisedINS0_8ScheduleILi8192ELi256ELi8ELi1ELi1ELi0EEELNS0_4KindE6E6__half", f):
        print(f.splitlines()[0])
        for line in f.splitlines():
            m = re.search(r"/\*([0-9a-f]{4})\*/\s+(.*?);", line)
            if m and re.search(r"LDG|STG|BAR|HADD2|FADD|F2FP|SHFL|DEPBAR|MEMBAR|ACQ|WARPSYNC", m.group(2)):
                print(m.group(1), m.group(2))
                if "SHFL" in m.group(2): break
PY
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
