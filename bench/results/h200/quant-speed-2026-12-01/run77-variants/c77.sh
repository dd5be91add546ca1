#!/usr/bin/env bash
# Issue 9 session 11, run 77: the harness (run 76's exp.cu) at the DRAM schedules, variants
# A = main (1278b73), F = the tuned options as constants in a second body of the one kernel,
# H = the same as a second kernel chosen on the host, HG = H + the group kinds pair with N odd;
# two passes each, then ncu SASS counts of H at rms_norm_group_fp8 and rms_norm_per_token_fp8 h5120.
set -u
D=build-stage/b77
R=$OUT/r; mkdir -p $R; cp $D/c77.sh $R/
tar -C $D -xJf $D/bins.txz
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
for p in 1 2; do for v in A F H HG; do timeout 80 $D/exp$v $v > $R/exp$v$p.log 2>&1; echo "exp $v $p rc $?"; done; done
prof() {  # variant, case, name
  ONLY=$2 NOTIME=1 timeout 120 ncu --set full --import-source no -k regex:specialised --launch-count 1 -f -o $R/ncu_$3 $D/exp$1 > $R/ncu_$3.out 2>&1
  echo "ncu $3 rc $?"
  ncu -i $R/ncu_$3.ncu-rep --page source --csv --print-source sass > $R/src_$3.csv 2> $R/src_$3.err; echo "src $3 rc $?"
  ncu -i $R/ncu_$3.ncu-rep --page details > $R/det_$3.txt 2>&1
}
prof H rms_norm_group_fp8:5120 H_rng5120
prof H rms_norm_per_token_fp8:5120 H_rnp5120
date -u >> $R/device.txt
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
