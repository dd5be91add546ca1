#!/usr/bin/env bash
# Issue 9 session 12, run 88: the add kinds' x and residual staged through shared memory (cp.async)
# without a barrier (T5), and T5 with the fixed kernels for the add kinds (T6), against main (T0)
# and no barrier (T1); the harness of run 87, bf16 and fp16 (suffix h); the SASS of T5.
set -u
B=build-stage/b88; R=$OUT/r; mkdir -p $R; cp $B/c88.sh $B/commit.txt $B/*.patch $R/
{ nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader; date -u; } > $R/device.txt
mkdir -p /tmp/h && tar -C /tmp/h -xJf $B/bins.txz
for d in "" h; do
  for v in T0 T5 T6 T1 T0 T5 T6; do
    timeout 120 /tmp/h/bin/exp$v$d $v$d >> $R/time$d.txt 2>&1; echo "$v$d rc $?" >> $R/rc.txt
  done
done
export PATH=/usr/local/cuda/bin:$PATH
for v in T5h; do
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
            if m and re.search(r"LDG|LDS|STG|BAR|HADD2|FADD|F2FP|SHFL|DEPBAR|MEMBAR|ACQ|WARPSYNC", m.group(2)):
                print(m.group(1), m.group(2))
                if "SHFL" in m.group(2): break
PY
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
