#!/usr/bin/env bash
# Issue 9 session 11, run 78: the harness (run 76's exp.cu, with the plain norm kernels' DRAM
# buckets added and a static scale) at the DRAM schedules, variants A = main (1278b73), H = the tuned
# options as constants in a second kernel chosen on the host, H2 = H + the fixed group fused kind's
# barrier between loads and adds; two passes each, then ncu SASS counts of
# fused_add_rms_norm_group_fp8 h4096 (A, H).
set -u
D=build-stage/b78
R=$OUT/r; mkdir -p $R; cp $D/c78.sh $R/
tar -C $D -xJf $D/bins.txz
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
for p in 1 2; do for v in A H H2; do timeout 80 $D/exp$v $v > $R/exp$v$p.log 2>&1; echo "exp $v $p rc $?"; done; done
prof() {  # variant, case, name
  ONLY=$2 NOTIME=1 timeout 120 ncu --set full --import-source no -k regex:specialised --launch-count 1 -f -o $R/ncu_$3 $D/exp$1 > $R/ncu_$3.out 2>&1
  echo "ncu $3 rc $?"
  ncu -i $R/ncu_$3.ncu-rep --page source --csv --print-source sass > $R/src_$3.csv 2> $R/src_$3.err; echo "src $3 rc $?"
  ncu -i $R/ncu_$3.ncu-rep --page details > $R/det_$3.txt 2>&1
}
prof A fused_add_rms_norm_group_fp8:4096 A_fag4096
prof H fused_add_rms_norm_group_fp8:4096 H_fag4096
date -u >> $R/device.txt
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
