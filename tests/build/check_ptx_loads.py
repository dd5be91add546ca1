#!/usr/bin/env python3
"""With PDL a kiln kernel starts while the kernel before it still runs, and may read a tensor
only after griddepcontrol.wait. nvcc turns a read through a const __restrict__ pointer into
ld.global.nc, which ptxas takes to be read-only for the kernel's whole life and may hoist above
the wait; it did, and the kernels read the weight before the previous kernel wrote it. So every
load of a tensor goes through templates/common.cuh's load_vec, a coherent ld.global.

This compiles the generic kernels and one tuned kernel source of each template in the build
to PTX, with the build's own flags, and fails on any ld.global.nc, or on an ld.global before
an entry's first griddepcontrol.wait. (Where ptxas then places the loads needs a disassembler; the GPU test
`ProgrammaticDependentLaunchWaitsForThePredecessor` checks the behaviour.)

    tests/build/check_ptx_loads.py BUILD_DIR
"""
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path


def kernel_compiles(build):
    """(source, argv) of each kernel object in the build: the generated sources."""
    out = subprocess.run(["ninja", "-C", build, "-t", "commands"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        m = re.search(r" -c (\S*generated/\S+\.cu)$", line)
        if m:
            yield m.group(1), shlex.split(line)


def ptx_argv(argv, source, ptx):
    """The object's command, compiling `source` to PTX for the first architecture it names."""
    args, arch, skip = [], None, False
    for a in argv[:-2]:  # drop "-c SOURCE"
        if skip:
            skip = False
            continue
        if a == "-o":
            skip = True
            continue
        m = re.match(r"-gencode=arch=(compute_\w+),code=", a)
        if m:
            arch = arch or m.group(1)
            continue
        args.append(a)
    if arch is None:
        return None
    return args + [f"-arch={arch}", "-ptx", "-o", ptx, source]


def entry_bodies(ptx):
    """{kernel name: its PTX body}."""
    bodies, name = {}, None
    for line in ptx.splitlines():
        m = re.match(r"\.visible \.entry (\S+)\(", line)
        if m:
            name = m.group(1)
            bodies[name] = []
        elif name:
            bodies[name].append(line.strip())
    return bodies


LOAD = re.compile(r"(@!?%p\d+ )?ld\.global\.")
LOAD_NC = re.compile(r"(@!?%p\d+ )?ld\.global\.nc")


def problems_in(ptx):
    problems = []
    for name, body in entry_bodies(ptx).items():
        waits = "griddepcontrol.wait;" in body
        waited = False
        for s in body:
            if s == "griddepcontrol.wait;":
                waited = True
            elif LOAD_NC.match(s):
                problems.append(f"{name}: {s}: a non-coherent load")
            elif waits and not waited and LOAD.match(s):
                problems.append(f"{name}: {s}: a load before the PDL wait")
    return problems


def main():
    build = Path(sys.argv[1]).resolve()
    chosen = {}
    for source, argv in kernel_compiles(str(build)):
        if source.endswith("generated/kernels.cu"):  # every template's generic kernel
            chosen.setdefault("generic kernels", (source, argv))
            continue
        m = re.search(r'#include "(\w+\.cuh)"', (build / source).read_text())
        if m:
            chosen.setdefault(m.group(1), (source, argv))
    if not chosen:
        sys.exit(f"{build}: no generated kernel source in the build")
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for template, (source, argv) in sorted(chosen.items()):
            ptx = str(Path(tmp) / "k.ptx")
            cmd = ptx_argv(argv, source, ptx)
            if cmd is None:
                sys.exit(f"{source}: its compile names no -gencode architecture")
            run = subprocess.run(cmd, cwd=build, capture_output=True, text=True)
            if run.returncode != 0:
                sys.exit(f"{source}: nvcc -ptx failed:\n{run.stderr}")
            text = Path(ptx).read_text()
            problems = problems_in(text)
            loads = len(re.findall(r"\bld\.global\.", text))
            print(f"{template}: {source}: {len(entry_bodies(text))} kernels, {loads} global loads, {len(problems)} problems")
            for p in problems[:10]:
                print("  " + p)
            failed += bool(problems)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
