#!/usr/bin/env bash
# Issue 9 session 10, run 65: SASS of fused_add_rms_norm_per_token_fp8 (Schedule<2048, 64, 8, 1, 1>,
# bf16), main's (v29 kiln-bench) against D's (harness expD).
set -u
export PATH=/usr/local/cuda/bin:$PATH
R=$OUT/r; mkdir -p $R
cuobjdump -sass -fun '_ZN4kiln4norm11specialisedINS0_8ScheduleILi2048ELi64ELi8ELi1ELi1ELi0EEELNS0_4KindE6E13__nv_bfloat16EEvPT1_PKS6_S7_PvPKfPflNS0_7OptionsENS_10GroupQuantE' build-stage/v29/kiln-bench > $R/A.sass 2>&1; echo "A rc $?"
cuobjdump -sass -fun '_ZN4kiln4norm11specialisedINS0_8ScheduleILi2048ELi64ELi8ELi1ELi1ELi0EEELNS0_4KindE6E13__nv_bfloat16EEvPT1_PKS6_S7_PvPKfPflNS0_7OptionsENS_10GroupQuantE' build-stage/v30/expD > $R/D.sass 2>&1; echo "D rc $?"
wc -l $R/*.sass
tar -C $OUT -czf $OUT/r.tgz r
