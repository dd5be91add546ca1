"""kiln.torch's registrations, with PyTorch and without a GPU: every kernel but the
communicator kernels is an op whose schema comes from its descriptor, the vLLM aliases have vLLM's schemas exactly, and the
pre-call checks that need no device refuse CPU tensors before any C call."""

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (kiln.torch needs it)")

import kiln  # noqa: E402
import kiln.torch as kt  # noqa: E402
from kiln.vllm_aliases import ALIASES  # noqa: E402


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
        tensors = [a for a in args if a[1] == "Tensor"]
        assert [(name, written) for name, _, written, _, _ in tensors] == [(t.name, t.written) for t in k.tensors]
        names = [a[0] for a in args]
        assert ("eps" in names) == ("eps" in k.scalars)
        for option in ("rounding", "gemma", "static_weight"):
            assert (option in names) == (option in k.options), (k.name, option)
            if option in names:
                assert args[names.index(option)][4], f"{option} is keyword-only"
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
