#!/usr/bin/env bash
# Re-read of session 18 (no device time left): is the SASS of the final templates the SASS that was tested?
# usage, from a configured build folder (its runtime/include has kiln/version.h):
#   sasscmp.sh OLD_TEMPLATES_DIR TU...   (TU: a generated .cu, relative to the build folder)
# Compiles each TU for sm_90a against OLD_TEMPLATES_DIR and ../templates, then compares every kernel's .text
# section by name ("identical": byte for byte), and all kernel bodies as a multiset whatever their names.
set -u
old=$1; shift
export PATH=/usr/local/cuda/bin:$PATH
cc() { nvcc -DNDEBUG --std=c++20 -O3 -isystem /usr/local/cuda/include -I"$1" -I../generated/include -I../runtime/include \
         -Iruntime/include -gencode=arch=compute_90a,code=sm_90a -cubin -o "$2" "$3"; }
for tu in "$@"; do
  cc "$old" /tmp/sc_o$$.cubin "$tu" && cc ../templates /tmp/sc_n$$.cubin "$tu" || { echo "$(basename "$tu"): compile failed"; continue; }
  same=0; diff=0; new=0
  for s in $(readelf -SW /tmp/sc_n$$.cubin 2>/dev/null | grep -o '\.text\.[^ ]*'); do
    if ! readelf -SW /tmp/sc_o$$.cubin 2>/dev/null | grep -qF " $s "; then new=$((new+1)); continue; fi
    if cmp -s <(readelf -x "$s" /tmp/sc_o$$.cubin 2>/dev/null | tail -n +3) <(readelf -x "$s" /tmp/sc_n$$.cubin 2>/dev/null | tail -n +3)
    then same=$((same+1)); else diff=$((diff+1)); fi
  done
  gone=$(( $(readelf -SW /tmp/sc_o$$.cubin 2>/dev/null | grep -c '\.text\.') - same - diff ))
  # Kernel names change with a template parameter's type (bool Fixed -> enum Fixed): compare the bodies as
  # multisets too, whatever their names.
  bodies() { for s in $(readelf -SW "$1" 2>/dev/null | grep -o '\.text\.[^ ]*'); do
               readelf -x "$s" "$1" 2>/dev/null | tail -n +3 | md5sum | cut -c1-32; done | sort; }
  if [ "$(bodies /tmp/sc_o$$.cubin)" = "$(bodies /tmp/sc_n$$.cubin)" ]; then b="the same"; else b="not the same"; fi
  echo "$(basename "$tu"): $same identical, $diff differ, $new new, $gone gone; kernel bodies as a multiset: $b"
done
