#!/usr/bin/env bash
# Issue 9 session 9, run 56 (v29): where a T = 1 row's time goes. ncu warp-stall breakdown (per
# issued instruction) and instruction counts of single launches at T = 1: per_token_fp8 (one
# reduction, no norm), rms_norm (one reduction), rms_norm_per_token_fp8 (two), h = 4096, one CTA
# of 256 threads each; fused_add_rms_norm_group_fp8 h = 8192 (a cluster of 4 CTAs).
set -u
S=build-stage/v29
export PATH=/usr/local/cuda/bin:$PATH
R=$OUT/r; mkdir -p $R; cp $S/commit.txt build-stage/v28/c56.sh $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
M='regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio$,smsp__inst_issued.sum,sm__cycles_active.max,smsp__warps_launched.sum,gpu__time_duration.sum'
run() {
  timeout 90 ncu --kernel-name regex:specialised -c 1 --metrics "$M" $S/kiln-bench --kernel $1 --hidden $2 --tokens 1 \
    --launches 1 --replays 1 --min-replays 1 --warmup-ms 0 --ceiling-gib 0.1 > $R/ncu_$1_h$2_t1.log 2>&1; echo "ncu $1 $2 rc $?"
}
run per_token_fp8 4096; run rms_norm 4096; run rms_norm_per_token_fp8 4096; run fused_add_rms_norm_group_fp8 8192
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
