#!/bin/sh
# meson test's entry for the Python tests: pytest under $KILN_PYTHON, by default Debian's
# /usr/bin/python3 (it has pytest). On a GPU machine point KILN_PYTHON at the Python that
# has PyTorch: without PyTorch the GPU tests skip, saying so.
exec "${KILN_PYTHON:-/usr/bin/python3}" -m pytest "$@"
