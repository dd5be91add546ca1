#!/usr/bin/env bash
# Issue 9 session 13, run 93: kiln-tune --quick --force of the add kinds on 5d7e3db's templates
# (stage, HADD2 residual add), bf16 and fp16 timed (the mean), main's configs as incumbents.
#  - small buckets bs1-bs256 of all four add kinds with stage = 0, 1 in the grid (staged add kinds
#    have a fixed kernel; unstaged do not), cluster 1-8, rows_per_cta 1, weight_at_use 0;
#  - bs1024/bs8192 of fused_add_rms_norm and _fp8 at h = 2048, 5120, 8192 (run 89's grid), and
#    h = 4096 on a wider grid (threads to 1024, rows_per_cta 1-2, both switches).
# Time-boxed in order of need: what finished is kept.
set -u
S=build-stage/b93
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/configs; cp $S/c93.sh $S/commit.txt $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
for k in fused_add_rms_norm_per_token_fp8 fused_add_rms_norm_group_fp8 fused_add_rms_norm fused_add_rms_norm_fp8; do cp -r configs/$k $R/configs/; done
tune() { # name kernel hiddens batch-sizes grid...
  local n=$1 k=$2 h=$3 b=$4; shift 4
  local left=$(( 565 - ($(date +%s) - T0) )); [ $left -lt 40 ] && { echo "stopping before $n at $(at)" | tee -a $R/rc.txt; return; }
  timeout $left $S/kiln-tune --kernel $k --hidden $h --batch-sizes $b --quick --force --arch sm90 "$@" \
    --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune_$n.log 2>&1
  echo "tune $n rc $? at $(at)" | tee -a $R/rc.txt; tar -C $OUT -czf $OUT/r.tgz r
}
SMALL="--grid cluster=1,2,4,8 --grid rows_per_cta=1 --grid weight_at_use=0 --grid stage=0,1 --grid vec=8"
tune small_group fused_add_rms_norm_group_fp8 2048,4096,5120,8192 1,2,4,8,32,128,256 $SMALL
tune small_per_token fused_add_rms_norm_per_token_fp8 2048,4096,5120,8192 1,2,4,8,32,128,256 $SMALL
for k in fused_add_rms_norm fused_add_rms_norm_fp8; do
  tune large_${k}_2 $k 2048 1024,8192 --grid threads=64,128,256,512 --grid rows_per_cta=1 --grid cluster=1 --grid vec=8
  tune large_${k}_5_8 $k 5120,8192 1024,8192 --grid threads=128,256,512 --grid rows_per_cta=1 --grid cluster=1 --grid vec=8
done
tune small_fp8 fused_add_rms_norm_fp8 2048,4096,5120,8192 1,2,4,8,32,128,256 $SMALL
tune small_plain fused_add_rms_norm 2048,4096,5120,8192 1,2,4,8,32,128,256 $SMALL
for k in fused_add_rms_norm fused_add_rms_norm_fp8; do
  tune wide_${k}_4 $k 4096 1024,8192 --grid threads=128,256,512,1024 --grid rows_per_cta=1,2 --grid cluster=1 --grid vec=4,8
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
