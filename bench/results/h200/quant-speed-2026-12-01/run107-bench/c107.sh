#!/usr/bin/env bash
# Issue 9 session 15, run 107: run 106's kiln-bench again for the two retuned kinds, new7 first,
# two passes (run 106 read fp16 h = 4096 T = 32768 and h = 2048 T = 65536 1.05x slower beside
# 0.96-0.98x at the neighbouring shapes of the same instance).
set -u
S=build-stage/b106; O=build-stage/b101
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench1 $R/bench2; cp build-stage/b107/c107.sh $S/commit.txt $R/
tar -C $S -xJf $S/bins.txz; tar -C $O -xJf $O/bins.txz
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv -lms 200 > $R/smi.csv 2>&1 &
SMI=$!
bin() { [ $1 = new7 ] && echo $S/kiln-bench || echo $O/kiln-bench; }
K="fused_add_rms_norm_per_token_fp8 fused_add_rms_norm_group_fp8"
for p in 1 2; do
  for d in bf16 fp16; do
    for k in $K; do
      left=$(( 400 - ($(date +%s) - T0) )); [ $left -lt 30 ] && break 3
      for v in new7 new6; do
        timeout 40 $(bin $v) --kernel $k --dtype $d --tokens 8192,16384,32768,65536 --max-seconds 0.3 --csv $R/bench$p/dram_${d}_${v}_$k.csv > $R/bench$p/log_dram_${d}_${v}_$k.txt 2>&1 || echo "kiln-bench $v $k $d rc $?"
      done
    done
  done
  echo "pass $p at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
kill $SMI; gzip -f $R/smi.csv
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
