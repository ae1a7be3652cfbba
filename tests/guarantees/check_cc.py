#!/usr/bin/env python3
"""Guarantees of the generated code, with gcc and with clang.

  check_cc.py PCC SRCDIR RUNTIME_LIB

For every example model, float and double, both granularities, and each
of gcc and clang found on PATH:
  - the generated C compiles with -std=c11 -Wall -Wextra -Wpedantic -Werror
    (at -O1, so that the warnings that need data flow are on);
  - the object references no malloc, calloc, realloc or free (nm -u);
  - built with -fsanitize=undefined -fno-sanitize-recover=all together with
    the runtime (statement granularity), tests/guarantees/drive.c runs
    every generated function once and UBSan reports nothing (both at
    -O0: clang took 66 s for the runtime's GEMM with UBSan at -O1, 8 at
    -O0, and the runs stay short).
The runtime's compute kernels (every runtime source but the checkpoint
I/O, and the thread pool built with PCG_NO_THREADS: with threads its
pcg_pool_create allocates the pool) and the built runtime library
RUNTIME_LIB (but those two) are checked with nm too.
A negative control checks that the nm check catches a call of malloc.
Prints TAP.
"""
import concurrent.futures
import glob
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
from tap import done, ok  # noqa: E402

PCC, SRC, RUNTIME_LIB = sys.argv[1:4]
RUNTIME = os.path.join(SRC, "runtime")
HERE = os.path.join(SRC, "tests", "guarantees")
WFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]
UBSAN = ["-fsanitize=undefined", "-fno-sanitize-recover=all"]
ALLOC = {"malloc", "calloc", "realloc", "free"}


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True,
                          errors="replace", **kw)


def allocations(obj):
    """The allocation functions obj (an object or archive) refers to."""
    r = run(["nm", "-u", obj])
    if r.returncode != 0:
        return {"<nm failed: %s>" % r.stderr.strip()}
    names = set()
    for line in r.stdout.splitlines():
        f = line.split()
        if f and f[-1].split("@")[0] in ALLOC:
            names.add(f[-1])
    return names


def runtime_sources():
    return sorted(f for f in glob.glob(os.path.join(RUNTIME, "pcg_*.c")))


def ubsan_runtime(cc, work, pool):
    """The runtime compiled with UBSan, as objects; None on failure."""
    def compile_one(src):
        obj = os.path.join(work, "ubsan_%s_%s.o" % (cc, os.path.basename(src)))
        r = run([cc] + WFLAGS + UBSAN + ["-O0", "-c", src, "-o", obj])
        return obj if r.returncode == 0 else None
    objs = list(pool.map(compile_one, runtime_sources()))
    return None if None in objs else objs


def kernel(cc, src, work):
    """Compile one runtime source with -Werror and nm-check it."""
    # pcg_pool_create allocates the pool (docs/api.md §6), the one
    # allocation of the runtime; built without threads the file
    # allocates nothing
    args = (["-DPCG_NO_THREADS"]
            if os.path.basename(src) == "pcg_pool.c" else [])
    what = "%s: %s %s" % (cc, os.path.basename(src), " ".join(args + [""]))
    obj = os.path.join(work, cc + "_" + os.path.basename(src) + ".o")
    r = run([cc] + WFLAGS + ["-O2", "-c", src, "-o", obj] + args)
    found = allocations(obj) if r.returncode == 0 else set()
    return [(r.returncode == 0, what + "compiles with -Werror", r.stderr),
            (not found, what + "references no allocation", " ".join(found))]


def one(cc, name, real, gran, work, rt):
    """Compile, nm-check and UBSan-run one variant; returns TAP results."""
    out = []
    tag = "%s %s %s %s" % (cc, name, real, gran)
    base = os.path.join(work, "%s_%s_%s_%s" % (cc, name, real, gran))
    r = run([PCC, os.path.join(SRC, "examples", name + ".pcg"), "-o",
             base + ".c", "--prefix", "m", "--real", real,
             "--granularity", gran])
    if r.returncode != 0:
        return [(False, tag + ": pcc", r.stderr)]
    r = run([cc] + WFLAGS + ["-O1", "-I", RUNTIME, "-c", base + ".c",
                             "-o", base + ".o"])
    out.append((r.returncode == 0, tag + ": compiles with -Werror",
                r.stderr))
    if r.returncode == 0:
        found = allocations(base + ".o")
        out.append((not found, tag + ": no allocation referenced",
                    " ".join(sorted(found))))
    if gran != "stmt":
        return out  # UBSan: one granularity is enough
    exe = base + "_ubsan"
    r = run([cc] + WFLAGS + UBSAN + ["-O0", "-I", RUNTIME,
             '-DMODEL_H="%s.h"' % base, os.path.join(HERE, "drive.c"),
             base + ".c"] + rt + ["-o", exe, "-lm"])
    if r.returncode != 0:
        out.append((False, tag + ": builds with UBSan", r.stderr))
        return out
    r = run([exe], env=dict(os.environ, UBSAN_OPTIONS="print_stacktrace=1"))
    out.append((r.returncode == 0 and "runtime error" not in r.stderr,
                tag + ": runs clean under UBSan",
                r.stdout + r.stderr))
    return out


def main():
    compilers = [c for c in ("gcc", "clang") if shutil.which(c)]
    ok(len(compilers) > 0, "a C compiler is found (%s)" % compilers)
    names = sorted(os.path.basename(f)[:-4] for f in
                   glob.glob(os.path.join(SRC, "examples", "*.pcg")))
    with tempfile.TemporaryDirectory() as work, \
            concurrent.futures.ThreadPoolExecutor(
                max(1, min(4, os.cpu_count() or 1))) as pool:
        # the negative control of the nm check
        bad = os.path.join(work, "bad.c")
        with open(bad, "w") as f:
            f.write("#include <stdlib.h>\nvoid *g(void);\n"
                    "void *g(void) { return malloc(4); }\n")
        r = run([compilers[0], "-c", bad, "-o", bad + ".o"])
        ok(r.returncode == 0 and allocations(bad + ".o") == {"malloc"},
           "negative control: the nm check sees a call of malloc")

        # the runtime: its kernels, as compiled here, and the library built
        kernels = [(cc, src) for cc in compilers for src in runtime_sources()
                   # file I/O (stdio), not a compute kernel
                   if os.path.basename(src) != "pcg_ckpt.c"]
        for res in pool.map(lambda j: kernel(*j, work), kernels):
            for cond, what, detail in res:
                ok(cond, what, detail)
        r = run(["nm", "-u", "-A", RUNTIME_LIB])
        bad = [l for l in r.stdout.splitlines()
               if l.split()[-1].split("@")[0] in ALLOC
               and "pcg_ckpt" not in l.split(":")[1]
               and "pcg_pool" not in l.split(":")[1]]
        ok(r.returncode == 0 and not bad,
           "the built runtime library's kernels reference no allocation",
           "\n".join(bad) + r.stderr)

        rt = {cc: ubsan_runtime(cc, work, pool) for cc in compilers}
        for cc in compilers:
            ok(rt[cc] is not None, "%s: the runtime builds with UBSan" % cc)
        jobs = [(cc, n, real, gran) for cc in compilers if rt[cc]
                for n in names
                for real in ("float", "double") for gran in ("stmt", "op")]
        for res in pool.map(lambda j: one(*j, work, rt[j[0]]), jobs):
            for cond, what, detail in res:
                ok(cond, what, detail)
    return done()


if __name__ == "__main__":
    sys.exit(main())
