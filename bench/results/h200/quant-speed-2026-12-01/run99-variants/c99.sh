#!/usr/bin/env bash
# Issue 9 session 14, run 99.
# 1. The harness (session 13's exp.cu, T = 65536 at the DRAM buckets of the four add kinds and the two
#    norm quantisers, plus T = 1 and 32) for B = main's templates and W = the per-token norm kinds'
#    maximum taken with the sum of squares (one reduction; the single-rounding value as (v*w)*rinv),
#    bf16 then fp16, one process at a time.
# 2. kiln-tune (this tree's, with --warmup-ms and the device-side check inputs) on one pair:
#    rms_norm_per_token_fp8 h = 8192 bs8192, a small grid, 300 ms warm-up, SM clock and power logged
#    every 100 ms (nvidia-smi). Its candidates are compiled from this tree's templates (W).
set -u
B=build-stage/b99
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/configs; cp $B/c99.sh $B/commit.txt $R/
mkdir -p /tmp/h && tar -C /tmp/h -xJf $B/harness.txz
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
for d in bf16 fp16; do
  for v in B W; do
    timeout 150 /tmp/h/bin/${v}_$d $v > $R/h_${v}_$d.txt 2>&1; echo "harness $v $d rc $? at $(at)"
  done
  tar -C $OUT -czf $OUT/r.tgz r
done
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,clocks_throttle_reasons.active --format=csv -lms 100 > $R/smi_tune.csv 2>&1 &
SMI=$!
cp -r configs/rms_norm_per_token_fp8 $R/configs/
timeout 240 $B/kiln-tune --kernel rms_norm_per_token_fp8 --hidden 8192 --batch-sizes 1024,8192 --quick --force --arch sm90 \
  --grid threads=128,256 --grid rows_per_cta=1 --grid cluster=1 --grid vec=8 --warmup-ms 300 \
  --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune.log 2>&1
echo "tune rc $? at $(at)" | tee $R/tune.rc
kill $SMI
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
