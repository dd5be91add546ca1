#!/usr/bin/env bash
# Every benchmark of the project on the GPU this runs on, into one folder. From the
# repository root, after `ninja -C build`:
#
#   bench/run_all.sh [BUILD_DIR [OUT_DIR [STEP...]]]    (defaults: build bench-results all)
#
# Steps (each writes as it goes, so a run cut short keeps what it measured):
#   kiln-bench         kiln vs its generic kernel, copy ceiling, launch floor; every kernel of
#                      the library, bf16 and fp16
#                      -> OUT_DIR/kiln-bench/<kernel>_<dtype>.csv/.svg, summary_*.txt  (~30 s a kernel)
#   kiln-bench-rotate  the same with rotated buffers (mid sizes from DRAM)    (about twice as long)
#   torch              kiln vs PyTorch eager and torch.compile, bf16, full grid, every kernel
#                      with a baseline in reference/torch_reference.py (the others are reported)
#                      -> OUT_DIR/torch/compare_torch_*.csv, *_summary.txt   (<= TORCH_TIME_LIMIT)
# OUT_DIR/<step>.log has everything a step printed; OUT_DIR/environment.txt the machine.
#
# Environment: TORCH_TIME_LIMIT (seconds after which compare_torch starts no new shape;
# default 330, 0 = none), KILN_BENCH_ARGS, COMPARE_TORCH_ARGS (more options, e.g.
# "--quick" or "--dtype all"). Exits non-zero if any step failed (the others still run).
set -uo pipefail

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
build=${1:-build}
out=${2:-bench-results}
shift $(($# < 2 ? $# : 2))
steps=("$@")
[[ ${#steps[@]} -eq 0 || ${steps[0]} == all ]] && steps=(kiln-bench kiln-bench-rotate torch)
bench=$build/tools/kiln-bench
lib=$build/runtime/libkiln.so.0.5
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
  command -v nvidia-smi > /dev/null &&
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit --format=csv
} > "$out/environment.txt" 2>&1

failed=()
run_step() {  # run_step NAME COMMAND...: run, log to OUT_DIR/NAME.log, remember a failure
  local name=$1
  shift
  echo "== $name: $*" >&2
  local start=$SECONDS
  "$@" 2>&1 | tee "$out/$name.log"
  local rc=${PIPESTATUS[0]}
  echo "== $name: exit $rc after $((SECONDS - start)) s" >&2
  [[ $rc -eq 0 ]] || failed+=("$name (exit $rc)")
}

for step in "${steps[@]}"; do
  case $step in
    kiln-bench)
      # shellcheck disable=SC2086  # an option list
      run_step "$step" "$bench" --kernel all --dtype all --out-dir "$out/kiln-bench" ${KILN_BENCH_ARGS:-} ;;
    kiln-bench-rotate)
      # shellcheck disable=SC2086
      run_step "$step" "$bench" --kernel all --dtype all --rotate --out-dir "$out/kiln-bench-rotate" \
        ${KILN_BENCH_ARGS:-} ;;
    torch)
      if ! python3 -c 'import torch' > /dev/null 2>&1; then
        echo "== torch: PyTorch is not importable by python3" >&2
        failed+=("torch (no PyTorch)")
        continue
      fi
      # shellcheck disable=SC2086
      run_step "$step" python3 "$here/compare_torch.py" --lib "$lib" --out "$out/torch" \
        --time-limit "${TORCH_TIME_LIMIT:-330}" ${COMPARE_TORCH_ARGS:-} ;;
    *)
      echo "run_all: unknown step '$step' (kiln-bench, kiln-bench-rotate, torch, all)" >&2
      failed+=("$step (unknown)") ;;
  esac
done

echo >&2
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "run_all: FAILED: ${failed[*]}; results so far in $out (exit 3 from torch: cut short by TORCH_TIME_LIMIT)" >&2
  exit 1
fi
echo "run_all: all steps passed; results in $out" >&2
