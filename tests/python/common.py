"""Shared by the tests of the pcg package (tests/python/): TAP from
tests/tap.py, numpy or a clean skip, and the package from the build tree.

A test script does

    from common import tap, np, pcg, need_numpy
    need_numpy(N)          # prints N skips and exits when numpy is missing

meson runs the scripts with PYTHONPATH=BUILDDIR/python and a private
PCG_CACHE_DIR (tests/meson.build)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import tap  # noqa: E402

try:
    import numpy as np
except ImportError:
    np = None

pcg = None
if np is not None:
    import pcg  # noqa: F401  (the build tree's, through PYTHONPATH)

SRC = os.path.dirname(os.path.dirname(HERE))


def need_numpy(what="pcg package tests"):
    """Exit with a TAP skip when numpy is missing, or in a sanitized build
    (a shared library with the sanitized runtime cannot be loaded into an
    unsanitized Python)."""
    if np is None:
        tap.skip(what, "numpy is not installed")
        sys.exit(tap.done())
    if os.environ.get("PCG_TEST_SANITIZE", "none") != "none":
        tap.skip(what, "sanitized build: the runtime cannot be loaded "
                 "into Python")
        sys.exit(tap.done())


def example(name):
    return os.path.join(SRC, "examples", name)
