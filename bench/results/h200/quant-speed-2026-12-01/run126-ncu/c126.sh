#!/usr/bin/env bash
# Issue 9 session 18, run 126 (the landed library, b124): what holds the last DRAM shapes under 97 %
# of the copy ceiling in run 125. ncu of one launch (clocks not locked; run 60's metrics, plus the
# shared-memory occupancy limit and the stall reasons), the specialised kernel of each.
set -u
S=build-stage/b124
export PATH=/usr/local/cuda/bin:$PATH
R=$OUT/r; mkdir -p $R; cp $S/commit.txt build-stage/b126/c126.sh $R/
tar -C $S -xJf $S/bins.txz
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
M='regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio$,smsp__inst_executed.sum,smsp__thread_inst_executed.sum,sm__inst_issued.avg.pct_of_peak_sustained_active,sm__warps_active.avg.pct_of_peak_sustained_active,dram__throughput.avg.pct_of_peak_sustained_elapsed,dram__bytes_read.sum,dram__bytes_write.sum,gpu__time_duration.sum,sm__cycles_elapsed.avg.per_second,launch__registers_per_thread,launch__occupancy_limit_registers,launch__occupancy_limit_warps,launch__occupancy_limit_blocks,launch__occupancy_limit_shared_mem,sm__throughput.avg.pct_of_peak_sustained_elapsed,lts__t_bytes.sum'
run() {  # kernel hidden tokens dtype
  timeout 100 ncu --clock-control none --kernel-name regex:specialised -c 1 --metrics "$M" $S/kiln-bench --kernel $1 --hidden $2 \
    --tokens $3 --dtype $4 --launches 1 --replays 1 --min-replays 1 --warmup-ms 0 --ceiling-gib 1 > $R/ncu_$1_h$2_t$3_$4.log 2>&1
  echo "ncu $1 $2 $3 $4 rc $?"
}
run fused_add_rms_norm_per_token_fp8 8192 16384 bf16
run fused_add_rms_norm_per_token_fp8 4096 16384 bf16
run fused_add_rms_norm_group_fp8 8192 16384 bf16
run rms_norm_group_fp8 8192 16384 bf16
run rms_norm_per_token_fp8 8192 16384 bf16
run per_token_fp8 8192 65536 fp16
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
