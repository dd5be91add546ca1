#!/usr/bin/env bash
# Issue 9, run 20 (profile): SASS of two norm quantisers (h = 4096 bs1024 instances of c4c17a7's
# templates) and ncu of the seven quantisers at h = 4096, T = 16384 on v14 (615a9a8's build).
set -u
export PATH=/usr/local/cuda/bin:$PATH
R=$OUT/r; mkdir -p $R; cp build-stage/sass3/p.sh $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
for c in build-stage/sass3/*.cubin; do cuobjdump -sass $c > $R/$(basename $c .cubin).sass; cuobjdump -res-usage $c > $R/$(basename $c .cubin).res; done
for k in rms_norm_group_fp8 rms_norm_per_token_fp8 silu_mul_group_fp8 per_token_group_fp8 fused_add_rms_norm_group_fp8 per_token_fp8; do
  timeout 60 ncu --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section InstructionStats --section SchedulerStats --section Occupancy --section LaunchStats -k regex:specialised -c 1 build-stage/v14/kiln-bench --kernel $k --hidden 4096 --tokens 16384 --launches 1 --replays 1 --min-replays 1 --warmup-ms 0 > $R/ncu_$k.log 2>&1; echo "ncu $k rc $?"
done
for f in $R/ncu_*.log; do echo "== $f"; grep -E "Duration|DRAM Throughput|Memory Throughput|Compute \(SM\) Throughput|Registers Per|Block Size|Grid Size|Achieved Occupancy|Theoretical Occupancy|Executed Ipc A|Issue Slots Busy|No Eligible|Warp Cycles Per Issued|Executed Instructions  " $f; done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
