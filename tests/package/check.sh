#!/usr/bin/env bash
# The installed libkiln as an engine sees it (README, "Linking kiln into an engine").
#   check.sh soname | exports | pkg-config-shared | pkg-config-static | cmake | subproject
# tests/package/meson.build passes the build's facts in the environment: KILN_SOURCE,
# KILN_BUILD, KILN_SHARED_LIB, KILN_VERSION, KILN_SOVERSION, KILN_PREFIX, KILN_LIBDIR,
# KILN_INCLUDEDIR, KILN_ARCH, NVCC. Every check fails loudly; nothing is skipped.
set -euo pipefail
mode=${1:?usage: check.sh MODE}
cc=${CC:-cc}
cflags=(-std=c99 -pedantic -Werror -Wall -Wextra)
consumer_c=$KILN_SOURCE/tests/package/consumer.c
export PATH=$(dirname "$NVCC"):$PATH

fail() { echo "FAIL: $*" >&2; exit 1; }
for tool in readelf nm pkg-config cmake "$cc"; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (tools/bootstrap.sh installs the package tools)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# meson install into a staging folder: $stage is the prefix as installed.
stage_install() {
  meson install -C "$KILN_BUILD" --no-rebuild --quiet --destdir "$tmp/destdir" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "meson install --destdir failed"; }
  stage=$tmp/destdir$KILN_PREFIX
  stage_lib=$stage/$KILN_LIBDIR
  [ -f "$stage/$KILN_INCLUDEDIR/kiln/version.h" ] || fail "kiln/version.h is not installed"
  echo "staged install: $stage"
}

# The program's NEEDED entries; a static link of libkiln must name no libkiln.so.
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
expect_static() {
  if needed "$1" | grep -q '^libkiln'; then fail "$1 needs $(needed "$1" | grep '^libkiln'): not a static link"; fi
  echo "$1: no libkiln.so needed (NEEDED: $(needed "$1" | tr '\n' ' '))"
}
expect_shared() {
  needed "$1" | grep -qx "libkiln.so.$KILN_SOVERSION" || fail "$1 does not need libkiln.so.$KILN_SOVERSION"
  echo "$1: needs libkiln.so.$KILN_SOVERSION"
}

# pkg-config sees only the staged .pc files, with prefix moved to the staging folder.
pc() { PKG_CONFIG_LIBDIR=$stage_lib/pkgconfig pkg-config --define-variable=prefix="$stage" "$@"; }

case $mode in
soname)
  soname=$(readelf -d "$KILN_SHARED_LIB" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  echo "$KILN_SHARED_LIB: SONAME $soname"
  [ "$soname" = "libkiln.so.$KILN_SOVERSION" ] || fail "SONAME is '$soname', expected libkiln.so.$KILN_SOVERSION"
  [ "$(basename "$KILN_SHARED_LIB")" = "libkiln.so.$KILN_VERSION" ] || fail "file is $(basename "$KILN_SHARED_LIB"), expected libkiln.so.$KILN_VERSION"
  ;;
exports)
  nm -D --defined-only "$KILN_SHARED_LIB" | awk 'NF >= 3 { print $3 }' | sort -u >"$tmp/exports"
  grep -v '^kiln_' "$tmp/exports" >"$tmp/others" || true
  echo "$(grep -c '^kiln_' "$tmp/exports") kiln_* symbols exported"
  [ -s "$tmp/others" ] && { echo "exported symbols that are not kiln_*:" >&2; cat "$tmp/others" >&2; fail "libkiln.so exports more than kiln_*"; }
  grep -qx kiln_version "$tmp/exports" || fail "kiln_version is not exported"
  ;;
pkg-config-shared)
  stage_install
  echo "pkg-config --cflags --libs kiln: $(pc --cflags --libs kiln)"
  $cc "${cflags[@]}" "$consumer_c" $(pc --cflags --libs kiln) -o "$tmp/consumer"
  expect_shared "$tmp/consumer"
  LD_LIBRARY_PATH=$stage_lib ldd "$tmp/consumer" | grep -F "$stage_lib/libkiln.so.$KILN_SOVERSION" ||
    fail "the program does not load the staged libkiln.so.$KILN_SOVERSION"
  LD_LIBRARY_PATH=$stage_lib "$tmp/consumer" "$KILN_VERSION" "$KILN_ARCH"
  ;;
pkg-config-static)
  stage_install
  # kiln-static.pc: libkiln.a even beside libkiln.so.
  echo "pkg-config --static --libs kiln-static: $(pc --static --libs kiln-static)"
  $cc "${cflags[@]}" "$consumer_c" $(pc --static --cflags --libs kiln-static) -o "$tmp/consumer-static"
  expect_static "$tmp/consumer-static"
  "$tmp/consumer-static" "$KILN_VERSION" "$KILN_ARCH"
  # kiln.pc --static on a static-only install: Libs.private must be all libkiln.a needs.
  rm -f "$stage_lib"/libkiln.so*
  echo "pkg-config --static --libs kiln: $(pc --static --libs kiln)"
  $cc "${cflags[@]}" "$consumer_c" $(pc --static --cflags --libs kiln) -o "$tmp/consumer-static-only"
  expect_static "$tmp/consumer-static-only"
  "$tmp/consumer-static-only" "$KILN_VERSION" "$KILN_ARCH"
  ;;
cmake)
  stage_install
  cmake -S "$KILN_SOURCE/tests/package/cmake" -B "$tmp/cmake-build" -G Ninja -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_PREFIX_PATH="$stage" -DKILN_EXPECTED_VERSION="$KILN_VERSION" --no-warn-unused-cli
  cmake --build "$tmp/cmake-build"
  expect_shared "$tmp/cmake-build/consumer_shared"
  expect_static "$tmp/cmake-build/consumer_static"
  # CMake gives the shared one an rpath to the staged lib folder.
  "$tmp/cmake-build/consumer_shared" "$KILN_VERSION" "$KILN_ARCH"
  "$tmp/cmake-build/consumer_static" "$KILN_VERSION" "$KILN_ARCH"
  # A distribution may split the libraries: each alone must still be found, and neither
  # must not be.
  mv "$stage_lib/libkiln.a" "$tmp/libkiln.a"
  cmake -S "$KILN_SOURCE/tests/package/cmake" -B "$tmp/cmake-shared" -G Ninja -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_PREFIX_PATH="$stage" -DKILN_EXPECTED_VERSION="$KILN_VERSION" -DKILN_EXPECT_ONLY=shared --no-warn-unused-cli
  cmake --build "$tmp/cmake-shared"
  "$tmp/cmake-shared/consumer_shared" "$KILN_VERSION" "$KILN_ARCH"
  mkdir -p "$tmp/so" && mv "$stage_lib"/libkiln.so* "$tmp/so/"
  if cmake -S "$KILN_SOURCE/tests/package/cmake" -B "$tmp/cmake-none" -G Ninja -DCMAKE_C_COMPILER="$cc" \
       -DCMAKE_PREFIX_PATH="$stage" -DKILN_EXPECTED_VERSION="$KILN_VERSION" --no-warn-unused-cli >"$tmp/none.log" 2>&1; then
    echo "find_package(kiln) succeeded with neither library installed"; exit 1
  fi
  grep -q "neither" "$tmp/none.log" || { cat "$tmp/none.log"; echo "no 'neither ... is installed' message"; exit 1; }
  mv "$tmp/libkiln.a" "$stage_lib/libkiln.a"
  cmake -S "$KILN_SOURCE/tests/package/cmake" -B "$tmp/cmake-static" -G Ninja -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_PREFIX_PATH="$stage" -DKILN_EXPECTED_VERSION="$KILN_VERSION" -DKILN_EXPECT_ONLY=static --no-warn-unused-cli
  cmake --build "$tmp/cmake-static"
  expect_static "$tmp/cmake-static/consumer_static"
  "$tmp/cmake-static/consumer_static" "$KILN_VERSION" "$KILN_ARCH"
  ;;
subproject)
  # A parent project with subprojects/kiln -> this repository (only the generic kernels:
  # sm80 has no config sets), without kiln-gen, the tools or the tests.
  parent=$tmp/parent
  mkdir -p "$parent/subprojects"
  cp "$KILN_SOURCE/tests/package/subproject/meson.build" "$consumer_c" "$parent/"
  ln -s "$KILN_SOURCE" "$parent/subprojects/kiln"
  printf "[binaries]\ncuda = '%s'\nc = '%s'\n" "$NVCC" "$(command -v "$cc")" >"$tmp/native.ini"
  meson setup "$tmp/parent-build" "$parent" --native-file "$tmp/native.ini" --force-fallback-for=kiln \
    -Dkiln:archs=sm80 -Dkiln:generator=false -Dkiln:tools=false -Dkiln:tests=false | tee "$tmp/setup.log"
  # The parent must not need kiln-gen's or the tests' dependencies.
  if grep -Ei 'nlohmann|cli11|gtest' "$tmp/setup.log"; then fail "the subproject looked for nlohmann-json, CLI11 or gtest"; fi
  ninja -C "$tmp/parent-build"
  expect_static "$tmp/parent-build/consumer"  # dependency('kiln') is libkiln.a
  "$tmp/parent-build/consumer" "$KILN_VERSION" sm80
  ;;
*) fail "unknown mode $mode" ;;
esac
echo "$mode: ok"
