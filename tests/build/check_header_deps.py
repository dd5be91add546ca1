#!/usr/bin/env python3
"""Every CUDA object must depend on the headers it includes, so that editing templates/
rebuilds the kernels that include it. ninja learns those dependencies from nvcc's depfiles;
meson < 1.4 asks nvcc for none (tools/nvcc-depfile.sh fills in), and then an edited template
silently ships stale kernels.

    tests/build/check_header_deps.py BUILD_DIR
"""
import re
import subprocess
import sys


def main():
    build = sys.argv[1]
    out = subprocess.run(["ninja", "-C", build, "-t", "deps"], capture_output=True, text=True, check=True).stdout
    deps, current = {}, None
    for line in out.splitlines():
        m = re.match(r"^(\S+\.cu\.o): #deps (\d+)", line)
        if m:
            current = m.group(1)
            deps[current] = []
        elif line.startswith(" ") and current:
            deps[current].append(line.strip())
        elif not line.strip():
            current = None
    if not deps:
        sys.exit(f"{build}: ninja recorded no CUDA object (build first)")
    problems = []
    for obj, files in sorted(deps.items()):
        kernel_obj = ".a.p/generated_" in obj or obj.endswith("src_kernels.cu.o")
        if not files:
            problems.append(f"{obj}: no header dependencies recorded")
        elif kernel_obj and not any(f.endswith("templates/common.cuh") for f in files):
            problems.append(f"{obj}: does not depend on templates/common.cuh")
    kernels = sum(".a.p/generated_" in o or o.endswith("src_kernels.cu.o") for o in deps)
    print(f"{len(deps)} CUDA objects, {kernels} of them kernels; {len(problems)} without their headers")
    for p in problems[:20]:
        print("  " + p)
    if problems:
        print("reconfigure with NVCC=tools/nvcc-depfile.sh (tools/bootstrap.sh does) or use meson >= 1.4")
        sys.exit(1)


if __name__ == "__main__":
    main()
