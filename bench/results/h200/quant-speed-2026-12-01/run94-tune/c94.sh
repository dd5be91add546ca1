#!/usr/bin/env bash
# Issue 9 session 13, run 94: run 93's last step, narrowed (its 52-candidate grid spent the time
# box checking): kiln-tune --quick --force of fused_add_rms_norm and _fp8 at h = 4096, bs1024 and
# bs8192, threads 256-1024 (128 is the incumbent), rows_per_cta 1, vec 8, both switches; run 93's
# configs as incumbents (committed ones for these pairs).
set -u
S=build-stage/b94
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/configs; cp $S/c94.sh $S/commit.txt $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
for k in fused_add_rms_norm fused_add_rms_norm_fp8; do
  cp -r configs/$k $R/configs/
  left=$(( 230 - ($(date +%s) - T0) )); [ $left -lt 40 ] && { echo "stopping before $k at $(at)" | tee -a $R/rc.txt; break; }
  timeout $left $S/kiln-tune --kernel $k --hidden 4096 --batch-sizes 1024,8192 --quick --force --arch sm90 \
    --grid threads=256,512,1024 --grid rows_per_cta=1 --grid cluster=1 --grid vec=8 \
    --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune_$k.log 2>&1
  echo "tune $k rc $? at $(at)" | tee -a $R/rc.txt; tar -C $OUT -czf $OUT/r.tgz r
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
