"""PyTorch baselines of kiln's kernels: each kernel's math in PyTorch, eager (and the same
function under torch.compile), for bench/compare_torch.py to check kiln against and to
time as the baseline. This file may name kernels; bench/ does not.

    BASELINES[name](tensors, eps=..., rounding=..., gemma=...) -> {role: tensor}

`tensors` maps role names ("input", "weight", "residual", "scale"; kiln.h's kiln_role)
to the tensors the kernel reads, as libkiln's descriptor lays them out. The function
returns every tensor the kernel writes, by role, as new tensors: a kernel that writes
over its input or residual (vLLM's in-place contract) gets the values it must leave
there. Nothing is modified in place, so eager and torch.compile can be timed alike.

Semantics (docs/design.md, "Kernel semantics"): bf16/fp16 in, fp32 arithmetic, FP8 e4m3fn
by multiplying with the fp32 reciprocal of the per-tensor scale and clamping to +-448
before the cast (PyTorch's cast does not saturate). Rounding conventions:
  single  fp32 from load to the one final rounding;
  vllm    rounds where vLLM's unfused CUDA path rounds: x * rsqrt(...) to the input dtype
          before the weight (the product rounded again), x + r rounded before the norm,
          silu(a) rounded before multiplying by b (the product rounded again).
gemma: the weight w is replaced by (1 + w), computed in fp32.
"""

import torch

FP8_MAX = 448.0
FP8 = torch.float8_e4m3fn


def _fp8(y, scale):
    """fp32 y -> fp8 e4m3fn: times the fp32 reciprocal of the scale, clamped, rounded once."""
    inv = torch.reciprocal(scale.float())
    return (y * inv).clamp(-FP8_MAX, FP8_MAX).to(FP8)


def _per_token(y):
    """Dynamic per-token FP8 of fp32 rows y: s = max(max|y| / 448, 1 / (448 * 512)) per row
    (NaN passed over), y / s clamped and rounded once; returns (fp8 rows, fp32 scales [T, 1])."""
    amax = torch.where(torch.isnan(y), torch.zeros_like(y), y.abs()).amax(dim=-1, keepdim=True)
    # A tensor divisor: PyTorch divides by a Python scalar as a multiply by its reciprocal,
    # which is one ulp off the kernels' (and vLLM's) division in about half the rows.
    s = torch.clamp(amax / torch.full_like(amax, FP8_MAX), min=1.0 / (FP8_MAX * 512.0))
    return (y / s).clamp(-FP8_MAX, FP8_MAX).to(FP8), s


def _weight(w, gemma):
    wf = w.float()
    return 1.0 + wf if gemma else wf


def _norm(v, w, eps, rounding, gemma):
    """RMSNorm of the fp32 rows v (already the rounded input or residual), times w', in fp32,
    rounded as the convention says; returns fp32 (the caller rounds to its output)."""
    dt = w.dtype
    rinv = torch.rsqrt(v.pow(2).mean(dim=-1, keepdim=True) + eps)
    if rounding == "vllm":
        return ((v * rinv).to(dt).float() * _weight(w, gemma)).to(dt).float()
    return v * rinv * _weight(w, gemma)


def _added(t):
    """round(x + r) in the input dtype: what every fused add writes over the residual."""
    x, r = t["input"], t["residual"]
    return (x.float() + r.float()).to(x.dtype)


def rms_norm(t, *, eps, rounding="single", gemma=False):
    x = t["input"]
    return {"output": _norm(x.float(), t["weight"], eps, rounding, gemma).to(x.dtype)}


def rms_norm_fp8(t, *, eps, rounding="single", gemma=False):
    return {"output": _fp8(_norm(t["input"].float(), t["weight"], eps, rounding, gemma), t["scale"])}


def fused_add_rms_norm(t, *, eps, rounding="single", gemma=False):
    r = _added(t)
    return {"residual": r, "input": _norm(r.float(), t["weight"], eps, rounding, gemma).to(r.dtype)}


def fused_add_rms_norm_fp8(t, *, eps, rounding="single", gemma=False):
    r = _added(t)
    return {"residual": r, "output": _fp8(_norm(r.float(), t["weight"], eps, rounding, gemma), t["scale"])}


def per_token_fp8(t, *, eps=None, rounding="single", gemma=False):
    out, s = _per_token(t["input"].float())
    return {"output": out, "scales": s}


def rms_norm_per_token_fp8(t, *, eps, rounding="single", gemma=False):
    out, s = _per_token(_norm(t["input"].float(), t["weight"], eps, rounding, gemma))
    return {"output": out, "scales": s}


def fused_add_rms_norm_per_token_fp8(t, *, eps, rounding="single", gemma=False):
    r = _added(t)
    out, s = _per_token(_norm(r.float(), t["weight"], eps, rounding, gemma))
    return {"residual": r, "output": out, "scales": s}


def silu_mul_fp8(t, *, eps=None, rounding="single", gemma=False):
    x = t["input"]
    h = x.shape[-1] // 2
    a, b = x[..., :h].float(), x[..., h:].float()
    s = a / (1 + torch.exp(-a))
    if rounding == "vllm":
        y = (s.to(x.dtype).float() * b).to(x.dtype).float()
    else:
        y = s * b
    return {"output": _fp8(y, t["scale"])}


BASELINES = {
    "fused_add_rms_norm": fused_add_rms_norm,
    "fused_add_rms_norm_fp8": fused_add_rms_norm_fp8,
    "fused_add_rms_norm_per_token_fp8": fused_add_rms_norm_per_token_fp8,
    "per_token_fp8": per_token_fp8,
    "rms_norm": rms_norm,
    "rms_norm_fp8": rms_norm_fp8,
    "rms_norm_per_token_fp8": rms_norm_per_token_fp8,
    "silu_mul_fp8": silu_mul_fp8,
}
