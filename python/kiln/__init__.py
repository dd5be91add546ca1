"""kiln for Python: libkiln's kernels through its C ABI (ctypes only, so one wheel serves
every Python and PyTorch version).

    import kiln
    kiln.version()                                   # "0.5.0"
    [k.name for k in kiln.kernels()]                 # the library's kernels, from its descriptors
    kiln.explain("rms_norm_fp8", "sm90", 4096, 32)   # which variant would run; no GPU needed
    kiln.explain("allreduce_add_rms_norm", "sm90", 4096, 32, ranks=2)  # a communicator kernel: per rank count
    plan = kiln.plan("rms_norm_fp8", 4096, "bf16", device=0)   # cached per (kernel, hidden, dtype, device, options)
    plan.launch({"output": out_ptr, "input": x_ptr, "weight": w_ptr, "scale": s_ptr}, tokens, eps=1e-6, stream=s, dtype="bf16")

The library is $KILN_LIBRARY when set, else the libkiln.so installed inside this package.
PyTorch custom ops: `import kiln.torch` (needs PyTorch). Every failure of the library is a
KilnError carrying .status ("KILN_ERROR_NULL_POINTER"), .code and the library's message.

Communicator kernels (Kernel.comm; "comm" in Kernel.options), e.g. allreduce_add_rms_norm,
sum over the ranks of an NCCL communicator: a Plan of one takes comm= (the ncclComm_t's
address as an int) and max_tokens=, its creation is collective over the communicator's
ranks, and explain needs ranks= (the communicator size, 2 to 8). kiln.torch registers no
op for them.

Group quantisers (Kernel.group; "group" in Kernel.options, since 0.5), e.g.
per_token_group_fp8, write one scale per (row, group of group_size columns): their plans take
group_size= (128 or 64; 0 = 128), scale_layout= ("row_major", "col_major_tma" or
"packed_ue8m0") and ue8m0= (scales rounded up to powers of two; the packed layout implies it).
Their scales tensor's storage depends on those options: Kernel.layout / Plan.layout give its
shape and strides (kiln_tensor_layout_of), and
torch.empty_strided((l.rows, l.cols), (l.row_stride, l.col_stride)) allocates exactly it.

Optional tensors (TensorSpec.optional, since 0.5), e.g. per_token_fp8's scale_ub (an fp32 [1]
cap on max|x| before the per-token scale is taken, vLLM's scale_ub): Plan.launch passes NULL
for one left out of its tensors (or given as None), and the kernel goes without it.
"""

import ctypes
import threading
from dataclasses import dataclass

from . import _abi
from ._abi import LibraryError

_lib, _path = _abi.load()

__all__ = ["KilnError", "LibraryError", "Kernel", "TensorSpec", "TensorLayout", "Variant", "Plan", "kernels", "kernel",
           "explain", "version", "plan", "library_path", "min_bytes", "SCALE_LAYOUTS"]

SCALE_LAYOUTS = tuple(_abi.SCALE_LAYOUT)  # a group quantiser's scale_layout names, in kiln_scale_layout's order


class KilnError(RuntimeError):
    """A libkiln call failed: .status is kiln_status_name's string, .code the kiln_status,
    .message kiln_last_error's text (or the package's own, for a call it refuses before
    reaching the library) and .call what was called."""

    def __init__(self, code, call, message=None):
        self.code = int(code)
        self.status = _lib.kiln_status_name(self.code).decode()
        self.message = message if message is not None else (_lib.kiln_last_error() or b"").decode(errors="replace")
        self.call = call
        super().__init__(f"{call}: {self.status}: {self.message}")


def _check(status, call):
    if status != _abi.SUCCESS:
        raise KilnError(status, call)


def version():
    """The library's version (kiln_version)."""
    return _lib.kiln_version().decode()


def library_path():
    """The path libkiln was loaded from."""
    return _path


@dataclass(frozen=True)
class TensorSpec:
    """One tensor of a kernel, as the library describes it."""
    name: str         # the typed entry point's parameter name: "out", "input", ...
    role: str         # kiln_role: "input", "weight", "residual", "output", "scales", "scale", "scale_ub"
    role_id: int
    direction: str    # "in", "out", "inout"
    elem: str         # "activation" (the plan's dtype), "fp8_e4m3", "f32", "i32"
    rows: str         # extents: "one", "tokens", "hidden", "2hidden", "groups" (G = ceil(H / group_size))
    cols: str
    alignment: int    # bytes the specialised variants need
    optional: bool = False  # since 0.5: the tensor may be left out (NULL; Plan.launch: absent or None)
    _desc: object = None  # the library's kiln_tensor_desc (static lifetime)

    @property
    def read(self):
        return self.direction != "out"

    @property
    def written(self):
        return self.direction != "in"

    def shape(self, hidden, tokens):
        """(rows, cols, element bytes) at this hidden size and token count: kiln_tensor_shape."""
        rows, cols, elem = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64()
        _check(_lib.kiln_tensor_shape(ctypes.byref(self._desc), hidden, tokens, ctypes.byref(rows), ctypes.byref(cols),
                                      ctypes.byref(elem)), f"kiln_tensor_shape({self.name}, hidden={hidden}, tokens={tokens})")
        return rows.value, cols.value, elem.value


@dataclass(frozen=True)
class TensorLayout:
    """A tensor's storage under a kernel's options (kiln_tensor_layout_of): shape [rows, cols],
    element (i, j) at i * row_stride + j * col_stride, and `elements`, the span a launch may
    touch (what to allocate). Only a group quantiser's scales depend on the options: row-major
    [T, G]; col_major_tma [T, G] with strides (1, T4); packed_ue8m0 int32 [T, ceil(G / 4)] with
    strides (1, T4) (T4: T rounded up to a multiple of 4)."""
    rows: int
    cols: int
    row_stride: int
    col_stride: int
    elements: int
    elem_bytes: int

    @property
    def shape(self):
        return (self.rows, self.cols)

    @property
    def strides(self):
        return (self.row_stride, self.col_stride)


def _scale_layout_code(scale_layout):
    if scale_layout not in _abi.SCALE_LAYOUT:
        raise ValueError(f"kiln: scale_layout {scale_layout!r}: must be one of {', '.join(_abi.SCALE_LAYOUT)}")
    return _abi.SCALE_LAYOUT[scale_layout]


def _plan_options(kernel_name, hidden, *, group_size=0, scale_layout="row_major", ue8m0=False):
    """kiln_plan_options for (kernel, hidden) with the group options (the rest at init's values);
    (options, the kernel name's bytes, which must outlive the options)."""
    o = _abi.PlanOptions()
    _lib.kiln_plan_options_init(ctypes.byref(o))
    name = str(kernel_name).encode()
    o.kernel = name
    o.hidden = int(hidden)
    o.group_size = int(group_size)
    o.scale_layout = _scale_layout_code(scale_layout)
    o.ue8m0 = int(bool(ue8m0))
    return o, name


def _name(table, value, what):
    return table[value] if 0 <= value < len(table) else f"{what}{value}"


@dataclass(frozen=True)
class Kernel:
    """A kernel of the library: kiln_kernel_at's answer."""
    name: str
    summary: str
    tensors: tuple    # TensorSpec, in the typed entry point's order
    options: frozenset  # of "rounding", "gemma", "static_weight", "comm", "group"
    scalars: frozenset  # of "eps"

    @property
    def comm(self):
        """A communicator kernel (KILN_OPTION_COMM): it sums over the ranks of an NCCL
        communicator, so its plans need comm= and max_tokens=, and explain needs ranks=."""
        return "comm" in self.options

    @property
    def group(self):
        """A group quantiser (KILN_OPTION_GROUP): one scale per (row, group of columns); its
        plans take group_size=, scale_layout= and ue8m0=."""
        return "group" in self.options

    def layout(self, tensor, hidden, tokens, *, group_size=0, scale_layout="row_major", ue8m0=False):
        """A tensor's storage (TensorLayout) at (hidden, tokens) under these options
        (kiln_tensor_layout_of); `tensor` is its role or its name. Options the kernel lacks must
        keep their defaults, as in a plan (KilnError KILN_ERROR_INVALID_ARGUMENT otherwise)."""
        spec = next((t for t in self.tensors if tensor in (t.role, t.name)), None)
        if spec is None:
            raise ValueError(f"kiln: {self.name} has no tensor {tensor!r}; it has {', '.join(t.name for t in self.tensors)}")
        o, _keep = _plan_options(self.name, hidden, group_size=group_size, scale_layout=scale_layout, ue8m0=ue8m0)
        out = _abi.TensorLayout()
        out.struct_size = ctypes.sizeof(out)
        _check(_lib.kiln_tensor_layout_of(ctypes.byref(spec._desc), ctypes.byref(o), int(tokens), ctypes.byref(out)),
               f"kiln_tensor_layout_of({self.name}.{spec.name}, hidden={hidden}, tokens={tokens}, "
               f"group_size={group_size}, scale_layout={scale_layout!r})")
        return TensorLayout(out.rows, out.cols, out.row_stride, out.col_stride, out.elements, out.elem_bytes)

    @classmethod
    def _from(cls, d):
        tensors = []
        for i in range(d.tensor_count):
            t = d.tensors[i]
            tensors.append(TensorSpec(t.name.decode(), _name(_abi.ROLE_NAMES, t.role, "role"), t.role,
                                      _name(_abi.DIRECTIONS, t.direction, "direction"), _name(_abi.ELEMS, t.elem, "elem"),
                                      _name(_abi.EXTENTS, t.rows, "extent"), _name(_abi.EXTENTS, t.cols, "extent"),
                                      t.alignment, bool(t.optional), t))
        options = frozenset(n for n, bit in _abi.OPTION_BITS.items() if d.options & bit)
        scalars = frozenset(n for n, bit in _abi.SCALAR_BITS.items() if d.scalars & bit)
        return cls(d.name.decode(), d.summary.decode(), tuple(tensors), options, scalars)

    def tensor(self, role):
        """The tensor of this role, or None."""
        return next((t for t in self.tensors if t.role == role), None)

    def min_bytes(self, dtype, hidden, tokens):
        return min_bytes(self.name, dtype, hidden, tokens)


_kernels = None


def kernels():
    """Every kernel of the library, sorted by name (kiln_kernel_count / kiln_kernel_at)."""
    global _kernels
    if _kernels is None:
        out = []
        for i in range(_lib.kiln_kernel_count()):
            d = _abi.KernelDesc()
            d.struct_size = ctypes.sizeof(d)
            _check(_lib.kiln_kernel_at(i, ctypes.byref(d)), f"kiln_kernel_at({i})")
            out.append(Kernel._from(d))
        _kernels = tuple(out)
    return _kernels


def kernel(name):
    """The kernel of this name (kiln_kernel_find); KilnError KILN_ERROR_UNKNOWN_KERNEL if none."""
    if isinstance(name, Kernel):
        return name
    d = _abi.KernelDesc()
    d.struct_size = ctypes.sizeof(d)
    _check(_lib.kiln_kernel_find(str(name).encode(), ctypes.byref(d)), f"kiln_kernel_find({name!r})")
    return next(k for k in kernels() if k.name == d.name.decode())


def _dtype_code(dtype):
    if dtype not in _abi.DTYPE:
        raise ValueError(f"kiln: dtype {dtype!r}: must be one of {', '.join(_abi.DTYPE)}")
    return _abi.DTYPE[dtype]


def min_bytes(kernel_name, dtype, hidden, tokens):
    """The fewest bytes a launch must move (kiln_min_bytes)."""
    n = ctypes.c_int64()
    _check(_lib.kiln_min_bytes(str(kernel_name).encode(), _dtype_code(dtype), hidden, tokens, ctypes.byref(n)),
           f"kiln_min_bytes({kernel_name}, {dtype}, hidden={hidden}, tokens={tokens})")
    return n.value


@dataclass(frozen=True)
class Variant:
    """Which compiled variant serves a launch (kiln_variant_info)."""
    kernel: str
    arch: str
    hidden: int
    threshold: int      # the bucket's bs<N>; 0 for the generic kernel and for tokens = 0
    is_fallback: bool   # the generic kernel runs
    name: str           # "<kernel>_sm90_h4096_bs32", "<kernel>_generic", or "" for tokens = 0
    config: str         # "configs/<kernel>/sm90/4096/bs32.json", or ""
    schedule: str       # "threads=256 vec=8 ...", or ""
    ranks: int = 0      # a communicator kernel's rank count (configs/<kernel>/<arch>/<hidden>/tp<ranks>/); 0 else

    @classmethod
    def _from(cls, info):
        text = lambda b: (b or b"").decode()  # noqa: E731
        return cls(text(info.kernel), text(info.arch), info.hidden, info.threshold, bool(info.is_fallback),
                   text(info.name), text(info.config), text(info.schedule), info.ranks)


def explain(kernel_name, arch, hidden, tokens, *, ranks=None):
    """Which variant would serve (kernel, arch, hidden, tokens), without a device (kiln_explain).
    A communicator kernel's sets are per rank count: give ranks= (the communicator size, 2 to
    8) and kiln_explain_comm answers; without it such a kernel is a KilnError
    (KILN_ERROR_INVALID_ARGUMENT), as is ranks= for any other kernel."""
    kernel_name = str(getattr(kernel_name, "name", kernel_name))
    info = _abi.VariantInfo()
    info.struct_size = ctypes.sizeof(info)
    if ranks is not None:
        call = f"kiln_explain_comm({kernel_name!r}, {arch!r}, hidden={hidden}, ranks={ranks}, tokens={tokens})"
        _check(_lib.kiln_explain_comm(kernel_name.encode(), str(arch).encode(), hidden, ranks, tokens, ctypes.byref(info)),
               call)
        return Variant._from(info)
    call = f"kiln_explain({kernel_name!r}, {arch!r}, hidden={hidden}, tokens={tokens})"
    known = next((k for k in kernels() if k.name == kernel_name), None)
    if known is not None and known.comm:
        raise KilnError(_abi.INVALID_ARGUMENT, call,
                        f"{kernel_name} sums over the ranks of a communicator and has a config set per rank count: "
                        f"give ranks= (the communicator size, 2 to {_abi.MAX_RANKS}), e.g. "
                        f"kiln.explain({kernel_name!r}, {arch!r}, {hidden}, {tokens}, ranks=2)")
    _check(_lib.kiln_explain(kernel_name.encode(), str(arch).encode(), hidden, tokens, ctypes.byref(info)), call)
    return Variant._from(info)


class Plan:
    """kiln_plan_create .. kiln_plan_destroy. A plan is immutable and may be shared by threads.

    dtype: "bf16" or "fp16"; device: a CUDA device index (-1: the calling thread's current
    device); rounding: "single" or "vllm"; policy: "exact", "strict" or "generic". Options a
    kernel lacks must keep their defaults (the library refuses them otherwise).

    comm, max_tokens: a communicator kernel's (Kernel.comm) ncclComm_t, as the int address
    the communicator handle holds, and the most tokens one launch takes (it sizes the peer
    workspace; 1 .. 2^31 - 1). Creating and closing such a plan is collective: every rank of
    the communicator does it with the same options, at the same time. Other kernels leave
    both unset.

    group_size, scale_layout, ue8m0: a group quantiser's (Kernel.group) columns per scale (128
    or 64; 0 = 128), its scales' layout ("row_major", "col_major_tma", "packed_ue8m0") and
    whether scales are rounded up to powers of two (the packed layout implies it). Other
    kernels leave them unset (0, "row_major", False): the library refuses anything else."""

    def __init__(self, kernel_name, hidden, dtype="bf16", device=-1, *, rounding="single", gemma=False,
                 static_weight=False, policy="exact", comm=None, max_tokens=0, group_size=0, scale_layout="row_major",
                 ue8m0=False):
        self.kernel = kernel(kernel_name)
        self.hidden, self.dtype, self.device = int(hidden), dtype, int(device)
        self.rounding, self.gemma, self.static_weight, self.policy = rounding, bool(gemma), bool(static_weight), policy
        self.group_size, self.scale_layout, self.ue8m0 = int(group_size), scale_layout, bool(ue8m0)
        if rounding not in _abi.ROUNDING:
            raise ValueError(f"kiln: rounding {rounding!r}: must be one of {', '.join(_abi.ROUNDING)}")
        if policy not in _abi.POLICY:
            raise ValueError(f"kiln: policy {policy!r}: must be one of {', '.join(_abi.POLICY)}")
        self._dtype_code = _dtype_code(dtype)
        # The options point at the name's bytes: kept alive with the plan.
        o, self._kernel_bytes = _plan_options(self.kernel.name, self.hidden, group_size=group_size,
                                              scale_layout=scale_layout, ue8m0=ue8m0)
        o.dtype = self._dtype_code
        o.device = self.device
        o.policy = _abi.POLICY[policy]
        o.rounding = _abi.ROUNDING[rounding]
        o.gemma = int(self.gemma)
        o.static_weight = int(self.static_weight)
        o.comm = comm
        o.max_tokens = int(max_tokens)
        self._handle = ctypes.c_void_p()
        _check(_lib.kiln_plan_create(ctypes.byref(o), ctypes.byref(self._handle)),
               f"kiln_plan_create({self.kernel.name}, hidden={hidden}, {dtype}, device={device})")
        self._roles = {t.role: t.role_id for t in self.kernel.tensors}
        self._eps = "eps" in self.kernel.scalars
        self._destroy = _lib.kiln_plan_destroy  # still reachable while the interpreter shuts down

    def layout(self, tensor, tokens):
        """A tensor's storage (TensorLayout) for a launch of `tokens` under this plan's options:
        Kernel.layout at the plan's hidden size and group options."""
        return self.kernel.layout(tensor, self.hidden, tokens, group_size=self.group_size,
                                  scale_layout=self.scale_layout, ue8m0=self.ue8m0)

    @property
    def summary(self):
        """One line: what the plan chose and why (kiln_plan_summary)."""
        return _lib.kiln_plan_summary(self._handle).decode()

    def describe(self, tokens):
        """The variant this plan runs for `tokens` (kiln_plan_describe)."""
        info = _abi.VariantInfo()
        info.struct_size = ctypes.sizeof(info)
        _check(_lib.kiln_plan_describe(self._handle, tokens, ctypes.byref(info)),
               f"kiln_plan_describe({self.kernel.name}, tokens={tokens})")
        return Variant._from(info)

    def launch(self, tensors, tokens, eps=1e-6, stream=0, *, dtype):
        """kiln_launch on `stream` (a cudaStream_t as an int; 0 = the legacy default stream).
        tensors: {role name: device pointer as an int}; an optional tensor (TensorSpec.optional,
        e.g. per_token_fp8's scale_ub) may be absent or None, and is then passed as NULL. dtype:
        what the activation tensors hold ("bf16" or "fp16"), which the library checks against
        the plan's (a pointer carries no type). The calling thread's current device must be the
        plan's."""
        a = _abi.Args()
        a.struct_size = ctypes.sizeof(a)
        for role, ptr in tensors.items():
            slot = self._roles.get(role)
            if slot is None:
                raise ValueError(f"kiln: {self.kernel.name} has no {role!r} tensor; it has "
                                 f"{', '.join(self._roles)}")
            a.tensors[slot] = ptr  # None: NULL
        a.tokens = tokens
        a.hidden = self.hidden
        a.eps = eps if self._eps else 1e-6
        a.dtype = _dtype_code(dtype)
        status = _lib.kiln_launch(self._handle, ctypes.byref(a), ctypes.c_void_p(stream))
        if status != _abi.SUCCESS:
            raise KilnError(status, f"kiln_launch({self.kernel.name}, hidden={self.hidden}, tokens={tokens})")

    def close(self):
        if getattr(self, "_cached", False):
            raise RuntimeError(f"kiln: {self.summary}: a cached plan (kiln.plan) lives as long as the process; "
                               "make your own kiln.Plan to close one")
        if self._handle:
            self._destroy(self._handle)
            self._handle = ctypes.c_void_p()

    def __del__(self):
        if getattr(self, "_handle", None) and not getattr(self, "_cached", False):
            self.close()

    def __repr__(self):
        return f"<kiln.Plan {self.summary}>"


_plans = {}
_plans_lock = threading.Lock()


def plan(kernel_name, hidden, dtype="bf16", device=0, *, rounding="single", gemma=False, static_weight=False,
         policy="exact", group_size=0, scale_layout="row_major", ue8m0=False):
    """A Plan, cached per (kernel, hidden, dtype, device, options): the first call for a key
    creates it (kiln_plan_create reads the device and probes the kernel's image), later calls
    return the same plan. Cached plans live as long as the process. A communicator kernel's plan
    (Kernel.comm) is not cached here: make a kiln.Plan with comm= and max_tokens=."""
    if int(device) < 0:
        raise ValueError(f"kiln.plan: device = {device}: a cached plan belongs to one device; give its index")
    key = (str(getattr(kernel_name, "name", kernel_name)), int(hidden), dtype, int(device), rounding, bool(gemma),
           bool(static_weight), policy, int(group_size), scale_layout, bool(ue8m0))
    p = _plans.get(key)
    if p is None:
        with _plans_lock:
            p = _plans.get(key)
            if p is None:
                p = Plan(key[0], hidden, dtype, device, rounding=rounding, gemma=gemma, static_weight=static_weight,
                         policy=policy, group_size=group_size, scale_layout=scale_layout, ue8m0=ue8m0)
                p._cached = True  # shared by every caller of this key: nobody may close it
                _plans[key] = p
    return p
