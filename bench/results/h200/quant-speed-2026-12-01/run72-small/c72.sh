#!/usr/bin/env bash
# Issue 9 session 10, run 72: per_token_group_fp8's T <= 32 schedules (clusters) were 0.04-0.13 us
# slower in run 71 under the new template. Harness (run72-small/exp.cu) at those schedules, T = 1
# and 32 in graphs: A = main (d97a5c6), D = the reciprocal only (+ the rank mend), L = the new
# template; three passes. Then kiln-tune of per_token_group_fp8's T <= 32 buckets on L.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R/configs; cp build-stage/b72/c72.sh $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
for p in 1 2 3; do for v in A D L; do timeout 60 build-stage/b72/exp$v $v > $R/exp$v$p.log 2>&1; echo "exp $v $p rc $? at $(at)"; done; done
tar -C $OUT -czf $OUT/r.tgz r
k=per_token_group_fp8; cp -r configs/$k $R/configs/
timeout 100 build-stage/b72/kiln-tune --kernel $k --batch-sizes 1,2,4,8,32 --quick --force --arch sm90 \
  --grid cluster=1,2,4,8 --grid rows_per_cta=1 --configs $R/configs --work-dir /tmp/kt --jobs 16 > $R/tune_small_$k.log 2>&1
echo "tune $k rc $? at $(at)"
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
