#!/usr/bin/env bash
# Issue 9 session 10, run 66: fused_add_rms_norm_per_token_fp8 under D issues its x and residual
# loads in pairs with the adds in between (run 65's SASS). Variants of D: I1 = a __syncwarp after
# the loads; I2 = every loaded word through one empty asm. SASS of the h = 2048 instance (load
# positions), and the harness for D, I1, I2, twice.
set -u
export PATH=/usr/local/cuda/bin:$PATH
R=$OUT/r; mkdir -p $R; cp build-stage/v30/c66.sh $R/
F='_ZN4kiln4norm11specialisedINS0_8ScheduleILi2048ELi64ELi8ELi1ELi1ELi0EEELNS0_4KindE6E13__nv_bfloat16EEvPT1_PKS6_S7_PvPKfPflNS0_7OptionsENS_10GroupQuantE'
for v in D I1 I2; do
  cuobjdump -sass -fun $F build-stage/v30/exp$v > $R/$v.sass 2>&1
  echo "$v: $(grep -n 'LDG.E.128\|STG.E.128' $R/$v.sass | head -12 | sed 's@/\* 0x.*@@; s/  */ /g' | awk -F: '{printf "%s ", $1}')"
done
for v in D I1 I2 D2 I12 I22; do w=${v:0:1}; [ ${v:0:2} = I1 ] && w=I1; [ ${v:0:2} = I2 ] && w=I2; timeout 60 build-stage/v30/exp$w $v > $R/exp$v.log 2>&1; echo "exp $v rc $?"; done
tar -C $OUT -czf $OUT/r.tgz r
