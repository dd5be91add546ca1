#!/usr/bin/env python3
"""Host cost per call of kiln's torch ops outside CUDA graphs.

Each way of calling is timed as N back-to-back calls with no synchronisation in between:
the host's time per call, which is what an engine pays when it does not capture a graph
(with one, the host cost is gone and only kernel time remains). The kernels are small
(T = 1: about 2 µs on the GPU), so the host stays the bottleneck and the GPU keeps up.
For scale, the same is timed for one aten kernel (torch.mul with out=) and for a bare
kiln_launch through ctypes (kiln.Plan.launch, args built per call).

    KILN_LIBRARY=build/runtime/libkiln.so.0.3 PYTHONPATH=python python3 bench/torch_op_overhead.py [--out DIR]
"""

import argparse
import os
import statistics
import sys
import time

import torch

import kiln
import kiln.torch as kt

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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="folder for overhead.md")
    parser.add_argument("--hidden", type=int, default=4096)
    parser.add_argument("--profile", action="store_true", help="also print where the torch op's host time goes (cProfile)")
    opts = parser.parse_args()
    h = opts.hidden
    lines = [f"{torch.cuda.get_device_name()}, PyTorch {torch.__version__}, kiln {kiln.version()}, "
             f"Python {sys.version.split()[0]}; hidden {h}, bf16; {CALLS} calls, median of {REPEATS}", "",
             "| call | T | host µs per call |", "|---|---|---|"]
    for tokens in (1, 128):
        x = torch.randn(tokens, h, device="cuda", dtype=torch.bfloat16)
        r = torch.randn_like(x)
        w = torch.rand(h, device="cuda", dtype=torch.bfloat16) + 0.5
        scale = torch.full((1,), 0.1, device="cuda")
        out = torch.empty(tokens, h, device="cuda", dtype=torch.float8_e4m3fn)
        y = torch.empty_like(x)
        xi = x.clone()  # fused_add_rms_norm writes over it (the values drift; only time matters)
        plan = kiln.plan("rms_norm_fp8", h, "bf16", torch.cuda.current_device())
        ptrs = {"output": out.data_ptr(), "input": x.data_ptr(), "weight": w.data_ptr(), "scale": scale.data_ptr()}
        stream = torch.cuda.current_stream().cuda_stream
        ways = [
            ("torch.ops.kiln.rms_norm_fp8 (out given)", lambda: torch.ops.kiln.rms_norm_fp8(out, x, w, scale, eps=1e-6)),
            ("kiln.torch.rms_norm_fp8 (allocates out)", lambda: kt.rms_norm_fp8(x, w, scale, eps=1e-6)),
            ("torch.ops.kiln_vllm.rms_norm_static_fp8_quant",
             lambda: torch.ops.kiln_vllm.rms_norm_static_fp8_quant(out, x, w, scale, 1e-6)),
            ("torch.ops.kiln.fused_add_rms_norm (in place)",
             lambda: torch.ops.kiln.fused_add_rms_norm(xi, r, w, eps=1e-6)),
            ("kiln.Plan.launch (ctypes, no torch op)", lambda: plan.launch(ptrs, tokens, eps=1e-6, stream=stream, dtype="bf16")),
            ("torch.mul(x, 2, out=y) (one aten kernel)", lambda: torch.mul(x, 2, out=y)),
        ]
        for name, fn in ways:
            us = host_us_per_call(fn)
            lines.append(f"| {name} | {tokens} | {us:.1f} |")
            print(lines[-1], flush=True)
        if opts.profile and tokens == 1:
            import cProfile
            import pstats
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(CALLS):
                torch.ops.kiln.rms_norm_fp8(out, x, w, scale, eps=1e-6)
            prof.disable()
            torch.cuda.synchronize()
            pstats.Stats(prof).sort_stats("tottime").print_stats(18)
    text = "\n".join(lines) + "\n"
    if opts.out:
        os.makedirs(opts.out, exist_ok=True)
        with open(os.path.join(opts.out, "overhead.md"), "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
