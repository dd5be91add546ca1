#!/usr/bin/env bash
# Run 40: ncu of fused_add_rms_norm_group_fp8 h=8192 T=65536 (256 threads, weight in registers),
# v20 against v21 (run 39: 5 % slower there after the coherent-load fix).
set -u
export PATH=/usr/local/cuda/bin:$PATH
R=$OUT/r; mkdir -p $R; cp build-stage/ncu40/n.sh $R/
for b in v20 v21; do
  timeout 100 ncu --kernel-name regex:specialised -c 2 --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section SchedulerStats --section Occupancy --section LaunchStats \
    build-stage/$b/kiln-bench --kernel fused_add_rms_norm_group_fp8 --hidden 8192 --tokens 65536 --launches 1 --replays 1 --min-replays 1 --warmup-ms 0 > $R/ncu_$b.txt 2>&1; echo "$b rc $?"
done
for b in v20 v21; do echo "== $b"; grep -E "Duration|DRAM Throughput|Memory Throughput|Compute \(SM\)|Issue Slots Busy|No Eligible|Warp Cycles Per Issued|Achieved Occupancy|L1/TEX Hit|L2 Hit|Registers Per" $R/ncu_$b.txt | head -24; done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
