#!/usr/bin/env bash
# Issue 9 session 5, run 36: the two T <= 32 shapes where run 35 had v19 slower than v17
# (fused_add_rms_norm_per_token_fp8 h = 4096 T = 1: 0.828; rms_norm_per_token_fp8 h = 5120
# T = 32: 0.876) run instances whose source and PTX are the same in both builds. Re-time them,
# v17 and v19 alternating, three times each, alone on the GPU.
set -u
export PATH=/usr/local/cuda/bin:$PATH
R=$OUT/r; mkdir -p $R; cp build-stage/v19/commit.txt $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
for i in 1 2 3; do
  for b in v17 v19; do
    build-stage/$b/kiln-bench --kernel fused_add_rms_norm_per_token_fp8 --hidden 4096 --tokens 1,32 --out-dir $R/$b-a$i > /dev/null 2>&1
    build-stage/$b/kiln-bench --kernel rms_norm_per_token_fp8 --hidden 5120 --tokens 1,32 --out-dir $R/$b-b$i > /dev/null 2>&1
  done
done
for f in $R/v1*/*.csv; do awk -F, -v f=$(basename $(dirname $f)) 'NR==1{for(i=1;i<=NF;i++)c[$i]=i; next}{print f, $c["kernel"], $c["hidden"], $c["tokens"], $c["kiln_us"], $c["kiln_us_over_floor"]}' $f; done | sort -k2,2 -k4,4n -k1,1 | tee $R/summary.txt
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
