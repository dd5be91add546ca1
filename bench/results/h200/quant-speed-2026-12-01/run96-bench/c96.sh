#!/usr/bin/env bash
# Issue 9 session 13, run 96: kiln-bench of the four add kinds, run 91's library (new4: 5d7e3db's
# device code, run 89's configs) against run 95's (new5: runs 93-94's configs), alternating, bf16
# and fp16: T = 1-32 (the launch floor target), then DRAM sizes T = 16384-65536.
set -u
S=build-stage/b95
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp $S/c96.sh $S/commit.txt $R/
tar -C $S -xJf $S/bins.txz; tar -C build-stage/b91 -xJf build-stage/b91/bins.txz
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
ADD="fused_add_rms_norm_group_fp8 fused_add_rms_norm_per_token_fp8 fused_add_rms_norm fused_add_rms_norm_fp8"
bin() { [ $1 = new5 ] && echo $S/kiln-bench || echo build-stage/b91/kiln-bench; }
for d in bf16 fp16; do
  for k in $ADD; do
    for v in new4 new5; do
      timeout 20 $(bin $v) --kernel $k --dtype $d --tokens 1,2,4,8,16,32 --max-seconds 0.2 --ceiling-gib 1 --csv $R/bench/t32_${d}_${v}_$k.csv > $R/bench/log_t32_${d}_${v}_$k.txt 2>&1 || echo "kiln-bench $v $k $d rc $?"
    done
  done
  echo "t32 $d at $(at)"
done
tar -C $OUT -czf $OUT/r.tgz r
for d in bf16 fp16; do
  for k in $ADD; do
    for v in new4 new5; do
      left=$(( 400 - ($(date +%s) - T0) )); [ $left -lt 20 ] && break 3
      timeout 30 $(bin $v) --kernel $k --dtype $d --tokens 16384,32768,65536 --max-seconds 0.3 --csv $R/bench/dram_${d}_${v}_$k.csv > $R/bench/log_dram_${d}_${v}_$k.txt 2>&1 || echo "kiln-bench $v $k $d rc $?"
    done
  done
  echo "dram $d at $(at)"; tar -C $OUT -czf $OUT/r.tgz r
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
