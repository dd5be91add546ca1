#!/usr/bin/env bash
# Issue 9 session 18, run 122 (main's library, b122 = a -Dkernels= build of the seven quantisers):
# 1. chain: the T <= 32 ladder (copy / norm / group, chain.cu), two passes, one process;
# 2. kiln-bench at T = 1 and 32 of the kernels the ladder mirrors, bf16, for the same hidden sizes;
# 3. kiln-tune --quick --force with a wider grid (rows_per_cta 2, weight_at_use 1, 1024 threads) of
#    the two fused DRAM buckets still under 97 % or tied with the generic kernel.
set -u
S=build-stage/b122
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench $R/configs; cp $S/c122.sh $S/commit.txt $R/
tar -C $S -xJf $S/bins.txz
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv -lms 200 > $R/smi.csv 2>&1 &
SMI=$!
timeout 120 $S/chain > $R/chain.txt 2>&1; echo "chain rc $? at $(at)" | tee -a $R/rc.txt
for k in rms_norm_group_fp8 rms_norm_per_token_fp8 per_token_group_fp8; do
  timeout 30 $S/kiln-bench --kernel $k --dtype bf16 --tokens 1,32 --max-seconds 0.3 --ceiling-gib 1 \
    --csv $R/bench/t32_$k.csv > $R/bench/log_t32_$k.txt 2>&1; echo "kiln-bench $k rc $? at $(at)" | tee -a $R/rc.txt
done
tar -C $OUT -czf $OUT/r.tgz r
cp -r configs/fused_add_rms_norm_per_token_fp8 configs/fused_add_rms_norm_group_fp8 $R/configs/
tune() {  # name limit kernel hidden args...
  local name=$1 limit=$2 k=$3 h=$4; shift 4
  local left=$(( 560 - ($(date +%s) - T0) )); [ $left -gt $limit ] && left=$limit
  [ $left -lt 40 ] && { echo "stopping before $name at $(at)" | tee -a $R/rc.txt; return; }
  timeout $left $S/kiln-tune --kernel $k --hidden $h --batch-sizes 8192 --quick --force --arch sm90 \
    --warmup-ms 300 "$@" --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune_$name.log 2>&1
  echo "tune $name rc $? at $(at)" | tee -a $R/rc.txt; tar -C $OUT -czf $OUT/r.tgz r
}
tune A_fused_per_token_h8192 230 fused_add_rms_norm_per_token_fp8 8192 \
  --grid threads=256,512,1024 --grid rows_per_cta=1,2 --grid cluster=1 --grid weight_at_use=0,1 --grid stage=0,1 --grid vec=8
tune B_fused_group_h5120 230 fused_add_rms_norm_group_fp8 5120 \
  --grid threads=160,320,640 --grid rows_per_cta=1,2 --grid cluster=1 --grid weight_at_use=0,1 --grid stage=0,1 --grid vec=8
kill $SMI; gzip -f $R/smi.csv
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
