"""The ctypes mirror (kiln/_abi.py) against kiln.h itself, without a library and without
PyTorch: enum values, option bits and struct fields as the header spells them, and (where a
C compiler is at hand) every field's offset and every struct's size as the compiler lays
them out. The library's own check (_abi._check_layout, test_package.py) needs a built
libkiln; this one runs anywhere."""

import ctypes
import importlib.util
import re
import shutil
import subprocess

import pytest

from kiln_testing import REPO

HEADER = REPO / "runtime" / "include" / "kiln" / "kiln.h"


def load_abi():
    """kiln/_abi.py alone: `import kiln` would load libkiln."""
    spec = importlib.util.spec_from_file_location("kiln_abi_mirror", REPO / "python" / "kiln" / "_abi.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


abi = load_abi()


def header():
    """kiln.h without its comments."""
    text = HEADER.read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def enum(name):
    """{enumerator: value} of `typedef enum name {...}`."""
    body = re.search(rf"typedef enum {name} \{{(.*?)\}} {name};", header(), re.S).group(1)
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"(\w+)\s*=\s*(-?\d+)", body)}


def struct_fields(name):
    """The field names of `typedef struct name {...}`, in order."""
    body = re.search(rf"typedef struct {name} \{{(.*?)\}} {name};", header(), re.S).group(1)
    fields = []
    for decl in body.split(";"):
        decl = decl.strip()
        if not decl:
            continue
        decl = re.sub(r"\[[^\]]*\]", "", decl)  # arrays: the name is what counts here
        head, *more = [d.strip() for d in decl.split(",")]
        fields.append(re.search(r"(\w+)$", head).group(1))
        fields += more
    return fields


def test_extents():
    values = enum("kiln_extent")
    assert [values[f"KILN_EXTENT_{e.upper()}"] for e in abi.EXTENTS] == list(range(len(abi.EXTENTS)))
    assert len(values) == len(abi.EXTENTS)
    assert abi.EXTENTS[4] == "groups"  # since 0.5


def test_scale_layouts():
    values = enum("kiln_scale_layout")
    assert values == {"KILN_SCALES_ROW_MAJOR": 0, "KILN_SCALES_COL_MAJOR_TMA": 1, "KILN_SCALES_PACKED_UE8M0": 2}
    assert {f"KILN_SCALES_{n.upper()}": v for n, v in abi.SCALE_LAYOUT.items()} == values


def test_option_and_scalar_bits():
    defines = {m.group(1).lower(): int(m.group(2), 16)
               for m in re.finditer(r"#define KILN_OPTION_(\w+) 0x([0-9a-fA-F]+)u", header())}
    assert defines == abi.OPTION_BITS
    assert abi.OPTION_BITS["group"] == 0x10


def test_default_group_size():
    m = re.search(r"#define KILN_DEFAULT_GROUP_SIZE (\d+)", header())
    assert m and int(m.group(1)) == abi.DEFAULT_GROUP_SIZE
    assert abi.DEFAULT_GROUP_SIZE in abi.GROUP_SIZES


def test_enums_by_name():
    assert enum("kiln_dtype") == {"KILN_DTYPE_UNSET": abi.DTYPE_UNSET, "KILN_DTYPE_BF16": abi.DTYPE["bf16"],
                                  "KILN_DTYPE_FP16": abi.DTYPE["fp16"]}
    assert enum("kiln_status") == abi.STATUS
    assert [k.removeprefix("KILN_ROLE_").lower() for k in enum("kiln_role")] == list(abi.ROLE_NAMES)
    assert [k.removeprefix("KILN_ELEM_").lower() for k in enum("kiln_elem")] == list(abi.ELEMS)


MIRRORS = {
    "kiln_plan_options": "PlanOptions",
    "kiln_args": "Args",
    "kiln_tensor_desc": "TensorDesc",
    "kiln_kernel_desc": "KernelDesc",
    "kiln_variant_info": "VariantInfo",
    "kiln_tensor_layout": "TensorLayout",
}


@pytest.mark.parametrize("c_name", sorted(MIRRORS))
def test_struct_fields_in_header_order(c_name):
    mirror = getattr(abi, MIRRORS[c_name])
    assert [f[0] for f in mirror._fields_] == struct_fields(c_name)


def test_fields_added_in_0_5_come_last():
    """0.5 added group_size, scale_layout and ue8m0 at kiln_plan_options' end: a 0.4 caller's
    smaller struct stays valid."""
    assert [f[0] for f in abi.PlanOptions._fields_][-3:] == ["group_size", "scale_layout", "ue8m0"]
    assert abi.PlanOptions.group_size.offset >= abi.PlanOptions.max_tokens.offset + 8


def test_layouts_match_the_compiler(tmp_path):
    """sizeof and offsetof of every mirrored struct, from a C compiler reading kiln.h."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler here")
    (tmp_path / "kiln").mkdir()
    (tmp_path / "kiln" / "version.h").write_text("/* a stand-in: the layouts do not depend on it */\n")
    lines = ["#define KILN_NO_TYPED_ENTRY_POINTS", "#include <stdio.h>", "#include <stddef.h>", '#include "kiln/kiln.h"',
             "int main(void) {"]
    for c_name, py_name in MIRRORS.items():
        lines.append(f'  printf("{py_name} sizeof %zu\\n", sizeof({c_name}));')
        for field in struct_fields(c_name):
            lines.append(f'  printf("{py_name} {field} %zu\\n", offsetof({c_name}, {field}));')
    lines += ["  return 0;", "}"]
    (tmp_path / "layout.c").write_text("\n".join(lines) + "\n")
    exe = tmp_path / "layout"
    subprocess.run([cc, "-std=c11", f"-I{tmp_path}", f"-I{REPO / 'runtime' / 'include'}", str(tmp_path / "layout.c"),
                    "-o", str(exe)], check=True, capture_output=True)
    got = {}
    for line in subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines():
        struct, field, value = line.split()
        got[(struct, field)] = int(value)
    for c_name, py_name in MIRRORS.items():
        mirror = getattr(abi, py_name)
        assert got[(py_name, "sizeof")] == ctypes.sizeof(mirror), py_name
        for field in struct_fields(c_name):
            assert got[(py_name, field)] == getattr(mirror, field).offset, (py_name, field)


# ---- 0.5: KILN_ROLE_SCALE_UB and kiln_tensor_desc.optional -------------------------------

def test_scale_ub_role():
    assert enum("kiln_role")["KILN_ROLE_SCALE_UB"] == 6
    assert abi.ROLE_NAMES.index("scale_ub") == 6
    assert len(abi.ROLE_NAMES) <= abi.ROLE_SLOTS


def test_tensor_desc_optional_comes_last():
    """0.5 added kiln_tensor_desc.optional after alignment; the mirror's sizeof grew with it
    (8 + 7 * 4 bytes, padded to the pointer's alignment)."""
    assert [f[0] for f in abi.TensorDesc._fields_][-2:] == ["alignment", "optional"]
    assert abi.TensorDesc.optional.offset == abi.TensorDesc.alignment.offset + 4
    assert abi.TensorDesc.optional.size == 4
    assert ctypes.sizeof(abi.TensorDesc) == ctypes.sizeof(ctypes.c_void_p) + 7 * 4 + (
        4 if ctypes.sizeof(ctypes.c_void_p) == 8 else 0)


def test_kernels_json_marks_optional_tensors():
    """generated/kernels.json: every tensor says whether it is optional; per_token_fp8's
    scale_ub is the optional fp32 [1] input the ABI describes."""
    import json
    data = json.loads((REPO / "generated" / "kernels.json").read_text())
    for k in data["kernels"]:
        for t in k["tensors"]:
            assert isinstance(t["optional"], bool), (k["name"], t["name"])
            assert t["role"] in abi.ROLE_NAMES, (k["name"], t["role"])
    ptf = next(k for k in data["kernels"] if k["name"] == "per_token_fp8")
    assert [t["name"] for t in ptf["tensors"]] == ["out", "scales", "input", "scale_ub"]
    ub = ptf["tensors"][-1]
    assert (ub["role"], ub["direction"], ub["elem"], ub["rows"], ub["cols"], ub["alignment"], ub["optional"]) == (
        "scale_ub", "in", "KILN_ELEM_F32", "KILN_EXTENT_ONE", "KILN_EXTENT_ONE", 4, True)
    optional = [(k["name"], t["name"]) for k in data["kernels"] for t in k["tensors"] if t["optional"]]
    assert optional == [("per_token_fp8", "scale_ub")]


class TensorDesc04(ctypes.Structure):
    """kiln_tensor_desc before 0.5 (no optional): 32 bytes on 64-bit platforms."""
    _fields_ = [f for f in abi.TensorDesc._fields_ if f[0] != "optional"]


def fake_library(tensor_cls, descs):
    """A stand-in for libkiln's two descriptor calls, handing out one kernel whose tensors are
    an array of `tensor_cls` (the library's own layout)."""
    array = (tensor_cls * len(descs))(*[tensor_cls(*d) for d in descs])

    class Lib:
        keep = array

        @staticmethod
        def kiln_kernel_count():
            return 1

        @staticmethod
        def kiln_kernel_at(i, ref):
            d = ref._obj  # the KernelDesc behind ctypes.byref
            d.name, d.tensor_count = b"per_token_fp8", len(descs)
            d.tensors = ctypes.cast(array, ctypes.POINTER(abi.TensorDesc))
            return abi.SUCCESS
    return Lib()


# per_token_fp8's tensors as kiln.h lays them out: name, role, direction, elem, rows, cols, alignment[, optional]
PER_TOKEN_FP8 = [(b"out", 3, 1, 1, 1, 2, 16, 0), (b"scales", 4, 1, 2, 1, 0, 4, 0), (b"input", 0, 0, 0, 1, 2, 16, 0),
                 (b"scale_ub", 6, 0, 2, 0, 0, 4, 1)]


def test_tensor_desc_mirror_reads_the_library_layout():
    lib = fake_library(abi.TensorDesc, PER_TOKEN_FP8)
    assert abi._tensor_desc_problem(lib) is None
    d = abi.KernelDesc()
    lib.kiln_kernel_at(0, ctypes.byref(d))
    assert [(d.tensors[i].name, d.tensors[i].role, d.tensors[i].optional) for i in range(4)] == [
        (b"out", 3, 0), (b"scales", 4, 0), (b"input", 0, 0), (b"scale_ub", 6, 1)]


def test_tensor_desc_size_mismatch_is_found():
    """A library whose kiln_tensor_desc is 0.4's (no optional), or one field larger than the
    mirror, reads back wrong (the first tensor's optional, or the later tensors' fields):
    _check_layout reports it."""
    old = fake_library(TensorDesc04, [d[:-1] for d in PER_TOKEN_FP8])
    assert "kernel 0's tensor" in (abi._tensor_desc_problem(old) or "")
    d = abi.KernelDesc()
    old.kiln_kernel_at(0, ctypes.byref(d))
    own = ctypes.cast(d.tensors, ctypes.POINTER(TensorDesc04))  # read with its own layout, it is fine
    assert [(own[i].name, own[i].role) for i in range(3)] == [(b"out", 3), (b"scales", 4), (b"input", 0)]
    grown = type("TensorDesc06", (ctypes.Structure,), {"_fields_": abi.TensorDesc._fields_ + [("extra", ctypes.c_int64)]})
    assert "kernel 0's tensor" in (abi._tensor_desc_problem(fake_library(abi.TensorDesc, PER_TOKEN_FP8), grown) or "")
