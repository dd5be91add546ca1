"""A library built with -Dkernels= (meson option `kernels`) holds the tuned instances of the
kernels it names and no others, and serves every other kernel by its generic kernel.

CI builds one such library (KILN_SELECTION_BUILD = its build folder, configured with
-Dkernels=... and -Darchs=sm90) and runs this file against it; without that variable every
test skips. No GPU is needed: kiln_explain answers from the dispatch tables.

    KILN_SELECTION_BUILD=build-select python3 -m pytest tests/build/test_kernel_selection.py
"""
import json
import os
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = os.environ.get("KILN_SELECTION_BUILD")
pytestmark = pytest.mark.skipif(not BUILD, reason="KILN_SELECTION_BUILD is not set (CI sets it for its -Dkernels= build)")


def build_option(name):
    with open(Path(BUILD) / "meson-info" / "intro-buildoptions.json") as f:
        return next(o["value"] for o in json.load(f) if o["name"] == name)


@pytest.fixture(scope="module")
def kiln():
    os.environ["KILN_LIBRARY"] = str(next(p for p in (Path(BUILD) / "runtime").glob("libkiln.so.*.*.*") if p.is_file()))
    sys.path.insert(0, str(REPO / "python"))
    import kiln as package
    return package


def sets(arch):
    """(kernel, hidden, ranks) of every config set for arch in configs/ (ranks 0: not a communicator kernel)."""
    out = []
    for folder in sorted((REPO / "configs").glob(f"*/{arch}/*")):
        kernel, hidden = folder.parts[-3], int(folder.name)
        ranks = sorted(int(p.name[2:]) for p in folder.glob("tp*"))
        out += [(kernel, hidden, r) for r in ranks] if ranks else [(kernel, hidden, 0)]
    return out


def test_the_selection_is_a_strict_subset():
    chosen = build_option("kernels")
    assert chosen, "the selection build must name its kernels (-Dkernels=...)"
    assert len({k for k, _, _ in sets("sm90")} - set(chosen)) > 0, "it must leave some kernel with sm90 sets out"


def test_only_the_chosen_kernels_instances_are_compiled():
    with open(Path(BUILD) / "compile_commands.json") as f:
        files = [e["file"] for e in json.load(f)]
    compiled = {m.group(1) for f in files if (m := re.search(r"generated/([a-z0-9_]+)/sm[0-9]+/", f))}
    assert compiled == set(build_option("kernels"))


def test_chosen_kernels_run_their_sets_and_the_others_their_generic_kernel(kiln):
    chosen = set(build_option("kernels"))
    checked = 0
    for kernel, hidden, ranks in sets("sm90"):
        for tokens in (1, 4096):
            v = kiln.explain(kernel, "sm90", hidden, tokens, ranks=ranks or None)
            if kernel in chosen:
                assert not v.is_fallback and v.config.startswith(f"configs/{kernel}/sm90/{hidden}/"), (kernel, hidden, v)
            else:
                assert v.is_fallback and v.name == f"{kernel}_generic", (kernel, hidden, v)
            checked += 1
    assert checked > 50
