#!/usr/bin/env bash
# Issue 9 session 10, run 75: per_token_group_fp8 at T = 1 under main's library (v29) and the
# landed one (v32): ncu of one launch (h = 4096 and 8192, their bs1 schedules), instruction
# counts and stall reasons per issued instruction, and the SASS of the two h = 4096 instances.
set -u
export PATH=/usr/local/cuda/bin:$PATH
R=$OUT/r; mkdir -p $R; cp build-stage/b75/c75.sh $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
M='regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio$,smsp__inst_executed.sum,sm__cycles_active.max,gpu__time_duration.sum,launch__registers_per_thread,launch__cluster_dim_x'
for v in v29 v32; do for h in 4096 8192; do
  timeout 60 ncu --kernel-name regex:specialised -c 1 --metrics "$M" build-stage/b75/kiln-bench-$v --kernel per_token_group_fp8 --hidden $h --tokens 1 \
    --launches 1 --replays 1 --min-replays 1 --warmup-ms 0 --ceiling-gib 0.1 > $R/ncu_${v}_h$h.log 2>&1; echo "ncu $v $h rc $?"
done; done
for v in v29 v32; do
  cuobjdump -sass build-stage/b75/kiln-bench-$v 2>/dev/null | awk '/Function : .*ScheduleILi4096ELi(64|256)ELi8ELi1ELi(8|4|1)ELi0EEELNS0_4KindE7E13__nv_bfloat16/{p=1} p&&/Function : /&&!/KindE7E13__nv_bfloat16/{p=0} p' > $R/sass_$v.txt
  echo "$v sass lines $(wc -l < $R/sass_$v.txt)"
done
tar -C $OUT -czf $OUT/r.tgz r
