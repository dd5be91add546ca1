"""Shared by the tests: the repository root, and whether the installed package is under test."""

import os
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
# .ci/run sets this when it tests the wheel installed in a venv (KILN_LIBRARY unset).
INSTALLED = os.environ.get("KILN_TEST_INSTALLED") == "1"
if not INSTALLED and str(REPO / "python") not in sys.path:
    sys.path.append(str(REPO / "python"))  # the source tree's package, unless one is importable already
KNOWN_ARCHS = ("sm80", "sm86", "sm89", "sm90", "sm100", "sm103", "sm120")  # kiln-gen's arch table


def import_kiln_or_skip():
    """`import kiln`, or skip the module when there is no library to test: KILN_LIBRARY unset
    and none next to the package (a source tree before the build). With KILN_LIBRARY set, or
    testing the installed wheel, a library that does not load is a failure, not a skip."""
    import pytest
    try:
        import kiln
    except ImportError as e:  # kiln.LibraryError
        if os.environ.get("KILN_LIBRARY") or INSTALLED:
            raise
        pytest.skip(f"no libkiln to test against (set KILN_LIBRARY to a built library): {e}", allow_module_level=True)
    return kiln


def compare(torch, got, ref, near_ulps=1):
    """(outputs, near differences, worse differences) of two tensors of one dtype, as
    bench/compare_torch.py counts them: fp8 e4m3fn, bf16 and fp16 on their number line
    (neighbours differ by one; up to `near_ulps` is near), fp32 likewise (a per-token scale
    computed from a norm is one ulp from PyTorch's), NaN equal to NaN; others exactly."""
    if got.dtype == torch.float8_e4m3fn:
        bits, view = 8, torch.uint8
    elif got.dtype in (torch.bfloat16, torch.float16):
        bits, view = 16, torch.int16
    elif got.dtype == torch.float32:
        bits, view = 32, torch.int32
    else:
        return got.numel(), 0, int((got != ref).sum())
    mask = (1 << bits) - 1
    sign = 1 << (bits - 1)
    g = got.contiguous().view(view).reshape(-1).to(torch.int64) & mask
    r = ref.contiguous().view(view).reshape(-1).to(torch.int64) & mask
    g_nan, r_nan = torch.isnan(got.reshape(-1).float()), torch.isnan(ref.reshape(-1).float())
    g_ord = torch.where(g >= sign, -(g & (sign - 1)), g & (sign - 1))  # +0 and -0 share 0
    r_ord = torch.where(r >= sign, -(r & (sign - 1)), r & (sign - 1))
    differ = (g != r) & ~(g_nan & r_nan)
    near = differ & ~g_nan & ~r_nan & ((g_ord - r_ord).abs() <= near_ulps)
    return g.numel(), int(near.sum()), int((differ & ~near).sum())


NEAR_FRACTION = 1e-3  # near differences are allowed in under this fraction of the outputs (compare_torch.py)
# ... or in this many, whichever is more: one row of 4096 under the vllm convention may
# hold a handful of neighbours (7 seen on the H200 for fp16, T = 1), which is no trend.
NEAR_FLOOR = 16


def assert_close(torch, got, ref, near_ulps, what, near_fraction=NEAR_FRACTION):
    n, near, worse = compare(torch, got, ref, near_ulps)
    assert worse == 0 and near <= max(near_fraction * n, NEAR_FLOOR), (
        f"{what}: {worse} differences beyond {near_ulps} ulp and {near} near ones in {n} outputs")
