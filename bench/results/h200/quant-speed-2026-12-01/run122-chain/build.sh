#!/usr/bin/env bash
# Builds chain (run 122) from the repository root: nvcc by hand against templates/ and
# tools/measure/timing.cu, linked by g++ with the measure host library of the build folder $1
# (default build-q) and static cudart (nvcc's own link stopped in nvlink); sm_90a SASS.
set -euo pipefail
B=${1:-build-q}
D=bench/results/h200/quant-speed-2026-12-01/run122-chain
W=$(mktemp -d)
export PATH=/usr/local/cuda/bin:$PATH
ninja -C "$B" tools/measure/libkiln_measure_host.a
for f in "$D/chain.cu" tools/measure/timing.cu; do
  nvcc -O3 -std=c++20 -gencode arch=compute_90a,code=sm_90a -I templates -I runtime/include -I "$B/runtime/include" \
    -I tools -c "$f" -o "$W/$(basename "$f").o" -Xptxas -v 2>&1 | grep -E "error|Used" | sed -n 1,40p
done
g++ "$W/chain.cu.o" "$W/timing.cu.o" "$B/tools/measure/libkiln_measure_host.a" -L/usr/local/cuda/lib64 -lcudart_static \
  -ldl -lpthread -lrt -o "$D/chain"
rm -rf "$W"
