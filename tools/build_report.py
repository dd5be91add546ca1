#!/usr/bin/env python3
"""Per-variant build report: compile seconds (from .ninja_log) and the bytes of
device code (the object's .nv_fatbin section) for every generated instance.

Usage: tools/build_report.py BUILD_DIR   (run by `ninja -C BUILD_DIR report`)
"""
import pathlib
import re
import subprocess
import sys


def compile_seconds(build: pathlib.Path) -> dict:
    """Last build's duration per output, from ninja's log (start/end in ms)."""
    times = {}
    log = build / ".ninja_log"
    if log.exists():
        for line in log.read_text().splitlines()[1:]:
            parts = line.split("\t")
            if len(parts) >= 4:
                times[parts[3]] = (int(parts[1]) - int(parts[0])) / 1000.0
    return times


def fatbin_bytes(obj: pathlib.Path) -> int:
    out = subprocess.run(["size", "-A", str(obj)], capture_output=True, text=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if fields and fields[0] == ".nv_fatbin":
            return int(fields[1])
    return 0


def main() -> int:
    build = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "build")
    times = compile_seconds(build)
    rows = []
    for obj in sorted(build.glob("libkiln_sm*.a.p/*.o")):
        name = re.sub(r"\.cu\.o$|\.cpp\.o$", "", obj.name)
        name = name.split("_", 3)[-1] if name.startswith("generated_") else name
        rows.append((name, fatbin_bytes(obj), times.get(str(obj.relative_to(build)), float("nan"))))
    if not rows:
        if list(build.glob("runtime/libkiln.so*")) and not list(build.glob("libkiln_sm*.a")):
            # -Darchs names only archs without config sets: the generic kernels are all there is.
            print(f"no specialised variants in {build}: no arch it builds has config sets (generic kernels only)")
            return 0
        print(f"no generated objects under {build}: build first", file=sys.stderr)
        return 1
    width = max(len(r[0]) for r in rows)
    print(f"{'variant':<{width}}  {'device bytes':>12}  {'compile s':>9}")
    for name, size, secs in rows:
        print(f"{name:<{width}}  {size:>12}  {secs:>9.1f}")
    total = sum(r[1] for r in rows)
    print(f"{len(rows)} objects, {total} bytes of compressed device code")
    lib = build / "runtime" / "libkiln.so"
    if lib.exists():
        print(f"libkiln.so: {lib.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
