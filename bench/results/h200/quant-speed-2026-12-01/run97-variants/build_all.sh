#!/usr/bin/env bash
# the five variants of run 97, bf16 and fp16
cd /work/s13
b() { ./build.sh "$@" || echo "FAILED $2"; }
for f in "" -DHARNESS_FP16; do
  s=bf16; [ -n "$f" ] && s=fp16
  b B bin/B_$s $f &
  b V bin/A0_$s $f; wait
  b V bin/CS_$s $f '-DKILN_LD16="ld.global.cs.v4.b32"' '-DKILN_ST16="st.global.cs.v4.b32"' '-DKILN_ST8="st.global.cs.v2.b32"' &
  b V bin/PF_$s $f '-DKILN_LD16="ld.global.L2::256B.v4.b32"' '-DKILN_CP16="cp.async.cg.shared.global.L2::256B"'; wait
  b V bin/NA_$s $f '-DKILN_LD16="ld.global.L1::no_allocate.L2::256B.v4.b32"' '-DKILN_CP16="cp.async.cg.shared.global.L2::256B"' '-DKILN_ST16="st.global.cs.v4.b32"' '-DKILN_ST8="st.global.cs.v2.b32"'
done
