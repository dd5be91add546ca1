#!/usr/bin/env bash
# Issue 9 session 17, run 118: what the plan options cost now that the default options have their
# own fixed kernel (Product). kiln-bench on fold2 (run 114's library = main 1136fd0's kernels and
# configs for six kinds), bf16, T = 8192, 16384, 65536, each option alone against the defaults,
# one process per (kernel, option), the defaults timed first and last.
set -u
S=build-stage/b114
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp build-stage/b118/c118.sh $S/commit.txt $R/
tar -C $S -xJf $S/bins.txz
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
declare -A OPT=([default]="" [col]="--scale-layout col_major_tma" [ue8m0]="--ue8m0" [packed]="--scale-layout packed_ue8m0 --ue8m0" [g64]="--group-size 64" [vllm]="--rounding vllm" [gemma]="--gemma")
group="default col ue8m0 packed g64 vllm gemma default2"
token="default vllm gemma default2"
for k in rms_norm_group_fp8 fused_add_rms_norm_group_fp8 per_token_group_fp8 rms_norm_per_token_fp8 fused_add_rms_norm_per_token_fp8; do
  case $k in *group*) list=$group;; *) list=$token;; esac
  [ $k = per_token_group_fp8 ] && list="default col ue8m0 packed g64 default2"
  for v in $list; do
    left=$(( 560 - ($(date +%s) - T0) )); [ $left -lt 20 ] && break 2
    timeout 30 $S/kiln-bench --kernel $k --dtype bf16 --tokens 8192,16384,65536 --max-seconds 0.25 ${OPT[${v%2}]} --csv $R/bench/opt_${k}_$v.csv > $R/bench/log_${k}_$v.txt 2>&1 || echo "kiln-bench $k $v rc $?"
  done
  echo "$k at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
