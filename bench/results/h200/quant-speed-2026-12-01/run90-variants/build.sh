#!/usr/bin/env bash
# build.sh VARIANT_TEMPLATES_DIR OUTBIN [-DHARNESS_FP16]: the harness (exp.cu, cases.inc) against one template variant
set -e
export PATH=/usr/local/cuda/bin:$PATH
nvcc -std=c++20 -O3 -gencode=arch=compute_90a,code=sm_90a -lineinfo -I/work/s12 -I$1 -I/work/main/generated/include -I/work/main/runtime/include -I/work/main/build/runtime/include -Xcudafe --diag_suppress=esa_on_defaulted_function_ignored -Xcudafe --diag_suppress=550 -Xptxas -v $3 -o $2 /work/s12/exp.cu 2>$2.ptxas
