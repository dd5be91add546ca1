"""vLLM's `_C` ops that kiln serves, as data: kiln.torch registers each row whose kernel the
library has as torch.ops.kiln_vllm.<op>, with vLLM's exact schema and mutation semantics.
This table is the one place with per-op Python; adding an op is adding a row.

Schemas are copied verbatim from vllm-project/vllm csrc/torch_bindings.cpp (ops.def; the
per-token-group op from csrc/libtorch_stable/torch_bindings.cpp); semantics from
csrc/layernorm_kernels.cu, csrc/layernorm_quant_kernels.cu and
csrc/quantization/activation_kernels.cu: scale is one fp32 in device memory, outputs are
multiplied by its reciprocal; the fp8 fused add writes x + r over the residual and reads the
input only; fused_add_rms_norm writes x + r over the residual and the norm over the input.

A row:
  op        vLLM's op name (torch.ops._C.<op>)
  schema    vLLM's schema, verbatim
  kernel    the kiln kernel that serves it
  roles     vLLM tensor argument -> kiln role; every tensor of the kernel must be mapped, but
            an optional one (TensorSpec.optional) may be left out; a `Tensor?` argument must
            map to an optional tensor, and None there leaves it out (NULL)
  eps       the float argument that is the kernel's eps, or None
  options   plan options; rounding "vllm" is applied where the kernel has the option (a group
            quantiser's group_size, scale_layout and ue8m0 are options too)
  require   arguments kiln serves only at one value (a call with another value is refused)
  why       argument -> why kiln serves only that value (part of the refusal's message)
  ignore    arguments vLLM itself ignores
  option_args  vLLM argument -> the plan option it gives, per call (e.g. group_size)
  layout_from  the scales argument whose strides give scale_layout, as vLLM infers it
            (per_token_group_quant.cu: column-major iff stride(0) < stride(1)); column-major
            must be TMA-aligned (column stride T rounded up to 4), which the op checks
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Alias:
    op: str
    schema: str
    kernel: str
    roles: dict
    eps: str = None
    options: dict = field(default_factory=lambda: {"rounding": "vllm"})
    require: dict = field(default_factory=dict)
    ignore: tuple = ()
    option_args: dict = field(default_factory=dict)
    layout_from: str = None
    why: dict = field(default_factory=dict)


_GROUP_WHY = {"eps": "the group kernels' eps is fixed at vLLM's default, 1e-10",
              "fp8_min": "kiln quantises to float8_e4m3fn's whole range, -448 to 448",
              "fp8_max": "kiln quantises to float8_e4m3fn's whole range, -448 to 448"}

ALIASES = (
    Alias("rms_norm",
          "rms_norm(Tensor! result, Tensor input, Tensor weight, float epsilon) -> ()",
          kernel="rms_norm", roles={"result": "output", "input": "input", "weight": "weight"}, eps="epsilon"),
    Alias("fused_add_rms_norm",
          "fused_add_rms_norm(Tensor! input, Tensor! residual, Tensor weight, float epsilon) -> ()",
          kernel="fused_add_rms_norm", roles={"input": "input", "residual": "residual", "weight": "weight"},
          eps="epsilon"),
    Alias("rms_norm_static_fp8_quant",
          "rms_norm_static_fp8_quant(Tensor! result, Tensor input, Tensor weight, Tensor scale, float epsilon) -> ()",
          kernel="rms_norm_fp8",
          roles={"result": "output", "input": "input", "weight": "weight", "scale": "scale"}, eps="epsilon"),
    Alias("fused_add_rms_norm_static_fp8_quant",
          "fused_add_rms_norm_static_fp8_quant(Tensor! result, Tensor input, Tensor! residual, Tensor weight, "
          "Tensor scale, float epsilon) -> ()",
          kernel="fused_add_rms_norm_fp8",
          roles={"result": "output", "input": "input", "residual": "residual", "weight": "weight", "scale": "scale"},
          eps="epsilon"),
    # silu_mul_fp8 has no rounding option: it keeps silu(a) * b in fp32, where vLLM rounds
    # silu(a) and the product to the input dtype first, so a few outputs differ by one fp8 code.
    Alias("silu_and_mul_quant",
          "silu_and_mul_quant(Tensor! result, Tensor input, Tensor scale) -> ()",
          kernel="silu_mul_fp8", roles={"result": "output", "input": "input", "scale": "scale"}),
    Alias("dynamic_per_token_scaled_fp8_quant",
          "dynamic_per_token_scaled_fp8_quant(Tensor! result, Tensor input, Tensor! scale, Tensor? scale_ub) -> ()",
          kernel="per_token_fp8",
          roles={"result": "output", "input": "input", "scale": "scales", "scale_ub": "scale_ub"}),
    # Group quantisation (csrc/libtorch_stable/torch_bindings.cpp; semantics in
    # docs/research/vllm-fp8-quant-semantics.md). eps is not kiln's eps scalar: the group
    # kernels fix it at vLLM's default 1e-10, and quantise to e4m3fn's full range. The layout
    # comes from output_s's strides, as vLLM infers it; vLLM's column-major scales without TMA
    # padding (stride T where T % 4 != 0) are refused. kiln writes NaN where vLLM writes -448.
    Alias("per_token_group_fp8_quant",
          "per_token_group_fp8_quant(Tensor input, Tensor! output_q, Tensor! output_s, int group_size, float eps, "
          "float fp8_min, float fp8_max, bool scale_ue8m0, bool dummy_is_scale_transposed, "
          "bool dummy_is_tma_aligned) -> ()",
          kernel="per_token_group_fp8", roles={"input": "input", "output_q": "output", "output_s": "scales"},
          options={}, option_args={"group_size": "group_size", "scale_ue8m0": "ue8m0"}, layout_from="output_s",
          require={"eps": 1e-10, "fp8_min": -448.0, "fp8_max": 448.0}, why=_GROUP_WHY,
          ignore=("dummy_is_scale_transposed", "dummy_is_tma_aligned")),
    # DeepGEMM's packed UE8M0 scales: int32 [T, ceil(G / 4)], strides (1, T4). vLLM takes only
    # group_size 128 here; kiln also serves 64.
    Alias("per_token_group_fp8_quant_packed",
          "per_token_group_fp8_quant_packed(Tensor input, Tensor! output_q, Tensor! output_s_packed, int group_size, "
          "float eps, float fp8_min, float fp8_max) -> ()",
          kernel="per_token_group_fp8", roles={"input": "input", "output_q": "output", "output_s_packed": "scales"},
          options={"scale_layout": "packed_ue8m0", "ue8m0": True}, option_args={"group_size": "group_size"},
          require={"eps": 1e-10, "fp8_min": -448.0, "fp8_max": 448.0}, why=_GROUP_WHY),
)
