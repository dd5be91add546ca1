#!/usr/bin/env python3
"""kiln against PyTorch eager and torch.compile, on the GPU this runs on.

libkiln is loaded with ctypes and driven through its C API (runtime/include/kiln/kiln.h):
the kernels, their tensors by role and the bytes each launch must move come from the
library (kiln_kernel_at, kiln_min_bytes), and kiln launches with its tensors by role. The
PyTorch baselines are reference/torch_reference.py's; a kernel without one is reported and
skipped. For every kernel, dtype, hidden size and token count the script

  1. checks every tensor kiln writes against PyTorch eager, computed in fp32 from the same
     inputs (fp8 clamped to +-448 before the cast); neighbouring values (one ulp, near
     rounding ties; two for 16-bit outputs under --rounding vllm, whose intermediate rounding
     can flip there) are allowed in at most 0.1 % of the outputs (scales and residuals
     counted as outputs), and the fp32 scales of a kernel that transforms its input before
     it takes the maximum (a norm, an activation) within SCALE_ULPS of eager's in any number;
     anything else fails the run;
  2. times kiln, eager and torch.compile (Inductor, dynamic=False, compiled and warmed
     up per shape) as kiln-bench does: N back-to-back calls captured in one CUDA graph,
     median of replays timed with CUDA events, per-call time = median / N. A kernel that
     writes over its inputs gets them back before every replay, outside the timed events;

then prints the RFC-style summary and writes a CSV (row by row) and the summary to --out.
Exit status: 0, 1 on any disagreement or error, 3 when --time-limit cut the run short.

The group quantisers (KILN_OPTION_GROUP) run at the plan's default options, groups of 128
columns with row-major fp32 scales [T, G], against vLLM's unfused chain in PyTorch (the norm
or SiLU, then per-group absmax, scale, divide, cast); torch.compile of that is the baseline.

    python3 bench/compare_torch.py --lib build/runtime/libkiln.so.0.5 --out results/
    python3 bench/compare_torch.py --quick --kernel NAME --rounding vllm --out results/
    python3 bench/compare_torch.py --lib build/runtime/libkiln.so.0.5 --list    # the library's kernels, no GPU

Needs Python 3, PyTorch with CUDA and Triton; nothing else (--list and --help: neither).
"""

import argparse
import ctypes
import csv
import datetime
import math
import os
import re
import statistics
import sys
import time

DEFAULT_HIDDEN = [2048, 4096, 5120, 8192]
# Thresholds, the values between them, and sizes that run from DRAM at every hidden size.
DEFAULT_TOKENS = [1, 2, 3, 4, 8, 16, 32, 64, 128, 200, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]
QUICK_TOKENS = [1, 4, 32, 128, 200, 1024, 4096, 16384]
DTYPES = ["bf16", "fp16"]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ULP_FRACTION = 1e-3  # near differences (near_ulps) allowed in under this fraction of outputs
# An fp32 scale of a kernel that transforms its input before taking the maximum inherits the
# rounding of that transform: a norm's row sum of squares, which PyTorch reduces in another
# order (about log2(H) / 2 ulps through the rsqrt), then the roundings of y = x * rinv * w and
# of / 448; an activation's expf. Every row's scale may move so, so these differences are
# allowed in any number. (Runs 42-44, H200, full grid: at most 6 ulps from eager, where
# torch.compile's scales differ by up to 6084; the fp8 outputs never by more than one code.
# test_gpu's double-precision reference holds such a scale to 1 ulp or a relative 2^-16, the
# fp32 error of the sum of squares.) The scales of a kernel that quantises its input as it is
# (max|x| / 448) are held to one ulp like every other tensor.
SCALE_ULPS = 8

torch = None  # imported by main(), so that --help works without PyTorch

# ---- the C API through ctypes (runtime/include/kiln/kiln.h) ----------------------------
# The structs and enums of the ABI, mirrored; everything about kernels (which ones, their
# tensors by role, the bytes they move) is asked of the library.

KILN_SUCCESS = 0
KILN_DTYPE = {"bf16": 0, "fp16": 1}
KILN_SET_EXACT, KILN_SET_STRICT, KILN_SET_GENERIC = 0, 1, 2
KILN_ROUNDING = {"single": 0, "vllm": 1}
ROLE_NAMES = ["input", "weight", "residual", "output", "scales", "scale", "scale_ub"]  # kiln_role's order
KILN_ROLE_SLOTS = 8
KILN_DIR_IN, KILN_DIR_OUT, KILN_DIR_INOUT = 0, 1, 2
KILN_ELEM_ACTIVATION, KILN_ELEM_FP8_E4M3, KILN_ELEM_F32, KILN_ELEM_I32 = 0, 1, 2, 3
KILN_EXTENT_2HIDDEN = 3  # kiln_extent: an activation's gate and up halves
KILN_OPTION_ROUNDING, KILN_OPTION_GEMMA = 0x1, 0x2
KILN_OPTION_GROUP = 0x10  # since 0.5: group quantisers run at init's options here: group_size 128, row-major scales
KILN_SCALAR_EPS = 0x1


class PlanOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("kernel", ctypes.c_char_p),
        ("hidden", ctypes.c_int64),
        ("dtype", ctypes.c_int),  # kiln_dtype
        ("device", ctypes.c_int32),
        ("policy", ctypes.c_int),  # kiln_set_policy
        ("rounding", ctypes.c_int),  # kiln_rounding
        ("gemma", ctypes.c_int32),
        ("static_weight", ctypes.c_int32),
        ("comm", ctypes.c_void_p),  # communicator kernels (not timed here: kiln-bench-comm)
        ("max_tokens", ctypes.c_int64),
        ("group_size", ctypes.c_int32),  # since 0.5: group quantisers (KILN_OPTION_GROUP); 0 = 128
        ("scale_layout", ctypes.c_int),  # since 0.5: kiln_scale_layout; 0 = row-major, what this script compares
        ("ue8m0", ctypes.c_int32),       # since 0.5
    ]


class Args(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("tokens", ctypes.c_int64),
        ("hidden", ctypes.c_int64),
        ("tensors", ctypes.c_void_p * KILN_ROLE_SLOTS),  # by kiln_role
        ("eps", ctypes.c_float),
        ("reserved", ctypes.c_int32),  # since 0.3: puts dtype past 0.2's tail padding
        ("dtype", ctypes.c_int),  # kiln_dtype of the activation tensors (since 0.3)
    ]


class TensorDesc(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("role", ctypes.c_int),
        ("direction", ctypes.c_int),
        ("elem", ctypes.c_int),
        ("rows", ctypes.c_int),
        ("cols", ctypes.c_int),
        ("alignment", ctypes.c_int32),
        ("optional", ctypes.c_int32),  # since 0.5: 1 = the tensor may be NULL (e.g. a scale_ub role)
    ]


class KernelDesc(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("name", ctypes.c_char_p),
        ("summary", ctypes.c_char_p),
        ("tensor_count", ctypes.c_int32),
        ("tensors", ctypes.POINTER(TensorDesc)),
        ("options", ctypes.c_uint32),
        ("scalars", ctypes.c_uint32),
    ]


class VariantInfo(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("kernel", ctypes.c_char_p),
        ("arch", ctypes.c_char_p),
        ("hidden", ctypes.c_int64),
        ("threshold", ctypes.c_int32),
        ("is_fallback", ctypes.c_int32),
        ("name", ctypes.c_char_p),
        ("config", ctypes.c_char_p),
        ("schedule", ctypes.c_char_p),
    ]


class KilnError(RuntimeError):
    pass


class Tensor:
    """One tensor of a kernel, as the library describes it."""

    def __init__(self, d, kiln):
        self.desc, self.kiln = d, kiln  # the library's description: shapes come from kiln_tensor_shape
        self.name = d.name.decode()
        self.role = d.role
        self.role_name = ROLE_NAMES[d.role] if d.role < len(ROLE_NAMES) else f"role{d.role}"
        self.direction, self.elem, self.rows, self.cols = d.direction, d.elem, d.rows, d.cols
        self.optional = bool(d.optional)

    @property
    def read(self):
        return self.direction != KILN_DIR_OUT

    @property
    def written(self):
        return self.direction != KILN_DIR_IN

    def shape(self, hidden, tokens):
        """(rows, cols) at this hidden size and token count, as the library computes it."""
        return self.kiln.tensor_shape(self.desc, hidden, tokens)


class Kernel:
    """A kernel of the library: kiln_kernel_at's answer."""

    def __init__(self, d, kiln):
        self.name = d.name.decode()
        self.summary = d.summary.decode()
        self.tensors = [Tensor(d.tensors[i], kiln) for i in range(d.tensor_count)]
        self.options, self.scalars = d.options, d.scalars

    def has(self, option):
        return bool(self.options & option)

    @property
    def writes_an_input(self):
        return any(t.direction == KILN_DIR_INOUT for t in self.tensors)


class Kiln:
    """libkiln through ctypes: prototypes declared, every status checked."""

    def __init__(self, path):
        try:
            self.lib = ctypes.CDLL(path)
        except OSError as e:
            raise KilnError(f"cannot load libkiln from {path}: {e} (build it with ninja -C build, or pass --lib)")
        lib = self.lib
        c_plan_p = ctypes.c_void_p
        lib.kiln_status_name.argtypes, lib.kiln_status_name.restype = [ctypes.c_int], ctypes.c_char_p
        lib.kiln_last_error.argtypes, lib.kiln_last_error.restype = [], ctypes.c_char_p
        lib.kiln_version.argtypes, lib.kiln_version.restype = [], ctypes.c_char_p
        lib.kiln_kernel_count.argtypes, lib.kiln_kernel_count.restype = [], ctypes.c_int32
        lib.kiln_kernel_at.argtypes = [ctypes.c_int32, ctypes.POINTER(KernelDesc)]
        lib.kiln_kernel_at.restype = ctypes.c_int
        lib.kiln_min_bytes.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int64, ctypes.c_int64,
                                       ctypes.POINTER(ctypes.c_int64)]
        lib.kiln_min_bytes.restype = ctypes.c_int
        i64p = ctypes.POINTER(ctypes.c_int64)
        lib.kiln_tensor_shape.argtypes = [ctypes.POINTER(TensorDesc), ctypes.c_int64, ctypes.c_int64, i64p, i64p, i64p]
        lib.kiln_tensor_shape.restype = ctypes.c_int
        lib.kiln_plan_options_init.argtypes, lib.kiln_plan_options_init.restype = [ctypes.POINTER(PlanOptions)], None
        lib.kiln_args_init.argtypes, lib.kiln_args_init.restype = [ctypes.POINTER(Args)], None
        lib.kiln_plan_create.argtypes = [ctypes.POINTER(PlanOptions), ctypes.POINTER(c_plan_p)]
        lib.kiln_plan_create.restype = ctypes.c_int
        lib.kiln_plan_destroy.argtypes, lib.kiln_plan_destroy.restype = [c_plan_p], None
        lib.kiln_plan_summary.argtypes, lib.kiln_plan_summary.restype = [c_plan_p], ctypes.c_char_p
        lib.kiln_plan_describe.argtypes = [c_plan_p, ctypes.c_int64, ctypes.POINTER(VariantInfo)]
        lib.kiln_plan_describe.restype = ctypes.c_int
        lib.kiln_launch.argtypes = [c_plan_p, ctypes.POINTER(Args), ctypes.c_void_p]
        lib.kiln_launch.restype = ctypes.c_int
        self.version = lib.kiln_version().decode()

        # The structs must have the library's layout: init writes its sizeof.
        for cls, init in ((PlanOptions, lib.kiln_plan_options_init), (Args, lib.kiln_args_init)):
            room = (ctypes.c_char * (ctypes.sizeof(cls) + 256))()  # a newer library's larger struct fits
            init(ctypes.cast(room, ctypes.POINTER(cls)))
            probe = cls.from_buffer_copy(bytes(room)[:ctypes.sizeof(cls)])
            if probe.struct_size != ctypes.sizeof(cls):
                raise KilnError(f"{cls.__name__}: libkiln's struct is {probe.struct_size} bytes, this script's "
                                f"{ctypes.sizeof(cls)}: the script does not match kiln.h")

    def check(self, status, what):
        if status != KILN_SUCCESS:
            name = self.lib.kiln_status_name(status).decode()
            raise KilnError(f"{what}: {name}: {self.lib.kiln_last_error().decode()}")

    def kernels(self):
        """Every kernel of the library, in its order (sorted by name)."""
        out = []
        for i in range(self.lib.kiln_kernel_count()):
            d = KernelDesc()
            d.struct_size = ctypes.sizeof(KernelDesc)
            self.check(self.lib.kiln_kernel_at(i, ctypes.byref(d)), f"kiln_kernel_at({i})")
            out.append(Kernel(d, self))
        return out

    def min_bytes(self, kernel, dtype, hidden, tokens):
        """kiln_min_bytes: each input read once, each output written once, in-out tensors both."""
        n = ctypes.c_int64()
        self.check(self.lib.kiln_min_bytes(kernel.encode(), KILN_DTYPE[dtype], hidden, tokens, ctypes.byref(n)),
                   f"kiln_min_bytes({kernel}, {dtype}, hidden={hidden}, tokens={tokens})")
        return n.value

    def tensor_shape(self, desc, hidden, tokens):
        """kiln_tensor_shape: a tensor's (rows, cols) at (hidden, tokens)."""
        rows, cols, elem = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64()
        self.check(self.lib.kiln_tensor_shape(ctypes.byref(desc), hidden, tokens, ctypes.byref(rows), ctypes.byref(cols),
                                              ctypes.byref(elem)), f"kiln_tensor_shape({desc.name.decode()})")
        return (rows.value, cols.value)

    def plan(self, kernel, hidden, dtype, device, policy=KILN_SET_EXACT, rounding="single", gemma=False):
        return Plan(self, kernel, hidden, dtype, device, policy, rounding, gemma)


class Plan:
    def __init__(self, kiln, kernel, hidden, dtype, device, policy, rounding, gemma):
        self.kiln, self.kernel, self.hidden = kiln, kernel, hidden
        self.dtype_code = KILN_DTYPE[dtype]
        options = PlanOptions()
        kiln.lib.kiln_plan_options_init(ctypes.byref(options))
        self._kernel_name = kernel.name.encode()
        options.kernel = self._kernel_name
        options.hidden = hidden
        options.dtype = KILN_DTYPE[dtype]
        options.device = device
        options.policy = policy
        options.rounding = KILN_ROUNDING[rounding]
        options.gemma = int(gemma)
        self.handle = ctypes.c_void_p()
        kiln.check(kiln.lib.kiln_plan_create(ctypes.byref(options), ctypes.byref(self.handle)),
                   f"kiln_plan_create({kernel.name}, hidden={hidden}, {dtype}, device {device})")

    def summary(self):
        return self.kiln.lib.kiln_plan_summary(self.handle).decode()

    def describe(self, tokens):
        info = VariantInfo()
        info.struct_size = ctypes.sizeof(VariantInfo)
        self.kiln.check(self.kiln.lib.kiln_plan_describe(self.handle, tokens, ctypes.byref(info)),
                        f"kiln_plan_describe({self.kernel.name}, tokens={tokens})")
        return {"name": info.name.decode(), "config": info.config.decode(), "threshold": info.threshold,
                "is_fallback": bool(info.is_fallback)}

    def args(self, tensors, tokens, eps):
        """kiln_args with the tensors by role ({role: torch tensor})."""
        a = Args()
        self.kiln.lib.kiln_args_init(ctypes.byref(a))
        for t in self.kernel.tensors:
            if tensors.get(t.role_name) is not None:  # an optional tensor left out: NULL
                a.tensors[t.role] = tensors[t.role_name].data_ptr()
        a.tokens = tokens
        a.hidden = self.hidden
        a.dtype = self.dtype_code
        if self.kernel.scalars & KILN_SCALAR_EPS:
            a.eps = eps
        return a

    def launch(self, args, stream):
        status = self.kiln.lib.kiln_launch(self.handle, ctypes.byref(args), ctypes.c_void_p(stream))
        if status != KILN_SUCCESS:
            self.kiln.check(status, f"kiln_launch({self.kernel.name}, hidden={self.hidden}, tokens={args.tokens})")

    def close(self):
        if self.handle:
            self.kiln.lib.kiln_plan_destroy(self.handle)
            self.handle = ctypes.c_void_p()


# ---- comparing outputs ---------------------------------------------------------------

def compare(got, ref, near_ulps=1):
    """(outputs, near differences, worse differences, the largest difference on the number
    line: -1 where NaN met a number or the dtype has no number line) between two tensors of
    one dtype:
    fp8 e4m3fn, bf16 or fp16 compared on their number line (neighbours differ by one; a
    difference of at most `near_ulps` is near), fp32 likewise (a scale computed from a norm
    may be a few ulps from PyTorch's), NaN equal to NaN; anything else exactly."""
    if got.dtype == torch.float8_e4m3fn:
        bits, view = 8, torch.uint8
    elif got.dtype in (torch.bfloat16, torch.float16):
        bits, view = 16, torch.int16
    elif got.dtype == torch.float32:
        bits, view = 32, torch.int32
    else:
        n = got.numel()
        worse = int((got != ref).sum())
        return n, 0, worse, -1 if worse else 0
    g_all = got.contiguous().view(view).reshape(-1)
    r_all = ref.contiguous().view(view).reshape(-1)
    sign = 1 << (bits - 1)
    n, one, worse, largest = g_all.numel(), 0, 0, 0
    chunk = 1 << 26
    for i in range(0, n, chunk):
        g = g_all[i:i + chunk].to(torch.int64) & ((1 << bits) - 1)
        r = r_all[i:i + chunk].to(torch.int64) & ((1 << bits) - 1)
        g_mag, r_mag = g & (sign - 1), r & (sign - 1)
        g_nan = torch.isnan(got.reshape(-1)[i:i + chunk].float())
        r_nan = torch.isnan(ref.reshape(-1)[i:i + chunk].float())
        # Signed position on the number line: neighbours differ by 1 (+0 and -0 share 0).
        g_ord = torch.where(g >= sign, -g_mag, g_mag)
        r_ord = torch.where(r >= sign, -r_mag, r_mag)
        differ = (g != r) & ~(g_nan & r_nan)
        near = differ & ~g_nan & ~r_nan & ((g_ord - r_ord).abs() <= near_ulps)
        one += int(near.sum())
        worse += int((differ & ~near).sum())
        if bool((differ & (g_nan ^ r_nan)).any()):
            largest = -1
        elif largest >= 0 and bool(differ.any()):
            largest = max(largest, int((g_ord - r_ord).abs()[differ].max()))
    return n, one, worse, largest


# ---- timing -------------------------------------------------------------------------

class Timer:
    """N back-to-back calls captured in one CUDA graph; median of timed replays."""

    def __init__(self, launches, replays, min_replays, max_seconds, warmup_ms):
        self.launches, self.replays, self.min_replays = launches, replays, min_replays
        self.max_seconds, self.warmup_ms = max_seconds, warmup_ms
        self.starts, self.stops = [], []
        self.cycles_per_ms = self._calibrate_sleep()

    def _event(self):
        return torch.cuda.Event(enable_timing=True)

    def _calibrate_sleep(self):
        torch.cuda._sleep(1000)
        start, stop = self._event(), self._event()
        cycles = 20_000_000
        start.record()
        torch.cuda._sleep(cycles)
        stop.record()
        stop.synchronize()
        return cycles / max(start.elapsed_time(stop), 1e-3)

    def time(self, fn, reset=None):
        """Per-call µs (median replay / launches), per-call µs of the fastest replay, replays timed.
        `reset`, when given, runs before every replay, outside the timed events (kernels that
        write over their inputs start each replay from the same values)."""
        reset = reset or (lambda: None)
        # Warm up outside the graph, on a side stream, as PyTorch asks before a capture.
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                reset()
                fn()
        torch.cuda.current_stream().wait_stream(side)
        torch.cuda.synchronize()

        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(self.launches):
                fn()
        torch.cuda.synchronize()

        start, stop = self._event(), self._event()
        warm, warm_ms, batch = 0, 0.0, 3
        while warm < 3 or warm_ms < self.warmup_ms:
            start.record()
            for _ in range(batch):
                reset()
                graph.replay()
            stop.record()
            stop.synchronize()
            warm_ms += start.elapsed_time(stop)
            warm += batch
            batch = min(2 * batch, 4096)
        replay_ms = warm_ms / warm  # with the resets: an upper bound

        replays = self.replays
        if replay_ms * replays > self.max_seconds * 1e3:
            replays = max(self.min_replays, min(replays, int(self.max_seconds * 1e3 / replay_ms)))
        while len(self.starts) < replays:
            self.starts.append(self._event())
            self.stops.append(self._event())

        # Replays queued while the GPU sleeps, so Python never lags the GPU.
        times = []
        batch = 100
        for first in range(0, replays, batch):
            n = min(batch, replays - first)
            torch.cuda._sleep(int(self.cycles_per_ms * (1.0 + 0.05 * n)))
            for i in range(first, first + n):
                reset()
                self.starts[i].record()
                graph.replay()
                self.stops[i].record()
            torch.cuda.synchronize()
            times += [self.starts[i].elapsed_time(self.stops[i]) for i in range(first, first + n)]
        del graph
        per_call = [t * 1e3 / self.launches for t in times]
        return statistics.median(per_call), min(per_call), replays


# ---- one shape ----------------------------------------------------------------------

TORCH_ELEM = {KILN_ELEM_FP8_E4M3: "float8_e4m3fn", KILN_ELEM_F32: "float32", KILN_ELEM_I32: "int32"}


def rounding_for(opts, kernel):
    """--rounding where the kernel has the option; its only convention otherwise."""
    return opts.rounding if kernel.has(KILN_OPTION_ROUNDING) else "single"


def gemma_for(opts, kernel):
    return bool(opts.gemma and kernel.has(KILN_OPTION_GEMMA))


def transforms_input(kernel):
    """Whether the kernel's values pass through more than a cast before their maximum is
    taken: it reads a weight (a norm) or an input of 2H columns (a gated activation)."""
    return any(t.role_name == "weight" or t.cols == KILN_EXTENT_2HIDDEN for t in kernel.tensors)


def scale_ulps(kernel, tensor):
    """The fp32 differences allowed in any number in `tensor` (0: none; see SCALE_ULPS)."""
    return SCALE_ULPS if tensor.elem == KILN_ELEM_F32 and transforms_input(kernel) else 0


def near_ulps(opts, kernel, tensor):
    """The differences allowed in one tensor: scale_ulps where it is not 0 (in any number);
    elsewhere, rarely, one ulp, as fp32 arithmetic rounds either way near a tie, or two for a
    bf16/fp16 output under the vllm convention, whose intermediate rounding can flip at such
    a tie and move the final rounding by one more."""
    if scale_ulps(kernel, tensor):
        return scale_ulps(kernel, tensor)
    vllm = rounding_for(opts, kernel) == "vllm"
    return 2 if vllm and tensor.elem == KILN_ELEM_ACTIVATION else 1


def make_tensors(opts, kernel, dtype, hidden, tokens):
    """Every tensor of the launch by role name: activations seeded torch.randn (never zero),
    a weight uniform in [0.5, 1.5), the per-tensor scale --scale, the optional cap scale_ub
    --scale-ub (left out, NULL, without it); outputs empty."""
    dev = torch.device("cuda", opts.device)
    tdtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    gen = torch.Generator(device=dev)
    gen.manual_seed(opts.seed * 1_000_003 + hidden * 65_537 + tokens)
    tensors = {}
    for t in kernel.tensors:
        shape = t.shape(hidden, tokens)
        elem = tdtype if t.elem == KILN_ELEM_ACTIVATION else getattr(torch, TORCH_ELEM[t.elem])
        if not t.read:
            tensors[t.role_name] = torch.empty(shape, dtype=elem, device=dev)
        elif t.role_name == "scale_ub" and t.optional and t.elem == KILN_ELEM_F32 and shape == (1, 1):
            if opts.scale_ub is not None:  # else left out: kiln gets NULL, the baseline no cap
                tensors[t.role_name] = torch.full((1,), opts.scale_ub, dtype=torch.float32, device=dev)
        elif t.role_name == "scale" and t.elem == KILN_ELEM_F32 and shape == (1, 1):
            tensors[t.role_name] = torch.full((1,), opts.scale, dtype=torch.float32, device=dev)
        elif t.elem != KILN_ELEM_ACTIVATION:
            raise KilnError(f"{kernel.name}: compare_torch does not know what to put into {t.name}")
        elif t.role_name == "weight":
            tensors[t.role_name] = (torch.rand(shape[-1], generator=gen, device=dev) + 0.5).to(tdtype)
        else:
            x = torch.randn(shape, generator=gen, device=dev, dtype=tdtype)
            tensors[t.role_name] = torch.where(x == 0, torch.full_like(x, 2.0 ** -10), x)  # never zero
    return tensors


def run_shape(opts, timer, plan, baseline, kernel, dtype, hidden, tokens):
    tensors = make_tensors(opts, kernel, dtype, hidden, tokens)
    reads = {t.role_name: tensors[t.role_name] for t in kernel.tensors if t.read and t.role_name in tensors}
    written = [t for t in kernel.tensors if t.written]
    # kiln writes over its in-out tensors: the baselines and every replay start from these.
    pristine = {t.role_name: tensors[t.role_name].clone() for t in kernel.tensors if t.direction == KILN_DIR_INOUT}

    def reset():
        for name, values in pristine.items():
            tensors[name].copy_(values)

    kargs = plan.args(tensors, tokens, opts.eps)

    def kiln_call():
        plan.launch(kargs, torch.cuda.current_stream().cuda_stream)

    def eager_fn(t):
        return baseline(t, eps=opts.eps, rounding=rounding_for(opts, kernel), gemma=gemma_for(opts, kernel))

    row = {"kernel": kernel.name, "dtype": dtype, "hidden": hidden, "tokens": tokens,
           "bytes": plan.kiln.min_bytes(kernel.name, dtype, hidden, tokens),
           "rounding": rounding_for(opts, kernel), "gemma": int(gemma_for(opts, kernel))}
    variant = plan.describe(tokens)
    row.update(variant=variant["name"], threshold=variant["threshold"], is_fallback=int(variant["is_fallback"]),
               config=variant["config"])

    # Correctness: every tensor kiln writes, against eager from the same inputs.
    ref = eager_fn(reads)
    for t in written:
        if t.direction == KILN_DIR_OUT:  # never written: shows up as a difference
            tensors[t.role_name].view(torch.uint8).fill_(0x7F)
    kiln_call()
    torch.cuda.synchronize()
    n = one = worse = rare = 0
    per_tensor = []  # "role near/larger/largest" of each written tensor
    for t in written:
        tn, t_one, t_worse, t_largest = compare(tensors[t.role_name], ref[t.role_name], near_ulps(opts, kernel, t))
        n, one, worse = n + tn, one + t_one, worse + t_worse
        rare += 0 if scale_ulps(kernel, t) else t_one  # such scales may differ in any number
        per_tensor.append(f"{t.role_name} {t_one}/{t_worse}/{t_largest}")
    row.update(outputs=n, one_ulp=one, worse=worse, correct=int(worse == 0 and rare <= ULP_FRACTION * n),
               differences="; ".join(per_tensor))
    del ref
    reset()

    row["kiln_us"], row["kiln_us_min"], row["kiln_replays"] = timer.time(kiln_call, reset if pristine else None)
    reset()
    row["eager_us"], row["eager_us_min"], row["eager_replays"] = timer.time(lambda: eager_fn(reads))

    if not opts.no_compile:
        torch._dynamo.reset()  # one compiled graph per shape; no recompile limit to hit
        compiled = torch.compile(eager_fn, dynamic=False)
        t0 = time.perf_counter()
        got = compiled(reads)
        torch.cuda.synchronize()
        row["compile_s"] = time.perf_counter() - t0
        ref = eager_fn(reads)
        c_one = c_worse = 0
        per_tensor = []
        for t in written:
            _, o, w, largest = compare(got[t.role_name], ref[t.role_name], near_ulps(opts, kernel, t))
            c_one, c_worse = c_one + o, c_worse + w
            per_tensor.append(f"{t.role_name} {o}/{w}/{largest}")
        row.update(compile_one_ulp=c_one, compile_worse=c_worse, compile_differences="; ".join(per_tensor))
        del got, ref
        row["compile_us"], row["compile_us_min"], row["compile_replays"] = timer.time(lambda: compiled(reads))
        del compiled

    for impl in ("kiln", "eager", "compile"):
        if f"{impl}_us" in row:
            row[f"{impl}_gbps"] = row["bytes"] / row[f"{impl}_us"] / 1e3
    row["speedup_vs_eager"] = row["eager_us"] / row["kiln_us"]
    if "compile_us" in row:
        row["speedup_vs_compile"] = row["compile_us"] / row["kiln_us"]
    del tensors, reads, pristine
    return row


# ---- reporting ----------------------------------------------------------------------

def us_text(us):
    return f"{us:.2f}" if us < 10 else f"{us:.1f}" if us < 100 else f"{us:.0f}"


def label(row, mixed):
    prefix = f"{row['kernel']} {row['dtype']} " if mixed else ""
    return f"{prefix}h={row['hidden']} T={row['tokens']}"


def describe_stats(values, rows, mixed):
    """(average, geomean, median, min with its shape, max with its shape)."""
    lo = min(range(len(values)), key=values.__getitem__)
    hi = max(range(len(values)), key=values.__getitem__)
    return (statistics.fmean(values), math.exp(statistics.fmean(math.log(v) for v in values)),
            statistics.median(values), values[lo], label(rows[lo], mixed), values[hi], label(rows[hi], mixed))


def format_table(rows):
    out = [f"\n== {rows[0]['kernel']} {rows[0]['dtype']} ==",
           f"{'hidden':>7} {'tokens':>7} {'kiln µs':>9} {'eager µs':>9} {'compile µs':>11} {'vs eager':>9} "
           f"{'vs compile':>10} {'kiln GB/s':>10} {'check':>14}  variant"]
    for r in rows:
        compile_us = us_text(r["compile_us"]) if "compile_us" in r else "-"
        vs_compile = f"{r['speedup_vs_compile']:.2f}x" if "speedup_vs_compile" in r else "-"
        check = ("ok" if r["correct"] else "FAIL") + (f" ({r['one_ulp']}/{r['worse']})" if r["one_ulp"] or r["worse"]
                                                       else "")
        out.append(f"{r['hidden']:>7} {r['tokens']:>7} {us_text(r['kiln_us']):>9} {us_text(r['eager_us']):>9} "
                   f"{compile_us:>11} {r['speedup_vs_eager']:>8.2f}x {vs_compile:>10} {r['kiln_gbps']:>10.0f} "
                   f"{check:>14}  {r['variant']}{' (fallback)' if r['is_fallback'] else ''}")
    out.append(f"check: ok/FAIL (near differences: one ulp, two for 16-bit outputs with --rounding vllm, "
               f"{SCALE_ULPS} for the fp32 scales of a norm or activation / larger differences) against PyTorch "
               f"eager in fp32")
    return "\n".join(out) + "\n"


def format_summary(rows, title, skipped=()):
    mixed = len({(r["kernel"], r["dtype"]) for r in rows}) > 1
    out = [f"\n== Summary: {title} ==", f"configurations tested: {len(rows)}"]
    for name, why in skipped:
        out.append(f"skipped: {name}: {why}")
    for key, name in (("speedup_vs_eager", "PyTorch eager"), ("speedup_vs_compile", "torch.compile")):
        have = [r for r in rows if key in r]
        if not have:
            continue
        avg, geo, med, lo, lo_at, hi, hi_at = describe_stats([r[key] for r in have], have, mixed)
        out.append(f"speedup of kiln over {name}:")
        out.append(f"  average {avg:.3f}x   geomean {geo:.3f}x   median {med:.3f}x   min {lo:.3f}x ({lo_at})   "
                   f"max {hi:.3f}x ({hi_at})")
    out.append("latency per call, µs:")
    for key, name in (("kiln_us", "kiln"), ("eager_us", "eager"), ("compile_us", "torch.compile")):
        have = [r for r in rows if key in r]
        if not have:
            continue
        avg, _, _, lo, lo_at, hi, hi_at = describe_stats([r[key] for r in have], have, mixed)
        out.append(f"  {name:<14} average {us_text(avg):>8}   min {us_text(lo):>8} ({lo_at})   "
                   f"max {us_text(hi):>8} ({hi_at})")
    compiled = [r["compile_s"] for r in rows if "compile_s" in r]
    if compiled:
        out.append(f"torch.compile first call (compile + run) per shape: average {statistics.fmean(compiled):.2f} s, "
                   f"max {max(compiled):.2f} s, total {sum(compiled):.0f} s")
    outputs = sum(r["outputs"] for r in rows)
    one = sum(r["one_ulp"] for r in rows)
    worse = sum(r["worse"] for r in rows)
    failed = [r for r in rows if not r["correct"]]
    out.append(f"correctness against PyTorch eager (fp32, clamped): {len(rows) - len(failed)} of {len(rows)} shapes "
               f"pass; {one} near and {worse} larger differences in {outputs} outputs")
    for r in failed:
        out.append(f"  FAIL {label(r, mixed)}: {r['one_ulp']} near, {r['worse']} larger differences in "
                   f"{r['outputs']} outputs (per tensor near/larger/largest: {r['differences']})")
    if any("compile_worse" in r for r in rows):
        c_one = sum(r.get("compile_one_ulp", 0) for r in rows)
        c_worse = sum(r.get("compile_worse", 0) for r in rows)
        out.append(f"(for comparison, torch.compile against eager: {c_one} near and {c_worse} larger differences)")
    return "\n".join(out) + "\n"


CSV_FIELDS = ["device", "driver", "torch", "torch_cuda", "triton", "kiln_version", "date", "kernel", "dtype", "hidden",
              "tokens", "bytes", "launches_per_graph", "kiln_us", "kiln_us_min", "eager_us", "eager_us_min",
              "compile_us", "compile_us_min", "speedup_vs_eager", "speedup_vs_compile", "kiln_gbps", "eager_gbps",
              "compile_gbps", "kiln_replays", "eager_replays", "compile_replays", "compile_s", "outputs", "one_ulp",
              "worse", "correct", "differences", "compile_one_ulp", "compile_worse", "compile_differences", "variant", "threshold", "is_fallback", "config",
              "rounding", "gemma"]


def driver_version():
    try:
        with open("/proc/driver/nvidia/version") as f:
            m = re.search(r"\b(\d{3,}\.\d+(\.\d+)?)\b", f.readline())
            return m.group(1) if m else "unknown"
    except OSError:
        return "unknown"


class Progress:
    def __init__(self, total):
        self.total, self.done, self.tty, self.start = total, 0, sys.stderr.isatty(), time.monotonic()

    def update(self, what):
        self.done += 1
        width = len(str(self.total))
        line = f"[{self.done:>{width}}/{self.total}] {what}  ({time.monotonic() - self.start:.0f} s)"
        sys.stderr.write(f"\r\033[K{line}" if self.tty else line + "\n")
        sys.stderr.flush()

    def clear(self):
        if self.tty:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def int_list(text):
    try:
        values = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}")
    if not values or values[0] <= 0:
        raise argparse.ArgumentTypeError(f"values must be positive: {text!r}")
    return values


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--lib", default="build/runtime/libkiln.so.0.5", help="libkiln shared library")
    p.add_argument("--out", default="results", help="directory for the CSV and summary")
    p.add_argument("--kernel", default="all", help="a kernel of the library (see --list), or all")
    p.add_argument("--list", action="store_true", help="list the library's kernels, their tensors and baselines; no GPU")
    p.add_argument("--dtype", default="bf16", choices=DTYPES + ["all"])
    p.add_argument("--rounding", default="single", choices=["single", "vllm"],
                   help="rounding convention of the kernels that have one (kiln and the baseline)")
    p.add_argument("--gemma", action="store_true", help="the norm multiplies by (1 + w), where the kernel has the option")
    p.add_argument("--hidden", type=int_list, default=DEFAULT_HIDDEN, help="comma-separated hidden sizes")
    p.add_argument("--tokens", type=int_list, default=None,
                   help="comma-separated token counts (default: kiln-bench's list; --quick: a short one)")
    p.add_argument("--quick", action="store_true", help=f"tokens {','.join(map(str, QUICK_TOKENS))}")
    p.add_argument("--launches", type=int, default=20, help="back-to-back calls captured per CUDA graph")
    p.add_argument("--replays", type=int, default=50, help="graph replays timed; the median is taken")
    p.add_argument("--min-replays", type=int, default=5, help="fewest replays when --max-seconds cuts them down")
    p.add_argument("--max-seconds", type=float, default=1.0, help="time bound for the replays of one measurement")
    p.add_argument("--warmup-ms", type=float, default=10.0, help="warm-up replays for at least this long")
    p.add_argument("--device", type=int, default=0, help="CUDA device index")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scale", type=float, default=0.1, help="the per-tensor scale (fp8 outputs are multiplied by 1/scale)")
    p.add_argument("--scale-ub", type=float, default=None,
                   help="the optional cap on max|x| of the kernels that take one (a scale_ub role); "
                        "default: left out (NULL)")
    p.add_argument("--eps", type=float, default=1e-6, help="epsilon of the kernels that read one")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile (it compiles once per shape)")
    p.add_argument("--time-limit", type=float, default=0,
                   help="start no new shape after this many seconds (0: no limit); a run cut short exits with 3")
    opts = p.parse_args(argv)
    if opts.tokens is None:
        opts.tokens = QUICK_TOKENS if opts.quick else DEFAULT_TOKENS
    if min(opts.launches, opts.replays, opts.min_replays) < 1:
        p.error("--launches, --replays and --min-replays must be at least 1")
    return opts


def load_baselines():
    """reference/torch_reference.py's BASELINES (name -> function); imports PyTorch."""
    sys.path.insert(0, os.path.join(REPO, "reference"))
    import torch_reference
    return torch_reference.BASELINES


def select_kernels(kiln, name):
    """The kernels --kernel names, as the library describes them."""
    kernels = kiln.kernels()
    if name == "all":
        return kernels
    chosen = [k for k in kernels if k.name == name]
    if not chosen:
        raise KilnError(f"--kernel {name}: no such kernel in libkiln {kiln.version}; it has: "
                        f"{', '.join(k.name for k in kernels)} (or all)")
    return chosen


def list_kernels(kiln, opts):
    """--list: the library's kernels, their tensors by role, and whether a baseline exists."""
    try:
        baselines = load_baselines()
    except ImportError as e:
        baselines = None
        print(f"(no PyTorch here: {e}; baselines not checked)")
    for k in kiln.kernels():
        tensors = ", ".join(f"{t.name}:{t.role_name}:{['in', 'out', 'inout'][t.direction]}{'?' if t.optional else ''}"
                            for t in k.tensors)
        has = "" if baselines is None else ("  baseline: yes" if k.name in baselines else "  baseline: NONE")
        print(f"{k.name}: {tensors}; bytes at h=4096 T=32: {kiln.min_bytes(k.name, 'bf16', 4096, 32)}{has}")
    return 0


def run_kernel(opts, kiln, timer, progress, writer, csv_file, env, kernel, baseline, dtype, started, state):
    """Every shape of one (kernel, dtype); the rows and the plans' summaries."""
    rows, plans = [], []
    for hidden in opts.hidden:
        if state["stopped_early"]:
            break
        plan = kiln.plan(kernel, hidden, dtype, opts.device, rounding=rounding_for(opts, kernel),
                         gemma=gemma_for(opts, kernel))
        plans.append("plan: " + plan.summary())
        try:
            for tokens in opts.tokens:
                if opts.time_limit and time.monotonic() - started > opts.time_limit:
                    state["stopped_early"] = True
                    break
                last = (f"  [last: kiln {us_text(rows[-1]['kiln_us'])} µs, eager "
                        f"{us_text(rows[-1]['eager_us'])} µs]") if rows else ""
                progress.update(f"{kernel.name} {dtype} h={hidden} T={tokens}{last}")
                row = run_shape(opts, timer, plan, baseline, kernel, dtype, hidden, tokens)
                row.update(env, launches_per_graph=opts.launches)
                rows.append(row)
                writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()})
                csv_file.flush()
                torch.cuda.empty_cache()
        finally:
            plan.close()
    return rows, plans


def main(argv=None):
    global torch
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    kiln = Kiln(opts.lib)
    if opts.list:
        return list_kernels(kiln, opts)
    kernels = select_kernels(kiln, opts.kernel)
    import torch as torch_module  # here, so that --help and --list work without PyTorch
    torch = torch_module
    baselines = load_baselines()

    if not torch.cuda.is_available():
        print("compare_torch: no CUDA device visible to PyTorch", file=sys.stderr)
        return 1
    torch.cuda.set_device(opts.device)
    try:
        import triton
        triton_version = triton.__version__
    except ImportError:
        triton_version = "none"

    # A kernel without a baseline is reported and skipped, never timed as another.
    skipped = [(k.name, "no PyTorch baseline in reference/torch_reference.py") for k in kernels
               if k.name not in baselines]
    for name, why in skipped:
        print(f"compare_torch: skipping {name}: {why}", file=sys.stderr)
    kernels = [k for k in kernels if k.name in baselines]
    dtypes = DTYPES if opts.dtype == "all" else [opts.dtype]
    props = torch.cuda.get_device_properties(opts.device)
    env = {"device": props.name, "driver": driver_version(), "torch": torch.__version__,
           "torch_cuda": torch.version.cuda or "", "triton": triton_version, "kiln_version": kiln.version,
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    header = (f"compare_torch: kiln {kiln.version} ({opts.lib}) vs PyTorch {env['torch']} eager and torch.compile "
              f"(Triton {triton_version})\n"
              f"device {opts.device}: {env['device']} (sm{props.major}{props.minor}, {props.multi_processor_count} SMs); "
              f"driver {env['driver']}, PyTorch CUDA {env['torch_cuda']}\n"
              f"date: {env['date']}\ncommand: {' '.join(sys.argv)}\n"
              f"timing: {opts.launches} calls per CUDA graph; per call = median of up to {opts.replays} replays "
              f"(at least {opts.min_replays}, about {opts.max_seconds:g} s at most) / calls; warm-up >= "
              f"{opts.warmup_ms:g} ms; torch.compile: Inductor defaults, dynamic=False, compiled per shape; "
              f"tensors kiln writes over are restored before every replay, outside the timed events\n"
              f"inputs: torch.randn (seeded, never zero); weights uniform [0.5, 1.5); scale {opts.scale:g}; "
              f"scale_ub {'none (NULL)' if opts.scale_ub is None else format(opts.scale_ub, 'g')}; "
              f"eps {opts.eps:g}; rounding {opts.rounding}{', gemma' if opts.gemma else ''} "
              f"(kernels with those options)\n")
    for name, why in skipped:
        header += f"skipped: {name}: {why}\n"
    sys.stdout.write(header)
    sys.stdout.flush()

    timer = Timer(opts.launches, opts.replays, opts.min_replays, opts.max_seconds, opts.warmup_ms)
    progress = Progress(len(kernels) * len(dtypes) * len(opts.hidden) * len(opts.tokens))
    os.makedirs(opts.out, exist_ok=True)
    suffix = (("_vllm" if opts.rounding == "vllm" else "") + ("_gemma" if opts.gemma else "")
              + ("" if opts.scale_ub is None else "_scale_ub"))
    stem = os.path.join(opts.out, f"compare_torch_{opts.kernel}_{opts.dtype}{suffix}")
    started = time.monotonic()
    state = {"stopped_early": False}
    report, all_rows = header, []

    # Rows go to the CSV as they are measured, the summary after each kernel and dtype:
    # a run cut short still leaves what it measured.
    with open(stem + ".csv", "w", newline="") as csv_file:
        writer = csv.DictWriter(csv_file, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for kernel in kernels:
            for dtype in dtypes:
                rows, plans = run_kernel(opts, kiln, timer, progress, writer, csv_file, env, kernel,
                                         baselines[kernel.name], dtype, started, state)
                if rows:
                    text = (format_table(rows) + "\n".join(plans) + "\n" +
                            format_summary(rows, f"{kernel.name} {dtype} on {env['device']}"))
                    progress.clear()
                    sys.stdout.write(text)
                    sys.stdout.flush()
                    report += text
                    all_rows += rows
                    with open(stem + "_summary.txt", "w") as f:
                        f.write(report)
        if all_rows and (len(kernels) * len(dtypes) > 1 or skipped):
            text = format_summary(all_rows, f"all kernels and dtypes on {env['device']}", skipped)
            sys.stdout.write(text)
            report += text
    progress.clear()
    if state["stopped_early"]:
        note = (f"\nINCOMPLETE: stopped at --time-limit {opts.time_limit:g} s after {len(all_rows)} of "
                f"{progress.total} shapes\n")
        sys.stdout.write(note)
        report += note
    with open(stem + "_summary.txt", "w") as f:
        f.write(report)
    print(f"compare_torch: wrote {stem}.csv and {stem}_summary.txt", file=sys.stderr)
    failed = [r for r in all_rows if not r["correct"]]
    if failed:
        print(f"compare_torch: {len(failed)} shape(s) disagree with PyTorch eager", file=sys.stderr)
        return 1
    return 3 if state["stopped_early"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KilnError as e:
        print(f"compare_torch: {e}", file=sys.stderr)
        sys.exit(1)
