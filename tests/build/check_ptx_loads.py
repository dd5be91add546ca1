#!/usr/bin/env python3
"""With PDL a kiln kernel starts while the kernel before it still runs, and may read a tensor
only after griddepcontrol.wait. nvcc turns a read through a const __restrict__ pointer into
ld.global.nc, which ptxas takes to be read-only for the kernel's whole life and may hoist above
the wait; it did, and the kernels read the weight before the previous kernel wrote it. So every
load of a tensor goes through templates/common.cuh's load_vec, a coherent ld.global.

This compiles, with the build's own flags, to PTX for every architecture of the build that has
PDL (compute_90 and later), one translation unit holding the generic kernels (generated/
kernels.cu) and one tuned source of each kernel directory for each value of its schedule's
switches (weight_at_use), and fails on
  - any non-coherent load (ld.global.nc in any cache form, ldu), anywhere in the PTX;
  - a kernel entry with a global load before its first griddepcontrol.wait, or with global
    loads and no wait at all;
  - a build with no generated kernel source, or PTX with no kernel entry.
It checks the order nvcc writes. Where ptxas then places the loads needs a disassembler, which
the CI toolkit lacks: the GPU test `ProgrammaticDependentLaunchWaitsForThePredecessor` checks
the behaviour, and a SASS scan (cuobjdump) on a GPU machine the placement.

    tests/build/check_ptx_loads.py BUILD_DIR
"""
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

# Schedule parameters that change which loads a kernel makes (the comments kiln-gen writes
# before each template argument: /*weight_at_use=*/1).
SWITCHES = ("weight_at_use",)

LOAD = re.compile(r"^(@!?%p\d+\s+)?ld(\.[\w:]+)*?\.global\.")  # any global load: weak, relaxed, volatile
NON_COHERENT = re.compile(r"\b(ldu\.global|ld\.global(\.[\w:]+)*\.nc\b)")
WAIT = "griddepcontrol.wait;"


def kernel_compiles(build):
    """(source, argv) of each object the build compiles from generated/."""
    out = subprocess.run(["ninja", "-C", build, "-t", "commands"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if "generated/" not in line or not line.rstrip().endswith(".cu"):
            continue
        argv = shlex.split(line)
        # meson writes "... -c SOURCE" last (the depfile wrapper too): anything else is not
        # a kernel object's compile.
        if len(argv) >= 2 and argv[-2] == "-c" and "/generated/" in "/" + argv[-1]:
            yield argv[-1], argv


def pdl_archs(argv):
    """The virtual architectures the object is compiled for that have PDL (compute_90+)."""
    archs = []
    for a in argv:
        m = re.match(r"-gencode=arch=compute_(\d+)(\w*),code=", a)
        if m and int(m.group(1)) >= 90 and f"compute_{m.group(1)}{m.group(2)}" not in archs:
            archs.append(f"compute_{m.group(1)}{m.group(2)}")
    return archs


def flags_of(argv):
    """The compile's flags without its architectures, output and source."""
    args, skip = [], False
    for a in argv[:-2]:  # drop "-c SOURCE"
        if skip:
            skip = False
        elif a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
        elif not (a.startswith("-gencode") or a.startswith("-M")):
            args.append(a)
    return args


def entry_bodies(ptx):
    """{kernel entry name: its PTX body, one statement a line}."""
    bodies, name = {}, None
    for line in ptx.splitlines():
        m = re.match(r"\s*(\.visible\s+|\.weak\s+)?\.entry\s+(\S+?)\s*\(", line)
        if m:
            name = m.group(2)
            bodies[name] = []
        elif re.match(r"\s*(\.visible\s+|\.weak\s+)?\.func\b", line):
            name = None  # a device function is not an entry; the .nc scan covers it
        elif name:
            bodies[name].append(line.strip())
    return bodies


def problems_in(ptx):
    problems = [f"{line.strip()}: a non-coherent load" for line in ptx.splitlines() if NON_COHERENT.search(line)]
    bodies = entry_bodies(ptx)
    if not bodies:
        problems.append("no kernel entry in the PTX")
    for name, body in bodies.items():
        waited = False
        loads = 0
        for s in body:
            if s == WAIT:
                waited = True
            elif LOAD.match(s):
                loads += 1
                if not waited:
                    problems.append(f"{name}: {s}: a load before the PDL wait")
                    break
        if loads and WAIT not in body:
            problems.append(f"{name}: {loads} global loads and no PDL wait")
    return problems


# Each sample: PTX, and whether the check must find a problem in it. main() runs these first,
# so a pattern that stopped matching fails the test instead of passing every build.
SAMPLES = [
    (".visible .entry k(\n)\n{\ngriddepcontrol.wait;\nld.global.v4.b32 {%r1, %r2, %r3, %r4}, [%rd1];\n}", False),
    (".visible .entry k(\n)\n{\nmov.u32 %r1, 0;\n}", False),  # no load, no wait
    (".visible .entry k(\n)\n{\ngriddepcontrol.wait;\nld.global.nc.v4.u32 {%r1, %r2, %r3, %r4}, [%rd1];\n}", True),
    (".visible .entry k(\n)\n{\ngriddepcontrol.wait;\nld.global.L1::evict_last.nc.b32 %r1, [%rd1];\n}", True),
    (".visible .entry k(\n)\n{\ngriddepcontrol.wait;\n@%p1 ld.global.ca.nc.b32 %r1, [%rd1];\n}", True),
    (".visible .entry k(\n)\n{\ngriddepcontrol.wait;\nldu.global.u32 %r1, [%rd1];\n}", True),
    (".func f(\n)\n{\nld.global.nc.u32 %r1, [%rd1];\n}\n.visible .entry k(\n)\n{\ngriddepcontrol.wait;\n}", True),
    (".visible .entry k(\n)\n{\n@!%p2 ld.global.b32 %r1, [%rd1];\ngriddepcontrol.wait;\n}", True),
    (".visible .entry k(\n)\n{\nld.global.b32 %r1, [%rd1];\n}", True),  # loads, never waits
    (".visible .entry k(\n)\n{\nld.relaxed.sys.global.b32 %r1, [%rd1];\ngriddepcontrol.wait;\n}", True),
    (".func f(\n)\n{\nmov.u32 %r1, 0;\n}", True),  # no entry
]


def self_check():
    for ptx, bad in SAMPLES:
        if bool(problems_in(ptx)) != bad:
            sys.exit(f"check_ptx_loads.py's own check failed: expected {'a problem' if bad else 'none'} in:\n{ptx}")


def chosen_sources(build, compiles):
    """{arch: {key: (path, argv)}}: per PDL architecture, the generic kernels' source and one
    source per (kernel directory, switch values) of the objects compiled for it."""
    chosen = {}
    for source, argv in compiles:
        path = build / source
        if source.endswith("generated/kernels.cu"):
            key = ("generic kernels",)
        else:
            m = re.search(r"generated/([^/]+)/", source)
            if not m:
                continue
            text = path.read_text()
            key = (m.group(1),) + tuple(f"{s}={v}" for s in SWITCHES for v in re.findall(rf"/\*{s}=\*/(\d+)", text))
        for arch in pdl_archs(argv):
            chosen.setdefault(arch, {}).setdefault(key, (path, argv))
    return chosen


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    self_check()
    build = Path(sys.argv[1]).resolve()
    compiles = list(kernel_compiles(str(build)))
    if not compiles:
        sys.exit(f"{build}: no generated kernel source in the build")
    chosen = chosen_sources(build, compiles)
    if not chosen:
        print(f"{build}: no architecture with PDL (compute_90 or later) in the build: nothing to check")
        return
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for arch, sources in sorted(chosen.items()):
            # One translation unit per arch: one front end run, not one per source.
            unit = Path(tmp) / f"{arch}.cu"
            unit.write_text("".join(f'#include "{path}"\n' for path, _ in sources.values()))
            ptx = Path(tmp) / f"{arch}.ptx"
            # kernels.cu's compile has every include path the instances' have, and the runtime's.
            flags = flags_of(sources.get(("generic kernels",), next(iter(sources.values())))[1])
            cmd = flags + [f"-arch={arch}", "-ptx", "-o", str(ptx), str(unit)]
            run = subprocess.run(cmd, cwd=build, capture_output=True, text=True)
            if run.returncode != 0:
                sys.exit(f"nvcc -ptx ({arch}) failed:\n{' '.join(cmd)}\n{run.stderr}")
            text = ptx.read_text()
            problems = problems_in(text)
            loads = sum(1 for line in text.splitlines() if LOAD.match(line.strip()))
            print(f"{arch}: {len(sources)} sources ({', '.join(' '.join(k) for k in sorted(sources))}): "
                  f"{len(entry_bodies(text))} kernels, {loads} global loads, {len(problems)} problems")
            for p in problems[:20]:
                print("  " + p)
            failed += bool(problems)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
