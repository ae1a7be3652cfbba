#!/usr/bin/env python3
"""Worst-case stack of a generated model's functions, from gcc's figures.

  tools/stack_usage.py [--pcc PCC] [--cc GCC] [--cflags FLAGS]
                       [--batch N] [--real T] [-DNAME=VALUE ...] [--path]
                       MODEL.pcg ...

Each model is compiled by pcc (by default the one in build/ or on PATH),
then the generated C and every runtime source (runtime/pcg_*.c) by gcc
(>= 10) at -O2 for the host (or the target --cflags selects, e.g.
--cc arm-none-eabi-gcc --cflags "-mcpu=cortex-m4 -mthumb
-mfpu=fpv4-sp-d16 -mfloat-abi=hard -DPCG_NO_FILES") with -fstack-usage (each function's frame)
and -fcallgraph-info=su (who calls whom).  For each external function of
the model (P_init, P_forward, P_train_bp, P_step_bp, P_save_mem, ...) the
worst call path is the largest sum of frames along a path of the call
graph from it; the script prints it (with --path, the path itself) and
the largest over the model's functions.  -D options go to the compiler:
use them for the tile sizes (-DPCG_GEMM_PANEL_BYTES=4096, ...).

What is not counted: functions outside the model and the runtime (libm,
memcpy, ...), which have no figures here; they are listed.  A recursive
call would make the bound infinite: none is expected, and the script
stops if it finds one.  Frames marked "dynamic,bounded" are counted at
their bound.  The figures are for the host's ABI and this gcc; another
target or compiler differs (measure there the same way).
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIME = os.path.join(ROOT, "runtime")

NODE = re.compile(r'node: \{ title: "([^"]*)" label: "([^"]*)"')
EDGE = re.compile(r'edge: \{ sourcename: "([^"]*)" targetname: "([^"]*)"')
BYTES = re.compile(r"\\n(\d+) bytes \(([^)]*)\)")


def find_pcc():
    for cand in (os.path.join(ROOT, "build", "compiler", "pcc"),
                 shutil.which("pcc") or ""):
        if cand and os.access(cand, os.X_OK):
            return cand
    sys.exit("stack_usage: no pcc found (give --pcc)")


def read_graph(ci_files):
    frames, label, edges = {}, {}, {}
    for ci in ci_files:
        with open(ci) as f:
            text = f.read()
        for title, lab in NODE.findall(text):
            m = BYTES.search(lab)
            if m:
                frames[title] = int(m.group(1))
                label[title] = lab.split("\\n")[0]
        for src, dst in EDGE.findall(text):
            edges.setdefault(src, set()).add(dst)
    return frames, label, edges


def worst_paths(frames, edges):
    memo, outside = {}, set()

    def walk(f, stack):
        if f in memo:
            return memo[f]
        if f in stack:
            sys.exit("stack_usage: recursion through %s" % f)
        if f not in frames:
            outside.add(f)
            memo[f] = (0, [])
            return memo[f]
        best = (0, [])
        for g in sorted(edges.get(f, ())):
            w = walk(g, stack | {f})
            if w[0] > best[0]:
                best = w
        memo[f] = (frames[f] + best[0], [f] + best[1])
        return memo[f]

    return walk, outside


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pcc")
    ap.add_argument("--cc", default="gcc")
    ap.add_argument("--cflags", default="")
    ap.add_argument("--batch", default="1")
    ap.add_argument("--real", default="float")
    ap.add_argument("--path", action="store_true")
    ap.add_argument("-D", action="append", default=[], dest="defines")
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()
    pcc = args.pcc or find_pcc()
    flags = ["-std=c11", "-O2", "-fstack-usage", "-fcallgraph-info=su",
             "-I" + RUNTIME] + args.cflags.split() + ["-D" + d for d in
                                                     args.defines]
    print("%s -O2 %s, --real %s --batch %s" % (args.cc, " ".join(
        args.cflags.split() + ["-D" + d for d in args.defines]),
        args.real, args.batch))
    with tempfile.TemporaryDirectory(prefix="pcc-stack-") as tmp:
        rt = []
        for src in sorted(glob.glob(os.path.join(RUNTIME, "pcg_*.c"))):
            obj = os.path.join(tmp, "rt_" + os.path.basename(src)[:-2] + ".o")
            subprocess.run([args.cc] + flags + ["-c", src, "-o", obj],
                           check=True)
            rt.append(obj[:-2] + ".ci")
        for model in args.models:
            name = os.path.splitext(os.path.basename(model))[0]
            gen = os.path.join(tmp, name + ".c")
            subprocess.run([pcc, model, "-o", gen, "--prefix", name,
                            "--real", args.real, "--batch", args.batch],
                           check=True)
            obj = os.path.join(tmp, name + ".o")
            subprocess.run([args.cc] + flags + ["-I" + tmp, "-c", gen, "-o",
                            obj], check=True)
            frames, label, edges = read_graph(rt + [obj[:-2] + ".ci"])
            walk, outside = worst_paths(frames, edges)
            entries = sorted(t for t in frames
                             if t.startswith(name + "_") and ":" not in t)
            print("\n%s: worst call path by function (bytes)" % name)
            top = (0, "")
            for e in entries:
                w, path = walk(e, frozenset())
                print("  %-28s %7d" % (e, w))
                if args.path:
                    print("      " + " > ".join("%s %d" % (label[p],
                          frames[p]) for p in path))
                if w > top[0]:
                    top = (w, e)
            print("  worst: %d bytes (%s)" % top)
        print("\nnot counted (outside the model and the runtime): " +
              " ".join(sorted(label_of(o) for o in outside)))


def label_of(title):
    return title.split(":")[-1]


if __name__ == "__main__":
    main()
