"""kiln's kernels as PyTorch custom ops. Needs PyTorch; `import kiln.torch` registers:

- torch.ops.kiln.<kernel> for every kernel of the library except the communicator kernels
  (Kernel.comm, e.g. allreduce_add_rms_norm): their plans are made collectively over an NCCL
  communicator, which an op's tensors cannot carry, so they get no op and no function here
  (kiln.Plan(..., comm=, max_tokens=) serves them; kiln.torch.skipped says why). The schema
  comes from the kernel's descriptor: written tensors (out, in-out) are mutated arguments `Tensor(a!)`,
  then the tensors read, `float eps` when the kernel reads one, and keyword-only
  `rounding` ("single" or "vllm"), `gemma` and `static_weight` where the kernel has them.
  The ops return nothing; each has a fake implementation, so torch.compile (fullgraph,
  dynamic shapes) traces them and CUDA graphs capture them.
- kiln.torch.<kernel>(inputs..., eps=1e-6, **options): the same kernel, functional: it
  allocates the outputs and returns what the kernel writes (in-out tensors are cloned
  first, so the arguments are left alone), e.g. out = kiln.torch.rms_norm(x, w, 1e-6).
- torch.ops.kiln_vllm.<op>: vLLM's `_C` ops kiln serves, with vLLM's schemas and in-place
  semantics and its rounding convention (kiln/vllm_aliases.py has the table).

Before any C call each op checks its tensors and raises TensorCheckError (a ValueError)
naming the tensor: dtype (bf16/fp16 activations, fp8 e4m3fn outputs, fp32 scale), one CUDA
device, shape (kiln_tensor_shape at the tensors' hidden size and tokens), contiguity, and
alignment. The op runs on its tensors' device (made current for the call) and on PyTorch's
current stream of that device.

Plans are cached per (kernel, hidden, dtype, device, options). The first call for such a key
creates the plan (kiln_plan_create: device queries and an image probe, no stream work, no
allocation), so run each shape key once before capturing a CUDA graph, as engines warm up
anyway; later calls only launch.
"""

import functools

import torch

import kiln
from kiln.vllm_aliases import ALIASES

__all__ = ["TensorCheckError", "kernel_ops", "functional", "skipped", "vllm_ops", "vllm_skipped"]

_ACTIVATION = {torch.bfloat16: "bf16", torch.float16: "fp16"}
_ELEM_DTYPE = {"fp8_e4m3": torch.float8_e4m3fn, "f32": torch.float32, "i32": torch.int32}
_OPTION_SCHEMA = {"rounding": "str rounding='single'", "gemma": "bool gemma=False",
                  "static_weight": "bool static_weight=False"}


class TensorCheckError(ValueError):
    """A tensor given to a kiln op is not what the kernel takes (checked before any C call)."""


def _extent(name, hidden):
    return {"one": 1, "hidden": hidden, "2hidden": 2 * hidden}[name]


def _reference_tensor(kernel):
    """The tensor the hidden size and token count are read from: the input, else the first with rows T."""
    return kernel.tensor("input") or next(t for t in kernel.tensors if t.rows == "tokens")


@functools.lru_cache(maxsize=4096)
def _shapes(kernel_name, hidden, tokens):
    """Each tensor's (rows, cols) at (hidden, tokens), by the library's shape rule
    (kiln_tensor_shape), asked once per key: the check runs on every call."""
    return tuple(spec.shape(hidden, tokens)[:2] for spec in kiln.kernel(kernel_name).tensors)


def _check(kernel, tensors, op, names):
    """Every pre-call check; returns (dtype name, device, hidden, tokens). `names` gives each
    role's argument name as the caller wrote it (vLLM's names for the aliases). One pass per
    kind of check, so that the message names the first problem in the order users expect
    (type, device, dtype and layout, shape and alignment)."""
    specs = kernel.tensors
    given = [tensors.get(spec.role) for spec in specs]
    for spec, t in zip(specs, given):
        if not isinstance(t, torch.Tensor):
            raise TensorCheckError(f"{op}: {names[spec.role]} must be a tensor, not {type(t).__name__}")
    ref_spec = _reference_tensor(kernel)
    ref = tensors[ref_spec.role]
    device = ref.device
    if device.type != "cuda" or any(t.device != device for t in given):
        for spec, t in zip(specs, given):
            if t.device.type != "cuda":
                raise TensorCheckError(f"{op}: {names[spec.role]} is on {t.device}: kiln runs on CUDA devices")
        for spec, t in zip(specs, given):
            if t.device != device:
                raise TensorCheckError(f"{op}: {names[spec.role]} is on {t.device} but {names[ref_spec.role]} is on "
                                       f"{device}: all tensors must be on one CUDA device")
    if ref.dtype not in _ACTIVATION:
        raise TensorCheckError(f"{op}: {names[ref_spec.role]} is {ref.dtype}: must be torch.bfloat16 or torch.float16")
    for spec, t in zip(specs, given):
        want = ref.dtype if spec.elem == "activation" else _ELEM_DTYPE.get(spec.elem)
        if t.dtype != want:
            raise TensorCheckError(f"{op}: {names[spec.role]} is {t.dtype}: must be {want}")
        if not t.is_contiguous():
            raise TensorCheckError(f"{op}: {names[spec.role]} is not contiguous (strides {tuple(t.stride())}): "
                                   "kiln needs contiguous rows")
    if ref.dim() == 0 or ref.shape[-1] == 0:
        raise TensorCheckError(f"{op}: {names[ref_spec.role]} has shape {tuple(ref.shape)}: its last dimension is the "
                               "hidden size and must be positive")
    last = ref.shape[-1]
    if ref_spec.cols == "2hidden" and last % 2:
        raise TensorCheckError(f"{op}: {names[ref_spec.role]}'s last dimension {last} must be even (2 * hidden)")
    hidden = last // 2 if ref_spec.cols == "2hidden" else last
    tokens = ref.numel() // last if ref_spec.rows == "tokens" else 1
    for spec, t, (rows, cols) in zip(specs, given, _shapes(kernel.name, hidden, tokens)):
        fits = t.numel() == rows * cols and (rows * cols == 1 or (t.dim() > 0 and t.shape[-1] == cols))
        if not fits:
            raise TensorCheckError(f"{op}: {names[spec.role]} has shape {tuple(t.shape)}; at hidden={hidden}, tokens={tokens} "
                                   f"it must hold [{rows}, {cols}] (rows of {cols}, {rows * cols} elements)")
        if t.numel() and t.data_ptr() % spec.alignment:
            raise TensorCheckError(f"{op}: {names[spec.role]} at 0x{t.data_ptr():x} is not {spec.alignment}-byte aligned")
    return _ACTIVATION[ref.dtype], device, hidden, tokens


def _launch(kernel, tensors, eps, options, op, names):
    """Check, pick the cached plan, launch on the tensors' device and its current stream."""
    dtype, device, hidden, tokens = _check(kernel, tensors, op, names)
    index = device.index if device.index is not None else torch.cuda.current_device()
    plan = kiln.plan(kernel.name, hidden, dtype, index, **options)
    pointers = {spec.role: tensors[spec.role].data_ptr() for spec in kernel.tensors}
    if torch.cuda.current_device() == index:
        plan.launch(pointers, tokens, eps, torch.cuda.current_stream(index).cuda_stream, dtype=dtype)
    else:  # the C API launches on the current device: make the tensors' device current for the call
        with torch.cuda.device(index):
            plan.launch(pointers, tokens, eps, torch.cuda.current_stream(index).cuda_stream, dtype=dtype)


def _binder(qualname):
    """(args, kwargs) of a call into {argument name: value}, defaults filled in (the dispatcher
    may leave out arguments that have their default)."""
    namespace, name = qualname.split("::")
    schema = getattr(getattr(torch.ops, namespace), name).default._schema
    positional = [a.name for a in schema.arguments if not a.kwarg_only]
    defaults = [(a.name, a.default_value) for a in schema.arguments]

    def bind(args, kwargs):
        values = dict(zip(positional, args))
        values.update(kwargs)
        for n, d in defaults:
            values.setdefault(n, d)
        return values
    return bind


def _fake_check(kernel, tensors, op, names):
    """What the fake implementation can check without data or concrete sizes: dtypes, devices."""
    ref_spec = _reference_tensor(kernel)
    ref = tensors.get(ref_spec.role)
    for spec in kernel.tensors:
        t = tensors.get(spec.role)
        if not isinstance(t, torch.Tensor):
            raise TensorCheckError(f"{op}: {names[spec.role]} must be a tensor, not {type(t).__name__}")
        if spec.elem == "activation":
            if t.dtype not in _ACTIVATION or t.dtype != ref.dtype:
                raise TensorCheckError(f"{op}: {names[spec.role]} is {t.dtype}: must be torch.bfloat16 or torch.float16, "
                                       f"as {names[ref_spec.role]}")
        elif t.dtype != _ELEM_DTYPE.get(spec.elem):
            raise TensorCheckError(f"{op}: {names[spec.role]} is {t.dtype}: must be {_ELEM_DTYPE.get(spec.elem)}")
        if t.device != ref.device:
            raise TensorCheckError(f"{op}: {names[spec.role]} is on {t.device} but {names[ref_spec.role]} is on {ref.device}")


def _register(lib, qualname, schema, run, fake):
    """Define an op, its implementation (CUDA, and CPU so that CPU tensors get the device
    check's message rather than a dispatcher error) and its fake."""
    lib.define(schema)
    name = qualname.split("::")[1]
    state = {}

    def impl(*args, **kwargs):
        return run(state["bind"](args, kwargs))

    def fake_impl(*args, **kwargs):
        return fake(state["bind"](args, kwargs))

    lib.impl(name, impl, "CUDA")
    lib.impl(name, impl, "CPU")
    torch.library.register_fake(qualname, fake_impl, lib=lib)
    state["bind"] = _binder(qualname)
    return getattr(getattr(torch.ops, qualname.split("::")[0]), name)


# ---- torch.ops.kiln: every kernel of the library ---------------------------------------

def _schema(kernel):
    args, letters = [], iter("abcdefghijklmnopqrstuvwxyz")
    for t in kernel.tensors:
        args.append(f"Tensor({next(letters)}!) {t.name}" if t.written else f"Tensor {t.name}")
    if "eps" in kernel.scalars:
        args.append("float eps=1e-06")
    options = [_OPTION_SCHEMA[o] for o in ("rounding", "gemma", "static_weight") if o in kernel.options]
    if options:
        args += ["*"] + options
    return f"{kernel.name}({', '.join(args)}) -> ()"


def _kernel_op(lib, kernel):
    op = f"kiln.{kernel.name}"
    names = {t.role: t.name for t in kernel.tensors}

    def tensors_of(v):
        return {t.role: v[t.name] for t in kernel.tensors}

    def run(v):
        options = {o: v[o] for o in ("rounding", "gemma", "static_weight") if o in kernel.options}
        _launch(kernel, tensors_of(v), float(v.get("eps", 1e-6)), options, op, names)

    def fake(v):
        _fake_check(kernel, tensors_of(v), op, names)

    return _register(lib, f"kiln::{kernel.name}", _schema(kernel), run, fake)


def _functional(kernel, op):
    """kiln.torch.<kernel>(inputs..., eps=, **options): outputs allocated, in-out tensors cloned.
    Output shapes follow the descriptor's extents in Python, so they trace with symbolic sizes;
    the function reads only plain tuples, which torch.compile traces without effort."""
    specs = tuple((t.name, t.direction, t.rows, t.cols, t.elem) for t in kernel.tensors)
    inputs = tuple(t.name for t in kernel.tensors if t.read)
    ref_name, ref_cols = _reference_tensor(kernel).name, _reference_tensor(kernel).cols
    has_eps = "eps" in kernel.scalars

    def fn(*args, **kwargs):
        if has_eps and len(args) == len(inputs) + 1:  # eps may follow the tensors
            args, kwargs = args[:-1], {**kwargs, "eps": args[-1]}
        if len(args) != len(inputs):
            raise TypeError(f"kiln.torch.{kernel.name}({', '.join(inputs)}, ...): {len(args)} tensors given")
        given = dict(zip(inputs, args))
        ref = given[ref_name]
        hidden = ref.shape[-1] // 2 if ref_cols == "2hidden" else ref.shape[-1]
        call, written = [], []
        for name, direction, rows, cols, elem in specs:
            if direction == "in":
                call.append(given[name])
                continue
            if direction == "inout":
                t = given[name].clone(memory_format=torch.contiguous_format)
            else:
                shape = (*ref.shape[:-1], _extent(cols, hidden)) if rows == "tokens" else (_extent(cols, hidden),)
                t = torch.empty(shape, dtype=ref.dtype if elem == "activation" else _ELEM_DTYPE[elem], device=ref.device)
            call.append(t)
            written.append(t)
        op(*call, **kwargs)
        return written[0] if len(written) == 1 else tuple(written)

    fn.__name__ = fn.__qualname__ = kernel.name
    fn.__doc__ = (f"{kernel.summary}\n\nkiln.torch.{kernel.name}({', '.join(inputs)}"
                  f"{', eps=1e-6' if has_eps else ''}"
                  f"{''.join(', ' + o + '=' for o in sorted(kernel.options))}) -> "
                  f"{', '.join(t.name for t in kernel.tensors if t.written)}")
    return fn


# ---- torch.ops.kiln_vllm: vLLM's _C ops, from the alias table --------------------------

def _alias_op(lib, row, kernel):
    op = f"kiln_vllm.{row.op}"
    schema = torch._C.parse_schema(row.schema)
    by_name = {a.name: a for a in schema.arguments}
    # A broken row is a bug in the table: say so at import, never launch with it.
    mapped = set(row.roles.values())
    missing = [t.role for t in kernel.tensors if t.role not in mapped]
    unknown = [r for r in mapped if kernel.tensor(r) is None]
    if missing or unknown or any(a not in by_name for a in list(row.roles) + list(row.require) + list(row.ignore)):
        raise ValueError(f"kiln.vllm_aliases: row {row.op} does not fit kernel {kernel.name} "
                         f"(roles missing: {missing}, roles it lacks: {unknown})")
    for arg, role in row.roles.items():
        writes = kernel.tensor(role).written
        declared = by_name[arg].alias_info is not None and by_name[arg].alias_info.is_write
        if writes and not declared:
            raise ValueError(f"kiln.vllm_aliases: {row.op}: kiln writes {role} but vLLM's schema does not mark {arg} mutable")
    options = {k: v for k, v in row.options.items() if k in kernel.options}
    names = {role: arg for arg, role in row.roles.items()}

    def checked(v):
        for name, want in row.require.items():
            if v[name] != want:
                raise TensorCheckError(f"{op}: {name} = {v[name]!r}: kiln serves only {name} = {want!r}")
        return {role: v[arg] for arg, role in row.roles.items()}

    def run(v):
        _launch(kernel, checked(v), float(v[row.eps]) if row.eps else 1e-6, options, op, names)

    def fake(v):
        _fake_check(kernel, checked(v), op, names)

    return _register(lib, f"kiln_vllm::{row.op}", row.schema, run, fake)


_lib = torch.library.Library("kiln", "FRAGMENT")
_vllm_lib = torch.library.Library("kiln_vllm", "FRAGMENT")
kernel_ops = {}   # kernel name -> torch.ops.kiln.<kernel>
functional = {}   # kernel name -> kiln.torch.<kernel>
skipped = {}      # kernel name -> why it has no op (a communicator kernel)
vllm_ops = {}     # vLLM op name -> torch.ops.kiln_vllm.<op>
vllm_skipped = {}  # vLLM op name -> why it is not registered (its kernel is not in this library)

for _k in kiln.kernels():
    if _k.comm:
        # A communicator kernel's plan is made collectively over an NCCL communicator's ranks
        # (kiln.Plan(comm=, max_tokens=)); an op keyed on its tensors alone cannot make one.
        skipped[_k.name] = (f"{_k.name} sums over the ranks of an NCCL communicator: no torch op; "
                            "use kiln.Plan(..., comm=, max_tokens=)")
        continue
    kernel_ops[_k.name] = _kernel_op(_lib, _k)
    functional[_k.name] = _functional(_k, kernel_ops[_k.name])
    if _k.name in globals():
        raise ImportError(f"kiln.torch: kernel {_k.name} would shadow kiln.torch.{_k.name}")
    globals()[_k.name] = functional[_k.name]

_have = {k.name: k for k in kiln.kernels()}
for _row in ALIASES:
    if _row.kernel in skipped:
        vllm_skipped[_row.op] = skipped[_row.kernel]
    elif _row.kernel in _have:
        vllm_ops[_row.op] = _alias_op(_vllm_lib, _row, _have[_row.kernel])
    else:
        vllm_skipped[_row.op] = f"libkiln {kiln.version()} has no kernel {_row.kernel}"
