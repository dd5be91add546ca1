#!/usr/bin/env bash
# Issue 9 session 12, run 89: kiln-tune --quick --force of the add kinds' bs1024 and bs8192
# buckets with the new `stage` switch (x and the residual through shared memory) and kiln-tune
# timing bf16 and fp16 (the mean), on a grid cut to rows_per_cta = 1 and 128-512 threads
# (64 too at h = 2048); main's configs as incumbents. In order of need, time-boxed: what
# finished is kept.
set -u
S=build-stage/b89
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/configs; cp $S/c89.sh $S/commit.txt $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
for k in fused_add_rms_norm_per_token_fp8 fused_add_rms_norm_group_fp8 fused_add_rms_norm fused_add_rms_norm_fp8; do cp -r configs/$k $R/configs/; done
for kh in fused_add_rms_norm_per_token_fp8:8192 fused_add_rms_norm_group_fp8:8192 fused_add_rms_norm_per_token_fp8:5120 \
          fused_add_rms_norm_group_fp8:4096 fused_add_rms_norm_per_token_fp8:4096 fused_add_rms_norm_group_fp8:5120 \
          fused_add_rms_norm_per_token_fp8:2048 fused_add_rms_norm_group_fp8:2048 fused_add_rms_norm:4096 fused_add_rms_norm_fp8:4096; do
  k=${kh%:*}; h=${kh#*:}
  left=$(( 560 - ($(date +%s) - T0) )); [ $left -lt 60 ] && { echo "stopping before $kh at $(at)"; break; }
  th=128,256,512; [ $h = 2048 ] && th=64,128,256,512
  timeout $left $S/kiln-tune --kernel $k --hidden $h --batch-sizes 1024,8192 --quick --force --arch sm90 \
    --grid threads=$th --grid rows_per_cta=1 --grid cluster=1 --grid vec=8 \
    --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune_${k}_$h.log 2>&1
  echo "tune $k $h rc $? at $(at)" | tee -a $R/rc.txt; tar -C $OUT -czf $OUT/r.tgz r
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
