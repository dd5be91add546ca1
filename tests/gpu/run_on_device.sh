#!/usr/bin/env bash
# Runs on the GPU machine: the GPU tests, then the same binary under
# compute-sanitizer memcheck and racecheck, then the fatbinary listing.
# Usage: tests/gpu/run_on_device.sh BUILD_DIR OUT_DIR
set -u
build=${1:-build}
out=${2:-gpu-results}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/device.txt"
git rev-parse HEAD 2>/dev/null | tee -a "$out/device.txt"

"$build/tests/test_gpu" --gtest_output=json:"$out/gpu.json" 2>&1 | tee "$out/gpu.log" | tail -n 25
echo "test_gpu exit: ${PIPESTATUS[0]}"
"$build/tests/test_runtime" 2>&1 | tail -n 3

for tool in memcheck racecheck; do
  compute-sanitizer --tool "$tool" --error-exitcode 99 "$build/tests/test_gpu" >"$out/sanitizer-$tool.log" 2>&1
  echo "compute-sanitizer --tool $tool: exit $?"
  tail -n 4 "$out/sanitizer-$tool.log"
done

cuobjdump --list-elf --list-ptx "$build/runtime/libkiln.so" >"$out/cuobjdump.txt" 2>&1
echo "cuobjdump: $(grep -c 'sm_90a' "$out/cuobjdump.txt") sm_90a ELF, $(grep -c 'sm_100a' "$out/cuobjdump.txt") sm_100a ELF, $(grep -c '^PTX file' "$out/cuobjdump.txt") PTX"
head -n 4 "$out/cuobjdump.txt"
