#!/usr/bin/env bash
# Issue 9 session 10, run 69: L = the template as it lands (D + H, the rank mend, and the barrier of J7 only in
# the per-token fused kind) against A = main and K, harness of run 61, three passes; SASS load
# positions of the fused per-token kind at h = 2048 under L.
set -u
export PATH=/usr/local/cuda/bin:$PATH
R=$OUT/r; mkdir -p $R; cp build-stage/v30/c69.sh $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
F='_ZN4kiln4norm11specialisedINS0_8ScheduleILi2048ELi64ELi8ELi1ELi1ELi0EEELNS0_4KindE6E13__nv_bfloat16EEvPT1_PKS6_S7_PvPKfPflNS0_7OptionsENS_10GroupQuantE'
cuobjdump -sass -fun $F build-stage/v30/expL > $R/L.sass 2>&1
echo "L LDG/STG.128 lines: $(grep -n 'LDG.E.128\|STG.E.128' $R/L.sass | head -12 | awk -F: '{printf "%s ", $1}')"
for p in 1 2 3; do for v in A L K; do timeout 60 build-stage/v30/exp$v $v > $R/exp$v$p.log 2>&1; echo "exp $v $p rc $?"; done; done
tar -C $OUT -czf $OUT/r.tgz r
