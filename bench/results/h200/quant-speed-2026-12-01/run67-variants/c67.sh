#!/usr/bin/env bash
# Issue 9 session 10, run 67: ways to keep fused_add_rms_norm_per_token_fp8's loads together
# under D (run 66: a __syncwarp and an empty asm did not). Harness variants: A = main; D; H = D
# with pad_packed_scales inlined; J5 = D built with -Xptxas --allow-expensive-optimizations=true;
# J6 = D with bar.warp.sync after the loads; J7 = D with __syncthreads between the residual's
# loads and the adds. SASS load positions of the h = 2048 instance; the harness, twice each.
set -u
export PATH=/usr/local/cuda/bin:$PATH
R=$OUT/r; mkdir -p $R; cp build-stage/v30/c67.sh $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
F='_ZN4kiln4norm11specialisedINS0_8ScheduleILi2048ELi64ELi8ELi1ELi1ELi0EEELNS0_4KindE6E13__nv_bfloat16EEvPT1_PKS6_S7_PvPKfPflNS0_7OptionsENS_10GroupQuantE'
for v in A D J5 J6 J7; do
  cuobjdump -sass -fun $F build-stage/v30/exp$v > $R/$v.sass 2>&1
  echo "$v LDG/STG.128 lines: $(grep -n 'LDG.E.128\|STG.E.128' $R/$v.sass | head -12 | awk -F: '{printf "%s ", $1}')"
done
for p in 1 2; do for v in A D H J5 J6 J7; do timeout 60 build-stage/v30/exp$v $v > $R/exp$v$p.log 2>&1; echo "exp $v $p rc $?"; done; done
tar -C $OUT -czf $OUT/r.tgz r
