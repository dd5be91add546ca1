#!/usr/bin/env bash
# Session 9, run 58: fused_add_rms_norm_fp8 h = 2048 is 0.86x its generic kernel at T = 1024
# (run 55): kiln-tune keeps the bs1024 incumbent, because the schedule 25 % faster at 1024 is
# slower elsewhere in 1024..8191. Tune bs1024 with a new bs2048 above it.
set -u
S=build-stage/v28
export PATH=/usr/local/cuda/bin:$PATH
R=$OUT/r; mkdir -p $R/configs; cp $S/c58.sh $R/; git rev-parse HEAD > $R/commit.txt
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
cp -r configs/fused_add_rms_norm_fp8 $R/configs/
timeout 200 $S/kiln-tune --kernel fused_add_rms_norm_fp8 --hidden 2048 --batch-sizes 1024,2048 --quick --force --arch sm90 \
  --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune.log 2>&1
echo "tune rc $?"
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
