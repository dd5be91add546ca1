#!/usr/bin/env bash
# Issue 9 session 18, run 127 (the landed library, b124): why column-major TMA scales run 3-6 %
# slower than row-major at some shapes (run 121: rms_norm_group_fp8 h = 4096-5120, silu_mul_group_fp8
# bf16 h = 4096). ncu of one launch each way, T = 65536, bf16: time, DRAM bytes, global store requests
# and sectors, L2 write sectors, the stalls that a store queue would show (lg_throttle, drain).
set -u
S=build-stage/b124
export PATH=/usr/local/cuda/bin:$PATH
R=$OUT/r; mkdir -p $R; cp $S/commit.txt build-stage/b127/c127.sh $R/
tar -C $S -xJf $S/bins.txz
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
M='gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,dram__bytes_read.sum,dram__bytes_write.sum,l1tex__t_requests_pipe_lsu_mem_global_op_st.sum,l1tex__t_sectors_pipe_lsu_mem_global_op_st.sum,lts__t_sectors_op_write.sum,lts__t_requests_op_write.sum,smsp__inst_executed.sum,sm__inst_issued.avg.pct_of_peak_sustained_active,sm__warps_active.avg.pct_of_peak_sustained_active,launch__registers_per_thread,smsp__average_warps_issue_stalled_lg_throttle_per_issue_active.ratio,smsp__average_warps_issue_stalled_drain_per_issue_active.ratio,smsp__average_warps_issue_stalled_long_scoreboard_per_issue_active.ratio,smsp__average_warps_issue_stalled_barrier_per_issue_active.ratio'
run() {  # kernel hidden layout
  timeout 100 ncu --clock-control none --kernel-name regex:specialised -c 1 --metrics "$M" $S/kiln-bench --kernel $1 --hidden $2 \
    --tokens 65536 --dtype bf16 --scale-layout $3 --launches 1 --replays 1 --min-replays 1 --warmup-ms 0 --ceiling-gib 1 \
    > $R/ncu_$1_h$2_$3.log 2>&1
  echo "ncu $1 $2 $3 rc $?"
}
for l in row_major col_major_tma; do
  run rms_norm_group_fp8 4096 $l
  run rms_norm_group_fp8 5120 $l
  run silu_mul_group_fp8 4096 $l
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
