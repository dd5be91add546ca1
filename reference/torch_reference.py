"""PyTorch baselines of kiln's kernels: each kernel's math in PyTorch, eager (and the same
function under torch.compile), for bench/compare_torch.py to check kiln against and to
time as the baseline. This file may name kernels; bench/ does not.

    BASELINES[name](tensors, eps=..., rounding=..., gemma=...) -> {role: tensor}

`tensors` maps role names ("input", "weight", "residual", "scale", "scale_ub"; kiln.h's
kiln_role) to the tensors the kernel reads, as libkiln's descriptor lays them out; an optional
tensor (per_token_fp8's scale_ub) may be absent or None. The function
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

Group quantisers (per_token_group_fp8, rms_norm_group_fp8, fused_add_rms_norm_group_fp8,
silu_mul_group_fp8) also take group_size (128 or 64) and ue8m0, and return their scales
row-major [T, G] fp32, G = ceil(H / group_size): the math of vLLM's unfused chain (the norm or
SiLU, then per_token_group_fp8_quant's torch equivalent): per group, amax = max|y| (NaN passed
over), s = max(amax, 1e-10) / 448 (a true fp32 division), with ue8m0 rounded up to a power of
two by the exponent bits (of max(s, 1e-10)); out = fp8(y / s), clamped to +-448 (NaN stays NaN:
kiln's rule, where vLLM's kernel writes -448). scales_in_layout() lays such scales out as a
col_major_tma or packed_ue8m0 kernel writes them.
"""

import torch

FP8_MAX = 448.0
FP8 = torch.float8_e4m3fn


def _fp8(y, scale):
    """fp32 y -> fp8 e4m3fn: times the fp32 reciprocal of the scale, clamped, rounded once."""
    inv = torch.reciprocal(scale.float())
    return (y * inv).clamp(-FP8_MAX, FP8_MAX).to(FP8)


def _per_token(y, scale_ub=None):
    """Dynamic per-token FP8 of fp32 rows y: s = max(max|y| / 448, 1 / (448 * 512)) per row
    (NaN passed over), y / s clamped and rounded once; returns (fp8 rows, fp32 scales [T, 1]).
    scale_ub (an fp32 [1] tensor, or None): vLLM's cap on max|y| before the scale is taken,
    s = max(min(max|y|, ub) / 448, 1 / (448 * 512)); a NaN cap is no cap (fminf, as the kernels
    and vLLM's CUDA take the minimum: torch.fmin)."""
    amax = torch.where(torch.isnan(y), torch.zeros_like(y), y.abs()).amax(dim=-1, keepdim=True)
    if scale_ub is not None:
        amax = torch.fmin(amax, scale_ub.reshape(()).to(device=amax.device, dtype=torch.float32))
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
    """scale_ub (optional: absent or None, no cap) caps each row's max|x| before its scale."""
    out, s = _per_token(t["input"].float(), t.get("scale_ub"))
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


GROUP_EPS = 1e-10  # the group quantisers' eps on the absmax: vLLM's default, fixed in kiln


def _ue8m0(s):
    """s rounded up to a power of two by its fp32 bits: exponent + (mantissa != 0), of max(s, 1e-10)."""
    bits = torch.clamp(s, min=GROUP_EPS).view(torch.int32)
    e = ((bits >> 23) & 0xFF) + ((bits & 0x7FFFFF) != 0).to(torch.int32)
    return (e << 23).view(torch.float32)


def _per_group(y, group_size=128, ue8m0=False):
    """Dynamic per-group FP8 of fp32 rows y [..., H]: per group of group_size columns (the last
    one partial when H % group_size != 0) s = max(amax, 1e-10) / 448, UE8M0 optional;
    returns (fp8 rows, fp32 scales [..., G])."""
    h = y.shape[-1]
    groups = -(-h // group_size)
    a = torch.where(torch.isnan(y), torch.zeros_like(y), y.abs())
    if groups * group_size != h:
        a = torch.nn.functional.pad(a, (0, groups * group_size - h))
    amax = a.unflatten(-1, (groups, group_size)).amax(dim=-1)
    # A tensor divisor, as in _per_token: a true division, not a multiply by fl(1/448).
    s = torch.clamp(amax, min=GROUP_EPS) / torch.full_like(amax, FP8_MAX)
    if ue8m0:
        s = _ue8m0(s)
    cols = s.repeat_interleave(group_size, dim=-1)[..., :h]
    return (y / cols).clamp(-FP8_MAX, FP8_MAX).to(FP8), s


def per_token_group_fp8(t, *, eps=None, rounding="single", gemma=False, group_size=128, ue8m0=False):
    out, s = _per_group(t["input"].float(), group_size, ue8m0)
    return {"output": out, "scales": s}


def rms_norm_group_fp8(t, *, eps, rounding="single", gemma=False, group_size=128, ue8m0=False):
    out, s = _per_group(_norm(t["input"].float(), t["weight"], eps, rounding, gemma), group_size, ue8m0)
    return {"output": out, "scales": s}


def fused_add_rms_norm_group_fp8(t, *, eps, rounding="single", gemma=False, group_size=128, ue8m0=False):
    r = _added(t)
    out, s = _per_group(_norm(r.float(), t["weight"], eps, rounding, gemma), group_size, ue8m0)
    return {"residual": r, "output": out, "scales": s}


def silu_mul_group_fp8(t, *, eps=None, rounding="single", gemma=False, group_size=128, ue8m0=False):
    """silu(a) * b in fp32 (a / (1 + e^-a) * b; never rounded to the input dtype), then per group."""
    x = t["input"]
    h = x.shape[-1] // 2
    a, b = x[..., :h].float(), x[..., h:].float()
    out, s = _per_group(a / (1 + torch.exp(-a)) * b, group_size, ue8m0)
    return {"output": out, "scales": s}


def scales_in_layout(s, scale_layout="row_major"):
    """Row-major scales [T, G] (fp32) as a kernel writes them in `scale_layout`: row_major as
    they are; col_major_tma [T, G] with strides (1, T4); packed_ue8m0 int32 [T, ceil(G / 4)] with
    strides (1, T4), byte g % 4 of word (g / 4, t) the biased exponent of scale (t, g), pad
    groups 0 (the scales must be powers of two: ue8m0). T4 is T rounded up to a multiple of 4."""
    s = s.reshape(-1, s.shape[-1])
    if scale_layout == "row_major":
        return s.contiguous()
    tokens, groups = s.shape
    t4 = (tokens + 3) // 4 * 4
    if scale_layout == "col_major_tma":
        out = torch.empty_strided((tokens, groups), (1, t4), dtype=torch.float32, device=s.device)
        return out.copy_(s)
    if scale_layout != "packed_ue8m0":
        raise ValueError(f"scale_layout {scale_layout!r}")
    e = (s.contiguous().view(torch.int32) >> 23) & 0xFF
    words = -(-groups // 4)
    e = torch.nn.functional.pad(e, (0, words * 4 - groups)).to(torch.uint8)
    packed = e.view(torch.int32)  # [T, words]: byte p of a word (little-endian) is group 4j + p
    out = torch.empty_strided((tokens, words), (1, t4), dtype=torch.int32, device=s.device)
    return out.copy_(packed)


BASELINES = {
    "fused_add_rms_norm": fused_add_rms_norm,
    "fused_add_rms_norm_fp8": fused_add_rms_norm_fp8,
    "fused_add_rms_norm_group_fp8": fused_add_rms_norm_group_fp8,
    "fused_add_rms_norm_per_token_fp8": fused_add_rms_norm_per_token_fp8,
    "per_token_fp8": per_token_fp8,
    "per_token_group_fp8": per_token_group_fp8,
    "rms_norm": rms_norm,
    "rms_norm_fp8": rms_norm_fp8,
    "rms_norm_group_fp8": rms_norm_group_fp8,
    "rms_norm_per_token_fp8": rms_norm_per_token_fp8,
    "silu_mul_fp8": silu_mul_fp8,
    "silu_mul_group_fp8": silu_mul_group_fp8,
}
