#!/usr/bin/env bash
# Issue 9 session 6, run 39: kiln-bench of every one-GPU kernel, v20 (b938baf, loads through
# ld.global.nc) against v21 (coherent loads after the PDL wait), alternating per kernel:
# v20, v21, v21, v20, so the power state (run 37: the SW power cap lowers SM clocks under
# sustained load) falls on both alike. nvidia-smi samples clocks throughout.
set -u
export PATH=/usr/local/cuda/bin:$PATH PYTHONDONTWRITEBYTECODE=1
T0=$(date +%s); left() { local l=$(( 420 - ($(date +%s) - T0) )); [ $l -lt 5 ] && l=5; [ $l -gt $1 ] && l=$1; echo $l; }
R=$OUT/r; mkdir -p $R/v20 $R/v21; cp build-stage/v21/commit.txt build-stage/v21/c39.sh $R/; cp build-stage/v20/commit.txt $R/commit_v20.txt
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,clocks_event_reasons.active --format=csv -lms 100 > $R/smi.csv 2>&1 &
SMI=$!
TOK=1,32,1024,16384,65536
KALL="rms_norm_per_token_fp8 rms_norm_group_fp8 fused_add_rms_norm_per_token_fp8 fused_add_rms_norm_group_fp8 per_token_fp8 per_token_group_fp8 silu_mul_group_fp8 rms_norm rms_norm_fp8 fused_add_rms_norm fused_add_rms_norm_fp8 silu_mul_fp8"
for k in $KALL; do
  i=0
  for b in v20 v21 v21 v20; do
    i=$((i+1))
    timeout $(left 40) build-stage/$b/kiln-bench --kernel $k --tokens $TOK --max-seconds 0.5 --csv $R/$b/${k}_$i.csv > $R/log_${b}_${k}_$i.txt 2>&1 || echo "kiln-bench $b $k rc $?"
  done
  echo "$k done at $(( $(date +%s) - T0 )) s"
done
kill $SMI
echo "all done after $(( $(date +%s) - T0 )) s"
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
