#!/usr/bin/env bash
# Issue 9 session 13, run 98: kiln-bench of the four add kinds at mid sizes (T = 64-2048: the
# bs32-bs1024 buckets, whose configs runs 93-94 retuned), run 91's library (new4) against run 95's
# (new5), alternating, bf16 and fp16.
set -u
S=build-stage/b95
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/bench; cp build-stage/b98/c98.sh $S/commit.txt $R/
tar -C $S -xJf $S/bins.txz; tar -C build-stage/b91 -xJf build-stage/b91/bins.txz
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
bin() { [ $1 = new5 ] && echo $S/kiln-bench || echo build-stage/b91/kiln-bench; }
for d in bf16 fp16; do
  for k in fused_add_rms_norm_group_fp8 fused_add_rms_norm_per_token_fp8 fused_add_rms_norm fused_add_rms_norm_fp8; do
    for v in new4 new5; do
      left=$(( 200 - ($(date +%s) - T0) )); [ $left -lt 10 ] && break 3
      timeout 25 $(bin $v) --kernel $k --dtype $d --tokens 64,128,181,256,512,1024,2048 --max-seconds 0.2 --ceiling-gib 1 --csv $R/bench/mid_${d}_${v}_$k.csv > $R/bench/log_mid_${d}_${v}_$k.txt 2>&1 || echo "kiln-bench $v $k $d rc $?"
    done
  done
  echo "mid $d at $(at)"
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
