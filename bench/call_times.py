#!/usr/bin/env python3
"""Where a training step's time goes, call by call, alone and on a pool.

    bench/call_times.py MODEL.pcg [--build BUILD] [--batch B] [--threads T]
                        [--steps N] [--method bp|zil] [--cflags FLAGS]
                        [--define NAME=VALUE ...] [--top K] [--by-kind]

pcc (BUILD/compiler/pcc) compiles the model in float; each statement of
the generated step that is a runtime call (a product, a convolution, an
element-wise pass: the lines of the generated C that begin with `pcg_`)
is wrapped in a wall-clock timer; the result is built as a shared library
with BUILD's runtime and CFLAGS (default -O3 -march=native, the native
build's), and BUILD/bench/step_timer --per-call runs N steps of
P_train_bp (or P_train_zil) with no pool, then N on a pool of T threads
(default 2).  It prints the K calls (default 25) that lose the most on the
pool: a call's time alone, on the pool, the ratio, and the microseconds
it loses against a perfect division (time on the pool minus time alone
over T), with the model's source line the call belongs to; then the
totals.  With --by-kind the rows are kinds of call instead: the runtime
function with the element-wise kernel it runs (k_relu, k_add_..._da),
summed over the step, the kinds that take the most time first.  The timers add about 50 ns a call to both sides.

A call that is slower on the pool than alone is usually moving data
between the cores' caches: its inputs were written, or its outputs last
read, by the other thread (docs/performance.md, "Two threads on an
AVX-512 machine").  A benchmark: it prints figures and checks nothing.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A function's first line in the generated C: its name at column 0.
FUNC = re.compile(r"^([A-Za-z_]\w*)\(")
# A runtime call on one line, as the generated code writes them.
CALL = re.compile(r"^(\t+)(pcg_\w+\(.*\);)$")
# The source line a group of calls comes from.
SOURCE = re.compile(r"^\t+/\* (\S+\.pcg:\d+: .*?) \*/$")


def c_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def instrument(text):
    """The generated C with each runtime call of a non-kernel function
    timed into call_times_us[i], and the labels."""
    out, labels, kinds = [], [], []
    func, source = "", ""
    for line in text.split("\n"):
        f = FUNC.match(line)
        if f:
            func = f.group(1)
        s = SOURCE.match(line)
        if s:
            source = s.group(1)
        c = CALL.match(line)
        if c and not func.startswith("k_"):
            i = len(labels)
            name = c.group(2).split("(", 1)[0]
            kernel = re.search(r"\bk_\w+", c.group(2))
            kinds.append(name + (" " + kernel.group(0) if kernel else ""))
            labels.append("%s in %s, %s" % (name, func, source))
            out.append("%s{ double t0_ = call_now(); %s "
                       "call_times_us[%d] += call_now() - t0_; }"
                       % (c.group(1), c.group(2), i))
        else:
            out.append(line)
    head = ("#define _POSIX_C_SOURCE 200809L\n#include <time.h>\n"
            "static double call_now(void)\n{\n\tstruct timespec t;\n"
            "\tclock_gettime(CLOCK_MONOTONIC, &t);\n"
            "\treturn (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;\n"
            "}\n"
            "double call_times_us[%d];\nconst int call_times_n = %d;\n"
            % (max(len(labels), 1), len(labels)))
    return head + "\n".join(out), labels, kinds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--method", choices=("bp", "zil"), default="bp")
    ap.add_argument("--cflags", default="-O3 -march=native")
    ap.add_argument("--define", action="append", default=[])
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--by-kind", action="store_true")
    a = ap.parse_args()
    pcc = os.path.join(a.build, "compiler", "pcc")
    timer = os.path.join(a.build, "bench", "step_timer")
    lib = os.path.join(a.build, "runtime", "libpcg_runtime.a")
    for path in (pcc, timer, lib):
        if not os.path.exists(path):
            sys.exit("call_times.py: %s is missing (build %s first)"
                     % (path, a.build))
    with tempfile.TemporaryDirectory() as work:
        gen = os.path.join(work, "m.c")
        defines = []
        for d in a.define:
            defines += ["-D", d]
        subprocess.run([pcc, a.model, "-o", gen, "--batch", str(a.batch),
                        "--real", "float", "--prefix", "ct", *defines],
                       check=True)
        with open(gen) as f:
            text, labels, kinds = instrument(f.read())
        if not labels:
            sys.exit("call_times.py: no runtime call found in the "
                     "generated code")
        with open(gen, "w") as f:
            f.write(text)
        so = os.path.join(work, "m.so")
        cc = os.environ.get("CC", "cc")
        subprocess.run([cc, "-std=c11", *a.cflags.split(), "-shared",
                        "-fPIC", "-I", os.path.join(ROOT, "runtime"), gen,
                        lib, "-o", so, "-lm", "-lpthread"], check=True)
        out = subprocess.run([timer, so, "ct_model", "--per-call", a.method,
                              str(a.steps), str(a.threads)], check=True,
                             capture_output=True, text=True).stdout
    rows = []
    for line in out.split("\n"):
        if line.strip():
            i, alone, pooled = line.split()
            if float(alone) > 0 or float(pooled) > 0:  # calls that ran
                rows.append((int(i), float(alone), float(pooled)))
    t = a.threads
    total_alone = sum(r[1] for r in rows)
    total_pooled = sum(r[2] for r in rows)
    print("%s, batch %d, P_train_%s, float (%s): microseconds a step, "
          "%d steps each" % (os.path.basename(a.model), a.batch, a.method,
                             a.cflags, a.steps))
    print("%9s %9s %6s %8s  call" % ("alone", "%d thr" % t, "x%d" % t,
                                     "lost"))
    if a.by_kind:
        sums = {}
        for r in rows:
            k = sums.setdefault(kinds[r[0]], [0.0, 0.0, 0])
            k[0] += r[1]
            k[1] += r[2]
            k[2] += 1
        shown = sorted(((v[0], v[1], "%s (%d calls)" % (k, v[2]))
                        for k, v in sums.items()), reverse=True)
    else:
        shown = sorted(((r[1], r[2], labels[r[0]]) for r in rows),
                       key=lambda r: r[1] - r[0] / t, reverse=True)
    for alone, pooled, label in shown[:a.top]:
        ratio = alone / pooled if pooled > 0 else 0.0
        print("%9.2f %9.2f %6.2f %8.2f  %s" % (alone, pooled, ratio,
                                               pooled - alone / t, label))
    slower = [r for r in rows if r[2] > r[1]]
    print("%9.2f %9.2f %6.2f %8.2f  all %d calls (%d slower on the pool "
          "than alone: %.1f us alone, %.1f on the pool)"
          % (total_alone, total_pooled,
             total_alone / total_pooled if total_pooled > 0 else 0.0,
             total_pooled - total_alone / t, len(rows), len(slower),
             sum(r[1] for r in slower), sum(r[2] for r in slower)))


if __name__ == "__main__":
    main()
