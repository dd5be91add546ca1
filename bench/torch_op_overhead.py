#!/usr/bin/env python3
"""Host cost per call of kiln's torch ops outside CUDA graphs.

For every kernel of the library (from its descriptors; --kernel picks one), each way of
calling is timed as N back-to-back calls with no synchronisation in between: the host's
time per call, which is what an engine pays when it does not capture a graph
(with one, the host cost is gone and only kernel time remains). The kernels are small
(T = 1: about 2 µs on the GPU), so the host stays the bottleneck and the GPU keeps up.
For scale, the same is timed for one aten kernel (torch.mul with out=) and for a bare
kiln_launch through ctypes (kiln.Plan.launch, args built per call).

    KILN_LIBRARY=build/runtime/libkiln.so.0.5 PYTHONPATH=python python3 bench/torch_op_overhead.py [--out DIR]
"""

import argparse
import os
import statistics
import sys
import time

import torch

import kiln
import kiln.torch  # noqa: F401 (registers torch.ops.kiln)

CALLS = 2000
REPEATS = 7


def host_us_per_call(fn):
    """Median over REPEATS of (wall time of CALLS calls) / CALLS, in µs."""
    for _ in range(200):
        fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(CALLS):
            fn()
        samples.append((time.perf_counter() - start) / CALLS * 1e6)
        torch.cuda.synchronize()
    return statistics.median(samples)


ELEM = {"fp8_e4m3": torch.float8_e4m3fn, "f32": torch.float32, "i32": torch.int32}


def tensors_for(kernel, hidden, tokens):
    """{role: tensor} laid out as the library's descriptor says (kiln_tensor_shape)."""
    out = {}
    for spec in kernel.tensors:
        rows, cols, _ = spec.shape(hidden, tokens)
        shape = (rows, cols) if spec.rows == "tokens" else (cols,)
        dtype = torch.bfloat16 if spec.elem == "activation" else ELEM[spec.elem]
        t = torch.randn(shape, device="cuda").to(dtype) if dtype != torch.int32 else torch.zeros(shape, dtype=dtype, device="cuda")
        out[spec.role] = t.abs() + 0.5 if spec.role in ("weight", "scale") else t
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="folder for overhead.md")
    parser.add_argument("--hidden", type=int, default=4096)
    parser.add_argument("--kernel", default="all", help="a kernel of the library, or all")
    parser.add_argument("--profile", action="store_true", help="also print where the first kernel's op spends host time (cProfile)")
    opts = parser.parse_args()
    h = opts.hidden
    # Communicator kernels have no torch op (they need every rank): kiln-bench-comm times them.
    kernels = [k for k in kiln.kernels() if opts.kernel in ("all", k.name) and not k.comm]
    if not kernels:
        parser.error(f"--kernel {opts.kernel}: not a kernel of this library ({', '.join(k.name for k in kiln.kernels())})")
    lines = [f"{torch.cuda.get_device_name()}, PyTorch {torch.__version__}, kiln {kiln.version()}, "
             f"Python {sys.version.split()[0]}; hidden {h}, bf16; {CALLS} calls, median of {REPEATS}", "",
             "| call | T | host µs per call |", "|---|---|---|"]
    stream = torch.cuda.current_stream().cuda_stream
    for tokens in (1, 128):
        for k in kernels:
            t = tensors_for(k, h, tokens)  # in-out tensors drift call after call: only time matters here
            args = [t[spec.role] for spec in k.tensors]
            eps = {"eps": 1e-6} if "eps" in k.scalars else {}
            op = getattr(torch.ops.kiln, k.name)
            plan = kiln.plan(k.name, h, "bf16", torch.cuda.current_device())
            ptrs = {role: v.data_ptr() for role, v in t.items()}
            ways = [(f"torch.ops.kiln.{k.name}", lambda: op(*args, **eps)),
                    (f"kiln.Plan.launch ({k.name}; ctypes, no torch op)",
                     lambda: plan.launch(ptrs, tokens, eps=1e-6, stream=stream, dtype="bf16"))]
            for name, fn in ways:
                lines.append(f"| {name} | {tokens} | {host_us_per_call(fn):.1f} |")
                print(lines[-1], flush=True)
            if opts.profile and tokens == 1 and k is kernels[0]:
                import cProfile
                import pstats
                prof = cProfile.Profile()
                prof.enable()
                for _ in range(CALLS):
                    op(*args, **eps)
                prof.disable()
                torch.cuda.synchronize()
                pstats.Stats(prof).sort_stats("tottime").print_stats(18)
        x = torch.randn(tokens, h, device="cuda", dtype=torch.bfloat16)
        y = torch.empty_like(x)
        lines.append(f"| torch.mul(x, 2, out=y) (one aten kernel) | {tokens} | {host_us_per_call(lambda: torch.mul(x, 2, out=y)):.1f} |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    if opts.out:
        os.makedirs(opts.out, exist_ok=True)
        with open(os.path.join(opts.out, "overhead.md"), "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
