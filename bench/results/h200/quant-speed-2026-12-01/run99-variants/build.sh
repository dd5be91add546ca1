#!/usr/bin/env bash
# build.sh TEMPLATES_DIR OUTBIN [nvcc -D...]: the harness (exp.cu, cases.inc) against one template variant
set -e
export PATH=/usr/local/cuda/bin:$PATH
d=$1; o=$2; shift 2
nvcc -std=c++20 -O3 -gencode=arch=compute_90a,code=sm_90a -lineinfo -I/work/s14 -I$d -I/work/main/generated/include -I/work/main/runtime/include -I/work/main/build/runtime/include -Xcudafe --diag_suppress=esa_on_defaulted_function_ignored -Xcudafe --diag_suppress=550 -Xptxas -v "$@" -o $o /work/s14/exp.cu 2>$o.ptxas
