#!/usr/bin/env bash
# Every benchmark of the project on the GPU this runs on, into one folder. From the
# repository root, after `ninja -C build`:
#
#   bench/run_all.sh OUT_DIR [BUILD_DIR]        (BUILD_DIR defaults to build)
#
# OUT_DIR/kiln-bench/          kiln vs its generic kernel, the copy ceiling and the launch
#                              floor, bf16 and fp16: <kernel>_<dtype>.csv/.svg, summary_*.txt
# OUT_DIR/kiln-bench-rotate/   the same with rotated buffers (mid sizes measured from DRAM)
# OUT_DIR/torch/               kiln vs PyTorch eager and torch.compile (bf16): CSV, summary
# OUT_DIR/*.log                everything each step printed; OUT_DIR/environment.txt
#
# Environment: KILN_BENCH_ARGS (more kiln-bench options), COMPARE_TORCH_ARGS (more
# compare_torch.py options, e.g. "--quick" or "--dtype all"), SKIP_TORCH=1.
# Exits non-zero if any step failed; the other steps still run.
set -uo pipefail

if [[ $# -lt 1 || $# -gt 2 || $1 == -h || $1 == --help ]]; then
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
out=$1
build=${2:-build}
bench=$build/tools/kiln-bench
lib=$build/runtime/libkiln.so
here=$(cd "$(dirname "$0")" && pwd)

for f in "$bench" "$lib"; do
  if [[ ! -e $f ]]; then
    echo "run_all: $f not found: build first (ninja -C $build)" >&2
    exit 2
  fi
done
mkdir -p "$out"

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "host: $(uname -a)"
  echo "commit: $(git -C "$here/.." rev-parse HEAD 2>/dev/null || echo unknown)"
  echo "build: $build"
  command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit --format=csv
} > "$out/environment.txt" 2>&1

failed=()
step() {  # step NAME COMMAND...: run, log to OUT_DIR/NAME.log, remember a failure
  local name=$1
  shift
  echo "== $name: $*" >&2
  local start=$SECONDS
  "$@" 2>&1 | tee "$out/$name.log"
  local rc=${PIPESTATUS[0]}
  echo "== $name: exit $rc after $((SECONDS - start)) s" >&2
  [[ $rc -eq 0 ]] || failed+=("$name (exit $rc)")
}

# shellcheck disable=SC2086  # the *_ARGS variables are option lists
step kiln-bench "$bench" --kernel all --dtype all --out-dir "$out/kiln-bench" ${KILN_BENCH_ARGS:-}
# shellcheck disable=SC2086
step kiln-bench-rotate "$bench" --kernel all --dtype all --rotate --out-dir "$out/kiln-bench-rotate" ${KILN_BENCH_ARGS:-}

if [[ ${SKIP_TORCH:-0} == 1 ]]; then
  echo "== torch: skipped (SKIP_TORCH=1)" >&2
elif ! python3 -c 'import torch' > /dev/null 2>&1; then
  echo "== torch: PyTorch is not importable by python3" >&2
  failed+=("torch (no PyTorch)")
else
  # shellcheck disable=SC2086
  step torch python3 "$here/compare_torch.py" --lib "$lib" --out "$out/torch" ${COMPARE_TORCH_ARGS:-}
fi

echo >&2
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "run_all: FAILED: ${failed[*]}; results so far in $out" >&2
  exit 1
fi
echo "run_all: all steps passed; results in $out" >&2
