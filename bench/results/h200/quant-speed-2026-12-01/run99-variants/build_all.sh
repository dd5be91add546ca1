#!/usr/bin/env bash
# session 14: B (main's templates) against W (one reduction for the per-token norm kinds, (v*w)*rinv), bf16 and fp16
cd /work/s14
b() { ./build.sh "$@" || echo "FAILED $2"; }
b B bin/B_bf16 & b W bin/W_bf16; wait
b B bin/B_fp16 -DHARNESS_FP16 & b W bin/W_fp16 -DHARNESS_FP16; wait
