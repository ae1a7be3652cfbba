#!/usr/bin/env python3
"""Embedding without a file system and in C++.

  check_embed.py PCC SRCDIR [RUNTIME_LIB]

  - With -DPCG_NO_FILES, every runtime source (runtime/pcg_*.c) and the
    generated digits model compile with gcc -std=c11 -Wall -Wextra
    -Wpedantic -Werror, and nm finds in none of their objects a reference
    to a file function (open, fopen, read, write, ...); a negative control
    checks that nm does find them in pcg_ckpt.c built without it.
    tests/guarantees/embed_drive.c, built as C with those objects, trains
    and saves to and loads from memory.
  - embed_drive.c built as C++ (g++ -std=c++11 -Wall -Wextra -Werror)
    includes the generated header, links the objects above (not the
    build's library RUNTIME_LIB, which a sanitized build instruments), and
    runs: skipped when g++ is not found.
Prints TAP.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
from tap import done, ok, skip  # noqa: E402

PCC, SRC, RUNTIME_LIB = sys.argv[1:4]
RUNTIME = os.path.join(SRC, "runtime")
DRIVE = os.path.join(SRC, "tests", "guarantees", "embed_drive.c")
WFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]
FILE_CALLS = {"open", "fopen", "fsync", "rename", "mkstemp", "fchmod",
              "unlink", "close", "read", "write", "fread", "fwrite"}


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True,
                          errors="replace", **kw)


def file_calls(obj):
    """The file functions obj refers to (fopen64 counts as fopen)."""
    r = run(["nm", "-u", obj])
    if r.returncode != 0:
        return {"<nm failed: %s>" % r.stderr.strip()}
    names = set()
    for line in r.stdout.splitlines():
        name = line.split()[-1].split("@")[0]
        base = name[:-2] if name.endswith("64") else name
        if name in FILE_CALLS or base in FILE_CALLS:
            names.add(name)
    return names


def compile_c(src, obj, flags):
    return run(["gcc"] + WFLAGS + ["-O2"] + flags +
               ["-I" + RUNTIME, "-c", src, "-o", obj])


def main():
    print("TAP version 13")
    with tempfile.TemporaryDirectory(prefix="pcc-embed-") as tmp:
        gen = os.path.join(tmp, "digits.c")
        r = run([PCC, os.path.join(SRC, "examples", "digits.pcg"),
                 "-o", gen])
        ok(r.returncode == 0, "pcc compiles digits", r.stderr)
        if r.returncode != 0:
            return done()

        objs, errors, calls = [], "", {}
        srcs = sorted(glob.glob(os.path.join(RUNTIME, "pcg_*.c"))) + [gen]
        for src in srcs:
            obj = os.path.join(tmp, "nf_" + os.path.basename(src) + ".o")
            r = compile_c(src, obj, ["-DPCG_NO_FILES"])
            if r.returncode != 0:
                errors += src + ":\n" + r.stderr
                continue
            objs.append(obj)
            found = file_calls(obj)
            if found:
                calls[os.path.basename(src)] = sorted(found)
        ok(not errors, "-DPCG_NO_FILES: the runtime and digits.c compile "
           "warning-free (gcc)", errors)
        ok(not errors and not calls, "-DPCG_NO_FILES: no object refers to "
           "a file function (nm -u)", repr(calls))

        control = os.path.join(tmp, "control.o")
        r = compile_c(os.path.join(RUNTIME, "pcg_ckpt.c"), control, [])
        ok(r.returncode == 0 and {"fopen", "rename"} <= file_calls(control),
           "control: nm finds fopen and rename in pcg_ckpt.c built with "
           "files", r.stderr)

        exe = os.path.join(tmp, "drive_c")
        r = run(["gcc"] + WFLAGS + ["-DPCG_NO_FILES", "-I" + RUNTIME,
                "-I" + tmp, DRIVE] + objs + ["-o", exe, "-lm"])
        if r.returncode == 0:
            r = run([exe])
        ok(r.returncode == 0, "-DPCG_NO_FILES: a program trains, saves to "
           "and loads from memory", r.stderr)

        if not shutil.which("g++"):
            skip("C++ program", "g++ not found")
        else:
            # linked with the objects built above (C, -DPCG_NO_FILES), not
            # the build's library, which may be built with sanitizers
            exe = os.path.join(tmp, "drive_cxx")
            r = run(["g++", "-std=c++11", "-Wall", "-Wextra", "-Werror",
                     "-DPCG_NO_FILES", "-x", "c++", "-I" + RUNTIME,
                     "-I" + tmp, DRIVE, "-x", "none"] + objs
                    + ["-o", exe, "-lm"])
            if r.returncode == 0:
                r = run([exe])
            ok(r.returncode == 0, "C++: a program including the generated "
               "header trains by Z-IL and BP to the same parameters and "
               "saves to and loads from memory", r.stderr)
    return done()


if __name__ == "__main__":
    sys.exit(main())
