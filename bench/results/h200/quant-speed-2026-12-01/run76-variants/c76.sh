#!/usr/bin/env bash
# Issue 9 session 11, run 76: the harness (exp.cu of run 76) at the DRAM schedules, variants
# A = main (1278b73), F = A + the tuned options as constants (one body for them, one for the rest),
# G = F + the group kinds pair their vectors with N odd too; two passes each, then ncu with SASS
# counts of one launch (T = 65536) of rms_norm_group_fp8 h5120 (A, F, G) and rms_norm_per_token_fp8 h5120 (A, F).
set -u
D=build-stage/b76
R=$OUT/r; mkdir -p $R; cp $D/c76.sh $R/
tar -C $D -xJf $D/bins.txz
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
for p in 1 2; do for v in A F G; do timeout 80 $D/exp$v $v > $R/exp$v$p.log 2>&1; echo "exp $v $p rc $?"; done; done
prof() {  # variant, case, name
  ONLY=$2 NOTIME=1 timeout 120 ncu --set full --import-source no -k regex:specialised --launch-count 1 -f -o $R/ncu_$3 $D/exp$1 > $R/ncu_$3.out 2>&1
  echo "ncu $3 rc $?"
  ncu -i $R/ncu_$3.ncu-rep --page source --csv --print-source sass > $R/src_$3.csv 2> $R/src_$3.err; echo "src $3 rc $?"
  ncu -i $R/ncu_$3.ncu-rep --page details > $R/det_$3.txt 2>&1
}
prof A rms_norm_group_fp8:5120 A_rng5120
prof F rms_norm_group_fp8:5120 F_rng5120
prof G rms_norm_group_fp8:5120 G_rng5120
prof A rms_norm_per_token_fp8:5120 A_rnp5120
prof F rms_norm_per_token_fp8:5120 F_rnp5120
date -u >> $R/device.txt
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
