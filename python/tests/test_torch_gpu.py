"""kiln.torch on a GPU: every kernel against reference/torch_reference.py (random data,
outputs poisoned with NaN, both dtypes, both rounding conventions, Gemma), the vLLM aliases
and their in-place contract, every pre-call check, torch.compile, CUDA graphs, a side
stream and a second device."""

import sys

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed: the GPU tests need it")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device visible to PyTorch", allow_module_level=True)

from kiln_testing import REPO, assert_close, import_kiln_or_skip  # noqa: E402

kiln = import_kiln_or_skip()
import kiln.torch as kt  # noqa: E402
from kiln.vllm_aliases import ALIASES  # noqa: E402

sys.path.insert(0, str(REPO / "reference"))
from torch_reference import BASELINES, scales_in_layout  # noqa: E402

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
ELEM = {"fp8_e4m3": torch.float8_e4m3fn, "f32": torch.float32, "i32": torch.int32}
EPS = 1e-6
# Every kernel with a torch op: communicator kernels have none (test_torch_ops.py) and are
# tested with a communicator in tests/gpu.
KERNELS = {k.name: k for k in kiln.kernels() if not k.comm}


def poison(t):
    """NaN everywhere (0x7F is NaN in e4m3fn): a value the kernel never wrote shows up."""
    if t.dtype == torch.float8_e4m3fn:
        t.view(torch.uint8).fill_(0x7F)
    else:
        t.fill_(float("nan"))
    return t


def group_of(options):
    """The group options of a call ({} for the defaults)."""
    return {k: v for k, v in (options or {}).items() if k in ("group_size", "scale_layout", "ue8m0")}


SCALE_UB = 2.0  # per_token_fp8's cap on max|x| in the tests: below most rows' max of randn, so it caps


def make_tensors(kernel, dtype, hidden, tokens, seed, device="cuda", scale=0.1, options=None, scale_ub=SCALE_UB):
    """{role: tensor}: activations torch.randn (never zero), weights uniform [0.5, 1.5), the
    scale an fp32 [1] in device memory, the optional scale_ub an fp32 [1] holding `scale_ub`
    (None: left out of the dict), outputs poisoned. A group quantiser's scales have the
    layout its options ask for (kiln_tensor_layout_of, allocated as vLLM does)."""
    gen = torch.Generator(device=device).manual_seed(seed)
    out = {}
    for spec in kernel.tensors:
        rows, cols, _ = spec.shape(hidden, tokens)
        shape = (rows, cols) if spec.rows == "tokens" else (cols,)
        dt = DTYPES[dtype] if spec.elem == "activation" else ELEM[spec.elem]
        if spec.cols == "groups":
            group = group_of(options)
            layout = kernel.layout(spec.name, hidden, tokens, **group)
            dt = torch.int32 if group.get("scale_layout") == "packed_ue8m0" else dt
            scales = torch.empty_strided(layout.shape, layout.strides, dtype=dt, device=device)
            span = torch.as_strided(scales, (layout.elements,), (1,))  # pad rows too, not only the logical [T, G]
            span.fill_(0x7F7F7F7F) if dt == torch.int32 else poison(span)
            out[spec.role] = scales
            continue
        if spec.direction == "out":
            out[spec.role] = poison(torch.empty(shape, dtype=dt, device=device))
        elif spec.role == "scale_ub":
            if scale_ub is not None:
                out[spec.role] = torch.full(shape, scale_ub, dtype=torch.float32, device=device)
        elif spec.role == "scale":
            out[spec.role] = torch.full(shape, scale, dtype=torch.float32, device=device)
        elif spec.role == "weight":
            out[spec.role] = (torch.rand(shape, generator=gen, device=device) + 0.5).to(dt)
        else:
            x = torch.randn(shape, generator=gen, device=device).to(dt)
            out[spec.role] = torch.where(x == 0, torch.full_like(x, 2.0 ** -10), x)
    return out


def options_for(kernel, rounding="single", gemma=False, static_weight=False):
    given = {"rounding": rounding, "gemma": gemma, "static_weight": static_weight}
    return {o: v for o, v in given.items() if o in kernel.options}


def reference(kernel, tensors, rounding, gemma, options=None):
    """reference/torch_reference.py's result ({role: tensor}) from the tensors the kernel reads;
    a group quantiser's scales in the layout of the call's options."""
    assert kernel.name in BASELINES, f"no PyTorch baseline for {kernel.name} in reference/torch_reference.py"
    reads = {spec.role: tensors[spec.role].clone() for spec in kernel.tensors
             if spec.read and tensors.get(spec.role) is not None}  # an optional tensor left out: not there
    if not kernel.group:
        return BASELINES[kernel.name](reads, eps=EPS, rounding=rounding, gemma=gemma)
    group = group_of(options)
    layout = group.get("scale_layout", "row_major")
    ue8m0 = bool(group.get("ue8m0")) or layout == "packed_ue8m0"
    ref = BASELINES[kernel.name](reads, eps=EPS, rounding=rounding, gemma=gemma,
                                 group_size=group.get("group_size") or 128, ue8m0=ue8m0)
    ref["scales"] = scales_in_layout(ref["scales"], layout)
    return ref


def tolerance(kernel, spec, rounding):
    """(near ulps, fraction of outputs allowed near) for a tensor the kernel writes."""
    if spec.elem == "f32":
        # A per-token scale, max|y| / 448 of values y computed in fp32 (PyTorch's rsqrt and
        # kiln's differ in the last bits): within 16 ulps (2e-6 relative), in any row.
        return 16, 1.0
    if kernel.tensor("scales") is not None:
        # fp8 against a scale a few ulps off: the quantisation grid moves by that much.
        return 1, 1e-2
    # Two ulps for 16-bit outputs under vllm rounding: its intermediate rounding can flip at a tie.
    return (2 if rounding == "vllm" and spec.elem == "activation" else 1), 1e-3


def check_written(kernel, tensors, before, ref, rounding, what):
    for spec in kernel.tensors:
        got = tensors.get(spec.role)
        if got is None:
            assert spec.optional, f"{what}: {spec.name} missing"
            continue
        if spec.written:
            ulps, fraction = tolerance(kernel, spec, rounding)
            assert_close(torch, got, ref[spec.role], ulps, f"{what}: {spec.name}", fraction)
        else:
            assert torch.equal(got.view(torch.uint8), before[spec.role].view(torch.uint8)), f"{what}: {spec.name} changed"


def cases():
    for k in KERNELS.values():
        for dtype in DTYPES:
            for rounding in (("single", "vllm") if "rounding" in k.options else ("single",)):
                for gemma in ((False, True) if "gemma" in k.options else (False,)):
                    for hidden, tokens in ((4096, 1), (4096, 200), (5000, 7)):  # 5000: the generic kernel
                        yield pytest.param(k.name, dtype, rounding, gemma, hidden, tokens,
                                           id=f"{k.name}-{dtype}-{rounding}{'-gemma' if gemma else ''}-h{hidden}-t{tokens}")


@pytest.mark.parametrize("name,dtype,rounding,gemma,hidden,tokens", cases())
def test_kernel_against_reference(name, dtype, rounding, gemma, hidden, tokens):
    k = KERNELS[name]
    t = make_tensors(k, dtype, hidden, tokens, seed=hidden * 31 + tokens)
    before = {role: v.clone() for role, v in t.items()}
    ref = reference(k, t, rounding, gemma)
    op = getattr(torch.ops.kiln, name)
    op(*[t[s.role] for s in k.tensors], **({"eps": EPS} if "eps" in k.scalars else {}), **options_for(k, rounding, gemma))
    torch.cuda.synchronize()
    check_written(k, t, before, ref, rounding, f"{name} {dtype} {rounding} gemma={gemma} h={hidden} T={tokens}")


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_functional_and_static_weight(name):
    """kiln.torch.<kernel> allocates the outputs and leaves its arguments alone; static_weight
    changes when the weight is read, not the result."""
    k = KERNELS[name]
    t = make_tensors(k, "bf16", 4096, 32, seed=7)
    before = {role: v.clone() for role, v in t.items()}
    inputs = [t[s.role] for s in k.tensors if s.read]
    eps = {"eps": EPS} if "eps" in k.scalars else {}
    got = getattr(kt, name)(*inputs, **eps, **options_for(k, static_weight=True))
    got = got if isinstance(got, tuple) else (got,)
    ref = reference(k, t, "single", False)
    for spec, value in zip([s for s in k.tensors if s.written], got):
        ulps, fraction = tolerance(k, spec, "single")
        assert_close(torch, value, ref[spec.role], ulps, f"kiln.torch.{name}: {spec.name}", fraction)
    for role, value in before.items():
        if k.tensor(role).read:
            assert torch.equal(t[role].view(torch.uint8), value.view(torch.uint8)), f"{name}: {role} was modified"


# ---- vLLM's _C ops ----------------------------------------------------------------------

def alias_call(row, kernel, t):
    """vLLM's positional arguments for a row, from tensors by role."""
    by_role = {role: arg for arg, role in row.roles.items()}
    values = {arg: t[role] for role, arg in by_role.items()}
    if row.eps:
        values[row.eps] = EPS
    values.update(row.require)
    values.update({arg: False for arg in row.ignore})
    values.update({arg: OPTION_ARG_VALUES[option] for arg, option in row.option_args.items()})
    return [values[a.name] for a in torch._C.parse_schema(row.schema).arguments]


OPTION_ARG_VALUES = {"group_size": 128, "ue8m0": False}  # what the tests pass for an alias's option arguments


def alias_options(row):
    """The plan options an alias row's call runs with, as its tensors must be made."""
    return {**row.options, **{o: OPTION_ARG_VALUES[o] for o in row.option_args.values()}}


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("op", sorted(kt.vllm_ops))
def test_vllm_alias(op, dtype):
    """vLLM's contract: the mutated arguments hold the result (x + r over the residual,
    the norm over the input for fused_add_rms_norm), the others are unchanged."""
    row = next(r for r in ALIASES if r.op == op)
    k = KERNELS[row.kernel]
    rounding = "vllm" if "rounding" in k.options else "single"  # silu_mul_fp8 has only its own
    for tokens in (1, 77):
        t = make_tensors(k, dtype, 4096, tokens, seed=tokens, options=alias_options(row))
        before = {role: v.clone() for role, v in t.items()}
        ref = reference(k, t, rounding, False, alias_options(row))
        getattr(torch.ops.kiln_vllm, op)(*alias_call(row, k, t))
        torch.cuda.synchronize()
        check_written(k, t, before, ref, rounding, f"kiln_vllm.{op} {dtype} T={tokens}")
        schema = torch._C.parse_schema(row.schema)
        mutated = {a.name for a in schema.arguments if a.alias_info is not None and a.alias_info.is_write}
        assert mutated == {arg for arg, role in row.roles.items() if k.tensor(role).written}


def test_vllm_rows_without_kernel_not_registered():
    for row in ALIASES:
        if row.kernel not in KERNELS:
            assert not hasattr(torch.ops.kiln_vllm, row.op) and row.op in kt.vllm_skipped


# ---- every pre-call check raises, and nothing runs --------------------------------------

def norm_tensors(tokens=8, hidden=4096, dtype=torch.bfloat16):
    x = torch.randn(tokens, hidden, device="cuda", dtype=dtype)
    w = torch.rand(hidden, device="cuda", dtype=dtype) + 0.5
    out = poison(torch.empty(tokens, hidden, device="cuda", dtype=torch.float8_e4m3fn))
    scale = torch.full((1,), 0.1, device="cuda")
    return out, x, w, scale


def misaligned(tokens, hidden, dtype):
    base = torch.randn(tokens * hidden + 8, device="cuda").to(dtype)
    return base[1:1 + tokens * hidden].view(tokens, hidden)  # 2 bytes past an aligned start


BAD_CALLS = {
    "input dtype": (lambda o, x, w, s: (o, x.float(), w, s), "input is torch.float32: must be torch.bfloat16 or torch.float16"),
    "weight dtype": (lambda o, x, w, s: (o, x, w.half(), s), "weight is torch.float16: must be torch.bfloat16"),
    "fp8 output dtype": (lambda o, x, w, s: (torch.empty_like(x), x, w, s), "out is torch.bfloat16: must be torch.float8_e4m3fn"),
    "scale dtype": (lambda o, x, w, s: (o, x, w, s.half()), "scale is torch.float16: must be torch.float32"),
    "input on the CPU": (lambda o, x, w, s: (o, x.cpu(), w, s), "input is on cpu: kiln runs on CUDA devices"),
    "weight shape": (lambda o, x, w, s: (o, x, w[:-8], s), r"weight has shape \(4088,\)"),
    "output shape": (lambda o, x, w, s: (o[:-1], x, w, s), r"out has shape \(7, 4096\)"),
    "scale shape": (lambda o, x, w, s: (o, x, w, s.repeat(2)), r"scale has shape \(2,\)"),
    "non-contiguous input": (lambda o, x, w, s: (o, torch.cat([x, x], 1)[:, :4096], w, s), "input is not contiguous"),
    "misaligned input": (lambda o, x, w, s: (o, misaligned(8, 4096, x.dtype), w, s), "input at 0x[0-9a-f]+ is not 16-byte aligned"),
    "empty hidden": (lambda o, x, w, s: (o[:, :0], x[:, :0], w[:0], s), "its last dimension is the hidden size and must be positive"),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_pre_call_checks(case):
    make, message = BAD_CALLS[case]
    out, x, w, scale = norm_tensors()
    args = make(out, x, w, scale)
    with pytest.raises(kt.TensorCheckError, match=message):
        torch.ops.kiln.rms_norm_fp8(*args, eps=EPS)
    torch.cuda.synchronize()
    assert (out.view(torch.uint8) == 0x7F).all(), "a refused call wrote its output"


def test_pre_call_checks_silu_and_alias_names():
    x = torch.randn(4, 4097, device="cuda", dtype=torch.bfloat16)
    out = torch.empty(4, 2048, device="cuda", dtype=torch.float8_e4m3fn)
    with pytest.raises(kt.TensorCheckError, match="input's last dimension 4097 must be even"):
        torch.ops.kiln.silu_mul_fp8(out, x, torch.ones(1, device="cuda"))
    o, x, w, s = norm_tensors()
    with pytest.raises(kt.TensorCheckError, match="kiln_vllm.rms_norm_static_fp8_quant: result is torch.bfloat16"):
        torch.ops.kiln_vllm.rms_norm_static_fp8_quant(torch.empty_like(x), x, w, s, EPS)


def test_library_errors_raise_kiln_error():
    out, x, w, scale = norm_tensors()
    y = x.clone()
    with pytest.raises(kiln.KilnError) as e:  # one buffer as input and output: the library refuses aliasing
        torch.ops.kiln.rms_norm(y, y, w, EPS)
    assert e.value.status == "KILN_ERROR_ALIASING" and e.value.message
    big = torch.randn(1, (1 << 20) + 8, device="cuda", dtype=torch.bfloat16)
    with pytest.raises(kiln.KilnError) as e:
        kt.rms_norm(big, torch.ones(big.shape[-1], device="cuda", dtype=torch.bfloat16), EPS)
    assert e.value.status == "KILN_ERROR_INVALID_HIDDEN"


# ---- torch.compile, CUDA graphs, streams, devices ----------------------------------------

def test_torch_compile_fullgraph_dynamic():
    def block(x, residual, w, scale):
        y = kt.rms_norm(x, w, EPS)
        q, residual = kt.fused_add_rms_norm_fp8(y, residual, w, scale, eps=EPS, rounding="vllm")
        torch.ops.kiln_vllm.fused_add_rms_norm(y, residual, w, EPS)  # in place, inside the graph
        return q.float() * 2.0, y, residual

    torch._dynamo.reset()
    compiled = torch.compile(block, fullgraph=True, dynamic=True)
    for tokens in (3, 17, 130):
        x, r = (torch.randn(tokens, 2048, device="cuda", dtype=torch.bfloat16) for _ in range(2))
        w = torch.rand(2048, device="cuda", dtype=torch.bfloat16) + 0.5
        scale = torch.full((1,), 0.05, device="cuda")
        eager = block(x, r.clone(), w, scale)
        got = compiled(x, r.clone(), w, scale)
        for e, g in zip(eager, got):
            assert torch.equal(e.view(torch.uint8), g.view(torch.uint8)), f"compiled differs at T={tokens}"


def test_cuda_graph_replay_sees_new_inputs():
    out, x, w, scale = norm_tensors(tokens=64)
    torch.ops.kiln.rms_norm_fp8(out, x, w, scale, eps=EPS)  # warm-up: the first call creates the plan
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        torch.ops.kiln.rms_norm_fp8(out, x, w, scale, eps=EPS)
    for i in range(2):
        x.copy_(torch.randn_like(x))
        scale.fill_(0.02 * (i + 1))
        poison(out)
        graph.replay()
        torch.cuda.synchronize()
        ref = BASELINES["rms_norm_fp8"]({"input": x, "weight": w, "scale": scale}, eps=EPS)
        assert_close(torch, out, ref["output"], 1, f"replay {i}")


def test_cuda_graph_first_call_inside_capture():
    """A shape key seen first during capture: the plan is created there (no stream work)."""
    x = torch.randn(16, 3072, device="cuda", dtype=torch.float16)
    w = torch.rand(3072, device="cuda", dtype=torch.float16) + 0.5
    out = poison(torch.empty_like(x))
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        torch.ops.kiln.rms_norm(out, x, w, eps=EPS, gemma=True)
    graph.replay()
    torch.cuda.synchronize()
    ref = BASELINES["rms_norm"]({"input": x, "weight": w}, eps=EPS, gemma=True)
    assert_close(torch, out, ref["output"], 1, "rms_norm planned inside capture")


def test_runs_on_the_current_stream():
    """On a side stream, behind a long sleep and a copy: launched anywhere else, the kernel
    would read x before the copy lands."""
    out, x, w, scale = norm_tensors(tokens=32)
    new_x = torch.randn_like(x)
    torch.ops.kiln.rms_norm_fp8(out, x, w, scale, eps=EPS)  # the plan exists; only the stream is tested
    torch.cuda.synchronize()
    poison(out)
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        torch.cuda._sleep(200_000_000)  # ~0.1 s
        x.copy_(new_x)
        torch.ops.kiln.rms_norm_fp8(out, x, w, scale, eps=EPS)
    side.synchronize()
    ref = BASELINES["rms_norm_fp8"]({"input": new_x, "weight": w, "scale": scale}, eps=EPS)
    assert_close(torch, out, ref["output"], 1, "rms_norm_fp8 on a side stream")


def test_plans_are_cached():
    out, x, w, scale = norm_tensors()
    torch.ops.kiln.rms_norm_fp8(out, x, w, scale, eps=EPS)
    plans = dict(kiln._plans)
    for _ in range(3):
        torch.ops.kiln.rms_norm_fp8(out, x, w, scale, eps=EPS)
    assert kiln._plans == plans
    p = kiln.plan("rms_norm_fp8", 4096, "bf16", torch.cuda.current_device())
    assert p is kiln.plan("rms_norm_fp8", 4096, "bf16", torch.cuda.current_device())
    assert "rms_norm_fp8 hidden=4096 bf16" in p.summary and p.describe(8).kernel == "rms_norm_fp8"


def test_second_device():
    if torch.cuda.device_count() < 2:
        pytest.skip(f"{torch.cuda.device_count()} CUDA device(s): the test needs 2")
    torch.cuda.set_device(0)
    with torch.cuda.device(1):
        out, x, w, scale = norm_tensors()
    assert out.device.index == 1
    torch.ops.kiln.rms_norm_fp8(out, x, w, scale, eps=EPS)
    torch.cuda.synchronize(1)
    assert torch.cuda.current_device() == 0, "the op left another device current"
    ref = BASELINES["rms_norm_fp8"]({"input": x, "weight": w, "scale": scale}, eps=EPS)
    assert_close(torch, out, ref["output"], 1, "rms_norm_fp8 on cuda:1")
    assert any(key[0] == "rms_norm_fp8" and key[3] == 1 for key in kiln._plans)
    with pytest.raises(kt.TensorCheckError, match="all tensors must be on one CUDA device"):
        torch.ops.kiln.rms_norm_fp8(out, x, w.to("cuda:0"), scale, eps=EPS)


# ---- opcheck, the C API, graph breaks -------------------------------------------------

# torch.library.opcheck's sub-checks, all of them: the schema's mutation annotations
# against what the op really writes, that it needs no autograd kernel (nothing of it is
# differentiable), the fake implementation against the real one, and AOT dispatch with
# dynamic shapes (the torch.compile path).
OPCHECK_UTILS = ("test_schema", "test_autograd_registration", "test_faketensor", "test_aot_dispatch_dynamic")
# test_schema compares every argument before and after the call with aten arithmetic, which
# PyTorch 2.11 lacks for float8_e4m3fn ("mul_cuda" not implemented): for an op with an fp8
# tensor it cannot run. What it would check is checked here instead: test_kernel_against_reference
# and test_vllm_alias assert that exactly the mutated arguments change, byte for byte.
FP8_OPCHECK_UTILS = tuple(u for u in OPCHECK_UTILS if u != "test_schema")


def op_cases():
    for k in KERNELS.values():
        yield pytest.param("kiln", k.name, None, id=f"kiln.{k.name}")
    for row in ALIASES:
        if row.kernel in KERNELS:
            yield pytest.param("kiln_vllm", row.op, row, id=f"kiln_vllm.{row.op}")


@pytest.mark.parametrize("namespace,op_name,row", op_cases())
def test_opcheck(namespace, op_name, row):
    k = KERNELS[row.kernel if row else op_name]
    options = alias_options(row) if row else None
    # AOT dispatch with dynamic shapes (test_aot_dispatch_dynamic) re-strides a mutated
    # column-major tensor densely, stride T instead of T4, which the padded layouts refuse:
    # they are opchecked at T = 32 (T4 = T); odd T is test_group_kernel_layouts' and the
    # column-major alias test's.
    tokens = 32 if options and options.get("scale_layout", "row_major") != "row_major" else 33
    t = make_tensors(k, "bf16", 4096, tokens, seed=11, options=options)
    if row:
        args, kwargs = alias_call(row, k, t), {}
    else:
        args = [t[s.role] for s in k.tensors]
        kwargs = {"eps": EPS} if "eps" in k.scalars else {}
    op = getattr(getattr(torch.ops, namespace), op_name).default
    has_fp8 = any(s.elem == "fp8_e4m3" for s in k.tensors)
    torch.library.opcheck(op, args, kwargs, test_utils=FP8_OPCHECK_UTILS if has_fp8 else OPCHECK_UTILS)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_outputs_equal_the_c_apis(name):
    """The torch op and a bare kiln_launch through kiln.Plan write the same bytes."""
    k = KERNELS[name]
    for dtype in DTYPES:
        t = make_tensors(k, dtype, 4096, 45, seed=5)
        c = {role: v.clone() for role, v in t.items()}
        eps = {"eps": EPS} if "eps" in k.scalars else {}
        getattr(torch.ops.kiln, name)(*[t[s.role] for s in k.tensors], **eps)
        plan = kiln.plan(name, 4096, dtype, torch.cuda.current_device())
        plan.launch({role: v.data_ptr() for role, v in c.items()}, 45, eps=EPS,
                    stream=torch.cuda.current_stream().cuda_stream, dtype=dtype)
        torch.cuda.synchronize()
        for spec in k.tensors:
            assert torch.equal(t[spec.role].view(torch.uint8), c[spec.role].view(torch.uint8)), \
                f"{name} {dtype}: {spec.name} differs between the torch op and kiln_launch"


def test_no_graph_breaks():
    """Every op of both namespaces in one compiled function (fullgraph, dynamic shapes): one
    graph, no break counted, the same bytes as eager."""
    # vLLM's argument order per alias, worked out before tracing: ("role", name) or ("value", v).
    alias_args = []
    for row in ALIASES:
        # A row with its own scale layout (packed) needs other tensors than the kernel's op: it
        # is compiled in test_group_layouts_compile.
        if row.kernel in KERNELS and "scale_layout" not in row.options:
            by_arg = {arg: ("role", role) for arg, role in row.roles.items()}
            if row.eps:
                by_arg[row.eps] = ("value", EPS)
            by_arg.update({arg: ("value", v) for arg, v in row.require.items()})
            by_arg.update({arg: ("value", False) for arg in row.ignore})
            by_arg.update({arg: ("value", OPTION_ARG_VALUES[o]) for arg, o in row.option_args.items()})
            order = [by_arg[a.name] for a in torch._C.parse_schema(row.schema).arguments]
            alias_args.append((getattr(torch.ops.kiln_vllm, row.op), row.kernel, order))

    def every_op(t_by_kernel):
        for k in KERNELS.values():
            t = t_by_kernel[k.name]
            getattr(torch.ops.kiln, k.name)(*[t[s.role] for s in k.tensors],
                                            **({"eps": EPS} if "eps" in k.scalars else {}))
        for op, kernel_name, order in alias_args:
            t = t_by_kernel[kernel_name]
            op(*[t[x] if kind == "role" else x for kind, x in order])
        return t_by_kernel

    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    compiled = torch.compile(every_op, fullgraph=True, dynamic=True)
    for tokens in (9, 40):
        eager = {k.name: make_tensors(k, "bf16", 2048, tokens, seed=3) for k in KERNELS.values()}
        traced = {name: {role: v.clone() for role, v in t.items()} for name, t in eager.items()}
        every_op(eager)
        compiled(traced)
        torch.cuda.synchronize()
        for name, t in eager.items():
            for role, v in t.items():
                assert torch.equal(v.view(torch.uint8), traced[name][role].view(torch.uint8)), f"{name} {role} T={tokens}"
    assert not torch._dynamo.utils.counters["graph_break"], dict(torch._dynamo.utils.counters["graph_break"])


def test_plan_launch_checks_the_stated_dtype_and_cached_plans_stay_open():
    out, x, w, scale = norm_tensors(dtype=torch.float16)  # fp16 data
    plan = kiln.plan("rms_norm_fp8", 4096, "bf16", torch.cuda.current_device())  # a bf16 plan
    ptrs = {"output": out.data_ptr(), "input": x.data_ptr(), "weight": w.data_ptr(), "scale": scale.data_ptr()}
    with pytest.raises(kiln.KilnError, match="plan was made for bf16") as e:
        plan.launch(ptrs, 8, dtype="fp16", stream=torch.cuda.current_stream().cuda_stream)
    assert e.value.status == "KILN_ERROR_DTYPE_MISMATCH"
    with pytest.raises(RuntimeError, match="cached plan"):
        plan.close()
    torch.ops.kiln.rms_norm_fp8(out, x.bfloat16(), w.bfloat16(), scale, eps=EPS)  # the cached plan still works
    torch.cuda.synchronize()


# ---- group quantisers: every layout ----------------------------------------------------

GROUP_KERNELS = sorted(name for name, k in KERNELS.items() if k.group)
LAYOUTS = ("row_major", "col_major_tma", "packed_ue8m0")


def group_cases():
    for name in GROUP_KERNELS:
        for layout in LAYOUTS:
            for group_size in (128, 64):
                for ue8m0 in ((False, True) if layout != "packed_ue8m0" else (True,)):
                    for hidden, tokens in ((4096, 1), (4096, 5), (7168, 200), (5000, 7)):  # 5000: generic, a partial group
                        yield pytest.param(name, layout, group_size, ue8m0, hidden, tokens,
                                           id=f"{name}-{layout}-g{group_size}{'-ue8m0' if ue8m0 else ''}-h{hidden}-t{tokens}")


def pad_region(s, tokens):
    """The pad rows [T, T4) of every column but the last (allocated, not logical) of a
    column-major scales tensor, as a [T4 - T, cols - 1] view of its storage."""
    t4 = (tokens + 3) // 4 * 4
    cols = s.shape[1]
    if t4 == tokens or cols < 2:
        return None
    return torch.as_strided(s, (t4 - tokens, cols - 1), (1, t4), s.storage_offset() + tokens)


@pytest.mark.parametrize("name,layout,group_size,ue8m0,hidden,tokens", group_cases())
def test_group_kernel_layouts(name, layout, group_size, ue8m0, hidden, tokens):
    k = KERNELS[name]
    options = {"group_size": group_size, "scale_layout": layout, "ue8m0": ue8m0}
    t = make_tensors(k, "bf16", hidden, tokens, seed=hidden + tokens, options=options)
    before = {role: v.clone() for role, v in t.items()}
    ref = reference(k, t, "single", False, options)
    getattr(torch.ops.kiln, name)(*[t[s.role] for s in k.tensors], **({"eps": EPS} if "eps" in k.scalars else {}),
                                  **options)
    torch.cuda.synchronize()
    what = f"{name} {layout} g={group_size} ue8m0={ue8m0} h={hidden} T={tokens}"
    # UE8M0 scales are powers of two: exact (the int32 words compare exactly).
    check_written(k, t, before, ref, "single", what)
    pads = pad_region(t["scales"], tokens) if layout != "row_major" else None
    if pads is not None:
        if layout == "packed_ue8m0":  # vLLM zeroes every allocated pad byte
            assert (pads == 0).all(), f"{what}: packed pad rows not zeroed"
        else:  # never written
            assert torch.isnan(pads).all(), f"{what}: column-major pad rows written"


def test_group_scales_checked_before_the_call():
    k = KERNELS["per_token_group_fp8"]
    t = make_tensors(k, "bf16", 4096, 5, seed=1, options={"scale_layout": "col_major_tma"})
    x, out = t["input"], t["output"]
    plain_col = torch.empty(32, 5, device="cuda").t()  # vLLM's unpadded column-major: strides (1, 5)
    with pytest.raises(kt.TensorCheckError, match=r"must be \[5, 32\] with strides \(1, 8\)"):
        torch.ops.kiln.per_token_group_fp8(out, plain_col, x, scale_layout="col_major_tma")
    with pytest.raises(kt.TensorCheckError, match="scales is torch.float32: must be torch.int32"):
        torch.ops.kiln.per_token_group_fp8(out, t["scales"], x, scale_layout="packed_ue8m0")
    row_major = torch.empty(5, 32, device="cuda")
    with pytest.raises(kt.TensorCheckError, match="strides"):
        torch.ops.kiln.per_token_group_fp8(out, row_major, x, scale_layout="col_major_tma")
    with pytest.raises(kt.TensorCheckError, match="is not contiguous"):
        torch.ops.kiln.per_token_group_fp8(out, t["scales"], x)  # column-major scales given as row-major
    with pytest.raises(kiln.KilnError, match="group_size = 96"):
        torch.ops.kiln.per_token_group_fp8(out, row_major, x, group_size=96)
    # The vLLM op infers the layout from the strides and refuses the unpadded column-major one.
    with pytest.raises(kt.TensorCheckError, match="TMA-aligned"):
        torch.ops.kiln_vllm.per_token_group_fp8_quant(x, out, plain_col, 128, 1e-10, -448.0, 448.0, False, True, False)


@pytest.mark.parametrize("tokens", [4, 5, 77])
def test_vllm_group_alias_column_major(tokens):
    """per_token_group_fp8_quant with vLLM's TMA-aligned column-major scales and UE8M0."""
    row = next(r for r in ALIASES if r.op == "per_token_group_fp8_quant")
    k = KERNELS[row.kernel]
    options = {"scale_layout": "col_major_tma", "ue8m0": True, "group_size": 128}
    t = make_tensors(k, "bf16", 7168, tokens, seed=tokens, options=options)
    before = {role: v.clone() for role, v in t.items()}
    ref = reference(k, t, "single", False, options)
    torch.ops.kiln_vllm.per_token_group_fp8_quant(t["input"], t["output"], t["scales"], 128, 1e-10, -448.0, 448.0,
                                                  True, True, True)
    torch.cuda.synchronize()
    check_written(k, t, before, ref, "single", f"per_token_group_fp8_quant col-major T={tokens}")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_group_layouts_compile(layout):
    """The functional group kernels under torch.compile (fullgraph, dynamic shapes): the scales
    are allocated by the Python rule while tracing, with the same strides and bytes as eager."""
    def fn(x, w):
        q, s = kt.rms_norm_group_fp8(x, w, EPS, scale_layout=layout)
        q2, s2 = kt.per_token_group_fp8(x, scale_layout=layout, group_size=64)
        return q, s, q2, s2

    torch._dynamo.reset()
    compiled = torch.compile(fn, fullgraph=True, dynamic=True)
    for tokens in (3, 17, 130):
        x = torch.randn(tokens, 2048, device="cuda", dtype=torch.bfloat16)
        w = torch.rand(2048, device="cuda", dtype=torch.bfloat16) + 0.5
        eager, got = fn(x, w), compiled(x, w)
        for e, g in zip(eager, got):
            assert tuple(e.shape) == tuple(g.shape) and tuple(e.stride()) == tuple(g.stride()), (layout, tokens)
            assert torch.equal(e.contiguous().view(torch.uint8), g.contiguous().view(torch.uint8)), (layout, tokens)


# ---- per_token_fp8's optional scale_ub (since 0.5) ----------------------------------------

@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("scale_ub", [None, 0.5, SCALE_UB, 100.0, float("nan")])
def test_per_token_fp8_scale_ub(scale_ub, dtype):
    """s = max(min(max|x|, ub) / 448, 1/(448*512)) per row, against the reference: left out
    (None: NULL), a cap below every row's max, one between, one above all, and NaN (no cap)."""
    k = KERNELS["per_token_fp8"]
    for hidden, tokens in ((4096, 1), (4096, 200), (5000, 7)):
        t = make_tensors(k, dtype, hidden, tokens, seed=hidden + tokens, scale_ub=scale_ub)
        before = {role: v.clone() for role, v in t.items()}
        ref = reference(k, t, "single", False)
        torch.ops.kiln.per_token_fp8(t["output"], t["scales"], t["input"], t.get("scale_ub"))
        torch.cuda.synchronize()
        what = f"per_token_fp8 {dtype} scale_ub={scale_ub} h={hidden} T={tokens}"
        check_written(k, t, before, ref, "single", what)
        if scale_ub == 0.5:  # every row's max|x| is above the cap: one scale for all
            assert torch.unique(t["scales"]).numel() == 1, what


def test_scale_ub_none_is_no_cap():
    """None (the op's default), an absent key in Plan.launch and a None value there all launch
    without the cap; the functional and the vLLM alias pass scale_ub through."""
    k = KERNELS["per_token_fp8"]
    x = make_tensors(k, "bf16", 4096, 33, seed=4)["input"]
    uncapped = kt.per_token_fp8(x)
    assert_close(torch, uncapped[1], BASELINES["per_token_fp8"]({"input": x}, eps=EPS)["scales"], 16, "no cap", 1.0)
    ub = torch.full((1,), 1.0, device="cuda")
    capped = kt.per_token_fp8(x, ub)
    assert torch.equal(capped[1], kt.per_token_fp8(x, scale_ub=ub)[1])
    assert not torch.equal(capped[1], uncapped[1])
    plan = kiln.plan("per_token_fp8", 4096, "bf16", torch.cuda.current_device())
    stream = torch.cuda.current_stream().cuda_stream
    for extra in ({}, {"scale_ub": None}):
        out, scales = poison(torch.empty_like(uncapped[0])), poison(torch.empty_like(uncapped[1]))
        plan.launch({"output": out.data_ptr(), "scales": scales.data_ptr(), "input": x.data_ptr(), **extra}, 33,
                    stream=stream, dtype="bf16")
        torch.cuda.synchronize()
        assert torch.equal(scales, uncapped[1]) and torch.equal(out.view(torch.uint8), uncapped[0].view(torch.uint8))
    for ub_arg, want in ((None, uncapped), (ub, capped)):
        out, scales = poison(torch.empty_like(uncapped[0])), poison(torch.empty_like(uncapped[1]))
        torch.ops.kiln_vllm.dynamic_per_token_scaled_fp8_quant(out, x, scales, ub_arg)
        torch.cuda.synchronize()
        assert torch.equal(scales, want[1]) and torch.equal(out.view(torch.uint8), want[0].view(torch.uint8))


@pytest.mark.parametrize("bad,message", [
    (lambda ub: ub.half(), "scale_ub is torch.float16: must be torch.float32"),
    (lambda ub: ub.repeat(2), r"scale_ub has shape \(2,\) \(2 elements\)"),
    (lambda ub: ub.cpu(), "scale_ub is on cpu: kiln runs on CUDA devices"),
])
def test_bad_scale_ub_refused(bad, message):
    k = KERNELS["per_token_fp8"]
    t = make_tensors(k, "bf16", 4096, 8, seed=2)
    ub = bad(t["scale_ub"])
    with pytest.raises(kt.TensorCheckError, match=message):
        torch.ops.kiln.per_token_fp8(t["output"], t["scales"], t["input"], ub)
    with pytest.raises(kt.TensorCheckError, match="kiln_vllm.dynamic_per_token_scaled_fp8_quant: " + message):
        torch.ops.kiln_vllm.dynamic_per_token_scaled_fp8_quant(t["output"], t["input"], t["scales"], ub)
    torch.cuda.synchronize()
    assert (t["output"].view(torch.uint8) == 0x7F).all() and torch.isnan(t["scales"]).all(), "a refused call wrote"


def test_scale_ub_compiles():
    """per_token_fp8 with and without scale_ub under torch.compile (fullgraph, dynamic shapes)."""
    def fn(x, ub):
        q, s = kt.per_token_fp8(x, scale_ub=ub)
        q2, s2 = kt.per_token_fp8(x)
        return q, s, q2, s2

    torch._dynamo.reset()
    compiled = torch.compile(fn, fullgraph=True, dynamic=True)
    ub = torch.full((1,), 1.5, device="cuda")
    for tokens in (3, 17, 130):
        x = torch.randn(tokens, 2048, device="cuda", dtype=torch.bfloat16)
        for e, g in zip(fn(x, ub), compiled(x, ub)):
            assert torch.equal(e.view(torch.uint8), g.view(torch.uint8)), tokens
