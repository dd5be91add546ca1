"""libkiln's C ABI (runtime/include/kiln/kiln.h) through ctypes: the structs, the
prototypes, finding and loading the library, and the check that this mirror has the
library's layout. Nothing here names a kernel: kernels come from the library's
descriptors (kiln_kernel_count / kiln_kernel_at)."""

import ctypes
import os

# ---- enums and bits of kiln.h (names only where Python needs them) ------------------
DTYPE = {"bf16": 0, "fp16": 1}           # kiln_dtype
DTYPE_UNSET = -1                         # kiln_args_init's dtype: a launch refuses it
POLICY = {"exact": 0, "strict": 1, "generic": 2}  # kiln_set_policy
ROUNDING = {"single": 0, "vllm": 1}      # kiln_rounding
ROLE_NAMES = ("input", "weight", "residual", "output", "scales", "scale",
              "scale_ub")                # kiln_role, in order ("scale_ub" since 0.5: an optional fp32 [1] cap)
ROLE_SLOTS = 8                           # KILN_ROLE_SLOTS
DIRECTIONS = ("in", "out", "inout")      # kiln_direction
ELEMS = ("activation", "fp8_e4m3", "f32", "i32")  # kiln_elem
EXTENTS = ("one", "tokens", "hidden", "2hidden", "groups")  # kiln_extent ("groups" since 0.5: G = ceil(H / group_size))
OPTION_BITS = {"rounding": 0x1, "gemma": 0x2, "static_weight": 0x4, "comm": 0x8,
               "group": 0x10}            # KILN_OPTION_* ("group" since 0.5)
# kiln_scale_layout (since 0.5): how a group quantiser (KILN_OPTION_GROUP) lays out its scales [T, G]
SCALE_LAYOUT = {"row_major": 0, "col_major_tma": 1, "packed_ue8m0": 2}
GROUP_SIZES = (128, 64)                  # kiln_plan_options.group_size's values besides 0 (= 128)
DEFAULT_GROUP_SIZE = 128                 # KILN_DEFAULT_GROUP_SIZE: group_size = 0 means this
SCALAR_BITS = {"eps": 0x1}               # KILN_SCALAR_*
SUCCESS = 0
# kiln_status by name (kiln_status_name gives the names back; the codes are ABI).
STATUS = {
    "KILN_SUCCESS": 0,
    "KILN_ERROR_INVALID_ARGUMENT": 1,
    "KILN_ERROR_UNKNOWN_KERNEL": 2,
    "KILN_ERROR_UNSUPPORTED_DTYPE": 3,
    "KILN_ERROR_INVALID_HIDDEN": 4,
    "KILN_ERROR_HIDDEN_MISMATCH": 5,
    "KILN_ERROR_NULL_POINTER": 6,
    "KILN_ERROR_MISALIGNED_POINTER": 7,
    "KILN_ERROR_INVALID_TOKENS": 8,
    "KILN_ERROR_NO_CONFIG_SET": 9,
    "KILN_ERROR_NO_DEVICE_IMAGE": 10,
    "KILN_ERROR_NO_DEVICE": 11,
    "KILN_ERROR_CUDA": 12,
    "KILN_ERROR_OUT_OF_MEMORY": 13,
    "KILN_ERROR_ALIASING": 14,
    "KILN_ERROR_WRONG_DEVICE": 15,
    "KILN_ERROR_DTYPE_MISMATCH": 16,
    "KILN_ERROR_NCCL": 17,              # since 0.4: a communicator kernel's NCCL could not be loaded or failed
    "KILN_ERROR_UNSUPPORTED_COMM": 18,  # since 0.4: 1 or more than 8 ranks, or peers not reachable by load/store
}
INVALID_ARGUMENT = STATUS["KILN_ERROR_INVALID_ARGUMENT"]
MAX_RANKS = 8                            # kiln::detail::kMaxRanks: a communicator kernel sums over 2..8 ranks
_c_enum = ctypes.c_int32  # C enums are int-sized on every platform kiln builds for


class PlanOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("kernel", ctypes.c_char_p),
        ("hidden", ctypes.c_int64),
        ("dtype", _c_enum),
        ("device", ctypes.c_int32),
        ("policy", _c_enum),
        ("rounding", _c_enum),
        ("gemma", ctypes.c_int32),
        ("static_weight", ctypes.c_int32),
        ("comm", ctypes.c_void_p),       # since 0.4: KILN_OPTION_COMM kernels' ncclComm_t; NULL for the others
        ("max_tokens", ctypes.c_int64),  # since 0.4: KILN_OPTION_COMM kernels' most tokens a launch takes; 0 else
        ("group_size", ctypes.c_int32),  # since 0.5: KILN_OPTION_GROUP kernels' columns per scale, 128 or 64 (0 = 128)
        ("scale_layout", _c_enum),       # since 0.5: KILN_OPTION_GROUP kernels' kiln_scale_layout
        ("ue8m0", ctypes.c_int32),       # since 0.5: KILN_OPTION_GROUP kernels: scales rounded up to powers of two
    ]


class Args(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("tokens", ctypes.c_int64),
        ("hidden", ctypes.c_int64),
        ("tensors", ctypes.c_void_p * ROLE_SLOTS),  # by kiln_role
        ("eps", ctypes.c_float),
        ("reserved", ctypes.c_int32),  # since 0.3: puts dtype past 0.2's tail padding
        ("dtype", _c_enum),  # since 0.3: the activation tensors' kiln_dtype
    ]


class TensorDesc(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("role", _c_enum),
        ("direction", _c_enum),
        ("elem", _c_enum),
        ("rows", _c_enum),
        ("cols", _c_enum),
        ("alignment", ctypes.c_int32),
        ("optional", ctypes.c_int32),  # since 0.5: 1 = the tensor may be NULL (the kernel then goes without it)
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
        ("ranks", ctypes.c_int32),  # since 0.4: a communicator kernel's rank count; 0 for the others
    ]


class TensorLayout(ctypes.Structure):
    """kiln_tensor_layout (since 0.5): a tensor's storage under a kernel's options."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("rows", ctypes.c_int64),
        ("cols", ctypes.c_int64),
        ("row_stride", ctypes.c_int64),  # in elements
        ("col_stride", ctypes.c_int64),
        ("elements", ctypes.c_int64),    # the span, in elements: what to allocate
        ("elem_bytes", ctypes.c_int64),
    ]


class LibraryError(ImportError):
    """libkiln could not be found or loaded, or does not have the layout this package mirrors."""


def library_path():
    """Where libkiln is: $KILN_LIBRARY when set, else the libkiln.so the wheel put next to
    this package. Nothing else is searched, so the library in use is never a surprise."""
    env = os.environ.get("KILN_LIBRARY", "")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = sorted(f for f in os.listdir(here) if f == "libkiln.so" or f.startswith("libkiln.so."))
    if not candidates:
        raise LibraryError(f"kiln: no libkiln.so next to the package ({here}) and KILN_LIBRARY is not set: "
                           "install the kiln wheel, or set KILN_LIBRARY to a built library "
                           "(e.g. KILN_LIBRARY=build/runtime/libkiln.so.0.5)")
    return os.path.join(here, candidates[0])


def _declare(lib):
    """Prototypes of every entry point the package calls."""
    i64p = ctypes.POINTER(ctypes.c_int64)
    plan_p = ctypes.c_void_p
    protos = {
        "kiln_status_name": ([_c_enum], ctypes.c_char_p),
        "kiln_last_error": ([], ctypes.c_char_p),
        "kiln_version": ([], ctypes.c_char_p),
        "kiln_kernel_count": ([], ctypes.c_int32),
        "kiln_kernel_at": ([ctypes.c_int32, ctypes.c_void_p], _c_enum),
        "kiln_kernel_find": ([ctypes.c_char_p, ctypes.c_void_p], _c_enum),
        "kiln_min_bytes": ([ctypes.c_char_p, _c_enum, ctypes.c_int64, ctypes.c_int64, i64p], _c_enum),
        "kiln_tensor_shape": ([ctypes.POINTER(TensorDesc), ctypes.c_int64, ctypes.c_int64, i64p, i64p, i64p], _c_enum),
        "kiln_tensor_layout_of": ([ctypes.POINTER(TensorDesc), ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p],
                                  _c_enum),  # since 0.5; void*: the layout check passes other sizes
        "kiln_plan_options_init": ([ctypes.c_void_p], None),  # void*: the layout check passes other mirrors
        "kiln_args_init": ([ctypes.c_void_p], None),
        "kiln_plan_create": ([ctypes.POINTER(PlanOptions), ctypes.POINTER(plan_p)], _c_enum),
        "kiln_plan_destroy": ([plan_p], None),
        "kiln_plan_summary": ([plan_p], ctypes.c_char_p),
        "kiln_plan_describe": ([plan_p, ctypes.c_int64, ctypes.c_void_p], _c_enum),
        "kiln_explain": ([ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p], _c_enum),
        "kiln_explain_comm": ([ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int64, ctypes.c_int32, ctypes.c_int64,
                               ctypes.c_void_p], _c_enum),
        "kiln_launch": ([plan_p, ctypes.POINTER(Args), ctypes.c_void_p], _c_enum),
    }
    for name, (argtypes, restype) in protos.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise LibraryError(f"kiln: {lib._name} has no {name}: it is not a libkiln this package can use")
        fn.argtypes, fn.restype = argtypes, restype


def _accepts_size(call, cls, size):
    """The status of `call(buffer)` with a `cls` whose struct_size says `size`; the buffer
    has room beyond `size`, so a library whose struct is larger may fill it."""
    buf = (ctypes.c_char * (ctypes.sizeof(cls) + 64))()
    ctypes.cast(buf, ctypes.POINTER(ctypes.c_uint32))[0] = size
    return call(ctypes.cast(buf, ctypes.c_void_p))


def _tensor_desc_problem(lib, mirror=None):
    """The first tensor descriptor of the library that does not read back as one through
    `mirror` (TensorDesc unless given), in words, or None. Only the integer fields are read."""
    mirror = mirror or TensorDesc
    for k in range(lib.kiln_kernel_count()):
        d = KernelDesc()
        d.struct_size = ctypes.sizeof(KernelDesc)
        if lib.kiln_kernel_at(k, ctypes.byref(d)) != SUCCESS or not d.tensors:
            continue
        tensors = ctypes.cast(d.tensors, ctypes.POINTER(mirror))
        for i in range(d.tensor_count):
            t = tensors[i]
            fields = {"role": (t.role, ROLE_SLOTS), "direction": (t.direction, len(DIRECTIONS)),
                      "elem": (t.elem, len(ELEMS)), "rows": (t.rows, len(EXTENTS)), "cols": (t.cols, len(EXTENTS)),
                      "optional": (t.optional, 2)}
            for field, (value, limit) in fields.items():
                if not 0 <= value < limit:
                    return f"kernel {k}'s tensor {i} reads {field} = {value}"
            if t.alignment <= 0 or t.alignment & (t.alignment - 1):
                return f"kernel {k}'s tensor {i} reads alignment = {t.alignment}"
    return None


def _check_layout(lib, path):
    """Refuse a library whose structs differ from this mirror: a silent layout mismatch
    would pass wrong pointers to kernels. Input structs: the _init functions write the
    library's sizeof. Output structs: the library refuses a size larger than its own, so
    it must accept ours and refuse ours + 1."""
    problems = []
    for cls, init in ((PlanOptions, lib.kiln_plan_options_init), (Args, lib.kiln_args_init)):
        # Room beyond our size: a newer library's _init writes its own, larger struct.
        room = (ctypes.c_char * (ctypes.sizeof(cls) + 256))()
        init(ctypes.cast(room, ctypes.c_void_p))
        probe = cls.from_buffer(room)
        if probe.struct_size != ctypes.sizeof(cls):
            problems.append(f"{cls.__name__}: the library's struct is {probe.struct_size} bytes, this package's "
                            f"{ctypes.sizeof(cls)}")
    # The size check tells 0.3's kiln_args (104 bytes) from 0.2's (96); init's -1 confirms dtype's place.
    args = Args()
    lib.kiln_args_init(ctypes.byref(args))
    if args.dtype != DTYPE_UNSET:
        problems.append("Args: the library's kiln_args_init leaves dtype at "
                        f"{args.dtype}, not KILN_DTYPE_UNSET (-1): a library older than kiln 0.3")
    if lib.kiln_kernel_count() > 0:
        first = KernelDesc()
        first.struct_size = ctypes.sizeof(KernelDesc)
        if lib.kiln_kernel_at(0, ctypes.byref(first)) != SUCCESS:
            problems.append(f"KernelDesc: the library refuses {ctypes.sizeof(KernelDesc)} bytes, this package's size")
        elif _accepts_size(lambda p: lib.kiln_kernel_at(0, p), KernelDesc, ctypes.sizeof(KernelDesc) + 1) == SUCCESS:
            problems.append(f"KernelDesc: the library's struct is larger than this package's {ctypes.sizeof(KernelDesc)} bytes")
        # kiln_explain (kiln_explain_comm for a communicator kernel) checks the struct size
        # first and an arch it does not target later: a struct of the library's size gets
        # KILN_ERROR_NO_DEVICE_IMAGE, any other size KILN_ERROR_INVALID_ARGUMENT.
        name = first.name
        if first.options & OPTION_BITS["comm"]:
            explain = lambda p: lib.kiln_explain_comm(name, b"", 1, 2, 1, p)  # noqa: E731
        else:
            explain = lambda p: lib.kiln_explain(name, b"", 1, 1, p)  # noqa: E731
        size = ctypes.sizeof(VariantInfo)
        refused = _accepts_size(explain, VariantInfo, size + 1)
        if _accepts_size(explain, VariantInfo, size) == refused:
            problems.append(f"VariantInfo: the library's struct is not {size} bytes")
        # kiln_tensor_layout_of (since 0.5) refuses any struct_size but its own sizeof.
        options = PlanOptions()
        lib.kiln_plan_options_init(ctypes.byref(options))
        options.kernel, options.hidden = name, 4096
        layout = lambda p: lib.kiln_tensor_layout_of(first.tensors, ctypes.byref(options), 1, p)  # noqa: E731
        size = ctypes.sizeof(TensorLayout)
        if _accepts_size(layout, TensorLayout, size) != SUCCESS or _accepts_size(layout, TensorLayout, size + 1) == SUCCESS:
            problems.append(f"TensorLayout: the library's struct is not {size} bytes")
        # kiln_tensor_desc has no struct_size: the library hands out arrays of its own, which
        # this mirror indexes with its sizeof. Another size (0.5 added `optional`) reads the
        # fields of the second tensor on from the wrong place: every enum field must be in
        # range and optional 0 or 1 (the name pointer is not followed: it could be anything).
        bad = _tensor_desc_problem(lib)
        if bad:
            problems.append(f"TensorDesc: {bad}: the library's kiln_tensor_desc is not this package's "
                            f"({ctypes.sizeof(TensorDesc)} bytes, the values kiln.h names)")
    if problems:
        raise LibraryError(f"kiln: {path} (libkiln {lib.kiln_version().decode()}) does not match this package's "
                           "mirror of kiln.h; install the matching kiln wheel or library:\n  " + "\n  ".join(problems))


def load():
    """(the loaded library, its path); LibraryError with the reason when it cannot be used."""
    path = library_path()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        source = "KILN_LIBRARY" if os.environ.get("KILN_LIBRARY") else "the package folder"
        raise LibraryError(f"kiln: cannot load libkiln from {path} (from {source}): {e}")
    _declare(lib)
    _check_layout(lib, path)
    return lib, path
