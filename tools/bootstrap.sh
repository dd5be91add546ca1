#!/usr/bin/env bash
# One command from a fresh clone to a built kiln: install what the build needs
# (Debian/Ubuntu), configure, regenerate generated/ from configs/, build libkiln,
# kiln-gen, kiln-bench and the tests, and print the per-variant build report.
#   bash tools/bootstrap.sh [BUILD_DIR] [extra meson options, e.g. -Darchs=sm90]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift $(($# > 0 ? 1 : 0))

export PATH=/usr/local/cuda/bin:$PATH
command -v nvcc >/dev/null || { echo "bootstrap: nvcc not found (expected the CUDA Toolkit at /usr/local/cuda)" >&2; exit 1; }

packages=(meson ninja-build pkg-config nlohmann-json3-dev libcli11-dev libgtest-dev python3
          cmake python3-venv python3-build python3-mesonpy python3-pytest)  # the last line: package tests
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# meson < 1.4 asks nvcc for no depfile, so an edited template would rebuild nothing:
# configure it with a wrapper that adds one (tools/nvcc-depfile.sh).
native=()
if [ "$(printf '%s\n' 1.4.0 "$(meson --version)" | sort -V | head -n 1)" != 1.4.0 ]; then
  native_file=$(mktemp --suffix=.ini)  # meson keeps its own copy
  printf "[binaries]\ncuda = '%s'\n" "$PWD/tools/nvcc-depfile.sh" >"$native_file"
  native=(--native-file "$native_file")
fi
[ -f "$build/build.ninja" ] || meson setup "$build" "${native[@]}" "$@"
ninja -C "$build" generator/kiln-gen
"$build/generator/kiln-gen"           # configs/ -> generated/ (rewrites only what changed)
ninja -C "$build"
ninja -C "$build" report
