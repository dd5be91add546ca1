#!/usr/bin/env bash
# Issue 9 session 14, run 103: rms_norm_per_token_fp8 at DRAM sizes again (run 102 had one fp16 shape,
# h = 4096 T = 32768, 1.12x the time on new6 beside 0.98x at T = 65536 with the same schedule): new6
# first then new5, two passes, bf16 and fp16, SM clock and power every 200 ms.
set -u
S=build-stage/b101
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp build-stage/b103/c103.sh $S/commit.txt $R/
tar -C $S -xJf $S/bins.txz; tar -C build-stage/b95 -xJf build-stage/b95/bins.txz
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv -lms 200 > $R/smi.csv 2>&1 &
SMI=$!
bin() { [ $1 = new6 ] && echo $S/kiln-bench || echo build-stage/b95/kiln-bench; }
for p in 1 2; do
  for d in fp16 bf16; do
    for v in new6 new5; do
      timeout 30 $(bin $v) --kernel rms_norm_per_token_fp8 --dtype $d --tokens 16384,32768,65536 --max-seconds 0.3 --csv $R/bench/dram${p}_${d}_${v}_rms_norm_per_token_fp8.csv > $R/bench/log_dram${p}_${d}_${v}.txt 2>&1 || echo "kiln-bench $p $v $d rc $?"
    done
  done
  echo "pass $p at $(at)"
done
kill $SMI
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
