#!/usr/bin/env python3
"""With PDL a kiln kernel starts while the kernel before it still runs, and may read a tensor
only after griddepcontrol.wait. nvcc turns a read through a const __restrict__ pointer into
ld.global.nc, which ptxas takes to be read-only for the kernel's whole life and may hoist above
the wait; it did, and the kernels read the weight before the previous kernel wrote it. So every
load of a tensor goes through templates/common.cuh's load_vec, a coherent ld.global.

This compiles, with the build's own flags, to PTX for every architecture of the build that has
PDL (compute_90 and later; a build with none is a SKIP), one translation unit holding the
generic kernels (generated/kernels.cu) and one tuned source of each kernel directory for each
value of its schedule's switches (weight_at_use, two_shot: the descriptors' 0-to-1
parameters), and fails on
  - any non-coherent load (ld.global.nc in any cache form, ldu), anywhere in the PTX;
  - a kernel entry with a global read (a load, atomic, async copy or texture fetch of global
    or generic memory) or a call before its first griddepcontrol.wait, or with global reads
    and no wait at all;
  - a device function (.func) with a global read: calls are not followed;
  - a build with no generated kernel source, an arch without kernels.cu, an instance compiled
    with other flags than kernels.cu, or PTX with no kernel entry.
Its own patterns are checked first against sample PTX (SAMPLES).

What it does not see: it follows the text, not the control flow, so a read after a wait that a
branch may skip passes. That is the static_weight case (the norm kernels' weight, read before
the wait when the caller promises no kernel writes it), and it would also be a wait made
conditional by mistake. And where ptxas then places the loads needs a disassembler, which the
CI toolkit lacks. The GPU test `ProgrammaticDependentLaunchWaitsForThePredecessor` (test_gpu,
test_comm) checks the behaviour, and a SASS scan (cuobjdump) on a GPU machine the placement.

    tests/build/check_ptx_loads.py BUILD_DIR
"""
import json
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path


# A statement that reads memory another kernel may write: a load, atomic, async copy or
# texture fetch that is not of kernel parameters, shared, local or constant memory (generic
# addressing included: it may point at global memory).
READ = re.compile(r"^(@!?%\w+\s+)?(ld|ldu|atom|red|cp\.async|multimem|tex|suld)\b(?P<q>[.\w:]*)")
NOT_GLOBAL = re.compile(r"\.(param|shared|local|const)\b")
NON_COHERENT = re.compile(r"\b(ldu\b|ld\.global(\.[\w:]+)*\.nc\b)")
WAIT = "griddepcontrol.wait"


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


def statements(lines):
    """PTX lines as statements: comments dropped, several statements on a line split, scope
    braces dropped."""
    out = []
    for line in lines:
        line = line.split("//", 1)[0]
        for part in line.split(";"):
            part = part.strip().lstrip("{}").strip()  # a scope's braces, not a vector's
            if part:
                out.append(part)
    return out


def reads_global(statement):
    m = READ.match(statement)
    if not m:
        return False
    if m.group(2) == "cp.async":
        return ".global" in m.group("q")
    return not NOT_GLOBAL.search(m.group("q"))


def bodies_of(ptx):
    """({kernel entry name: statements}, {device function name: statements})."""
    entries, funcs, current = {}, {}, None
    for line in ptx.splitlines():
        m = re.match(r"\s*(\.visible\s+|\.weak\s+|\.extern\s+)?\.(entry|func)\s+(\([^)]*\)\s*)?(\S+?)\s*\(", line)
        if m:
            current = (entries if m.group(2) == "entry" else funcs).setdefault(m.group(4), [])
        elif current is not None:
            current.extend(statements([line]))
    return entries, funcs


def problems_in(ptx):
    """What breaks the rule in `ptx`. It follows the text, not the control flow: a load after a
    wait that a branch may skip passes (so the static_weight case passes, and so would a wait
    made conditional by mistake: the GPU test and the SASS scan cover that)."""
    problems = [f"{st}: a non-coherent load" for st in statements(ptx.splitlines()) if NON_COHERENT.search(st)]
    entries, funcs = bodies_of(ptx)
    if not entries:
        problems.append("no kernel entry in the PTX")
    for name, body in funcs.items():  # not followed into: a device function must not read
        problems += [f"{name}: {st}: a global read in a device function (not checked for order)"
                     for st in body if reads_global(st)]
    for name, body in entries.items():
        waited = False
        reads = 0
        for st in body:
            if st == WAIT:
                waited = True
            elif reads_global(st) or st.startswith("call"):
                reads += reads_global(st)
                if not waited:
                    problems.append(f"{name}: {st}: a {'read' if reads_global(st) else 'call'} before the PDL wait")
                    break
        if reads and WAIT not in body:
            problems.append(f"{name}: {reads} global reads and no PDL wait")
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
    (".visible .entry k(\n)\n{\nld.param.u64 %rd1, [p];\ngriddepcontrol.wait;\n}", False),
    (".visible .entry k(\n)\n{\nld.shared.u32 %r1, [%r2];\nld.shared::cluster.u32 %r1, [%r2];\ngriddepcontrol.wait;\n}", False),
    (".visible .entry k(\n)\n{\nld.u32 %r1, [%rd1];\ngriddepcontrol.wait;\n}", True),  # generic address
    (".visible .entry k(\n)\n{\nld.global.L2::128B.b32 %r1, [%rd1];\ngriddepcontrol.wait;\n}", True),
    (".visible .entry k(\n)\n{\n{ ld.global.b32 %r1, [%rd1]; }\ngriddepcontrol.wait;\n}", True),
    (".visible .entry k(\n)\n{\ncp.async.ca.shared.global [%r1], [%rd1], 16;\ngriddepcontrol.wait;\n}", True),
    (".visible .entry k(\n)\n{\natom.global.add.u32 %r1, [%rd1], 1;\ngriddepcontrol.wait;\n}", True),
    (".visible .entry k(\n)\n{\ncall.uni f, ();\ngriddepcontrol.wait;\n}", True),
    (".func f(\n)\n{\nld.global.b32 %r1, [%rd1];\n}\n.visible .entry k(\n)\n{\ngriddepcontrol.wait;\ncall.uni f, ();\n}", True),
    (".visible .entry k(\n)\n{\nld.global.b32 %r1, [%rd1]; // griddepcontrol.wait;\n}", True),
]


def self_check():
    for ptx, bad in SAMPLES:
        if bool(problems_in(ptx)) != bad:
            sys.exit(f"check_ptx_loads.py's own check failed: expected {'a problem' if bad else 'none'} in:\n{ptx}")


def switches(generated):
    """The schedule parameters that switch a form of a kernel on or off (range 0 to 1, such as
    weight_at_use or two_shot), from the kernel descriptors kiln-gen wrote (kernels.json)."""
    kernels = json.loads((generated / "kernels.json").read_text())["kernels"]
    return sorted({p["name"] for k in kernels for p in k["schedule"] if p["min"] == 0 and p["max"] == 1})


def chosen_sources(build, compiles):
    """{arch: {key: (path, argv)}}: per PDL architecture, the generic kernels' source and one
    source per (kernel directory, switch values) of the objects compiled for it. A source names
    a switch's value in the comment kiln-gen writes before the template argument
    (/*weight_at_use=*/1); a switch left at its default is not written."""
    generated = next(((build / src).parent for src, _ in compiles if src.endswith("generated/kernels.cu")), None)
    if generated is None:
        sys.exit(f"{build}: the build compiles no generated/kernels.cu (the generic kernels)")
    names = switches(generated)
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
            key = (m.group(1),) + tuple(f"{s}={v}" for s in names for v in re.findall(rf"/\*{s}=\*/(\d+)", text))
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
        sys.exit(77)  # meson's SKIP
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for arch, sources in sorted(chosen.items()):
            if ("generic kernels",) not in sources:
                sys.exit(f"{arch}: the build compiles no generated/kernels.cu for it (the generic kernels)")
            # One translation unit per arch: one front end run, not one per source. That takes
            # kernels.cu's flags, which must be every instance's (include paths aside: kernels.cu
            # has the runtime's too).
            flags = flags_of(sources[("generic kernels",)][1])
            other = lambda argv: [a for a in flags_of(argv) if not a.startswith("-I")]
            for key, (path, argv) in sources.items():
                if other(argv) != other(sources[("generic kernels",)][1]):
                    sys.exit(f"{path}: compiled with other flags than generated/kernels.cu:\n  {' '.join(other(argv))}\n"
                             f"  {' '.join(other(sources[('generic kernels',)][1]))}")
            unit = Path(tmp) / f"{arch}.cu"
            unit.write_text("".join(f'#include "{path}"\n' for path, _ in sources.values()))
            ptx = Path(tmp) / f"{arch}.ptx"
            cmd = flags + [f"-arch={arch}", "-ptx", "-o", str(ptx), str(unit)]
            run = subprocess.run(cmd, cwd=build, capture_output=True, text=True)
            if run.returncode != 0:
                sys.exit(f"nvcc -ptx ({arch}) failed:\n{' '.join(cmd)}\n{run.stderr}")
            text = ptx.read_text()
            problems = problems_in(text)
            reads = sum(1 for st in statements(text.splitlines()) if reads_global(st))
            print(f"{arch}: {len(sources)} sources ({', '.join(' '.join(k) for k in sorted(sources))}): "
                  f"{len(bodies_of(text)[0])} kernels, {reads} global reads, {len(problems)} problems")
            for p in problems[:20]:
                print("  " + p)
            failed += bool(problems)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
