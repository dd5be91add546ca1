"""Shared by the tests: the repository root, and whether the installed package is under test."""

import os
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[2]
# .ci/run sets this when it tests the wheel installed in a venv (KILN_LIBRARY unset).
INSTALLED = os.environ.get("KILN_TEST_INSTALLED") == "1"
KNOWN_ARCHS = ("sm80", "sm86", "sm89", "sm90", "sm100", "sm103", "sm120")  # kiln-gen's arch table
