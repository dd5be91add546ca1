"""kiln's kernels as PyTorch custom ops. Needs PyTorch; `import kiln.torch` registers:

- torch.ops.kiln.<kernel> for every kernel of the library except the communicator kernels
  (Kernel.comm, e.g. allreduce_add_rms_norm): their plans are made collectively over an NCCL
  communicator, which an op's tensors cannot carry, so they get no op and no function here
  (kiln.Plan(..., comm=, max_tokens=) serves them; kiln.torch.skipped says why). The schema
  comes from the kernel's descriptor: written tensors (out, in-out) are mutated arguments `Tensor(a!)`,
  then the tensors read, then the optional tensors (TensorSpec.optional, e.g. per_token_fp8's
  scale_ub) as `Tensor? name=None` (None: the kernel goes without it), `float eps` when the
  kernel reads one, and keyword-only
  `rounding` ("single" or "vllm"), `gemma` and `static_weight` where the kernel has them, and
  for a group quantiser (Kernel.group) `group_size` (128 or 64), `scale_layout` ("row_major",
  "col_major_tma", "packed_ue8m0") and `ue8m0`.
  The ops return nothing; each has a fake implementation, so torch.compile (fullgraph,
  dynamic shapes) traces them and CUDA graphs capture them.
- kiln.torch.<kernel>(inputs..., eps=1e-6, **options): the same kernel, functional: it
  allocates the outputs and returns what the kernel writes (in-out tensors are cloned
  first, so the arguments are left alone), e.g. out = kiln.torch.rms_norm(x, w, 1e-6); an
  optional input may follow the others or be given by name, e.g.
  q, s = kiln.torch.per_token_fp8(x, scale_ub=ub). A group
  quantiser's scales come in the layout its options ask for, allocated as libkiln's
  kiln_tensor_layout_of says (torch.empty_strided), e.g.
  q, s = kiln.torch.per_token_group_fp8(x, scale_layout="col_major_tma").
- torch.ops.kiln_vllm.<op>: vLLM's `_C` ops kiln serves, with vLLM's schemas and in-place
  semantics and its rounding convention (kiln/vllm_aliases.py has the table).

Before any C call each op checks its tensors and raises TensorCheckError (a ValueError)
naming the tensor: dtype (bf16/fp16 activations, fp8 e4m3fn outputs, fp32 scale), one CUDA
device, shape (kiln_tensor_shape at the tensors' hidden size and tokens), contiguity, and
alignment. An optional tensor given as None is passed as NULL; one given is checked as the
others are, and first of all for its dtype and, where its shape is fixed (scale_ub: fp32 [1]),
its element count; a group quantiser's scales must have the shape and strides kiln_tensor_layout_of
gives for the call's group_size and scale_layout (fp32, or int32 for packed_ue8m0). The op runs on its tensors' device (made current for the call) and on PyTorch's
current stream of that device.

Plans are cached per (kernel, hidden, dtype, device, options). The first call for such a key
creates the plan (kiln_plan_create: device queries and an image probe, no stream work, no
allocation), so run each shape key once before capturing a CUDA graph, as engines warm up
anyway; later calls only launch.
"""

import functools

import torch

import kiln
from kiln._abi import DEFAULT_GROUP_SIZE
from kiln.vllm_aliases import ALIASES

__all__ = ["TensorCheckError", "kernel_ops", "functional", "skipped", "vllm_ops", "vllm_skipped"]

_ACTIVATION = {torch.bfloat16: "bf16", torch.float16: "fp16"}
_ELEM_DTYPE = {"fp8_e4m3": torch.float8_e4m3fn, "f32": torch.float32, "i32": torch.int32}
_OPTION_SCHEMA = {"rounding": "str rounding='single'", "gemma": "bool gemma=False",
                  "static_weight": "bool static_weight=False", "group_size": f"int group_size={DEFAULT_GROUP_SIZE}",
                  "scale_layout": "str scale_layout='row_major'", "ue8m0": "bool ue8m0=False"}
_GROUP_OPTIONS = ("group_size", "scale_layout", "ue8m0")  # what KILN_OPTION_GROUP ("group") brings
_ROW_MAJOR = "row_major"
_PACKED = "packed_ue8m0"


def _option_names(kernel):
    """The plan options a kernel's op takes, in schema order."""
    names = [o for o in ("rounding", "gemma", "static_weight") if o in kernel.options]
    return names + (list(_GROUP_OPTIONS) if kernel.group else [])


def _schema_tensors(kernel):
    """The kernel's tensors in the order of its op's schema: the typed entry point's, with the
    optional tensors (which have a default, None) after the others."""
    return ([t for t in kernel.tensors if not t.optional] + [t for t in kernel.tensors if t.optional])


def _fixed_numel(spec):
    """The element count of a tensor whose extents depend on no size ("one"), else None."""
    return 1 if spec.rows == "one" and spec.cols == "one" else None


def _compiling():
    """Whether torch.compile (Dynamo) is tracing this call (torch.library.register_fake, which
    kiln.torch needs, came after torch.compiler.is_compiling)."""
    return torch.compiler.is_compiling()


def _is_group_scales(spec):
    """The per-group scales tensor of a group quantiser: its storage follows the options."""
    return spec.cols == "groups"


def _elem_dtype(spec, options):
    """The torch dtype of a non-activation tensor: packed UE8M0 scales are int32 words."""
    if _is_group_scales(spec) and options.get("scale_layout", _ROW_MAJOR) == _PACKED:
        return torch.int32
    return _ELEM_DTYPE.get(spec.elem)


class TensorCheckError(ValueError):
    """A tensor given to a kiln op is not what the kernel takes (checked before any C call)."""


def _extent(name, hidden):
    return {"one": 1, "hidden": hidden, "2hidden": 2 * hidden}[name]


def _reference_tensor(kernel):
    """The tensor the hidden size and token count are read from: the input, else the first with rows T."""
    return kernel.tensor("input") or next(t for t in kernel.tensors if t.rows == "tokens")


@functools.lru_cache(maxsize=4096)
def _shapes(kernel_name, hidden, tokens, group_size=0, scale_layout=_ROW_MAJOR):
    """Each tensor's (rows, cols, row stride, col stride) at (hidden, tokens) under the group
    options, by the library's rule (kiln_tensor_layout_of), asked once per key: the check runs
    on every call."""
    k = kiln.kernel(kernel_name)
    group = {"group_size": group_size, "scale_layout": scale_layout} if k.group else {}
    out = []
    for spec in k.tensors:
        layout = k.layout(spec.name, hidden, tokens, **group)
        out.append((layout.rows, layout.cols, layout.row_stride, layout.col_stride))
    return tuple(out)


def _group_scales_geometry(hidden, tokens, group_size, scale_layout):
    """(shape, strides) of a group quantiser's scales, in Python so that it traces with symbolic
    sizes (kiln_tensor_layout_of's rule; the tests hold the two equal): [T, G] row-major, or
    column-major with the column stride T rounded up to 4; packed: ceil(G / 4) int32 columns."""
    groups = (hidden + group_size - 1) // group_size
    if scale_layout == _ROW_MAJOR:
        return (tokens, groups), (groups, 1)
    cols = (groups + 3) // 4 if scale_layout == _PACKED else groups
    return (tokens, cols), (1, (tokens + 3) // 4 * 4)


def _scales_stride_ok(t, rows, cols, row_stride, col_stride):
    """A tensor [rows, cols] whose strides are the layout's where they matter (a dimension of
    size 1 has no stride that matters)."""
    if t.dim() != 2 or tuple(t.shape) != (rows, cols):
        return False
    return (rows <= 1 or t.stride(0) == row_stride) and (cols <= 1 or t.stride(1) == col_stride)


def _check(kernel, tensors, op, names, options=None):
    """Every pre-call check; returns (dtype name, device, hidden, tokens). `names` gives each
    role's argument name as the caller wrote it (vLLM's names for the aliases). One pass per
    kind of check, so that the message names the first problem in the order users expect
    (type, device, dtype and layout, shape and alignment)."""
    options = options or {}
    # An optional tensor given as None is left out (NULL): nothing of it to check.
    present = [(i, spec, tensors.get(spec.role)) for i, spec in enumerate(kernel.tensors)
               if not (spec.optional and tensors.get(spec.role) is None)]
    specs = [spec for _, spec, _ in present]
    given = [t for _, _, t in present]
    for spec, t in zip(specs, given):
        if not isinstance(t, torch.Tensor):
            raise TensorCheckError(f"{op}: {names[spec.role]} must be a tensor, not {type(t).__name__}")
    for spec, t in zip(specs, given):
        # An optional tensor is what it is wherever it lives: its dtype and, where its shape is
        # fixed, its element count come first (scale_ub: fp32 [1]).
        if not spec.optional:
            continue
        want = _elem_dtype(spec, options)
        if want is not None and t.dtype != want:
            raise TensorCheckError(f"{op}: {names[spec.role]} is {t.dtype}: must be {want} (or None, to go without it)")
        numel = _fixed_numel(spec)
        if numel is not None and t.numel() != numel:
            raise TensorCheckError(f"{op}: {names[spec.role]} has shape {tuple(t.shape)} ({t.numel()} elements): it must "
                                   f"hold {numel} (a [{numel}] {want} tensor in device memory), or be None")
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
        want = ref.dtype if spec.elem == "activation" else _elem_dtype(spec, options)
        if t.dtype != want:
            raise TensorCheckError(f"{op}: {names[spec.role]} is {t.dtype}: must be {want}"
                                   + (f" (scale_layout={options.get('scale_layout')!r})" if _is_group_scales(spec) else ""))
        if _is_group_scales(spec):
            continue  # its strides are the layout's, checked below
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
    group_size = int(options.get("group_size", 0)) if kernel.group else 0
    scale_layout = options.get("scale_layout", _ROW_MAJOR) if kernel.group else _ROW_MAJOR
    shapes = _shapes(kernel.name, hidden, tokens, group_size, scale_layout)
    for spec, t, (rows, cols, row_stride, col_stride) in zip(specs, given, [shapes[i] for i, _, _ in present]):
        if _is_group_scales(spec) and scale_layout != _ROW_MAJOR:
            if tokens == 0:
                fits = t.numel() == 0
            else:
                fits = _scales_stride_ok(t, rows, cols, row_stride, col_stride)
            if not fits:
                raise TensorCheckError(
                    f"{op}: {names[spec.role]} has shape {tuple(t.shape)} and strides {tuple(t.stride())}; at "
                    f"hidden={hidden}, tokens={tokens}, group_size={options.get('group_size')}, "
                    f"scale_layout={scale_layout!r} it must be [{rows}, {cols}] with strides ({row_stride}, {col_stride}): "
                    f"torch.empty_strided(({rows}, {cols}), ({row_stride}, {col_stride})) (column-major scales are "
                    "TMA-aligned: the column stride is the token count rounded up to a multiple of 4)")
        elif _is_group_scales(spec) and not t.is_contiguous():
            raise TensorCheckError(f"{op}: {names[spec.role]} is not contiguous (strides {tuple(t.stride())}): "
                                   f"row-major scales are [{rows}, {cols}] with strides ({row_stride}, {col_stride})")
        fits = t.numel() == rows * cols and (rows * cols == 1 or (t.dim() > 0 and t.shape[-1] == cols))
        if _is_group_scales(spec) and scale_layout != _ROW_MAJOR:
            fits = True  # checked above
        if not fits:
            raise TensorCheckError(f"{op}: {names[spec.role]} has shape {tuple(t.shape)}; at hidden={hidden}, tokens={tokens} "
                                   f"it must hold [{rows}, {cols}] (rows of {cols}, {rows * cols} elements)")
        if t.numel() and t.data_ptr() % spec.alignment:
            raise TensorCheckError(f"{op}: {names[spec.role]} at 0x{t.data_ptr():x} is not {spec.alignment}-byte aligned")
    return _ACTIVATION[ref.dtype], device, hidden, tokens


def _launch(kernel, tensors, eps, options, op, names):
    """Check, pick the cached plan, launch on the tensors' device and its current stream."""
    dtype, device, hidden, tokens = _check(kernel, tensors, op, names, options)
    index = device.index if device.index is not None else torch.cuda.current_device()
    plan = kiln.plan(kernel.name, hidden, dtype, index, **options)
    # An optional tensor left out (None) is not in the dict: Plan.launch passes NULL.
    pointers = {spec.role: tensors[spec.role].data_ptr() for spec in kernel.tensors
                if tensors.get(spec.role) is not None}
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


def _fake_check(kernel, tensors, op, names, options=None):
    """What the fake implementation can check without data or concrete sizes: dtypes, devices,
    and that a group quantiser's non-row-major scales are 2-D."""
    options = options or {}
    ref_spec = _reference_tensor(kernel)
    ref = tensors.get(ref_spec.role)
    for spec in kernel.tensors:
        t = tensors.get(spec.role)
        if spec.optional and t is None:
            continue  # left out: the kernel goes without it
        if not isinstance(t, torch.Tensor):
            raise TensorCheckError(f"{op}: {names[spec.role]} must be a tensor, not {type(t).__name__}")
        if spec.elem == "activation":
            if t.dtype not in _ACTIVATION or t.dtype != ref.dtype:
                raise TensorCheckError(f"{op}: {names[spec.role]} is {t.dtype}: must be torch.bfloat16 or torch.float16, "
                                       f"as {names[ref_spec.role]}")
        elif t.dtype != _elem_dtype(spec, options):
            raise TensorCheckError(f"{op}: {names[spec.role]} is {t.dtype}: must be {_elem_dtype(spec, options)}")
        if _is_group_scales(spec) and options.get("scale_layout", _ROW_MAJOR) != _ROW_MAJOR and t.dim() != 2:
            raise TensorCheckError(f"{op}: {names[spec.role]} has {t.dim()} dimensions: "
                                   f"{options['scale_layout']} scales are [tokens, columns]")
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
    for t in _schema_tensors(kernel):
        arg = f"Tensor({next(letters)}!)" if t.written else "Tensor"
        args.append(f"{arg}? {t.name}=None" if t.optional else f"{arg} {t.name}")
    if "eps" in kernel.scalars:
        args.append("float eps=1e-06")
    options = [_OPTION_SCHEMA[o] for o in _option_names(kernel)]
    if options:
        args += ["*"] + options
    return f"{kernel.name}({', '.join(args)}) -> ()"


def _kernel_op(lib, kernel):
    op = f"kiln.{kernel.name}"
    names = {t.role: t.name for t in kernel.tensors}

    def tensors_of(v):
        return {t.role: v.get(t.name) for t in kernel.tensors}  # an optional tensor may be None

    option_names = _option_names(kernel)

    def run(v):
        options = {o: v[o] for o in option_names}
        _launch(kernel, tensors_of(v), float(v.get("eps", 1e-6)), options, op, names)

    def fake(v):
        _fake_check(kernel, tensors_of(v), op, names, {o: v[o] for o in option_names})

    return _register(lib, f"kiln::{kernel.name}", _schema(kernel), run, fake)


def _functional(kernel, op):
    """kiln.torch.<kernel>(inputs..., eps=, **options): outputs allocated, in-out tensors cloned.
    Output shapes follow the descriptor's extents in Python, so they trace with symbolic sizes;
    the function reads only plain tuples, which torch.compile traces without effort."""
    # In the op's schema order; the optional inputs (None: left out) may follow the others or
    # come by name. An optional tensor the kernel writes would be allocated as any output.
    specs = tuple((t.name, t.direction, t.rows, t.cols, t.elem) for t in _schema_tensors(kernel))
    required = tuple(t.name for t in kernel.tensors if t.read and (t.written or not t.optional))
    optional = tuple(t.name for t in kernel.tensors if t.read and t.optional and not t.written)
    inputs = required + optional
    written_order = tuple(t.name for t in kernel.tensors if t.written)  # what is returned, in the typed order
    ref_name, ref_cols = _reference_tensor(kernel).name, _reference_tensor(kernel).cols
    has_eps = "eps" in kernel.scalars
    kernel_name, group = kernel.name, kernel.group

    def scales_buffer(ref, hidden, kwargs):
        """A group quantiser's scales, as kiln_tensor_layout_of lays them out for the options
        (its formula in Python while tracing with symbolic sizes)."""
        group_size = kwargs.get("group_size", DEFAULT_GROUP_SIZE)
        scale_layout = kwargs.get("scale_layout", _ROW_MAJOR)
        dtype = torch.int32 if scale_layout == _PACKED else torch.float32
        tokens = 1
        for d in ref.shape[:-1]:
            tokens = tokens * d
        if scale_layout == _ROW_MAJOR:
            groups = _group_scales_geometry(hidden, tokens, group_size, scale_layout)[0][1]
            return torch.empty((*ref.shape[:-1], groups), dtype=dtype, device=ref.device)
        # Eagerly, the library's answer; while torch.compile traces (no ctypes there: it would break
        # the graph) or with symbolic sizes, the same rule in Python.
        if (not _compiling() and isinstance(tokens, int) and isinstance(hidden, int)
                and scale_layout in kiln.SCALE_LAYOUTS):
            layout = kiln.kernel(kernel_name).layout("scales", hidden, tokens, group_size=group_size,
                                                     scale_layout=scale_layout)
            shape, strides = layout.shape, layout.strides
        else:
            shape, strides = _group_scales_geometry(hidden, tokens, group_size, scale_layout)
        return torch.empty_strided(shape, strides, dtype=dtype, device=ref.device)

    def fn(*args, **kwargs):
        # eps may follow the tensors (a number, where a tensor or None would be an optional input)
        if (has_eps and len(required) < len(args) <= len(inputs) + 1
                and not (args[-1] is None or isinstance(args[-1], torch.Tensor))):
            args, kwargs = args[:-1], {**kwargs, "eps": args[-1]}
        if not len(required) <= len(args) <= len(inputs):
            raise TypeError(f"kiln.torch.{kernel.name}({', '.join(required + tuple(o + '=None' for o in optional))}, "
                            f"...): {len(args)} tensors given")
        given = dict(zip(inputs, args))
        for name in optional:
            if name in kwargs:
                if name in given:
                    raise TypeError(f"kiln.torch.{kernel.name}: {name} given twice (by position and by name)")
                given[name] = kwargs.pop(name)
        ref = given[ref_name]
        hidden = ref.shape[-1] // 2 if ref_cols == "2hidden" else ref.shape[-1]
        call, written = [], {}
        for name, direction, rows, cols, elem in specs:
            if direction == "in":
                call.append(given.get(name))  # an optional input not given: None
                continue
            if direction == "inout":
                t = given[name].clone(memory_format=torch.contiguous_format)
            elif group and cols == "groups":
                t = scales_buffer(ref, hidden, kwargs)
            else:
                shape = (*ref.shape[:-1], _extent(cols, hidden)) if rows == "tokens" else (_extent(cols, hidden),)
                t = torch.empty(shape, dtype=ref.dtype if elem == "activation" else _ELEM_DTYPE[elem], device=ref.device)
            call.append(t)
            written[name] = t
        op(*call, **kwargs)
        out = tuple(written[name] for name in written_order)
        return out[0] if len(out) == 1 else out

    fn.__name__ = fn.__qualname__ = kernel.name
    fn.__doc__ = (f"{kernel.summary}\n\nkiln.torch.{kernel.name}({', '.join(required + tuple(o + '=None' for o in optional))}"
                  f"{', eps=1e-6' if has_eps else ''}"
                  f"{''.join(', ' + o + '=' for o in _option_names(kernel))}) -> "
                  f"{', '.join(t.name for t in kernel.tensors if t.written)}")
    return fn


# ---- torch.ops.kiln_vllm: vLLM's _C ops, from the alias table --------------------------

def _is_optional(argument):
    """A schema argument of an optional type (`Tensor?`): None may be passed."""
    return isinstance(argument.type, torch._C.OptionalType)


def _alias_op(lib, row, kernel):
    op = f"kiln_vllm.{row.op}"
    schema = torch._C.parse_schema(row.schema)
    by_name = {a.name: a for a in schema.arguments}
    # A broken row is a bug in the table: say so at import, never launch with it.
    mapped = set(row.roles.values())
    missing = [t.role for t in kernel.tensors if t.role not in mapped and not t.optional]  # optional: left out
    unknown = [r for r in mapped if kernel.tensor(r) is None]
    named = list(row.roles) + list(row.require) + list(row.ignore) + list(row.option_args)
    named += [row.layout_from] if row.layout_from else []
    if missing or unknown or any(a not in by_name for a in named):
        raise ValueError(f"kiln.vllm_aliases: row {row.op} does not fit kernel {kernel.name} "
                         f"(roles missing: {missing}, roles it lacks: {unknown})")
    for arg, role in row.roles.items():
        writes = kernel.tensor(role).written
        declared = by_name[arg].alias_info is not None and by_name[arg].alias_info.is_write
        if writes and not declared:
            raise ValueError(f"kiln.vllm_aliases: {row.op}: kiln writes {role} but vLLM's schema does not mark {arg} mutable")
        if _is_optional(by_name[arg]) and not kernel.tensor(role).optional:
            raise ValueError(f"kiln.vllm_aliases: {row.op}: vLLM's {arg} may be None but kiln's {role} tensor of "
                             f"{kernel.name} is not optional")
    takes = set(_option_names(kernel))
    options = {k: v for k, v in row.options.items() if k in takes}
    if any(o not in takes for o in row.option_args.values()) or (row.layout_from and not kernel.group):
        raise ValueError(f"kiln.vllm_aliases: row {row.op}: kernel {kernel.name} has no option "
                         f"{sorted(set(row.option_args.values()) - takes)} (or no scale groups for layout_from)")
    names = {role: arg for arg, role in row.roles.items()}

    def checked(v):
        """(tensors by role, the plan options of this call)."""
        for name, want in row.require.items():
            if v[name] != want:
                raise TensorCheckError(f"{op}: {name} = {v[name]!r}: kiln serves only {name} = {want!r}"
                                       + (f" ({row.why[name]})" if name in row.why else ""))
        call = dict(options)
        call.update({o: v[arg] for arg, o in row.option_args.items()})
        if row.layout_from:
            # vLLM's rule (per_token_group_quant.cu): column-major iff stride(0) < stride(1); kiln
            # writes the TMA-aligned column-major layout, which _check holds the strides to.
            s = v[row.layout_from]
            column_major = isinstance(s, torch.Tensor) and s.dim() == 2 and s.stride(0) < s.stride(1)
            call["scale_layout"] = "col_major_tma" if column_major else _ROW_MAJOR
        return {role: v[arg] for arg, role in row.roles.items()}, call

    def run(v):
        tensors, call = checked(v)
        _launch(kernel, tensors, float(v[row.eps]) if row.eps else 1e-6, call, op, names)

    def fake(v):
        tensors, call = checked(v)
        _fake_check(kernel, tensors, op, names, call)

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
