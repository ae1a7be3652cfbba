#!/usr/bin/env python3
"""Which BLAS PyTorch multiplies matrices with, and whether a benchmark may
compare against it.

  torch_blas.py          prints one line: the kind, the library's file and
                         torch's float32 256x256 matmul speed on one thread

Debian's python3-torch calls the system's libblas.so.3, which is whatever
the alternatives system (or LD_LIBRARY_PATH) selects: OpenBLAS when
libopenblas0 is installed, otherwise the reference BLAS, several times
slower, against which any ratio is meaningless.  The library is the one
that defines sgemm_ as libtorch_cpu sees it (dlsym on its handle, which
searches it and its dependencies in the dynamic linker's order), named by
dladdr.

Exit status: 0 an optimised BLAS (OpenBLAS, BLIS, MKL, ATLAS or a library
not known here, reported as such), 4 the reference BLAS (refuse to report
PyTorch ratios), 3 torch cannot be imported.
"""
import ctypes
import os
import sys
import time

KINDS = (("openblas", "OpenBLAS"), ("blis", "BLIS"), ("mkl", "MKL"),
         ("atlas", "ATLAS"))


class DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p),
                ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p),
                ("dli_saddr", ctypes.c_void_p)]


def sgemm_library():
    """The file of the library whose sgemm_ libtorch_cpu calls, or None."""
    torch_libs = [line.split()[-1] for line in open("/proc/self/maps")
                  if "libtorch_cpu" in line]
    if not torch_libs:
        return None
    try:
        sym = ctypes.CDLL(torch_libs[0]).sgemm_
    except (OSError, AttributeError):
        return None
    info = DlInfo()
    if not ctypes.CDLL(None).dladdr(ctypes.cast(sym, ctypes.c_void_p),
                                    ctypes.byref(info)):
        return None
    return os.path.realpath(info.dli_fname.decode())


# How each optimised BLAS is told its thread count, and the C type it takes.
THREAD_SETTERS = (("openblas_set_num_threads", ctypes.c_int),
                  ("bli_thread_set_num_threads", ctypes.c_int64),
                  ("MKL_Set_Num_Threads", ctypes.c_int))


def set_threads(torch, n):
    """Runs torch on n threads, its BLAS included.  torch.set_num_threads
    does not reach a BLAS that torch calls through libblas.so.3: OpenBLAS
    then runs on every core, and a "one thread" step's CPU time adds up
    its threads, spinning included (Debian's PyTorch on a 2-core machine:
    2.5-2.7 ms a step of mlp at batch 32 instead of 1.04-1.10 ms).
    Returns the name of the BLAS's setter, or None when it has none."""
    torch.set_num_threads(n)
    path = sgemm_library()
    if path is None:
        return None
    lib = ctypes.CDLL(path)
    for name, ctype in THREAD_SETTERS:
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.restype = None
            fn(ctype(n))
            return name
    return None


def blas():
    """(kind, file, GFLOP/s) of the BLAS behind torch; kind is
    'reference' for the reference BLAS, None when torch is missing."""
    try:
        import torch
    except ImportError:
        return None, None, 0.0
    set_threads(torch, 1)
    a = torch.randn(256, 256)
    a @ a
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 0.2:
        a @ a
        reps += 1
    gflops = 2 * 256 ** 3 * reps / (time.perf_counter() - t0) / 1e9
    path = sgemm_library()
    if path is None:
        return "unknown (sgemm_ not found)", "-", gflops
    low = path.lower()
    for key, kind in KINDS:
        if key in low:
            return kind, path, gflops
    # Debian's reference BLAS (libblas3) lives in .../blas/libblas.so.3
    if os.path.basename(os.path.dirname(path)) == "blas" or \
            "refblas" in low or "netlib" in low:
        return "reference", path, gflops
    return "unknown", path, gflops


def main():
    kind, path, gflops = blas()
    if kind is None:
        print("torch: not installed")
        return 3
    print("torch BLAS: %s (%s), float32 256x256 matmul %.1f GFLOP/s on one "
          "thread" % (kind, path, gflops))
    return 4 if kind == "reference" else 0


if __name__ == "__main__":
    sys.exit(main())
