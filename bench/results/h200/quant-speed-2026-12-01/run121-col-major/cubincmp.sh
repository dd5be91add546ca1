#!/usr/bin/env bash
# After ptxcmp.py on one TU: ptxas both PTX files it wrote (/tmp/o.ptx, /tmp/n.ptx) and compare every kernel's .text section.
set -e
/usr/local/cuda/bin/ptxas -arch=sm_90a -O3 /tmp/o.ptx -o /tmp/o.cubin
/usr/local/cuda/bin/ptxas -arch=sm_90a -O3 /tmp/n.ptx -o /tmp/n.cubin
same=0; diff=0
for s in $(readelf -SW /tmp/o.cubin | grep -o '\.text\.[^ ]*'); do
  if cmp -s <(readelf -x "$s" /tmp/o.cubin | tail -n +3) <(readelf -x "$s" /tmp/n.cubin 2>/dev/null | tail -n +3); then same=$((same+1)); else diff=$((diff+1)); echo "differs: $s"; fi
done
echo "$same kernels' SASS identical, $diff differ"
