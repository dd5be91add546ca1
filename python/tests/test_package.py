"""The kiln package without a GPU and without PyTorch: loading, the kernels as the library
describes them, explain, version, the struct layout check and the error mapping."""

import ctypes
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from kiln_testing import INSTALLED, KNOWN_ARCHS, REPO, import_kiln_or_skip

kiln = import_kiln_or_skip()
from kiln import _abi  # noqa: E402


def plain_kernel():
    """The first kernel without a communicator (kiln.explain answers it without ranks=)."""
    return next(k for k in kiln.kernels() if not k.comm)


COMM_RANKS = 2  # a rank count of the checked-in communicator sets (configs/<kernel>/<arch>/<hidden>/tp2/, tp4/, tp8/)


def target_archs():
    """The archs this library was built for: kiln_explain refuses the others."""
    archs = []
    for arch in KNOWN_ARCHS:
        try:
            kiln.explain(plain_kernel().name, arch, 4096, 1)
            archs.append(arch)
        except kiln.KilnError as e:
            assert e.status == "KILN_ERROR_NO_DEVICE_IMAGE", e
    return archs


# ---- where the library comes from ------------------------------------------------------

def test_library_location():
    path = kiln.library_path()
    if os.environ.get("KILN_LIBRARY"):
        assert path == os.environ["KILN_LIBRARY"]
    else:
        package_dir = os.path.dirname(os.path.abspath(kiln.__file__))
        assert os.path.dirname(path) == package_dir
        assert os.path.basename(path).startswith("libkiln.so")
    if INSTALLED:  # the wheel in a venv: nothing may come from the source tree
        assert not os.path.abspath(kiln.__file__).startswith(str(REPO / "python"))
        assert "KILN_LIBRARY" not in os.environ


def run_import(env_library, package_parent):
    """`import kiln` in a fresh interpreter; (exit status, stderr)."""
    env = {k: v for k, v in os.environ.items() if k not in ("KILN_LIBRARY", "PYTHONPATH")}
    env["PYTHONPATH"] = str(package_parent)
    if env_library is not None:
        env["KILN_LIBRARY"] = env_library
    r = subprocess.run([sys.executable, "-c", "import kiln"], env=env, capture_output=True, text=True, cwd=package_parent)
    return r.returncode, r.stderr


@pytest.fixture
def package_copy(tmp_path):
    """The package's Python files alone, without a library next to them."""
    src = os.path.dirname(os.path.abspath(kiln.__file__))
    dst = tmp_path / "kiln"
    dst.mkdir()
    for name in os.listdir(src):
        if name.endswith(".py"):
            shutil.copy(os.path.join(src, name), dst / name)
    return tmp_path


def test_kiln_library_bad_path(package_copy):
    rc, err = run_import("/nonexistent/libkiln.so", package_copy)
    assert rc != 0
    assert "kiln: cannot load libkiln from /nonexistent/libkiln.so (from KILN_LIBRARY)" in err


def test_kiln_library_not_libkiln(package_copy):
    import ctypes.util
    rc, err = run_import(ctypes.util.find_library("c"), package_copy)
    assert rc != 0
    assert "has no kiln_status_name: it is not a libkiln this package can use" in err


def test_no_library_next_to_package(package_copy):
    rc, err = run_import(None, package_copy)
    assert rc != 0
    assert "no libkiln.so next to the package" in err and "KILN_LIBRARY is not set" in err


def test_library_next_to_package(package_copy):
    shutil.copy(kiln.library_path(), package_copy / "kiln" / "libkiln.so")
    rc, err = run_import(None, package_copy)
    assert rc == 0, err


# ---- the structs mirror kiln.h ---------------------------------------------------------

def test_struct_sizes_match_library():
    lib = kiln._lib
    for cls, init in ((_abi.PlanOptions, lib.kiln_plan_options_init), (_abi.Args, lib.kiln_args_init)):
        s = cls()
        init(ctypes.byref(s))
        assert s.struct_size == ctypes.sizeof(cls), cls.__name__
    args = _abi.Args()
    lib.kiln_args_init(ctypes.byref(args))
    assert args.dtype == _abi.DTYPE_UNSET and args.eps == pytest.approx(1e-6)
    _abi._check_layout(lib, kiln.library_path())  # raises on any difference
    assert _abi._tensor_desc_problem(lib) is None


def test_tensor_desc_mismatch_found():
    """kiln_tensor_desc has no struct_size: a mirror of another size reads the library's
    descriptors wrong, which the layout check sees (a mirror one field larger here; 0.4's, without
    optional, in test_abi_header.py)."""
    grown = type("TensorDesc", (ctypes.Structure,), {"_fields_": _abi.TensorDesc._fields_ + [("extra", ctypes.c_int64)]})
    assert "reads" in (_abi._tensor_desc_problem(kiln._lib, grown) or "")


@pytest.mark.parametrize("struct", ["PlanOptions", "Args", "KernelDesc", "VariantInfo", "TensorLayout"])
def test_struct_mismatch_refused(monkeypatch, struct):
    """A mirror one field larger than the library's struct is refused, naming the struct."""
    base = getattr(_abi, struct)
    grown = type(struct, (ctypes.Structure,), {"_fields_": base._fields_ + [("extra", ctypes.c_int64)]})
    monkeypatch.setattr(_abi, struct, grown)
    with pytest.raises(_abi.LibraryError, match=struct + ":"):
        _abi._check_layout(kiln._lib, kiln.library_path())


# ---- version ---------------------------------------------------------------------------

def test_version_matches_meson_project():
    meson_build = (REPO / "meson.build").read_text()
    project_version = re.search(r"project\('kiln'.*?version:\s*'([^']+)'", meson_build, re.S).group(1)
    assert kiln.version() == project_version
    header = (REPO / "runtime" / "include" / "kiln" / "kiln.h").read_text()
    for part, value in zip(("MAJOR", "MINOR"), project_version.split(".")):
        m = re.search(rf"#define KILN_VERSION_{part} (\d+)", header)
        if m:  # kiln.h's own macros, where it still has them (else version.h, generated from meson.build)
            assert m.group(1) == value


def test_installed_version_matches_library():
    if not INSTALLED:
        pytest.skip("the package is not installed from a wheel here (KILN_TEST_INSTALLED unset)")
    from importlib.metadata import version
    assert version("kiln") == kiln.version()


# ---- kernels, from the library's descriptors ---------------------------------------------

def test_kernels_match_kernels_json():
    """The ctypes view of every descriptor equals kiln-gen's generated/kernels.json."""
    data = json.loads((REPO / "generated" / "kernels.json").read_text())
    expected = {k["name"]: k for k in data["kernels"]}
    got = kiln.kernels()
    assert [k.name for k in got] == sorted(expected)
    for k in got:
        e = expected[k.name]
        assert k.summary == e["summary"]
        assert k.scalars == frozenset(e["scalars"]) and k.options == frozenset(e["options"])
        assert [(t.name, t.role, t.direction, t.elem, t.rows, t.cols, t.alignment, t.optional) for t in k.tensors] == [
            (t["name"], t["role"], t["direction"], t["elem"].removeprefix("KILN_ELEM_").lower(),
             t["rows"].removeprefix("KILN_EXTENT_").lower(), t["cols"].removeprefix("KILN_EXTENT_").lower(),
             t["alignment"], t["optional"]) for t in e["tensors"]]


def test_optional_tensors():
    """0.5: per_token_fp8's scale_ub, an optional fp32 [1] input (KILN_ROLE_SCALE_UB); every
    other tensor of every kernel is required."""
    ub = kiln.kernel("per_token_fp8").tensor("scale_ub")
    assert (ub.name, ub.role, ub.role_id, ub.direction, ub.elem, ub.rows, ub.cols, ub.alignment, ub.optional) == (
        "scale_ub", "scale_ub", 6, "in", "f32", "one", "one", 4, True)
    assert ub.shape(4096, 7) == (1, 1, 4)
    assert [(k.name, t.name) for k in kiln.kernels() for t in k.tensors if t.optional] == [("per_token_fp8", "scale_ub")]


def test_kernel_lookup():
    for k in kiln.kernels():
        assert kiln.kernel(k.name) is k
    with pytest.raises(kiln.KilnError) as e:
        kiln.kernel("no_such_kernel")
    assert e.value.status == "KILN_ERROR_UNKNOWN_KERNEL" and e.value.code == 2
    assert all(k.name in e.value.message for k in kiln.kernels())  # the message lists the known kernels


@pytest.mark.parametrize("hidden,tokens", [(4096, 32), (5000, 7), (1, 1)])
def test_tensor_shapes_and_min_bytes(hidden, tokens):
    """kiln_tensor_shape follows the extents, and kiln_min_bytes is their sum (in-out twice)."""
    extent = {"one": 1, "tokens": tokens, "hidden": hidden, "2hidden": 2 * hidden,
              "groups": -(-hidden // _abi.DEFAULT_GROUP_SIZE)}  # kiln_tensor_shape: the default options
    elem_bytes = {"activation": 2, "fp8_e4m3": 1, "f32": 4, "i32": 4}
    for k in kiln.kernels():
        total = 0
        for t in k.tensors:
            rows, cols, eb = t.shape(hidden, tokens)
            assert (rows, cols, eb) == (extent[t.rows], extent[t.cols], elem_bytes[t.elem]), (k.name, t.name)
            total += rows * cols * eb * (2 if t.direction == "inout" else 1)
        assert kiln.min_bytes(k.name, "bf16", hidden, tokens) == total
        assert k.min_bytes("fp16", hidden, tokens) == total


# ---- explain -------------------------------------------------------------------------------

def set_folder(kernel, arch, hidden):
    """configs/<kernel>/<arch>/<hidden>/, and tp<R>/ below it for a communicator kernel."""
    folder = REPO / "configs" / kernel.name / arch / str(hidden)
    return folder / f"tp{COMM_RANKS}" if kernel.comm else folder


def thresholds(kernel, arch, hidden):
    folder = set_folder(kernel, arch, hidden)
    return sorted(int(p.stem[2:]) for p in folder.glob("bs*.json")) if folder.is_dir() else []


def explain_any(kernel, arch, hidden, tokens):
    """kiln.explain, with ranks= for a communicator kernel."""
    return kiln.explain(kernel.name, arch, hidden, tokens, **({"ranks": COMM_RANKS} if kernel.comm else {}))


def test_explain_with_config_sets():
    if "sm90" not in target_archs():
        pytest.skip(f"this libkiln is built for {', '.join(target_archs())}, not sm90 (the archs with config sets)")
    for k in kiln.kernels():
        ts = thresholds(k, "sm90", 4096)
        assert ts, f"no sm90 config set for {k.name} at hidden 4096"
        ranks = COMM_RANKS if k.comm else 0
        tp = f"tp{ranks}/" if ranks else ""
        for tokens in sorted({1, 3, 31, 32, 33, 200, 100000} | set(ts)):
            v = explain_any(k, "sm90", 4096, tokens)
            want = max([t for t in ts if t <= tokens] or [ts[0]])  # bisect_right - 1, clamped at the smallest
            assert (v.kernel, v.arch, v.hidden, v.threshold, v.is_fallback, v.ranks) == (
                k.name, "sm90", 4096, want, False, ranks)
            assert v.config == f"configs/{k.name}/sm90/4096/{tp}bs{want}.json" and (REPO / v.config).is_file()
            assert v.name.startswith(f"{k.name}_sm90_h4096_{tp.replace('/', '_')}bs") and v.schedule


def test_explain_without_config_set():
    archs = target_archs()
    assert archs, "explain accepted no arch of kiln-gen's table"
    for arch in archs:
        for k in kiln.kernels():
            v = explain_any(k, arch, 5000, 64)  # no set has hidden 5000
            assert v.is_fallback and v.name == f"{k.name}_generic" and v.threshold == 0 and v.config == ""
            assert v.ranks == (COMM_RANKS if k.comm else 0)
            empty = explain_any(k, arch, 4096, 0)  # tokens = 0 launches nothing
            assert empty.name == "" and not empty.is_fallback


def test_explain_errors():
    name = plain_kernel().name
    with pytest.raises(kiln.KilnError) as e:
        kiln.explain("no_such_kernel", "sm90", 4096, 1)
    assert e.value.status == "KILN_ERROR_UNKNOWN_KERNEL"
    untargeted = [a for a in KNOWN_ARCHS if a not in target_archs()] + ["sm999"]
    with pytest.raises(kiln.KilnError) as e:
        kiln.explain(name, untargeted[0], 4096, 1)
    assert e.value.status == "KILN_ERROR_NO_DEVICE_IMAGE" and "not a target of this library" in e.value.message
    with pytest.raises(kiln.KilnError) as e:
        kiln.explain(name, "sm90", 0, 1)
    assert e.value.status == "KILN_ERROR_INVALID_HIDDEN"
    with pytest.raises(kiln.KilnError) as e:
        kiln.explain(name, "sm90", 4096, -1)
    assert e.value.status == "KILN_ERROR_INVALID_TOKENS"


# ---- communicator kernels (KILN_OPTION_COMM) -------------------------------------------------

COMM_KERNELS = ("allreduce_add_rms_norm", "allreduce_add_rms_norm_fp8")


def test_comm_kernels_are_the_ones_kernels_json_marks():
    data = json.loads((REPO / "generated" / "kernels.json").read_text())
    marked = sorted(k["name"] for k in data["kernels"] if "comm" in k["options"])
    assert marked == list(COMM_KERNELS)
    assert sorted(k.name for k in kiln.kernels() if k.comm) == marked
    for k in kiln.kernels():
        assert k.comm == ("comm" in k.options), k.name


def test_explain_comm_kernel_without_ranks_says_how():
    for name in COMM_KERNELS:
        with pytest.raises(kiln.KilnError) as e:
            kiln.explain(name, "sm90", 4096, 32)
        err = e.value
        assert (err.status, err.code) == ("KILN_ERROR_INVALID_ARGUMENT", 1)
        assert "give ranks=" in err.message and name in err.message, err.message
        assert str(err).startswith(f"kiln_explain({name!r}, 'sm90', hidden=4096, tokens=32): KILN_ERROR_INVALID_ARGUMENT: ")
        assert f"kiln.explain({name!r}, 'sm90', 4096, 32, ranks=2)" in err.message  # the call to make instead
    # A Kernel works as the name.
    with pytest.raises(kiln.KilnError, match="give ranks="):
        kiln.explain(kiln.kernel(COMM_KERNELS[0]), "sm90", 4096, 32)


def test_explain_comm_kernel_with_ranks():
    if "sm90" not in target_archs():
        pytest.skip("the checked-in communicator sets are sm90's")
    for name in COMM_KERNELS:
        v = kiln.explain(name, "sm90", 4096, 1, ranks=2)
        assert (v.kernel, v.arch, v.hidden, v.ranks, v.threshold, v.is_fallback) == (name, "sm90", 4096, 2, 1, False)
        assert v.name == f"{name}_sm90_h4096_tp2_bs1"
        assert v.config == f"configs/{name}/sm90/4096/tp2/bs1.json" and (REPO / v.config).is_file()
        assert "two_shot=" in v.schedule
        # A hidden size or rank count without a set: the generic kernel, at that rank count.
        for hidden, ranks in ((5000, 2), (4096, 3)):
            g = kiln.explain(name, "sm90", hidden, 64, ranks=ranks)
            assert g.is_fallback and g.name == f"{name}_generic" and g.config == "" and g.ranks == ranks


def test_explain_ranks_errors():
    for ranks in (1, 9, 0, -1):
        with pytest.raises(kiln.KilnError) as e:
            kiln.explain(COMM_KERNELS[0], "sm90", 4096, 1, ranks=ranks)
        assert (e.value.status, e.value.code) == ("KILN_ERROR_UNSUPPORTED_COMM", 18)
        assert f"ranks = {ranks}" in e.value.message
        assert str(e.value).startswith(f"kiln_explain_comm({COMM_KERNELS[0]!r}, 'sm90', hidden=4096, ranks={ranks}, tokens=1)")
    name = plain_kernel().name
    with pytest.raises(kiln.KilnError) as e:
        kiln.explain(name, "sm90", 4096, 1, ranks=2)  # no communicator: no ranks
    assert e.value.status == "KILN_ERROR_INVALID_ARGUMENT" and f"{name} has no communicator" in e.value.message
    with pytest.raises(kiln.KilnError) as e:
        kiln.explain("no_such_kernel", "sm90", 4096, 1, ranks=2)
    assert e.value.status == "KILN_ERROR_UNKNOWN_KERNEL"


def test_other_kernels_have_ranks_zero():
    for arch in target_archs():
        for k in kiln.kernels():
            if not k.comm:
                assert kiln.explain(k.name, arch, 4096, 32).ranks == 0, k.name
                assert kiln.explain(k.name, arch, 5000, 32).ranks == 0, k.name


def test_status_codes_and_names():
    for name, code in _abi.STATUS.items():
        assert kiln._lib.kiln_status_name(code).decode() == name
    assert _abi.STATUS["KILN_ERROR_NCCL"] == 17 and _abi.STATUS["KILN_ERROR_UNSUPPORTED_COMM"] == 18
    assert kiln._lib.kiln_status_name(max(_abi.STATUS.values()) + 1).decode() == "KILN_STATUS_UNKNOWN"


def test_struct_fields_added_in_0_4_come_last():
    """0.4 added kiln_plan_options.comm and .max_tokens and kiln_variant_info.ranks at the
    ends of the structs, so older callers' smaller structs stay valid."""
    assert [f[0] for f in _abi.PlanOptions._fields_][-5:-3] == ["comm", "max_tokens"]
    assert _abi.PlanOptions.comm.offset > _abi.PlanOptions.static_weight.offset
    assert [f[0] for f in _abi.VariantInfo._fields_][-1] == "ranks"
    o = _abi.PlanOptions()
    kiln._lib.kiln_plan_options_init(ctypes.byref(o))
    assert o.comm is None and o.max_tokens == 0


def test_struct_fields_added_in_0_5_come_last():
    """0.5 added kiln_plan_options.group_size, .scale_layout and .ue8m0 at its end, and
    kiln_tensor_layout; init leaves the group options at their defaults."""
    assert [f[0] for f in _abi.PlanOptions._fields_][-3:] == ["group_size", "scale_layout", "ue8m0"]
    o = _abi.PlanOptions()
    kiln._lib.kiln_plan_options_init(ctypes.byref(o))
    assert (o.group_size, o.scale_layout, o.ue8m0) == (0, _abi.SCALE_LAYOUT["row_major"], 0)
    assert [f[0] for f in _abi.TensorLayout._fields_] == ["struct_size", "rows", "cols", "row_stride", "col_stride",
                                                           "elements", "elem_bytes"]


@pytest.mark.parametrize("kernel_name,options,field", [
    (COMM_KERNELS[0], {}, "comm"),                                      # no communicator
    (COMM_KERNELS[1], {"max_tokens": 512}, "comm"),
    (COMM_KERNELS[0], {"comm": 0x1000}, "max_tokens"),                  # max_tokens left 0
    (COMM_KERNELS[0], {"comm": 0x1000, "max_tokens": -1}, "max_tokens"),
    (COMM_KERNELS[1], {"comm": 0x1000, "max_tokens": 1 << 31}, "max_tokens"),
    ("rms_norm", {"comm": 0x1000}, "comm must be NULL"),                # a kernel without a communicator
    ("rms_norm", {"max_tokens": 64}, "max_tokens must be 0"),
])
def test_plan_comm_options_refused_before_any_device_work(kernel_name, options, field):
    """kiln_plan_create checks comm and max_tokens before it looks for a device or NCCL."""
    with pytest.raises(kiln.KilnError) as e:
        kiln.Plan(kernel_name, 4096, "bf16", device=0, **options)
    assert e.value.status == "KILN_ERROR_INVALID_ARGUMENT"
    assert kernel_name in e.value.message and field in e.value.message, e.value.message


# ---- plans: every status before the device, and no device ------------------------------------

def has_gpu():
    return any(os.path.exists(f"/dev/nvidia{i}") for i in range(16))


def test_plan_without_gpu():
    if has_gpu():
        pytest.skip("a GPU is present: the no-device status is covered by test_plan_device_out_of_range")
    with pytest.raises(kiln.KilnError) as e:
        kiln.Plan("rms_norm", 4096, "bf16", device=0)
    err = e.value
    assert (err.status, err.code) == ("KILN_ERROR_NO_DEVICE", 11)
    assert "no CUDA device" in err.message
    assert str(err).startswith("kiln_plan_create(rms_norm, hidden=4096, bf16, device=0): KILN_ERROR_NO_DEVICE: ")


def test_plan_device_out_of_range():
    with pytest.raises(kiln.KilnError) as e:
        kiln.Plan("rms_norm", 4096, "bf16", device=999)
    assert e.value.status == "KILN_ERROR_NO_DEVICE"


@pytest.mark.parametrize("kwargs,status", [
    (dict(kernel_name="no_such_kernel", hidden=4096), "KILN_ERROR_UNKNOWN_KERNEL"),
    (dict(kernel_name="rms_norm", hidden=0), "KILN_ERROR_INVALID_HIDDEN"),
    (dict(kernel_name="rms_norm", hidden=1 << 21), "KILN_ERROR_INVALID_HIDDEN"),
])
def test_plan_statuses(kwargs, status):
    with pytest.raises(kiln.KilnError) as e:
        kiln.Plan(dtype="bf16", device=0, **kwargs)
    assert e.value.status == status and e.value.message


def test_option_the_kernel_lacks():
    lacking = [(k, o) for k in kiln.kernels() for o in ("rounding", "gemma") if o not in k.options]
    if not lacking:
        pytest.skip("every kernel of this library has every option")
    k, option = lacking[0]
    value = {"rounding": "vllm", "gemma": True}[option]
    with pytest.raises(kiln.KilnError) as e:
        kiln.Plan(k.name, 4096, "bf16", device=0, **{option: value})
    assert e.value.status == "KILN_ERROR_INVALID_ARGUMENT" and option in e.value.message


def test_python_side_argument_errors():
    with pytest.raises(ValueError, match="dtype 'fp32'"):
        kiln.Plan("rms_norm", 4096, "fp32", device=0)
    with pytest.raises(ValueError, match="rounding 'odd'"):
        kiln.Plan("rms_norm", 4096, "bf16", device=0, rounding="odd")
    with pytest.raises(ValueError, match="a cached plan belongs to one device"):
        kiln.plan("rms_norm", 4096, "bf16", device=-1)
    with pytest.raises(kiln.KilnError) as e:
        kiln.min_bytes("rms_norm", "bf16", 4096, -1)
    assert e.value.status == "KILN_ERROR_INVALID_TOKENS"


# ---- the vLLM alias table is data over the descriptors ---------------------------------------

def test_vllm_alias_rows():
    from kiln.vllm_aliases import ALIASES
    have = {k.name: k for k in kiln.kernels()}
    assert len({a.op for a in ALIASES}) == len(ALIASES)
    for a in ALIASES:
        assert a.schema.startswith(a.op + "("), a.op
        named = list(a.roles) + list(a.require) + list(a.ignore) + list(a.option_args) + list(a.why)
        for arg in named + ([a.eps] if a.eps else []) + ([a.layout_from] if a.layout_from else []):
            assert re.search(rf"\b{arg}\b", a.schema), (a.op, arg)
        assert set(a.why) <= set(a.require), a.op
        assert set(a.roles.values()) <= set(_abi.ROLE_NAMES)
        if a.kernel in have:  # every tensor of the kernel is mapped, once (an optional one may be left out)
            k = have[a.kernel]
            mapped = list(a.roles.values())
            assert len(mapped) == len(set(mapped)), a.op
            assert {t.role for t in k.tensors if not t.optional} <= set(mapped) <= {t.role for t in k.tensors}, a.op
    served = {a.op for a in ALIASES if a.kernel in have}
    assert {"rms_norm", "fused_add_rms_norm", "rms_norm_static_fp8_quant", "fused_add_rms_norm_static_fp8_quant",
            "silu_and_mul_quant"} <= served
    for a in ALIASES:
        k = have.get(a.kernel)
        if k is None:
            continue
        group_options = {"group_size", "scale_layout", "ue8m0"}
        for option in list(a.option_args.values()) + list(a.options):
            assert option in k.options or (option in group_options and k.group) or option == "rounding", (a.op, option)
        if a.layout_from:
            assert k.group and a.roles[a.layout_from] == "scales", a.op


def test_vllm_per_token_alias_passes_scale_ub():
    """dynamic_per_token_scaled_fp8_quant: vLLM's schema word for word; scale_ub is passed
    through to per_token_fp8's optional scale_ub (no longer refused)."""
    from kiln.vllm_aliases import ALIASES
    row = next(a for a in ALIASES if a.op == "dynamic_per_token_scaled_fp8_quant")
    assert row.schema == ("dynamic_per_token_scaled_fp8_quant(Tensor! result, Tensor input, Tensor! scale, "
                          "Tensor? scale_ub) -> ()")
    assert row.kernel == "per_token_fp8" and row.roles["scale_ub"] == "scale_ub"
    assert row.require == {} and row.eps is None
    assert kiln.kernel(row.kernel).tensor("scale_ub").optional


def test_vllm_group_alias_rows():
    """vLLM's two per-token-group ops, their schemas word for word (csrc/libtorch_stable/torch_bindings.cpp)."""
    from kiln.vllm_aliases import ALIASES
    rows = {a.op: a for a in ALIASES}
    plain, packed = rows["per_token_group_fp8_quant"], rows["per_token_group_fp8_quant_packed"]
    assert plain.schema == ("per_token_group_fp8_quant(Tensor input, Tensor! output_q, Tensor! output_s, int group_size, "
                            "float eps, float fp8_min, float fp8_max, bool scale_ue8m0, bool dummy_is_scale_transposed, "
                            "bool dummy_is_tma_aligned) -> ()")
    assert packed.schema == ("per_token_group_fp8_quant_packed(Tensor input, Tensor! output_q, Tensor! output_s_packed, "
                             "int group_size, float eps, float fp8_min, float fp8_max) -> ()")
    for row in (plain, packed):
        assert row.kernel == "per_token_group_fp8" and row.eps is None
        assert row.require == {"eps": 1e-10, "fp8_min": -448.0, "fp8_max": 448.0}
        assert row.option_args["group_size"] == "group_size"
    assert plain.option_args["scale_ue8m0"] == "ue8m0" and plain.layout_from == "output_s"
    assert set(plain.ignore) == {"dummy_is_scale_transposed", "dummy_is_tma_aligned"}
    assert packed.options == {"scale_layout": "packed_ue8m0", "ue8m0": True} and packed.layout_from is None


# ---- group quantisers (KILN_OPTION_GROUP, since 0.5) ------------------------------------------

GROUP_KERNELS = ("fused_add_rms_norm_group_fp8", "per_token_group_fp8", "rms_norm_group_fp8", "silu_mul_group_fp8")


def test_group_kernels_are_the_ones_kernels_json_marks():
    data = json.loads((REPO / "generated" / "kernels.json").read_text())
    marked = sorted(k["name"] for k in data["kernels"] if "group" in k["options"])
    assert marked == list(GROUP_KERNELS)
    assert sorted(k.name for k in kiln.kernels() if k.group) == marked
    for name in GROUP_KERNELS:
        k = kiln.kernel(name)
        scales = k.tensor("scales")
        assert (scales.rows, scales.cols, scales.elem, scales.direction) == ("tokens", "groups", "f32", "out"), name


def expected_layout(kernel, spec, hidden, tokens, group_size, scale_layout):
    """docs/design.md ("Scale layouts"): each layout's shape, strides and span; no tokens, no elements."""
    extent = {"one": 1, "tokens": tokens, "hidden": hidden, "2hidden": 2 * hidden,
              "groups": -(-hidden // (group_size or 128))}
    rows, cols = extent[spec.rows], extent[spec.cols]
    elem = {"activation": 2, "fp8_e4m3": 1, "f32": 4, "i32": 4}[spec.elem]
    if spec.cols != "groups" or scale_layout == "row_major":
        return kiln.TensorLayout(rows, cols, cols, 1, rows * cols, elem)
    t4 = (tokens + 3) // 4 * 4
    if scale_layout == "packed_ue8m0":
        cols = (cols + 3) // 4
    return kiln.TensorLayout(rows, cols, 1, t4, (cols - 1) * t4 + rows if rows else 0, 4)


@pytest.mark.parametrize("scale_layout", ["row_major", "col_major_tma", "packed_ue8m0"])
@pytest.mark.parametrize("group_size", [0, 128, 64])
def test_tensor_layouts(group_size, scale_layout):
    """kiln_tensor_layout_of for every tensor of every group quantiser, against the formulas."""
    for name in GROUP_KERNELS:
        k = kiln.kernel(name)
        for hidden in (4096, 7168, 5000, 192, 64):
            for tokens in (0, 1, 3, 4, 5, 77, 128):
                for spec in k.tensors:
                    got = k.layout(spec.name, hidden, tokens, group_size=group_size, scale_layout=scale_layout)
                    assert got == k.layout(spec.role, hidden, tokens, group_size=group_size, scale_layout=scale_layout)
                    want = expected_layout(k, spec, hidden, tokens, group_size, scale_layout)
                    assert got == want, (name, spec.name, hidden, tokens)


def test_vllm_allocations_are_the_layouts():
    """vLLM's allocations (docs/research/vllm-fp8-quant-semantics.md, section 2) are exactly
    kiln's layouts: shape, strides and span."""
    k = kiln.kernel("per_token_group_fp8")
    for tokens, hidden in ((1, 7168), (5, 7168), (130, 4096), (8, 2048)):
        groups = hidden // 128
        t4 = (tokens + 3) // 4 * 4
        tma = k.layout("scales", hidden, tokens, scale_layout="col_major_tma")
        assert (tma.shape, tma.strides, tma.elements) == ((tokens, groups), (1, t4), (groups - 1) * t4 + tokens)
        words = (groups + 3) // 4
        packed = k.layout("scales", hidden, tokens, scale_layout="packed_ue8m0", ue8m0=True)
        assert (packed.shape, packed.strides, packed.elements, packed.elem_bytes) == (
            (tokens, words), (1, t4), (words - 1) * t4 + tokens, 4)
        row = k.layout("scales", hidden, tokens)
        assert (row.shape, row.strides, row.elements) == ((tokens, groups), (groups, 1), tokens * groups)


def test_non_group_tensors_are_row_major():
    for k in kiln.kernels():
        for spec in k.tensors:
            if spec.cols == "groups":
                continue
            rows, cols, elem = spec.shape(4096, 9)
            assert k.layout(spec.name, 4096, 9) == kiln.TensorLayout(rows, cols, cols, 1, rows * cols, elem)


@pytest.mark.parametrize("options,words", [
    ({"group_size": 128}, "no scale groups"),
    ({"scale_layout": "col_major_tma"}, "no scale groups"),
    ({"ue8m0": True}, "no scale groups"),
])
def test_group_options_refused_for_other_kernels(options, words):
    for name in ("rms_norm", "per_token_fp8"):
        with pytest.raises(kiln.KilnError) as e:
            kiln.Plan(name, 4096, "bf16", device=0, **options)
        assert e.value.status == "KILN_ERROR_INVALID_ARGUMENT" and words in e.value.message, e.value.message
        with pytest.raises(kiln.KilnError) as e:
            kiln.kernel(name).layout("input", 4096, 4, **options)
        assert e.value.status == "KILN_ERROR_INVALID_ARGUMENT" and words in e.value.message


@pytest.mark.parametrize("group_size", [32, 96, 256, -1])
def test_group_size_refused(group_size):
    with pytest.raises(kiln.KilnError) as e:
        kiln.Plan("per_token_group_fp8", 4096, "bf16", device=0, group_size=group_size)
    assert e.value.status == "KILN_ERROR_INVALID_ARGUMENT" and "group_size" in e.value.message
    with pytest.raises(kiln.KilnError) as e:
        kiln.kernel("per_token_group_fp8").layout("scales", 4096, 4, group_size=group_size)
    assert e.value.status == "KILN_ERROR_INVALID_ARGUMENT" and "group_size" in e.value.message


def test_scale_layout_names():
    assert kiln.SCALE_LAYOUTS == ("row_major", "col_major_tma", "packed_ue8m0")
    with pytest.raises(ValueError, match="scale_layout 'col_major'"):
        kiln.Plan("per_token_group_fp8", 4096, "bf16", device=0, scale_layout="col_major")
    with pytest.raises(ValueError, match="scale_layout 'tma'"):
        kiln.kernel("per_token_group_fp8").layout("scales", 4096, 4, scale_layout="tma")
    with pytest.raises(ValueError, match="has no tensor 'scale'"):
        kiln.kernel("per_token_group_fp8").layout("scale", 4096, 4)


def test_group_plan_options_pass_the_checks():
    """Valid group options get as far as the device (no device here, or device 999)."""
    for options in ({}, {"group_size": 64}, {"scale_layout": "col_major_tma", "ue8m0": True},
                    {"scale_layout": "packed_ue8m0"}):
        with pytest.raises(kiln.KilnError) as e:
            kiln.Plan("per_token_group_fp8", 4096, "bf16", device=999, **options)
        assert e.value.status == "KILN_ERROR_NO_DEVICE", (options, e.value)
