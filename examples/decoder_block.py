#!/usr/bin/env python3
"""A decoder MLP block in PyTorch, once with plain torch ops and once with kiln's kernels
swapped in; both compiled with torch.compile and replayed from a CUDA graph, as a server
runs them. Prints the time per block of each, their ratio, and checks the two agree.

    residual += x;  h = fp8(rms_norm(residual) * w)     torch: 6 ops    kiln: fused_add_rms_norm_fp8
    gate_up = h @ W1                                      torch._scaled_mm (FP8 GEMM), both
    a = fp8(silu(gate) * up)                              torch: 5 ops    kiln: silu_mul_fp8
    out = a @ W2                                          torch._scaled_mm, both

    PYTHONPATH=python KILN_LIBRARY=build/runtime/libkiln.so.0.5 python3 examples/decoder_block.py
    python3 examples/decoder_block.py --hidden 4096 --intermediate 14336 --tokens 16,256

kiln's config sets cover hidden sizes 2048, 4096, 5120 and 8192; other sizes run the generic
kernel (the plan lines below say which). Needs PyTorch with CUDA on an FP8 GPU (sm89+).
"""

import argparse
import statistics

import torch

import kiln
import kiln.torch  # noqa: F401  registers torch.ops.kiln.*

FP8 = torch.float8_e4m3fn
EPS = 1e-6


def quant(y, scale):
    """fp32 -> FP8 e4m3fn by the reciprocal of a per-tensor scale, saturating at +-448."""
    return (y * scale.reciprocal()).clamp(-448.0, 448.0).to(FP8)


def gemm(a, w, scale_a, scale_w):
    return torch._scaled_mm(a, w, scale_a=scale_a, scale_b=scale_w, out_dtype=torch.bfloat16)


def block_torch(x, residual, p):
    residual = x + residual
    v = residual.float()
    h = quant(v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + EPS) * p["norm_w"].float(), p["s_in"])
    gate, up = gemm(h, p["w1"], p["s_in"], p["s_w1"]).float().chunk(2, dim=-1)
    a = quant(gate / (1.0 + torch.exp(-gate)) * up, p["s_mid"])
    return gemm(a, p["w2"], p["s_mid"], p["s_w2"]), residual


def block_kiln(x, residual, p):
    h = torch.empty(x.shape, dtype=FP8, device=x.device)
    torch.ops.kiln.fused_add_rms_norm_fp8(h, x, residual, p["norm_w"], p["s_in"], EPS)  # residual += x, in place
    a = kiln.torch.silu_mul_fp8(gemm(h, p["w1"], p["s_in"], p["s_w1"]), p["s_mid"])
    return gemm(a, p["w2"], p["s_mid"], p["s_w2"]), residual


def layers(block, x, residual, p, n):
    residual = residual.clone()  # both blocks start every run from the same residual
    for _ in range(n):
        x, residual = block(x, residual, p)
    return x, residual


def fp8_weight(rows, cols, gen):
    w = torch.randn(rows, cols, device="cuda", generator=gen) / cols ** 0.5
    scale = w.abs().max() / 448.0
    return (w / scale).to(FP8).t(), scale.reshape(1)  # column-major [cols, rows], as _scaled_mm takes it


def make_params(hidden, inter, gen):
    p = {"norm_w": (torch.rand(hidden, device="cuda", generator=gen) + 0.5).to(torch.bfloat16)}
    p["w1"], p["s_w1"] = fp8_weight(2 * inter, hidden, gen)
    p["w2"], p["s_w2"] = fp8_weight(hidden, inter, gen)
    # Static activation scales, calibrated once in fp32 (amax / 448), as FP8 checkpoints ship them.
    x = torch.randn(256, hidden, device="cuda", generator=gen)
    h = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * p["norm_w"].float()
    p["s_in"] = (h.abs().max() / 448.0).reshape(1)
    gate, up = (h @ (p["w1"].float() * p["s_w1"])).chunk(2, dim=-1)
    p["s_mid"] = ((gate / (1 + torch.exp(-gate)) * up).abs().max() / 448.0).reshape(1)
    return p


def time_per_block(block, x, residual, p, n_layers, replays):
    """torch.compile'd block, n_layers of it captured in one CUDA graph; median replay / n_layers."""
    compiled = torch.compile(block, fullgraph=True)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up: compiles, and creates kiln's plans before the capture
        for _ in range(3):
            layers(compiled, x, residual, p, n_layers)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        layers(compiled, x, residual, p, n_layers)
    times = []
    for _ in range(replays):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) * 1e3 / n_layers)
    return statistics.median(times)


def rel_err(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hidden", type=int, default=4096)
    ap.add_argument("--intermediate", type=int, default=8192)
    ap.add_argument("--tokens", default="16,256", help="comma-separated token counts (multiples of 16)")
    ap.add_argument("--layers", type=int, default=8, help="blocks per CUDA graph")
    ap.add_argument("--replays", type=int, default=50)
    opts = ap.parse_args()
    if not torch.cuda.is_available() or torch.cuda.get_device_capability() < (8, 9):
        raise SystemExit("decoder_block: needs a CUDA GPU with FP8 (sm89 or later)")
    dev = torch.cuda.current_device()
    print(f"{torch.cuda.get_device_name()}, PyTorch {torch.__version__}, kiln {kiln.version()} "
          f"({kiln.library_path()}); hidden {opts.hidden}, intermediate {opts.intermediate}, bf16 + FP8")
    for name, hidden in (("fused_add_rms_norm_fp8", opts.hidden), ("silu_mul_fp8", opts.intermediate)):
        print("plan:", kiln.plan(name, hidden, "bf16", dev).summary)

    gen = torch.Generator(device="cuda").manual_seed(0)
    p = make_params(opts.hidden, opts.intermediate, gen)
    print(f"{'tokens':>7} {'torch µs/block':>15} {'kiln µs/block':>14} {'torch/kiln':>11} {'rel. error':>11}")
    worst = 0.0
    for tokens in (int(t) for t in opts.tokens.split(",")):
        x = torch.randn(tokens, opts.hidden, device="cuda", generator=gen).to(torch.bfloat16)
        residual = torch.randn(tokens, opts.hidden, device="cuda", generator=gen).to(torch.bfloat16)
        # Agreement, eager, over the same layers: the FP8 roundings may differ by one code at ties.
        out_t, res_t = layers(block_torch, x, residual, p, opts.layers)
        out_k, res_k = layers(block_kiln, x, residual, p, opts.layers)
        err = max(rel_err(out_k, out_t), rel_err(res_k, res_t))
        worst = max(worst, err)
        t_torch = time_per_block(block_torch, x, residual, p, opts.layers, opts.replays)
        t_kiln = time_per_block(block_kiln, x, residual, p, opts.layers, opts.replays)
        print(f"{tokens:>7} {t_torch:>15.2f} {t_kiln:>14.2f} {t_torch / t_kiln:>10.2f}x {err:>11.2e}")
    ok = worst < 2e-2  # one FP8 code is 6-12 % of a value; differences only at rare ties
    print(f"agreement: worst relative L2 error {worst:.2e} over {opts.layers} layers: {'ok' if ok else 'TOO LARGE'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
