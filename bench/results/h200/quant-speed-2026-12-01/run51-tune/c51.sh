#!/usr/bin/env bash
# Session 8, run 51: fused_add_rms_norm and fused_add_rms_norm_fp8 were slower than their own
# generic kernel at T = 1024 (h = 2048: 0.78x, 0.88x in run 39). Their last bucket, bs1024, was
# timed at 1024 and at the DRAM point, and the DRAM point chose. kiln-tune --quick --force of
# bs1024 and a new bs8192 (as the quantisers have since run 33), racing the committed configs;
# then kiln-bench of the current library (v27) at the same counts, for the generic kernel's times.
set -u
S=build-stage/v26
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/configs $R/bench; cp $S/c51.sh $R/; git -C . rev-parse HEAD > $R/commit.txt 2>/dev/null
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
for k in fused_add_rms_norm fused_add_rms_norm_fp8; do
  cp -r configs/$k $R/configs/
  timeout 150 $S/kiln-tune --kernel $k --batch-sizes 1024,8192 --quick --force --arch sm90 \
    --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune_$k.log 2>&1
  echo "$k tune rc $? at $(at)"
done
for k in fused_add_rms_norm fused_add_rms_norm_fp8; do
  timeout 40 build-stage/v27/kiln-bench --kernel $k --tokens 1024,2896,8192,65536 --max-seconds 0.25 --csv $R/bench/$k.csv > $R/bench/log_$k.txt 2>&1 || echo "kiln-bench $k rc $?"
done
echo "done at $(at)"
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
