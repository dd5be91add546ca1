"""kiln.torch's registrations, with PyTorch and without a GPU: every kernel but the
communicator kernels is an op whose schema comes from its descriptor, the vLLM aliases have vLLM's schemas exactly, and the
pre-call checks that need no device refuse CPU tensors before any C call."""

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (kiln.torch needs it)")

from kiln_testing import import_kiln_or_skip  # noqa: E402

kiln = import_kiln_or_skip()
import kiln.torch as kt  # noqa: E402
from kiln.vllm_aliases import ALIASES  # noqa: E402


GROUP_OPTIONS = (("group_size", "int", 128), ("scale_layout", "str", "row_major"), ("ue8m0", "bool", False))
GROUP_KERNELS = sorted(k.name for k in kiln.kernels() if k.group)
LAYOUTS = ("row_major", "col_major_tma", "packed_ue8m0")


TENSOR_TYPES = ("Tensor", "Tensor?", "Optional[Tensor]")  # str() of Tensor? differs between PyTorch versions


def signature(schema):
    return ([(a.name, str(a.type), bool(a.alias_info and a.alias_info.is_write), a.default_value, a.kwarg_only)
             for a in schema.arguments], [str(r.type) for r in schema.returns])


def test_every_kernel_is_an_op():
    for k in kiln.kernels():
        if k.comm:
            continue  # test_communicator_kernels_have_no_op
        schema = getattr(torch.ops.kiln, k.name).default._schema
        args, returns = signature(schema)
        assert returns == []
        tensors = [a for a in args if a[1] in TENSOR_TYPES]
        # The typed entry point's order, the optional tensors (Tensor? name=None) after the others.
        in_order = [t for t in k.tensors if not t.optional] + [t for t in k.tensors if t.optional]
        assert [(name, written, type_ != "Tensor", default) for name, type_, written, default, _ in tensors] == [
            (t.name, t.written, t.optional, None) for t in in_order]
        names = [a[0] for a in args]
        assert ("eps" in names) == ("eps" in k.scalars)
        for option in ("rounding", "gemma", "static_weight"):
            assert (option in names) == (option in k.options), (k.name, option)
            if option in names:
                assert args[names.index(option)][4], f"{option} is keyword-only"
        for option, type_, default in GROUP_OPTIONS:
            assert (option in names) == k.group, (k.name, option)
            if option in names:
                arg = args[names.index(option)]
                assert (arg[1], arg[3], arg[4]) == (type_, default, True), (k.name, arg)
        assert kt.functional[k.name] is getattr(kt, k.name)
        assert k.summary in getattr(kt, k.name).__doc__


def test_communicator_kernels_have_no_op():
    comm = [k.name for k in kiln.kernels() if k.comm]
    assert comm, "this library has no communicator kernel to leave out"
    for name in comm:
        assert not hasattr(torch.ops.kiln, name), name
        assert name not in kt.kernel_ops and name not in kt.functional
        assert not hasattr(kt, name), name
        assert "NCCL communicator" in kt.skipped[name] and "kiln.Plan" in kt.skipped[name]
    assert sorted(kt.skipped) == sorted(comm)
    assert sorted(kt.kernel_ops) == sorted(k.name for k in kiln.kernels() if not k.comm)
    assert "communicator" in kt.__doc__


def test_vllm_aliases_have_vllm_schemas():
    have = {k.name for k in kiln.kernels()}
    for row in ALIASES:
        if row.kernel not in have or row.kernel in kt.skipped:
            assert row.op in kt.vllm_skipped and not hasattr(torch.ops.kiln_vllm, row.op)
            continue
        registered = getattr(torch.ops.kiln_vllm, row.op).default._schema
        assert signature(registered) == signature(torch._C.parse_schema(row.schema)), row.op
        assert kt.vllm_ops[row.op] is getattr(torch.ops.kiln_vllm, row.op)
    assert set(kt.vllm_ops) | set(kt.vllm_skipped) == {row.op for row in ALIASES}


def test_cpu_tensors_refused():
    x = torch.randn(4, 64, dtype=torch.bfloat16)
    w = torch.ones(64, dtype=torch.bfloat16)
    out = torch.full_like(x, float("nan"))
    with pytest.raises(kt.TensorCheckError, match="kiln.rms_norm: out is on cpu: kiln runs on CUDA devices"):
        torch.ops.kiln.rms_norm(out, x, w, 1e-6)
    assert torch.isnan(out).all()  # nothing ran
    with pytest.raises(kt.TensorCheckError, match="kiln_vllm.rms_norm: result is on cpu"):
        torch.ops.kiln_vllm.rms_norm(out, x, w, 1e-6)


def test_functional_arguments():
    x = torch.randn(4, 64, dtype=torch.bfloat16)
    with pytest.raises(TypeError, match=r"kiln.torch.rms_norm\(input, weight, \.\.\.\): 1 tensors given"):
        kt.rms_norm(x)


# ---- group quantisers: layouts, fakes, refusals (no GPU) ---------------------------------

def test_group_kernels_have_ops():
    assert GROUP_KERNELS == ["fused_add_rms_norm_group_fp8", "per_token_group_fp8", "rms_norm_group_fp8",
                             "silu_mul_group_fp8"]
    for name in GROUP_KERNELS:
        assert name in kt.kernel_ops and "group_size=" in getattr(kt, name).__doc__


@pytest.mark.parametrize("scale_layout", LAYOUTS)
@pytest.mark.parametrize("group_size", [128, 64])
def test_python_layout_rule_is_the_librarys(group_size, scale_layout):
    """kiln.torch's formula (used while tracing) equals kiln_tensor_layout_of."""
    for name in GROUP_KERNELS:
        k = kiln.kernel(name)
        for hidden in (4096, 7168, 5000, 64):
            for tokens in (1, 2, 3, 4, 5, 77, 1024):
                layout = k.layout("scales", hidden, tokens, group_size=group_size, scale_layout=scale_layout)
                shape, strides = kt._group_scales_geometry(hidden, tokens, group_size, scale_layout)
                assert (shape, strides) == (layout.shape, layout.strides), (name, hidden, tokens)
                span = (shape[0] - 1) * strides[0] + (shape[1] - 1) * strides[1] + 1
                assert span == layout.elements, "torch.empty_strided allocates exactly the span"


# Fake tensors of the CPU: the ops' fake implementations serve any device, and no GPU is needed.
FAKE_DEVICE = "cpu"


def fake_inputs(name, tokens, hidden, mode):
    k = kiln.kernel(name)
    with mode:
        x = torch.empty(tokens, 2 * hidden if name.startswith("silu") else hidden, dtype=torch.bfloat16,
                        device=FAKE_DEVICE)
        extra = {"weight": torch.empty(hidden, dtype=torch.bfloat16, device=FAKE_DEVICE),
                 "residual": torch.empty(tokens, hidden, dtype=torch.bfloat16, device=FAKE_DEVICE)}
    return [x] + [extra[t.role] for t in k.tensors if t.read and t.role != "input"]


@pytest.mark.parametrize("scale_layout", LAYOUTS)
@pytest.mark.parametrize("name", GROUP_KERNELS)
def test_functional_allocates_the_layout_under_fake_tensors(name, scale_layout):
    """kiln.torch.<group kernel> on fake tensors (no GPU, no data): the scales come back with the
    layout's shape, strides and dtype, the fp8 output [T, H]."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    mode = FakeTensorMode(allow_non_fake_inputs=False)
    k = kiln.kernel(name)
    for tokens, hidden, group_size in ((5, 4096, 128), (8, 7168, 128), (3, 2048, 64)):
        inputs = fake_inputs(name, tokens, hidden, mode)
        with mode:
            got = getattr(kt, name)(*inputs, group_size=group_size, scale_layout=scale_layout)
        written = [t for t in k.tensors if t.written]
        got = dict(zip([t.role for t in written], got))
        layout = k.layout("scales", hidden, tokens, group_size=group_size, scale_layout=scale_layout)
        s = got["scales"]
        assert (tuple(s.shape), tuple(s.stride())) == (layout.shape, layout.strides), (name, tokens, scale_layout)
        assert s.dtype == (torch.int32 if scale_layout == "packed_ue8m0" else torch.float32)
        assert tuple(got["output"].shape) == (tokens, hidden) and got["output"].dtype == torch.float8_e4m3fn


def test_fake_refuses_wrong_scale_dtype():
    from torch._subclasses.fake_tensor import FakeTensorMode
    mode = FakeTensorMode()
    with mode:
        x = torch.empty(4, 256, dtype=torch.bfloat16, device=FAKE_DEVICE)
        out = torch.empty(4, 256, dtype=torch.float8_e4m3fn, device=FAKE_DEVICE)
        s = torch.empty(4, 2, dtype=torch.float32, device=FAKE_DEVICE)
        with pytest.raises(kt.TensorCheckError, match="scales is torch.float32: must be torch.int32"):
            torch.ops.kiln.per_token_group_fp8(out, s, x, scale_layout="packed_ue8m0")


def test_group_cpu_tensors_refused():
    x = torch.randn(4, 256, dtype=torch.bfloat16)
    out = torch.empty(4, 256, dtype=torch.float8_e4m3fn)
    s = torch.full((4, 2), float("nan"))
    with pytest.raises(kt.TensorCheckError, match="kiln.per_token_group_fp8: out is on cpu"):
        torch.ops.kiln.per_token_group_fp8(out, s, x)
    assert torch.isnan(s).all()
    with pytest.raises(kt.TensorCheckError, match="kiln_vllm.per_token_group_fp8_quant: output_q is on cpu"):
        torch.ops.kiln_vllm.per_token_group_fp8_quant(x, out, s, 128, 1e-10, -448.0, 448.0, False, False, False)


@pytest.mark.parametrize("arg,value,message", [
    (4, 1e-6, r"eps = 1e-06: kiln serves only eps = 1e-10 \(the group kernels' eps is fixed"),
    (5, -240.0, r"fp8_min = -240.0: kiln serves only fp8_min = -448.0 \(kiln quantises to float8_e4m3fn"),
    (6, 240.0, r"fp8_max = 240.0: kiln serves only fp8_max = 448.0"),
])
def test_vllm_group_alias_refuses_other_constants(arg, value, message):
    """Checked before the tensors (and before any C call): CPU tensors do not get that far."""
    x = torch.randn(4, 256, dtype=torch.bfloat16)
    out = torch.empty(4, 256, dtype=torch.float8_e4m3fn)
    s = torch.empty(4, 2)
    args = [x, out, s, 128, 1e-10, -448.0, 448.0, False, False, False]
    args[arg] = value
    with pytest.raises(kt.TensorCheckError, match=message):
        torch.ops.kiln_vllm.per_token_group_fp8_quant(*args)
    packed = [x, out, torch.empty_strided((4, 1), (1, 4), dtype=torch.int32), 128, 1e-10, -448.0, 448.0]
    packed[arg] = value
    with pytest.raises(kt.TensorCheckError, match=message):
        torch.ops.kiln_vllm.per_token_group_fp8_quant_packed(*packed)


# ---- optional tensors: per_token_fp8's scale_ub (since 0.5) ---------------------------------

def per_token_cpu(tokens=4, hidden=256):
    """per_token_fp8's tensors on the CPU, the outputs NaN (nothing may write them)."""
    x = torch.randn(tokens, hidden, dtype=torch.bfloat16)
    out = torch.full((tokens, hidden), float("nan")).to(torch.float8_e4m3fn)
    scales = torch.full((tokens, 1), float("nan"))
    return out, scales, x


def test_per_token_fp8_schema_has_optional_scale_ub():
    k = kiln.kernel("per_token_fp8")
    assert [(t.name, t.role, t.optional) for t in k.tensors] == [
        ("out", "output", False), ("scales", "scales", False), ("input", "input", False), ("scale_ub", "scale_ub", True)]
    assert kt._schema(k) == "per_token_fp8(Tensor(a!) out, Tensor(b!) scales, Tensor input, Tensor? scale_ub=None) -> ()"
    args, _ = signature(torch.ops.kiln.per_token_fp8.default._schema)
    assert args[-1][0] == "scale_ub" and args[-1][1] in TENSOR_TYPES[1:] and args[-1][3] is None and not args[-1][2]
    assert "scale_ub=None" in kt.per_token_fp8.__doc__


@pytest.mark.parametrize("bad,message", [
    (lambda: torch.ones(1, dtype=torch.float16), r"scale_ub is torch.float16: must be torch.float32"),
    (lambda: torch.ones(1, dtype=torch.bfloat16), r"scale_ub is torch.bfloat16: must be torch.float32"),
    (lambda: torch.ones(2), r"scale_ub has shape \(2,\) \(2 elements\): it must hold 1"),
    (lambda: torch.ones(0), r"scale_ub has shape \(0,\) \(0 elements\): it must hold 1"),
    (lambda: torch.ones(1, 2), r"scale_ub has shape \(1, 2\) \(2 elements\)"),
    (lambda: 1.5, r"scale_ub must be a tensor"),
])
def test_bad_scale_ub_refused_before_the_call(bad, message):
    """A scale_ub that is not an fp32 [1] is refused first, naming it, before any C call (and
    before the device check: CPU tensors get that far here)."""
    out, scales, x = per_token_cpu()
    ub = bad()
    if not isinstance(ub, torch.Tensor):  # the schema takes Tensor?: the dispatcher refuses a float first
        with pytest.raises((kt.TensorCheckError, RuntimeError, TypeError)):
            torch.ops.kiln.per_token_fp8(out, scales, x, ub)
        return
    with pytest.raises(kt.TensorCheckError, match="kiln.per_token_fp8: " + message):
        torch.ops.kiln.per_token_fp8(out, scales, x, ub)
    with pytest.raises(kt.TensorCheckError, match="kiln.per_token_fp8: " + message):
        torch.ops.kiln.per_token_fp8(out, scales, x, scale_ub=ub)
    with pytest.raises(kt.TensorCheckError, match="kiln_vllm.dynamic_per_token_scaled_fp8_quant: " + message):
        torch.ops.kiln_vllm.dynamic_per_token_scaled_fp8_quant(out, x, scales, ub)
    with pytest.raises(kt.TensorCheckError, match="kiln.per_token_fp8: " + message):
        kt.per_token_fp8(x, scale_ub=ub)
    assert torch.isnan(scales).all() and torch.isnan(out.float()).all()  # nothing ran


@pytest.mark.parametrize("ub", [None, "fp32"])
def test_scale_ub_accepted_by_op_and_alias(ub):
    """None or an fp32 [1] gets past the scale_ub checks (and the alias no longer refuses a
    scale_ub): on the CPU the next check, the device's, is what stops the call."""
    out, scales, x = per_token_cpu()
    ub = torch.full((1,), 2.0) if ub else None
    with pytest.raises(kt.TensorCheckError, match="kiln.per_token_fp8: out is on cpu"):
        torch.ops.kiln.per_token_fp8(out, scales, x, ub)
    with pytest.raises(kt.TensorCheckError, match="kiln_vllm.dynamic_per_token_scaled_fp8_quant: result is on cpu"):
        torch.ops.kiln_vllm.dynamic_per_token_scaled_fp8_quant(out, x, scales, ub)
    if ub is None:
        with pytest.raises(kt.TensorCheckError, match="kiln.per_token_fp8: out is on cpu"):
            torch.ops.kiln.per_token_fp8(out, scales, x)  # left out: its default, None


def test_vllm_per_token_alias_row_passes_scale_ub():
    row = next(r for r in ALIASES if r.op == "dynamic_per_token_scaled_fp8_quant")
    assert row.schema == ("dynamic_per_token_scaled_fp8_quant(Tensor! result, Tensor input, Tensor! scale, "
                          "Tensor? scale_ub) -> ()")
    assert row.roles == {"result": "output", "input": "input", "scale": "scales", "scale_ub": "scale_ub"}
    assert "scale_ub" not in row.require
    registered = torch.ops.kiln_vllm.dynamic_per_token_scaled_fp8_quant.default._schema
    assert signature(registered) == signature(torch._C.parse_schema(row.schema))


def test_alias_optional_argument_needs_an_optional_tensor():
    """A row mapping a vLLM `Tensor?` onto a tensor kiln requires is a broken row: refused at
    import, before anything is registered."""
    from kiln.vllm_aliases import Alias
    row = Alias("broken", "broken(Tensor! result, Tensor input, Tensor? scale) -> ()", kernel="silu_mul_fp8",
                roles={"result": "output", "input": "input", "scale": "scale"})
    with pytest.raises(ValueError, match="scale may be None but kiln's scale tensor of silu_mul_fp8 is not optional"):
        kt._alias_op(None, row, kiln.kernel("silu_mul_fp8"))


def test_scale_ub_under_fake_tensors():
    """The fake implementations take scale_ub or None; the functional returns (out, scales)
    either way, with scale_ub after the input or by name; a wrong dtype is refused there too."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    mode = FakeTensorMode()
    with mode:
        x = torch.empty(5, 512, dtype=torch.bfloat16, device=FAKE_DEVICE)
        ub = torch.empty(1, dtype=torch.float32, device=FAKE_DEVICE)
        for call in (lambda: kt.per_token_fp8(x), lambda: kt.per_token_fp8(x, ub), lambda: kt.per_token_fp8(x, None),
                     lambda: kt.per_token_fp8(x, scale_ub=ub)):
            out, scales = call()
            assert (tuple(out.shape), out.dtype) == ((5, 512), torch.float8_e4m3fn)
            assert (tuple(scales.shape), scales.dtype) == ((5, 1), torch.float32)
        q = torch.empty(5, 512, dtype=torch.float8_e4m3fn, device=FAKE_DEVICE)
        s = torch.empty(5, 1, dtype=torch.float32, device=FAKE_DEVICE)
        torch.ops.kiln_vllm.dynamic_per_token_scaled_fp8_quant(q, x, s, ub)
        torch.ops.kiln_vllm.dynamic_per_token_scaled_fp8_quant(q, x, s, None)
        with pytest.raises(kt.TensorCheckError, match="scale_ub is torch.float16: must be torch.float32"):
            torch.ops.kiln.per_token_fp8(q, s, x, ub.half())
        with pytest.raises(TypeError, match=r"kiln.torch.per_token_fp8: scale_ub given twice"):
            kt.per_token_fp8(x, ub, scale_ub=ub)
        with pytest.raises(TypeError, match=r"kiln.torch.per_token_fp8\(input, scale_ub=None, \.\.\.\): 3 tensors given"):
            kt.per_token_fp8(x, ub, ub)
